// The correlator decides a call as soon as nothing that began before it can still be reported, not a
// fixed linger later: traces come out about a second after they end, while a request that is still
// running (its head read or still arriving) holds back the calls that ended after it began.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CapturedPacket } from '../src/capture/types.js';
import type { SpanNode, TraceTree } from '../src/correlate/types.js';
import { TraceContextExtractor } from '../src/correlate/context.js';
import { Correlator } from '../src/correlate/correlator.js';
import { ServiceNamer } from '../src/correlate/naming.js';
import { Pipeline } from '../src/pipeline.js';
import type { Exchange as ExchangeRecord } from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { writePcap } from './lib/capture-writer.js';
import { LINKTYPE_ETHERNET, captured, tcpPacket } from './lib/frames.js';

const T0 = 1_700_000_000_000_000;
const SEC = 1_000_000;
const SYN = 0x02;
const ACK = 0x10;
const PSH_ACK = 0x18;
const FIN_ACK = 0x11;

const CLIENT = '10.1.0.1';
const GATEWAY = '10.1.0.2';
const ORDERS = '10.1.0.3';
const OTHER = '10.1.0.9';

interface Exchange {
  client: string;
  cport: number;
  server: string;
  path: string;
  /** Seconds after T0. */
  start: number;
  end: number;
}

/** One HTTP/1.1 connection carrying one exchange, every packet at its own time. */
function connection(x: Exchange, requestId?: string): CapturedPacket[] {
  const request = `GET ${x.path} HTTP/1.1\r\nHost: ${x.server}\r\n${requestId ? `X-Request-ID: ${requestId}\r\n` : ''}\r\n`;
  const response = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const at = (s: number): number => T0 + Math.round(s * SEC);
  const c = { src: x.client, dst: x.server, sport: x.cport, dport: 80 };
  const s = { src: x.server, dst: x.client, sport: 80, dport: x.cport };
  const packets: [number, ReturnType<typeof tcpPacket>][] = [
    [at(x.start) - 200, tcpPacket({ ...c, seq: 1000, flags: SYN })],
    [at(x.start) - 100, tcpPacket({ ...s, seq: 5000, ack: 1001, flags: SYN | ACK })],
    [at(x.start) - 50, tcpPacket({ ...c, seq: 1001, ack: 5001, flags: ACK })],
    [at(x.start), tcpPacket({ ...c, seq: 1001, ack: 5001, flags: PSH_ACK, payload: request })],
    [at(x.end), tcpPacket({ ...s, seq: 5001, ack: 1001 + request.length, flags: PSH_ACK, payload: response })],
    [at(x.end) + 50, tcpPacket({ ...c, seq: 1001 + request.length, ack: 5001 + response.length, flags: FIN_ACK })],
    [at(x.end) + 100, tcpPacket({ ...s, seq: 5001 + response.length, ack: 1002 + request.length, flags: FIN_ACK })],
  ];
  return packets.map(([ts, p]) => captured(p.data, p.linkType, ts));
}

/** A quiet connection with one small packet per second, so packet time keeps moving. */
function ticks(from: number, to: number): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  for (let t = from; t <= to; t += 0.5) {
    const p = tcpPacket({ src: '10.9.9.1', dst: '10.9.9.2', sport: 40000, dport: 9, seq: 1, ack: 1, flags: ACK });
    out.push(captured(p.data, p.linkType, T0 + Math.round(t * SEC)));
  }
  return out;
}

interface Emitted {
  /** Packet time (s after T0) of the last packet fed when the trace came out; null: at finish(). */
  at: number | null;
  tree: TraceTree;
}

function run(packets: CapturedPacket[], settleUs?: number): Emitted[] {
  const emitted: Emitted[] = [];
  let now: number | null = null;
  const pipeline = new Pipeline({ analyzers: createAnalyzers({}), settleUs, onTrace: (tree) => emitted.push({ at: now, tree }) });
  for (const p of [...packets].sort((a, b) => a.ts - b.ts)) {
    now = (p.ts - T0) / SEC;
    pipeline.packet(p);
  }
  now = null;
  pipeline.finish();
  return emitted;
}

const paths = (node: SpanNode): unknown => ({
  path: (node.span.request as { path: string }).path,
  children: node.children.map(paths),
});
const find = (emitted: Emitted[], path: string): Emitted => {
  const hit = emitted.find((e) => (e.tree.root.span.request as { path: string }).path === path);
  assert.ok(hit, `a trace rooted at ${path}`);
  return hit;
};

describe('correlator: decided once nothing earlier is in flight', () => {
  it('a quick trace comes out about a second after it ends, long before the 30 s linger', () => {
    const emitted = run([...connection({ client: CLIENT, cport: 41000, server: GATEWAY, path: '/quick', start: 1, end: 1.2 }), ...ticks(0, 40)]);
    const quick = find(emitted, '/quick');
    assert.ok(quick.at !== null && quick.at >= 2.2 && quick.at <= 2.5, `out at ${quick.at} s (ends at 1.2 s, settle 1 s)`);
  });

  it('a one-way stream of a protocol no analyzer takes (syslog over TCP) does not hold traces back', () => {
    const syslog: CapturedPacket[] = [];
    let seq = 1;
    for (let t = 0; t <= 40; t += 0.5) {
      const line = `<134>Nov 21 23:00:00 host app: tick ${t}\n`;
      const p = tcpPacket({ src: '10.9.9.3', dst: '10.9.9.4', sport: 40514, dport: 514, seq, ack: 1, flags: PSH_ACK, payload: line });
      seq += line.length;
      syslog.push(captured(p.data, p.linkType, T0 + Math.round(t * SEC)));
    }
    const emitted = run([...connection({ client: CLIENT, cport: 41000, server: GATEWAY, path: '/quick', start: 1, end: 1.2 }), ...syslog]);
    const quick = find(emitted, '/quick');
    assert.ok(quick.at !== null && quick.at >= 2.2 && quick.at <= 2.5, `out at ${quick.at} s`);
  });

  it('a call stays held while the request that made it runs (20 s), then joins it', () => {
    const emitted = run([
      // client → gateway runs 20 s; the gateway's call to orders, made meanwhile, waits for it.
      ...connection({ client: CLIENT, cport: 41000, server: GATEWAY, path: '/slow', start: 1, end: 21 }),
      ...connection({ client: GATEWAY, cport: 42000, server: ORDERS, path: '/orders/1', start: 2, end: 2.1 }),
      ...connection({ client: CLIENT, cport: 41001, server: OTHER, path: '/other', start: 3, end: 3.1 }),
      ...ticks(0, 60),
    ]);
    const slow = find(emitted, '/slow');
    assert.deepEqual(paths(slow.tree.root), { path: '/slow', children: [{ path: '/orders/1', children: [] }] });
    assert.equal(slow.tree.root.children[0]!.span.link, 'timing');
    assert.ok(slow.at !== null && slow.at >= 22 && slow.at <= 22.5, `slow trace out at ${slow.at} s`);
    // The client's call to another service has nothing to do with the gateway: it is not held back.
    const other = find(emitted, '/other');
    assert.ok(other.at !== null && other.at >= 4.1 && other.at <= 4.5, `other trace out at ${other.at} s`);
    assert.equal(emitted.length, 2);
  });

  it('a long query into the database holds back only the calls around it, and no tree is emitted before its calls are decided', () => {
    // 10.1.0.8 runs a 20 s report query on the database; meanwhile a request into the gateway makes
    // one quick database call. That call competes with nothing but is waited on (the database is busy
    // with an older query), so the request's tree must wait for it rather than go out without it.
    const DB = '10.1.0.6';
    const emitted = run([
      ...connection({ client: '10.1.0.8', cport: 43000, server: DB, path: '/report', start: 1, end: 21 }),
      ...connection({ client: CLIENT, cport: 41000, server: GATEWAY, path: '/checkout', start: 2, end: 2.5 }),
      ...connection({ client: GATEWAY, cport: 42000, server: DB, path: '/stock', start: 2.1, end: 2.2 }),
      ...connection({ client: CLIENT, cport: 41001, server: OTHER, path: '/other', start: 3, end: 3.1 }),
      ...ticks(0, 60),
    ]);
    const checkout = find(emitted, '/checkout');
    assert.deepEqual(paths(checkout.tree.root), { path: '/checkout', children: [{ path: '/stock', children: [] }] });
    assert.ok(checkout.at !== null && checkout.at >= 21 && checkout.at <= 23, `checkout out at ${checkout.at} s`);
    const other = find(emitted, '/other');
    assert.ok(other.at !== null && other.at <= 4.5, `other out at ${other.at} s, not held by the report query`);
    assert.equal(emitted.length, 3);
  });

  it('the linger still bounds the wait: a parent running longer than 30 s leaves its call a root', () => {
    const emitted = run([
      ...connection({ client: CLIENT, cport: 41000, server: GATEWAY, path: '/hung', start: 1, end: 40 }),
      ...connection({ client: GATEWAY, cport: 42000, server: ORDERS, path: '/orders/2', start: 2, end: 2.1 }),
      ...ticks(0, 80),
    ]);
    const call = find(emitted, '/orders/2');
    assert.ok(call.at !== null && call.at >= 32 && call.at < 33, `call decided at the linger: ${call.at} s`);
    assert.equal(call.tree.root.children.length, 0);
  });

  it('a request whose head is still arriving (a slow client) holds calls back from its first byte', () => {
    // The head's first line comes at 1 s, the rest at 4 s: the exchange starts at 1 s, and until 4 s
    // only the HTTP reader knows it has begun.
    const line = 'GET /late HTTP/1.1\r\n';
    const rest = `Host: ${GATEWAY}\r\n\r\n`;
    const response = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const at = (s: number): number => T0 + Math.round(s * SEC);
    const c = { src: CLIENT, dst: GATEWAY, sport: 41000, dport: 80 };
    const s = { src: GATEWAY, dst: CLIENT, sport: 80, dport: 41000 };
    const len = line.length + rest.length;
    const parent = [
      [at(0.9), tcpPacket({ ...c, seq: 1000, flags: SYN })],
      [at(0.95), tcpPacket({ ...s, seq: 5000, ack: 1001, flags: SYN | ACK })],
      [at(0.97), tcpPacket({ ...c, seq: 1001, ack: 5001, flags: ACK })],
      [at(1), tcpPacket({ ...c, seq: 1001, ack: 5001, flags: PSH_ACK, payload: line })],
      [at(4), tcpPacket({ ...c, seq: 1001 + line.length, ack: 5001, flags: PSH_ACK, payload: rest })],
      [at(5), tcpPacket({ ...s, seq: 5001, ack: 1001 + len, flags: PSH_ACK, payload: response })],
      [at(5.1), tcpPacket({ ...c, seq: 1001 + len, ack: 5001 + response.length, flags: FIN_ACK })],
      [at(5.2), tcpPacket({ ...s, seq: 5001 + response.length, ack: 1002 + len, flags: FIN_ACK })],
    ] as const;
    const emitted = run([
      ...parent.map(([ts, p]) => captured(p.data, p.linkType, ts)),
      ...connection({ client: GATEWAY, cport: 42000, server: ORDERS, path: '/orders/3', start: 1.5, end: 1.6 }),
      ...ticks(0, 40),
    ]);
    const late = find(emitted, '/late');
    assert.deepEqual(paths(late.tree.root), { path: '/late', children: [{ path: '/orders/3', children: [] }] });
    assert.equal(emitted.length, 1);
  });
});

describe('captures of two hosts whose clocks differ', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-skew-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  // The gateway's host sees client → gateway over 1.000-1.100 s; the orders host, whose clock runs
  // 30 ms ahead, sees the gateway's call to orders (really 1.010-1.090 s) at 1.040-1.120 s.
  const gatewayHost = join(dir, 'gateway.pcap');
  const ordersHost = join(dir, 'orders.pcap');
  writeFileSync(gatewayHost, writePcap(connection({ client: CLIENT, cport: 41000, server: GATEWAY, path: '/checkout', start: 1, end: 1.1 }, 'req-1'), { linkType: LINKTYPE_ETHERNET }));
  writeFileSync(ordersHost, writePcap(connection({ client: GATEWAY, cport: 42000, server: ORDERS, path: '/orders', start: 1.04, end: 1.12 }, 'req-1'), { linkType: LINKTYPE_ETHERNET }));
  const parents = (extra: string[]): (string | null)[] => {
    const r = spawnSync(process.execPath, ['bin/wirespan.js', 'read', gatewayHost, ordersHost, '--exchanges', '-', '--no-report', ...extra], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { request: { path: string }; link: string | null });
    return records.sort((a, b) => (a.request.path < b.request.path ? -1 : 1)).map((x) => x.link);
  };

  it('the call falls outside its parent by the skew: not linked by default', () => {
    assert.deepEqual(parents([]), [null, null]);
  });

  it('--clock-tolerance as large as the skew links it by its request id', () => {
    assert.deepEqual(parents(['--clock-tolerance', '40']), [null, 'request-id']);
  });

  it('a bad --clock-tolerance is one line and exit 2', () => {
    const r = spawnSync(process.execPath, ['bin/wirespan.js', 'read', gatewayHost, '--clock-tolerance', 'soon'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'wirespan: --clock-tolerance must be a number of milliseconds, got soon\n');
  });
});

describe('memory: what the correlator holds follows the traffic in flight, not the linger', () => {
  it('100 s of quick calls at 500/s: never more than the last ~1.2 s of them held or indexed', () => {
    const counters = new Counters();
    const correlator = new Correlator({
      counters,
      extractor: new TraceContextExtractor({ counters }),
      namer: new ServiceNamer({}),
      onTrace: () => {},
    });
    let most = { exchanges: 0, indexed: 0 };
    for (let i = 0; i < 50_000; i++) {
      const start = T0 + i * 2000;
      const x = quickExchange(i, start, start + 1500);
      correlator.add(x);
      if (i % 50 === 0) {
        correlator.advance(start + 1500, Infinity);
        const held = correlator.held;
        most = { exchanges: Math.max(most.exchanges, held.exchanges), indexed: Math.max(most.indexed, held.indexed) };
      }
    }
    correlator.finish();
    // 1 s of settle plus the 100 ms between advances: about 550 calls.
    assert.ok(most.exchanges <= 600 && most.indexed <= 600, JSON.stringify(most));
    assert.equal(counters.get('correlate.traces'), 50_000);
  });
});

function quickExchange(i: number, startUs: number, endUs: number): ExchangeRecord {
  return {
    protocol: 'http',
    connectionId: i,
    client: { ip: '10.5.0.1', port: 30000 + (i % 30000) },
    server: { ip: '10.5.0.2', port: 80 },
    index: 0,
    requestSeq: i,
    streamId: null,
    startUs,
    requestEndUs: startUs + 100,
    responseStartUs: endUs - 100,
    endUs,
    request: { method: 'GET', path: `/q/${i}`, host: null, version: '1.1', bodyBytes: 0 },
    response: { status: 200, reason: 'OK', version: '1.1', bodyBytes: 2 },
    requestHeaders: [],
    responseHeaders: [],
    contextText: null,
    bytes: { request: 40, response: 40 },
    notes: [],
  };
}
