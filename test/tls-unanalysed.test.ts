// Encrypted connections are reported as TLS, with the server name the client asked for, instead of as
// unknown bytes: an SRE then knows why a service shows no calls, and how their handshakes went. The
// bytes are real: Node's TLS (OpenSSL) handshakes over loopback, recorded through a relay and written
// into a capture; curl against nginx for the failures.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type { CapturedPacket } from '../src/capture/types.js';
import { Pipeline } from '../src/pipeline.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { detectTls } from '../src/protocols/tls/detect.js';
import { TlsKeyLog } from '../src/protocols/tls/keylog.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { missingTools, tsharkFields } from './lib/tshark.js';
import { LINKTYPE_ETHERNET, captured, tcpPacket } from './lib/frames.js';

type Chunk = [dir: 0 | 1, bytes: Buffer];

const PSK = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const TLS12_PSK = { ciphers: 'PSK-AES128-GCM-SHA256', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

/** Runs `client(port)` against `serve`, through a relay that records every chunk in each direction. */
async function recorded(serve: (socket: net.Socket) => void, client: (port: number) => Promise<void>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  const server = net.createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relay = net.createServer((c) => {
    const u = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    c.on('data', (d: Buffer) => (chunks.push([0, d]), u.write(d)));
    u.on('data', (d: Buffer) => (chunks.push([1, d]), c.write(d)));
    c.on('end', () => u.end());
    u.on('end', () => c.end());
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  try {
    await client((relay.address() as net.AddressInfo).port);
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    relay.close();
    server.close();
  }
  return chunks;
}

/** A TLS 1.2 handshake with a pre-shared key (no certificate needed), then one reply. */
function pskHandshake(serverName: string): Promise<Chunk[]> {
  const tlsServer = tls.createServer({ ...TLS12_PSK, pskCallback: () => PSK }, (s) => s.end('hi'));
  return recorded(
    (socket) => tlsServer.emit('connection', socket),
    (port) =>
      new Promise<void>((resolve, reject) => {
        const s = tls.connect({
          ...TLS12_PSK,
          port,
          host: '127.0.0.1',
          servername: serverName,
          pskCallback: () => ({ psk: PSK, identity: 'wirespan-test' }),
          checkServerIdentity: () => undefined,
        });
        s.on('data', () => {});
        s.on('end', () => resolve());
        s.on('error', reject);
      }),
  );
}

/** The ClientHello of a default TLS 1.3 client; the server hangs up without answering. */
function tls13ClientHello(serverName: string): Promise<Chunk[]> {
  return recorded(
    (socket) => socket.once('data', () => socket.end()),
    (port) =>
      new Promise<void>((resolve) => {
        const s = tls.connect({ port, host: '127.0.0.1', servername: serverName, rejectUnauthorized: false });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      }),
  );
}

const CLIENT = '10.2.0.1';
const SERVER = '10.2.0.5';
const T0 = 1_700_000_000_000_000;

/** One TCP connection carrying the recorded chunks, handshake and FINs included. */
function connection(chunks: Chunk[], sport: number, dport: number, t0: number): CapturedPacket[] {
  const seq = [1000, 9000];
  const ep = [
    { src: CLIENT, dst: SERVER, sport, dport },
    { src: SERVER, dst: CLIENT, sport: dport, dport: sport },
  ] as const;
  let t = t0;
  const out: CapturedPacket[] = [];
  const push = (dir: 0 | 1, flags: number, payload?: Uint8Array): void => {
    const p = tcpPacket({ ...ep[dir], seq: seq[dir]!, ack: seq[1 - dir]!, flags, payload });
    out.push(captured(p.data, p.linkType, (t += 100)));
    seq[dir]! += (payload?.length ?? 0) + (flags & 0x03 ? 1 : 0);
  };
  push(0, 0x02);
  push(1, 0x12);
  push(0, 0x10);
  for (const [dir, bytes] of chunks) {
    for (let at = 0; at < bytes.length; at += 1448) push(dir, 0x18, bytes.subarray(at, at + 1448));
  }
  push(0, 0x11);
  push(1, 0x11);
  return out;
}

function analyse(packets: CapturedPacket[]) {
  const pipeline = new Pipeline({ analyzers: createAnalyzers({}) });
  for (const p of packets) pipeline.packet(p);
  return pipeline.finish();
}

describe('TLS connections are named, not analysed', () => {
  let psk: Chunk[];
  let tls13: Chunk[];
  before(async () => {
    psk = await pskHandshake('api.shop.example');
    tls13 = await tls13ClientHello('Payments.Internal');
  });

  it('a real ClientHello is TLS with its server name only once it is whole, a ServerHello is TLS', () => {
    for (const hello of [psk[0]![1], tls13[0]![1]]) {
      for (let cut = 1; cut < hello.length; cut++) {
        const partial = detectTls(hello.subarray(0, cut));
        assert.notEqual(partial.tls, 'no', `prefix of ${cut} bytes`);
        if (partial.tls === 'yes') assert.fail(`a ${cut}-byte prefix cannot be a whole ClientHello`);
      }
    }
    const pskHello = detectTls(psk[0]![1]);
    assert.deepEqual({ ...pskHello, clientRandom: undefined }, { tls: 'yes', serverName: 'api.shop.example', clientRandom: undefined });
    // The random is bytes 11..43 of the first record (5 record + 4 handshake header + 2 version bytes).
    assert.equal(pskHello.tls === 'yes' && pskHello.clientRandom, Buffer.from(psk[0]![1].subarray(11, 43)).toString('hex'));
    assert.deepEqual({ ...detectTls(tls13[0]![1]), clientRandom: undefined }, { tls: 'yes', serverName: 'payments.internal', clientRandom: undefined });
    assert.deepEqual(detectTls(psk.find(([dir]) => dir === 1)![1]), { tls: 'yes', serverName: null, clientRandom: null });
  });

  it('plain protocols are not taken for TLS', () => {
    for (const text of ['GET / HTTP/1.1\r\n\r\n', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'HTTP/1.1 200 OK\r\n', '\x16\x03\x05\x00\x10\x01']) {
      assert.deepEqual(detectTls(Buffer.from(text, 'latin1')), { tls: 'no' }, JSON.stringify(text));
    }
  });

  it('the pipeline reports each TLS server with its SNI and counts the bytes, and finds no exchange', () => {
    const packets = [
      ...connection(psk, 41000, 443, T0),
      ...connection(psk, 41001, 443, T0 + 10_000),
      ...connection(tls13, 41002, 8443, T0 + 20_000),
    ];
    const exchanges: unknown[] = [];
    const pipeline = new Pipeline({ analyzers: createAnalyzers({}), onExchange: (x) => exchanges.push(x) });
    for (const p of packets) pipeline.packet(p);
    const result = pipeline.finish();
    assert.equal(exchanges.length, 0);
    assert.deepEqual(result.unanalysed.map(({ kind, server, serverName, connections }) => ({ kind, server, serverName, connections })), [
      { kind: 'tls', server: { ip: SERVER, port: 443 }, serverName: 'api.shop.example', connections: 2 },
      { kind: 'tls', server: { ip: SERVER, port: 8443 }, serverName: 'payments.internal', connections: 1 },
    ]);
    // Their handshakes as the clear shows them: the PSK sessions' version and ServerHello time; the
    // TLS 1.3 server hung up on the ClientHello.
    assert.deepEqual(result.unanalysed.map((g) => [g.versions, g.failures, g.helloMs !== null]), [
      [{ 'TLS 1.2': 2 }, {}, true],
      [{}, { 'no ServerHello': 1 }, false],
    ]);
    const bytes = [psk, psk, tls13].flat().reduce((n, [, b]) => n + b.length, 0);
    assert.equal(result.counters.get('protocols.tls-connections'), 3);
    assert.equal(result.counters.get('protocols.tls-bytes'), bytes);
    assert.equal(result.counters.get('protocols.unrecognised-connections'), 0);
  });

  it('a capture that begins at the server\'s answer still names the server', () => {
    const serverFirst: Chunk[] = psk.filter(([dir]) => dir === 1).map(([, b]) => [1, b]);
    const result = analyse(connection(serverFirst, 41003, 443, T0).slice(3));
    assert.deepEqual(result.unanalysed.map(({ kind, server, serverName, connections }) => ({ kind, server, serverName, connections })), [
      { kind: 'tls', server: { ip: SERVER, port: 443 }, serverName: null, connections: 1 },
    ]);
  });

  it('`read` says what it could not analyse, beside what it did', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wirespan-tls-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'tls.pcap');
    const packets = [...connection(psk, 41000, 443, T0), ...connection(tls13, 41002, 8443, T0 + 20_000)];
    writeFileSync(file, writePcap(packets, { linkType: LINKTYPE_ETHERNET }));
    const r = spawnSync(process.execPath, ['bin/wirespan.js', 'read', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Not analysed$/m);
    assert.match(r.stdout, /^ {2}TLS \(encrypted\) +10\.2\.0\.5:443 +api\.shop\.example +1 +[\d.]+$/m);
    assert.match(r.stdout, /^ {2}TLS \(encrypted\) +10\.2\.0\.5:8443 +payments\.internal +1 +1 no ServerHello$/m);
  });
});

describe('failed TLS handshakes, told from the clear: tls-failures.pcap', () => {
  // curl against nginx (fixtures/tls/failures.sh): trusted and untrusted certificates, no cipher suite
  // in common, TLS sent to a plain HTTP port; curl's exit code per attempt in tls-failures.curl.tsv.
  const attempts = readFileSync('fixtures/tls-failures.curl.tsv', 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t') as [string, string]);

  it('each failure is named with who sent it; the good handshakes have their ServerHello time', async () => {
    const { result } = await analyzeFiles(['fixtures/tls-failures.pcap']);
    const tlsPort = result.unanalysed.find((g) => g.server.port === 8443)!;
    const plainPort = result.unanalysed.find((g) => g.server.port === 18080)!;
    assert.equal(tlsPort.connections + plainPort.connections, attempts.length);
    const untrusted12 = attempts.filter(([name, code]) => name === 'untrusted-tls12' && code === '60').length;
    assert.ok(untrusted12 >= 2);
    // TLS 1.2 clients refuse the certificate in the clear; OpenSSL's TLS 1.3 client does too, before it encrypts.
    assert.ok(tlsPort.failures!['unknown_ca from the client']! >= untrusted12);
    assert.equal(tlsPort.failures!['handshake_failure from the server'], attempts.filter(([n]) => n === 'no-common-cipher').length);
    assert.deepEqual(plainPort.failures, { 'no ServerHello': 1 });
    assert.ok(tlsPort.helloMs !== null && tlsPort.helloMs!.p50 > 0);
    assert.ok((tlsPort.versions!['TLS 1.2'] ?? 0) >= 3 && (tlsPort.versions!['TLS 1.3'] ?? 0) >= 1);
    assert.equal(result.counters.get('tls.handshake-failures'), Object.entries(tlsPort.failures!).reduce((n, [, c]) => n + c, 0));
  });

  it('the service map has each client → TLS server edge: connections, failed handshakes, time to the ServerHello', async () => {
    const { result } = await analyzeFiles(['fixtures/tls-failures.pcap']);
    const edges = result.serviceMap.edges.map((e) => [e.source, e.target, e.protocol, e.calls, e.errors, e.incomplete]);
    const failed = Object.values(result.unanalysed.find((g) => g.server.port === 8443)!.failures!).reduce((n, c) => n + c, 0);
    assert.deepEqual(edges, [
      ['127.0.0.1', '127.0.0.1:18080', 'tls', 1, 1, 1],
      // A server with no cipher suite in common answers the ClientHello with its alert, no ServerHello.
      ['127.0.0.1', '127.0.0.1:8443', 'tls', attempts.length - 1, failed, attempts.filter(([n]) => n === 'no-common-cipher').length],
    ]);
    const tls8443 = result.serviceMap.edges[1]!;
    assert.equal(tls8443.latencyMs.p50, result.unanalysed.find((g) => g.server.port === 8443)!.helloMs!.p50);
    assert.ok(tls8443.bytes.request > 0 && tls8443.bytes.response > 0);
    // Decrypted sessions are on the map by what they carry, not as TLS connections.
    const keys = new TlsKeyLog();
    keys.add(readFileSync('fixtures/tls-keylog.keys', 'latin1'));
    const decrypted = await analyzeFiles(['fixtures/tls-keylog.pcap'], { tlsKeys: keys });
    assert.deepEqual([...new Set(decrypted.result.serviceMap.edges.map((e) => e.protocol))].sort(), ['http', 'http2']);
    const blind = await analyzeFiles(['fixtures/tls-keylog.pcap']);
    assert.deepEqual(blind.result.serviceMap.edges.map((e) => [e.protocol, e.calls, e.errors]), [['tls', 17, 0]]);
  });

  it('the same alerts as tshark finds', { skip: missingTools('tshark') }, async () => {
    const { result } = await analyzeFiles(['fixtures/tls-failures.pcap']);
    const names: Record<string, string> = { '48': 'unknown_ca', '40': 'handshake_failure' };
    const theirs = tsharkFields('fixtures/tls-failures.pcap', ['tls.alert_message.desc'], { filter: 'tls.alert_message.level == 2' }).map(([d]) => names[d!] ?? d);
    const ours = Object.entries(result.unanalysed.find((g) => g.server.port === 8443)!.failures!).flatMap(([reason, n]) => Array(n).fill(reason.split(' ')[0]));
    assert.deepEqual(ours.sort(), theirs.sort());
  });
});
