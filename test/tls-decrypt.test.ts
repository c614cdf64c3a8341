// TLS sessions decrypted with their logged secrets. tls-keylog.pcap is curl calling nginx over TLS 1.3
// (each AEAD suite) and TLS 1.2 (AES-GCM, ChaCha20-Poly1305, AES-CBC), HTTP/1.1 and HTTP/2, and openssl
// s_client resuming TLS 1.2 and 1.3 sessions and sending a KeyUpdate, with the key log they wrote
// (fixtures/tls/run.sh); tls-keylog.curl.tsv is what the clients said they did.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SpanRecord } from '../src/correlate/types.js';
import { exchangeToSpans } from '../src/export/otlp/transform.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { readServerHello } from '../src/protocols/tls/detect.js';
import type { TlsHandshakeOutcome } from '../src/protocols/tls/handshake-observer.js';
import { ProtocolDispatcher } from '../src/protocols/registry.js';
import { cipherSuite, tls13Key } from '../src/protocols/tls/keys.js';
import type { Direction, DirectionStats, Flow } from '../src/tcp/types.js';
import { TLS_KEY_LOG_SECRETS, TlsKeyLog, readKeyLogFiles } from '../src/protocols/tls/keylog.js';
import type {
  GrpcRequestInfo,
  GrpcResponseInfo,
  Http2RequestInfo,
  Http2ResponseInfo,
  HttpRequestInfo,
  HttpResponseInfo,
  MysqlRequestInfo,
  MysqlResponseInfo,
} from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap, writePcapng } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
import { missingTools, tsharkFields } from './lib/tshark.js';
import { runCli } from './lib/wirespan-cli.js';

const PCAP = 'fixtures/tls-keylog.pcap';
const KEYS = 'fixtures/tls-keylog.keys';
const tmp = mkdtempSync(join(tmpdir(), 'wirespan-tls-'));

interface CurlCall {
  name: string;
  method: string;
  path: string;
  httpVersion: string;
  status: number;
}
/** What the clients reported, one request a line: case, method, url, HTTP version, status. */
const readCalls = (path: string): CurlCall[] =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [name, method, url, httpVersion, status] = line.split('\t');
      return { name: name!, method: method!, path: new URL(url!).pathname + new URL(url!).search, httpVersion: httpVersion!, status: Number(status) };
    });
const curl = readCalls('fixtures/tls-keylog.curl.tsv');

const keyLog = (text = readFileSync(KEYS, 'latin1')): TlsKeyLog => {
  const log = new TlsKeyLog();
  log.add(text);
  return log;
};

async function decrypt(path: string, tlsKeys?: TlsKeyLog): Promise<{ spans: SpanRecord[]; counters: Counters }> {
  const counters = new Counters();
  const keys = tlsKeys ?? new TlsKeyLog();
  const { spans } = await analyzeFiles([path], { counters, tlsKeys: keys }, { onDecryptionSecrets: (type, data) => keys.addSecretsBlock(type, data) });
  spans.sort((a, b) => a.startUs - b.startUs);
  return { spans, counters };
}

const call = (s: SpanRecord): string => {
  const r = s.request as HttpRequestInfo | Http2RequestInfo;
  const status = (s.response as HttpResponseInfo | Http2ResponseInfo | null)?.status;
  return `${s.protocol} ${r.method} ${r.path} ${status}`;
};
const expected = (c: CurlCall): string => `${c.httpVersion === '2' ? 'http2' : 'http'} ${c.method} ${c.path} ${c.status}`;

/** Each connection's payloads in capture order (by client port), to feed a dispatcher as the TCP layer would. */
function connectionEvents(): Map<number, { dir: Direction; bytes: Uint8Array; ts: number }[]> {
  const events = new Map<number, { dir: Direction; bytes: Uint8Array; ts: number }[]>();
  for (const p of readPcapSimple(PCAP)) {
    const t = tcpPayload(p.data);
    if (!t || t.payload.length === 0) continue;
    const dir: Direction = t.dstPort === 8443 ? 0 : 1;
    const port = dir === 0 ? t.srcPort : t.dstPort;
    events.set(port, [...(events.get(port) ?? []), { dir, bytes: t.payload.slice(), ts: p.ts }]);
  }
  return events;
}

function fakeFlow(id: number, clientPort: number): Flow {
  const stats = (): DirectionStats => ({ packets: 0, payloadBytes: 0, retransmittedBytes: 0, copies: 0, outOfOrderSegments: 0, gaps: 0, gapBytes: 0 });
  return {
    id,
    client: { ip: '127.0.0.1', port: clientPort },
    server: { ip: '127.0.0.1', port: 8443 },
    handshake: true,
    startTs: 0,
    lastTs: 0,
    baseSeq: [1, 1],
    stats: [stats(), stats()],
    ended: [null, null],
    canSwapRoles: false,
    swapRoles: () => {
      throw new Error('roles are known');
    },
  };
}

/** TCP payload of an Ethernet/IPv4 frame (the fixture's loopback frames), with its ports. */
function tcpPayload(frame: Uint8Array): { srcPort: number; dstPort: number; payload: Uint8Array } | null {
  if (frame[12] !== 0x08 || frame[13] !== 0x00) return null;
  const ip = 14;
  const ipHeader = (frame[ip]! & 0x0f) * 4;
  if (frame[ip + 9] !== 6) return null;
  const tcp = ip + ipHeader;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const end = ip + view.getUint16(ip + 2);
  return { srcPort: view.getUint16(tcp), dstPort: view.getUint16(tcp + 2), payload: frame.subarray(tcp + (frame[tcp + 12]! >> 4) * 4, end) };
}

describe('TLS decryption with logged secrets', () => {
  it('key log: the labels decryption uses, comments and other labels skipped, anything else counted', () => {
    const random = 'ab'.repeat(32);
    const log = new TlsKeyLog();
    log.add(
      [
        '# SSL/TLS secrets log file',
        `CLIENT_RANDOM ${random.toUpperCase()} ${'11'.repeat(48)}`,
        `CLIENT_TRAFFIC_SECRET_0 ${random} ${'22'.repeat(32)}`,
        `EXPORTER_SECRET ${random} ${'33'.repeat(32)}`,
        'CLIENT_RANDOM not-hex 00',
        '',
      ].join('\r\n'),
    );
    assert.equal(log.size, 1);
    assert.equal(log.malformedLines, 1);
    assert.equal(log.get(random)?.masterSecret?.toString('hex'), '11'.repeat(48));
    assert.equal(log.get(random)?.clientTraffic0?.toString('hex'), '22'.repeat(32));
    assert.equal(log.addSecretsBlock(0x57474b4c, Buffer.from('x')), false, 'a WireGuard key log is not TLS');
  });

  it('a key log file still being written is read again when a session is not found in it', () => {
    const path = join(tmp, 'growing.keys');
    const line = (random: string): string => `CLIENT_RANDOM ${random} ${'44'.repeat(48)}\n`;
    writeFileSync(path, '');
    const log = new TlsKeyLog({ reloadIntervalMs: 0 });
    log.addFile(path);
    assert.equal(log.get('01'.repeat(32)), undefined);
    appendFileSync(path, line('01'.repeat(32)) + line('02'.repeat(32)).slice(0, 40));
    assert.ok(log.get('01'.repeat(32))?.masterSecret, 'a whole line is read');
    assert.equal(log.get('02'.repeat(32)), undefined, 'a line still being written is not');
    appendFileSync(path, line('02'.repeat(32)).slice(40));
    assert.ok(log.get('02'.repeat(32))?.masterSecret);
    assert.ok(log.get('01'.repeat(32))?.masterSecret);
    assert.throws(() => readKeyLogFiles(['README.md']), /README\.md holds no TLS session secrets/);
    assert.throws(() => readKeyLogFiles([join(tmp, 'absent.keys')]), /cannot read .*absent\.keys: ENOENT/);
    // Live, the file may appear later: it is read once it exists.
    const later = join(tmp, 'later.keys');
    const live = readKeyLogFiles([later], { mayNotExistYet: true });
    writeFileSync(later, line('03'.repeat(32)));
    assert.ok(live.get('03'.repeat(32))?.masterSecret);
  });

  it('ServerHello: the version from supported_versions, encrypt-then-MAC, a HelloRetryRequest told apart', () => {
    const hello = (random: Buffer, extensions: number[][]): Buffer => {
      const ext = Buffer.concat(extensions.map(([type, ...body]) => Buffer.from([type! >> 8, type! & 0xff, 0, body.length, ...body])));
      return Buffer.concat([Buffer.from([3, 3]), random, Buffer.from([0, 0x13, 0x02, 0]), Buffer.from([ext.length >> 8, ext.length & 0xff]), ext]);
    };
    const random = Buffer.alloc(32, 7);
    assert.deepEqual(readServerHello(hello(random, [[0x002b, 3, 4]])), { random, suiteId: 0x1302, version: 0x0304, encryptThenMac: false, helloRetryRequest: false });
    assert.equal(readServerHello(hello(random, [[0x0016]]))?.encryptThenMac, true);
    assert.equal(readServerHello(hello(random, []))?.version, 0x0303);
    const retry = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
    assert.equal(readServerHello(hello(retry, [[0x002b, 3, 4]]))?.helloRetryRequest, true);
    assert.equal(readServerHello(Buffer.alloc(20)), null);
  });

  it('TLS 1.3 traffic keys: RFC 8448 §3 server handshake key and IV', () => {
    const secret = Buffer.from('b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38', 'hex');
    const { key, iv } = tls13Key(cipherSuite(0x1301)!, secret);
    assert.equal(key.toString('hex'), '3fce516009c21727d0f2e4e86ee403bc');
    assert.equal(iv.toString('hex'), '5d313eb2671276ee13000b30');
  });

  it('every request curl made is found, over each TLS version and AEAD suite, HTTP/1.1 and HTTP/2', async () => {
    const { spans, counters } = await decrypt(PCAP, keyLog());
    assert.deepEqual(spans.map(call), curl.map(expected));
    // Each case is one connection; the suite is the one curl was told to use, where it was told.
    const forced: Record<string, string> = {
      'tls13-aes128': 'TLS_AES_128_GCM_SHA256',
      'tls13-aes256': 'TLS_AES_256_GCM_SHA384',
      'tls13-chacha': 'TLS_CHACHA20_POLY1305_SHA256',
      'tls12-gcm128': 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      'tls12-gcm256': 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
      'tls12-chacha': 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
      // AES-CBC: encrypt-then-MAC (RFC 7366, what OpenSSL asks for and nginx grants), and the classic
      // MAC-then-encrypt (s_client -no_etm).
      'tls12-cbc-sha1': 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
      'tls12-cbc-sha384': 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384',
      'tls12-cbc-mte': 'TLS_RSA_WITH_AES_128_CBC_SHA256',
    };
    spans.forEach((s, i) => {
      const name = curl[i]!.name;
      assert.equal(s.tls?.version, name.startsWith('tls12') ? 'TLS 1.2' : 'TLS 1.3', name);
      if (forced[name]) assert.equal(s.tls?.cipherSuite, forced[name], name);
    });
    const cases = [...new Set(curl.map((c) => c.name))];
    assert.ok(cases.includes('tls12-resumed') && cases.includes('tls13-resumed') && cases.includes('tls13-keyupdate'));
    assert.ok(spans.every((s) => s.notes.length === 0 && s.requestSeq === null));
    assert.equal(counters.get('tls.decrypted-sessions.tls13'), cases.filter((c) => !c.startsWith('tls12')).length);
    assert.equal(counters.get('tls.decrypted-sessions.tls12'), cases.filter((c) => c.startsWith('tls12')).length);
    assert.equal(counters.get('tls.decrypt-failures'), 0);
    assert.equal(counters.get('tls.key-updates'), 1, 'the request after the KeyUpdate was read under the next key');
    const attributes = new Map(exchangeToSpans(spans[0]!, { spanKinds: new Set(['client']) })[0]!.span.attributes.map((a) => [a.key, a.value]));
    assert.deepEqual(
      ['tls.protocol.name', 'tls.protocol.version', 'tls.cipher'].map((k) => attributes.get(k)),
      [{ stringValue: 'tls' }, { stringValue: '1.3' }, { stringValue: 'TLS_AES_128_GCM_SHA256' }],
    );
    const post = spans.find((s) => (s.request as HttpRequestInfo).method === 'POST')!;
    assert.equal(post.requestId, 'tls-post-1');
    assert.equal((post.request as HttpRequestInfo).bodyBytes, '{"sku":"A-1"}'.length);
  });

  it('agrees with tshark decrypting the same capture with the same key log', { skip: missingTools('tshark') }, () => {
    const rows = tsharkFields(PCAP, ['http.request.method', 'http.request.uri', 'http2.headers.method', 'http2.headers.path'], {
      filter: 'http.request || http2.headers.method',
      args: ['-o', `tls.keylog_file:${KEYS}`],
    });
    const theirs = rows.map(([m1, u1, m2, u2]) => (m1 ? `${m1} ${u1}` : `${m2} ${u2}`));
    assert.equal(theirs.length, curl.length);
    assert.deepEqual(theirs.sort(), curl.map((c) => `${c.method} ${c.path}`).sort());
  });

  it('secrets carried in the pcapng itself (Decryption Secrets Block) work as --tls-keylog does', async () => {
    const packets = [...readPcapSimple(PCAP)];
    const plain = writePcapng(packets, { interfaces: [{ linkType: 1 }] });
    // SHB then IDB, then the DSB: what `editcap --inject-secrets` writes.
    const shb = plain.readUInt32LE(4);
    const headers = shb + plain.readUInt32LE(shb + 4);
    const secrets = readFileSync(KEYS);
    const padded = Math.ceil(secrets.length / 4) * 4;
    const dsb = Buffer.alloc(20 + padded);
    dsb.writeUInt32LE(0x0a, 0);
    dsb.writeUInt32LE(dsb.length, 4);
    dsb.writeUInt32LE(TLS_KEY_LOG_SECRETS, 8);
    dsb.writeUInt32LE(secrets.length, 12);
    secrets.copy(dsb, 16);
    dsb.writeUInt32LE(dsb.length, dsb.length - 4);
    const path = join(tmp, 'with-secrets.pcapng');
    writeFileSync(path, Buffer.concat([plain.subarray(0, headers), dsb, plain.subarray(headers)]));
    const { spans, counters } = await decrypt(path);
    assert.deepEqual(spans.map(call), curl.map(expected));
    assert.equal(counters.get('capture.decryption-secrets-blocks'), 1);
  });

  it('TLS 1.3 with only the application secrets logged: the handshake is passed over, the requests read', async () => {
    const appOnly = readFileSync(KEYS, 'latin1').split('\n').filter((line) => !line.includes('HANDSHAKE_TRAFFIC_SECRET')).join('\n');
    const { spans, counters } = await decrypt(PCAP, keyLog(appOnly));
    assert.deepEqual(spans.map(call), curl.map(expected));
    assert.ok(counters.get('tls.handshake-records-unread') > 0);
    // A wrong application secret: nothing opens; past a handshake's worth of records, the session fails.
    const wrong = appOnly.replace(/^(CLIENT_TRAFFIC_SECRET_0 \S+ )([0-9a-f])/gm, (_, head: string, c: string) => head + (c === '0' ? '1' : '0'));
    const broken = await decrypt(PCAP, keyLog(wrong));
    assert.ok(broken.counters.get('tls.decrypt-failures') > 0);
    // The servers' records still open: HTTP/2 reports their answers, without the requests.
    assert.ok(broken.spans.every((s) => s.tls?.version !== 'TLS 1.3' || (s.request as HttpRequestInfo).path === '<unknown>'));
  });

  it('a session whose secrets are not in the key log stays TLS, not analysed; the others are decrypted', async () => {
    const text = readFileSync(KEYS, 'latin1');
    const firstRandom = /^[A-Z_0-9]+ ([0-9a-f]{64}) /m.exec(text)![1]!;
    const without = text.split('\n').filter((line) => !line.includes(firstRandom)).join('\n');
    const { spans, counters } = await decrypt(PCAP, keyLog(without));
    const firstCase = curl[0]!.name;
    assert.deepEqual(spans.map(call), curl.filter((c) => c.name !== firstCase).map(expected));
    assert.equal(counters.get('tls.sessions-without-keys'), 1);
    assert.equal(counters.get('protocols.tls-connections'), 1);
  });

  it('gRPC over TLS (grpc-go, crypto/tls key log): every call with its method, status, ids and messages', async () => {
    const calls: { requestId: string; method: string; grpcStatus: number; responses: number }[] = readFileSync('fixtures/grpc-go-tls.calls.jsonl', 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const { spans } = await decrypt('fixtures/grpc-go-tls.pcap', keyLog(readFileSync('fixtures/grpc-go-tls.keys', 'latin1')));
    assert.equal(spans.length, calls.length);
    const byId = new Map(spans.map((s) => [s.requestId, s]));
    for (const c of calls) {
      const s = byId.get(c.requestId)!;
      const n = Number(c.requestId.slice(3));
      assert.deepEqual(
        [s.protocol, (s.request as GrpcRequestInfo).path, (s.response as GrpcResponseInfo).grpcStatus, (s.response as GrpcResponseInfo).messages],
        ['grpc', c.method, c.grpcStatus, c.responses],
        c.requestId,
      );
      assert.equal(s.traceId, (0xabc0000 + n).toString(16).padStart(32, '0'));
      assert.equal(s.tls?.version, 'TLS 1.3');
      assert.equal(s.tls?.serverName, 'inventory.shop.test');
    }
  });

  it('HTTPS through a forward proxy (CONNECT): the requests inside each tunnel, under their proxy hop', async () => {
    const proxied = readCalls('fixtures/https-proxy.curl.tsv');
    const { spans, counters } = await decrypt('fixtures/https-proxy.pcap', keyLog(readFileSync('fixtures/https-proxy.keys', 'latin1')));
    const leg = (port: number): SpanRecord[] => spans.filter((s) => s.server.port === port && (s.request as HttpRequestInfo).method !== 'CONNECT');
    const connects = spans.filter((s) => (s.request as HttpRequestInfo).method === 'CONNECT');
    assert.deepEqual(connects.map((s) => [(s.request as HttpRequestInfo).path, (s.response as HttpResponseInfo).status]), [['127.0.0.1:8443', 200], ['127.0.0.1:8443', 200]]);
    // Captured on the proxy's host: each request inside the client's tunnel (to :3128), and again on
    // the proxy's own connection to the server (:8443), the same TLS session both times.
    assert.deepEqual(leg(3128).map(call), proxied.map(expected));
    assert.deepEqual(leg(8443).map(call), proxied.map(expected));
    for (const hop of leg(8443)) {
      const parent = spans.find((s) => s.spanId === hop.parentSpanId);
      assert.ok(parent, call(hop));
      assert.deepEqual([parent.server.port, call(parent)], [3128, call(hop)]);
    }
    assert.ok(leg(3128).every((s) => s.tls?.version === 'TLS 1.3'));
    assert.equal(counters.get('protocols.tunnels'), 2);
    assert.equal(counters.get('http.tunnel-bytes'), 0);
    const blind = await analyzeFiles(['fixtures/https-proxy.pcap']);
    assert.deepEqual(
      blind.result.unanalysed.map((g) => [g.kind, g.server.port, g.connections]),
      [['tls', 3128, 2], ['tls', 8443, 2]],
    );
  });

  it('MySQL switching to TLS after the greeting (SSL request): the login and every command inside are read', async () => {
    const logged: { command: string; sql?: string; ok: boolean; rows?: number; errorCode?: number; tls?: string }[] = readFileSync('fixtures/mysql-tls.client.jsonl', 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const { spans, counters } = await decrypt('fixtures/mysql-tls.pcap', keyLog(readFileSync('fixtures/mysql-tls.keys', 'latin1')));
    const commands = spans.map((s) => s.request as MysqlRequestInfo);
    // The client's log has the statements it ran; mysql2's execute() is a PREPARE then an EXECUTE, and it says QUIT at the end.
    assert.deepEqual(
      commands.map((c) => c.command),
      ['LOGIN', 'QUERY', 'QUERY', 'STMT_PREPARE', 'STMT_EXECUTE', 'QUERY', 'QUIT'],
    );
    const answered = spans.filter((s) => !['STMT_PREPARE', 'QUIT'].includes((s.request as MysqlRequestInfo).command));
    assert.equal(answered.length, logged.length);
    answered.forEach((s, i) => {
      const r = s.response as MysqlResponseInfo;
      const l = logged[i]!;
      assert.equal((s.request as MysqlRequestInfo).command, l.command);
      if (l.sql) assert.equal((s.request as MysqlRequestInfo).sql, l.sql);
      assert.equal(r.ok, l.ok);
      if (l.rows !== undefined) assert.equal(r.rows, l.rows);
      if (l.errorCode !== undefined) assert.equal(r.errorCode, l.errorCode);
    });
    assert.equal(logged[0]!.tls, 'TLSv1.3', 'what the client negotiated');
    assert.ok(spans.every((s) => s.tls?.version === 'TLS 1.3' && s.requestSeq === null));
    assert.equal(spans[2]!.traceId, '0af7651916cd43dd8448eb211c80319c', 'the traceparent in the SQL comment');
    assert.equal(counters.get('mysql.encrypted-connections'), 1);
    // Without the secrets: the greeting only, and the connection reported as TLS not analysed.
    const counted = new Counters();
    const plain = await analyzeFiles(['fixtures/mysql-tls.pcap'], { counters: counted });
    assert.equal(plain.spans.length, 0);
    assert.deepEqual(plain.result.unanalysed.map((g) => [g.kind, g.server.port]), [['tls', 3307]]);
  });

  it('CLI: --tls-keylog, its report line, and a bad key log as a one-line error', async () => {
    const decrypted = await runCli(['read', '--tls-keylog', 'fixtures/mysql-tls.keys', 'fixtures/mysql-tls.pcap']);
    assert.equal(decrypted.code, 0, decrypted.stderr);
    assert.match(decrypted.stdout, /^ {2}mysql +7 +1 +0$/m);
    assert.match(decrypted.stdout, /TLS sessions decrypted with their secrets: 1$/m);
    assert.doesNotMatch(decrypted.stdout, /Not analysed|switched to TLS/);
    const plain = await runCli(['read', 'fixtures/mysql-tls.pcap']);
    assert.match(plain.stdout, /1 MySQL connections switched to TLS after the greeting: their commands are not visible without the session secrets/);
    assert.match(plain.stdout, /TLS \(encrypted\) +127\.0\.0\.1:3307 +1$/m);
    // A key log with lines it does not understand: used for what it holds, the rest said.
    const mixed = join(tmp, 'mixed.keys');
    writeFileSync(mixed, readFileSync('fixtures/mysql-tls.keys', 'latin1') + 'not a key log line\nCLIENT_RANDOM 00 11\n');
    const partly = await runCli(['read', '--tls-keylog', mixed, 'fixtures/mysql-tls.pcap']);
    assert.match(partly.stdout, /^ {2}2 TLS key log lines not understood \(neither a key log label, a comment nor blank\): skipped$/m);
    assert.match(partly.stdout, /TLS sessions decrypted with their secrets: 1$/m);
    const bad = await runCli(['read', '--tls-keylog', 'README.md', 'fixtures/mysql-tls.pcap']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /--tls-keylog: README\.md holds no TLS session secrets/);
  });

  it('live: secrets the clients write after the capture saw their sessions begin are waited for', () => {
    const events = connectionEvents();
    const path = join(tmp, 'written-late.keys');
    writeFileSync(path, '');
    const keys = new TlsKeyLog({ reloadIntervalMs: 0 });
    keys.addFile(path);
    const out: string[] = [];
    const unanalysed: string[] = [];
    const dispatcher = new ProtocolDispatcher({
      analyzers: createAnalyzers({}),
      counters: new Counters(),
      tlsKeys: keys,
      waitForTlsSecrets: true,
      emit: (x) => out.push(`${x.protocol} ${(x.request as HttpRequestInfo).method} ${(x.request as HttpRequestInfo).path} ${(x.response as HttpResponseInfo | null)?.status}`),
      onUnanalysed: (c) => unanalysed.push(`${c.kind} ${c.reason}`),
    });
    const all = readFileSync(KEYS, 'latin1').split('\n');
    let id = 0;
    for (const [port, list] of events) {
      const handler = dispatcher.open(fakeFlow(++id, port));
      const offsets = [0, 0];
      // This session's lines, by the random of its ClientHello (record 5 + handshake 4 + version 2 bytes in).
      const random = Buffer.from(list[0]!.bytes.subarray(11, 43)).toString('hex');
      const own = all.filter((line) => line.includes(random));
      list.forEach((e, n) => {
        handler.data(e.dir, e.bytes, e.ts, offsets[e.dir]!);
        offsets[e.dir]! += e.bytes.length;
        // The client appends a session's secrets once it has the server's first flight, after the
        // capture saw it, and over its handshake: the handshake secrets first, the application ones next.
        if (n === 1) appendFileSync(path, own.filter((line) => !line.includes('TRAFFIC_SECRET_0')).map((l) => l + '\n').join(''));
        if (n === 2) appendFileSync(path, own.filter((line) => line.includes('TRAFFIC_SECRET_0')).map((l) => l + '\n').join(''));
      });
      handler.close(list.at(-1)!.ts);
    }
    assert.deepEqual(out, curl.map(expected));
    assert.equal(unanalysed.length, 0);
    // Never written: each session waits, then is reported as TLS not analysed, with why.
    const handshakes: TlsHandshakeOutcome[] = [];
    const emptyPath = join(tmp, 'never-written.keys');
    writeFileSync(emptyPath, '');
    const empty = new TlsKeyLog({ reloadIntervalMs: 0 });
    empty.addFile(emptyPath);
    const never = new ProtocolDispatcher({
      analyzers: createAnalyzers({}),
      counters: new Counters(),
      tlsKeys: empty,
      waitForTlsSecrets: true,
      emit: () => assert.fail('nothing can be read'),
      onUnanalysed: (c) => {
        unanalysed.push(`${c.kind} ${c.reason}`);
        if (c.handshake) handshakes.push(c.handshake);
      },
    });
    const [port, list] = [...events][0]!;
    const handler = never.open(fakeFlow(1, port));
    const offsets = [0, 0];
    for (const e of list) {
      handler.data(e.dir, e.bytes, e.ts, offsets[e.dir]!);
      offsets[e.dir]! += e.bytes.length;
    }
    handler.close(list.at(-1)!.ts);
    assert.deepEqual(unanalysed, ['tls the key log had no secrets for this session']);
    // Its handshake is still told (and puts it on the map as a tls edge): the server answered.
    assert.equal(handshakes.length, 1);
    assert.ok(handshakes[0]!.helloUs !== null && handshakes[0]!.version !== null && handshakes[0]!.failure === null);
  });

  it('property: cutting the TCP streams anywhere changes no exchange', () => {
    const events = connectionEvents();
    const run = (cut: (n: number, length: number) => number[]): string[] => {
      const out: string[] = [];
      const dispatcher = new ProtocolDispatcher({
        analyzers: createAnalyzers({}),
        counters: new Counters(),
        tlsKeys: keyLog(),
        emit: (x) => out.push(`${x.protocol} ${(x.request as HttpRequestInfo).path} ${(x.response as HttpResponseInfo | null)?.status}`),
      });
      let id = 0;
      for (const [port, list] of events) {
        const handler = dispatcher.open(fakeFlow(++id, port));
        const offsets = [0, 0];
        list.forEach((e, n) => {
          let from = 0;
          for (const at of [...cut(n, e.bytes.length), e.bytes.length]) {
            if (at <= from) continue;
            handler.data(e.dir, e.bytes.subarray(from, at), e.ts, offsets[e.dir]!);
            offsets[e.dir]! += at - from;
            from = at;
          }
        });
        handler.close(list.at(-1)!.ts);
      }
      return out;
    };
    const whole = run(() => []);
    assert.equal(whole.length, curl.length);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 1000 }), (sizes, seed) => {
        const cut = (n: number, length: number): number[] => {
          const points: number[] = [];
          for (let at = 0, i = n + seed; at < length; i++) points.push((at += sizes[i % sizes.length]!));
          return points;
        };
        assert.deepEqual(run(cut), whole);
      }),
      { numRuns: 40 },
    );
  });

  it('property: corrupted records, hellos and lengths are counted and skipped, never thrown', () => {
    const events = [...connectionEvents().values()];
    const keys = keyLog();
    fc.assert(
      fc.property(
        fc.nat(events.length - 1),
        fc.array(fc.tuple(fc.nat(40), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (which, flips) => {
          const list = events[which]!.map((e) => ({ ...e, bytes: Uint8Array.from(e.bytes) }));
          for (const [n, where, value] of flips) {
            const e = list[n % list.length]!;
            e.bytes[Math.floor(where * (e.bytes.length - 1))] = value;
          }
          const counters = new Counters();
          const dispatcher = new ProtocolDispatcher({ analyzers: createAnalyzers({}), counters, tlsKeys: keys, emit: () => undefined });
          const handler = dispatcher.open(fakeFlow(1, 40000 + which));
          const offsets = [0, 0];
          for (const e of list) {
            handler.data(e.dir, e.bytes, e.ts, offsets[e.dir]!);
            offsets[e.dir]! += e.bytes.length;
          }
          handler.close(list.at(-1)!.ts);
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const hello = readServerHello(b);
        if (hello) assert.equal(hello.random.length, 32);
      }),
      { numRuns: 2000 },
    );
  });

  it('a lost segment: the plaintext handler is told of a gap, and the next record that authenticates resumes', async () => {
    // The first connection carries three requests, each in its own segment after the handshake's.
    const packets = [...readPcapSimple(PCAP)];
    const clientPort = tcpPayload(packets[0]!.data)!.srcPort;
    const clientData = packets
      .map((p, i) => ({ i, t: tcpPayload(p.data)! }))
      .filter(({ t }) => t.srcPort === clientPort && t.payload.length > 0 && t.payload[0] === 0x17);
    // Segments that begin with an application-data record: GET /, /orders?id=1, /fail (the handshake's
    // Finished went in the segment that begins with ChangeCipherSpec), then the close_notify alert.
    assert.ok(clientData.length >= 3);
    const dropped = clientData[1]!.i;
    const path = join(tmp, 'lost-request.pcap');
    writeFileSync(path, writePcap(packets.filter((_, i) => i !== dropped), { linkType: 1 }));
    const { spans, counters } = await decrypt(path, keyLog());
    const first = spans.filter((s) => s.client.port === clientPort);
    assert.deepEqual(first.map(call).filter((c) => c.startsWith('http GET')), ['http GET / 200', 'http GET /fail 503']);
    assert.ok(counters.get('tls.resyncs') >= 1);
    assert.equal(counters.get('tls.decrypt-failures'), 0);
    // Every other connection is untouched.
    assert.deepEqual(spans.filter((s) => s.client.port !== clientPort).map(call), curl.filter((c) => c.name !== curl[0]!.name).map(expected));
  });
});
