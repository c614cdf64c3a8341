// Protocols are recognised by content, not by port: HTTP on the MySQL port, MySQL on an HTTP port,
// HTTP on a port nobody uses, roles proven by the bytes when the handshake is missing, and `--port`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN } from '../src/decode/types.js';
import { parsePortHints } from '../src/protocols/index.js';
import type { HttpRequestInfo, MysqlRequestInfo } from '../src/protocols/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { tcpPacket } from './lib/frames.js';
import { greeting, handshakeResponse, ok, query, resultSet } from './lib/mysql-builder.js';

const CLIENT = '10.1.0.1';
const SERVER = '10.1.0.2';

interface Turn {
  from: 'client' | 'server';
  bytes: Uint8Array | string;
}

/** A TCP conversation as a pcap: optional handshake, the turns, FIN both ways. */
function conversation(serverPort: number, turns: Turn[], { handshake = true } = {}): Buffer {
  const clientPort = 40123;
  let seq = { client: 1000, server: 5000 };
  let ts = 1_700_000_000_000_000;
  const packets: { ts: number; data: Uint8Array }[] = [];
  const send = (from: 'client' | 'server', flags: number, payload: Uint8Array | string = ''): void => {
    const to = from === 'client' ? 'server' : 'client';
    const p = tcpPacket({
      src: from === 'client' ? CLIENT : SERVER,
      dst: from === 'client' ? SERVER : CLIENT,
      sport: from === 'client' ? clientPort : serverPort,
      dport: from === 'client' ? serverPort : clientPort,
      seq: seq[from],
      ack: seq[to],
      flags,
      payload,
    });
    packets.push({ ts: (ts += 100), data: p.data });
    seq = { ...seq, [from]: seq[from] + (typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length) + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0) };
  };
  if (handshake) {
    send('client', TCP_SYN);
    seq.server = 5000;
    send('server', TCP_SYN | TCP_ACK);
    send('client', TCP_ACK);
  }
  for (const t of turns) send(t.from, TCP_PSH | TCP_ACK, t.bytes);
  send('client', TCP_FIN | TCP_ACK);
  send('server', TCP_FIN | TCP_ACK);
  send('client', TCP_ACK);
  return writePcap(packets, { linkType: 1 });
}

const HTTP: Turn[] = [
  { from: 'client', bytes: 'GET /health HTTP/1.1\r\nHost: svc\r\nX-Request-ID: r-1\r\n\r\n' },
  { from: 'server', bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' },
];

const MYSQL: Turn[] = [
  { from: 'server', bytes: greeting() },
  { from: 'client', bytes: handshakeResponse() },
  { from: 'server', bytes: ok(2) },
  { from: 'client', bytes: query('SELECT 1') },
  { from: 'server', bytes: resultSet(['1'], [['1']]).bytes },
];

describe('detection by content', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-detect-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, pcap: Buffer): string => {
    const path = join(dir, name);
    writeFileSync(path, pcap);
    return path;
  };

  for (const port of [3306, 5432, 31337]) {
    it(`HTTP on port ${port}`, async () => {
      const { spans } = await analyzeFiles([file(`http-${port}.pcap`, conversation(port, HTTP))]);
      assert.deepEqual(spans.map((s) => [s.protocol, (s.request as HttpRequestInfo).path, s.requestId, s.server.port]), [['http', '/health', 'r-1', port]]);
    });
  }

  it('MySQL on port 8080 (an HTTP port)', async () => {
    const { spans } = await analyzeFiles([file('mysql-8080.pcap', conversation(8080, MYSQL))]);
    assert.deepEqual(spans.map((s) => [s.protocol, (s.request as MysqlRequestInfo).command, (s.request as MysqlRequestInfo).sql]), [
      ['mysql', 'LOGIN', null],
      ['mysql', 'QUERY', 'SELECT 1'],
    ]);
  });

  it('without a handshake, a server on a high port is found from the bytes', async () => {
    // Port 40123 (the client's) is lower than 50999: a port guess alone would get the roles wrong.
    const { spans, result } = await analyzeFiles([file('no-handshake.pcap', conversation(50999, HTTP, { handshake: false }))]);
    assert.deepEqual(spans.map((s) => [s.client.port, s.server.port, (s.response as { status: number }).status]), [[40123, 50999, 200]]);
    assert.equal(result.counters.get('protocols.roles-swapped'), 1);
  });

  it('without a handshake, roles proven wrong only by a later segment (the first too short to tell)', async () => {
    const split: Turn[] = [
      { from: 'client', bytes: 'GE' },
      { from: 'client', bytes: 'T /health HTTP/1.1\r\nHost: svc\r\nX-Request-ID: r-1\r\n\r\n' },
      HTTP[1]!,
      { from: 'client', bytes: 'GET /again HTTP/1.1\r\nHost: svc\r\n\r\n' },
      { from: 'server', bytes: 'HTTP/1.1 204 No Content\r\n\r\n' },
    ];
    const { spans, result } = await analyzeFiles([file('no-handshake-late.pcap', conversation(50999, split, { handshake: false }))]);
    assert.deepEqual(
      spans.map((s) => [s.client.port, s.server.port, (s.request as HttpRequestInfo).path, (s.response as { status: number }).status]),
      [
        [40123, 50999, '/health', 200],
        [40123, 50999, '/again', 204],
      ],
    );
    assert.equal(result.counters.get('tcp.handler-errors'), 0);
  });

  it('--port skips detection; bytes that are not that protocol are counted, not misread', async () => {
    const path = file('hinted.pcap', conversation(9000, HTTP));
    const asMysql = await analyzeFiles([path], { portHints: parsePortHints(['mysql=9000']) });
    assert.deepEqual(asMysql.spans, []);
    assert.ok(asMysql.result.counters.get('protocols.connections.mysql') === 1);
    const asHttp = await analyzeFiles([path], { portHints: parsePortHints(['http=9000']) });
    assert.equal(asHttp.spans.length, 1);
  });

  it('a connection no analyzer recognises is counted with its bytes', async () => {
    const { spans, result } = await analyzeFiles([file('unknown.pcap', conversation(7000, [
      { from: 'client', bytes: 'HELO mail.example.org\r\n' },
      { from: 'server', bytes: '250 Hello\r\n' },
    ]))]);
    assert.deepEqual(spans, []);
    assert.equal(result.counters.get('protocols.unrecognised-connections'), 1);
    assert.equal(result.counters.get('protocols.unrecognised-bytes'), 23 + 11);
  });

  it('--port rejects what it cannot understand', () => {
    assert.throws(() => parsePortHints(['smtp=25']), /--port expects PROTOCOL=PORT/);
    assert.throws(() => parsePortHints(['http=70000']), /not a TCP port/);
    assert.deepEqual([...parsePortHints(['grpc=7000,7001', 'http=80'])], [[7000, 'http2'], [7001, 'http2'], [80, 'http']]);
  });
});
