// Load balancers (HAProxy, AWS NLB, nginx, Envoy) put a PROXY protocol header before the first byte of
// each connection to a backend. It is taken off before the protocol analyzers see the stream, and the
// client it names is kept on the exchanges (and exported as OTLP client.address).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CapturedPacket } from '../src/capture/types.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { toOtlpRequest } from '../src/export/otlp/transform.js';
import { Pipeline } from '../src/pipeline.js';
import { readProxyHeader } from '../src/protocols/proxy-protocol.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { captured, tcpPacket } from './lib/frames.js';

const SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A version 2 header as the specification lays it out: PROXY command, TCP over IPv4 or IPv6, plus TLVs. */
function v2(family: 'ipv4' | 'ipv6', source: number[], sourcePort: number, tlv: number[] = []): Buffer {
  const destination = family === 'ipv4' ? [10, 3, 0, 2] : new Array(16).fill(0).map((_, i) => (i === 15 ? 2 : 0));
  const addresses = [...source, ...destination, sourcePort >> 8, sourcePort & 0xff, 0x1f, 0x90];
  const body = [...addresses, ...tlv];
  return Buffer.from([...SIGNATURE, 0x21, family === 'ipv4' ? 0x11 : 0x21, body.length >> 8, body.length & 0xff, ...body]);
}

describe('PROXY protocol headers', () => {
  const cases: [name: string, bytes: Buffer, expected: ReturnType<typeof readProxyHeader>][] = [
    ['v1 TCP4', Buffer.from('PROXY TCP4 192.168.1.7 10.3.0.2 51234 8080\r\nGET'), { kind: 'header', version: 1, length: 44, source: { ip: '192.168.1.7', port: 51234 } }],
    ['v1 TCP6', Buffer.from('PROXY TCP6 2001:DB8::7 2001:db8::2 443 8080\r\n'), { kind: 'header', version: 1, length: 45, source: { ip: '2001:db8::7', port: 443 } }],
    ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN\r\n'), { kind: 'header', version: 1, length: 15, source: null }],
    ['v2 IPv4 with a TLV', v2('ipv4', [203, 0, 113, 9], 40001, [0x04, 0x00, 0x01, 0x00]), { kind: 'header', version: 2, length: 32, source: { ip: '203.0.113.9', port: 40001 } }],
    ['v2 IPv6', v2('ipv6', [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07], 40002), { kind: 'header', version: 2, length: 52, source: { ip: '2001:db8::7', port: 40002 } }],
    ['v2 LOCAL (a health check)', Buffer.from([...SIGNATURE, 0x20, 0x00, 0x00, 0x00]), { kind: 'header', version: 2, length: 16, source: null }],
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n'), { kind: 'none' }],
    ['v1 with a bad port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n'), { kind: 'none' }],
    ['v1 without CR', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 80\n'), { kind: 'none' }],
    ['v2 with version 1', Buffer.from([...SIGNATURE, 0x11, 0x11, 0x00, 0x00]), { kind: 'none' }],
  ];
  for (const [name, bytes, expected] of cases) {
    it(`${name}`, () => assert.deepEqual(readProxyHeader(bytes), expected));
  }

  it('every proper prefix of a header asks for more', () => {
    for (const bytes of [cases[0]![1].subarray(0, 44), cases[3]![1]]) {
      for (let n = 1; n < bytes.length; n++) assert.deepEqual(readProxyHeader(bytes.subarray(0, n)), { kind: 'more' }, `${n} bytes`);
    }
  });
});

const T0 = 1_700_000_000_000_000;
const LB = '10.3.0.1';
const BACKEND = '10.3.0.2';

/** A balancer → backend connection: handshake, then the client's segments, each answered by `response`. */
function connection(sport: number, clientSegments: Buffer[], responses: string[], t0: number): CapturedPacket[] {
  const c = { src: LB, dst: BACKEND, sport, dport: 8080 };
  const s = { src: BACKEND, dst: LB, sport: 8080, dport: sport };
  let cseq = 1001;
  let sseq = 5001;
  let t = t0;
  const out: CapturedPacket[] = [];
  const add = (p: ReturnType<typeof tcpPacket>): void => void out.push(captured(p.data, p.linkType, (t += 1000)));
  add(tcpPacket({ ...c, seq: 1000, flags: 0x02 }));
  add(tcpPacket({ ...s, seq: 5000, ack: 1001, flags: 0x12 }));
  add(tcpPacket({ ...c, seq: 1001, ack: 5001, flags: 0x10 }));
  for (const segment of clientSegments) {
    add(tcpPacket({ ...c, seq: cseq, ack: sseq, flags: 0x18, payload: segment }));
    cseq += segment.length;
  }
  for (const response of responses) {
    add(tcpPacket({ ...s, seq: sseq, ack: cseq, flags: 0x18, payload: response }));
    sseq += response.length;
  }
  add(tcpPacket({ ...c, seq: cseq, ack: sseq, flags: 0x11 }));
  add(tcpPacket({ ...s, seq: sseq, ack: cseq + 1, flags: 0x11 }));
  return out;
}

function analyse(packets: CapturedPacket[]): { spans: SpanRecord[]; counters: Record<string, number> } {
  const spans: SpanRecord[] = [];
  const pipeline = new Pipeline({ analyzers: createAnalyzers({}), onSpan: (s) => spans.push(s) });
  for (const p of packets) pipeline.packet(p);
  const result = pipeline.finish();
  spans.sort((a, b) => a.startUs - b.startUs);
  return { spans, counters: result.counters.toJSON() };
}

describe('exchanges behind a load balancer that speaks the PROXY protocol', () => {
  const GET = 'GET /orders/7 HTTP/1.1\r\nHost: backend\r\n\r\n';
  const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
  const v1 = Buffer.from('PROXY TCP4 192.168.1.7 10.3.0.2 51234 8080\r\n');
  const v2Header = v2('ipv4', [203, 0, 113, 9], 40001);

  it('the header is taken off in the request segment or alone before it; every exchange pairs', () => {
    const { spans, counters } = analyse([
      ...connection(41000, [Buffer.concat([v1, Buffer.from(GET)])], [OK], T0),
      ...connection(41001, [v2Header, Buffer.from(GET + GET)], [OK + OK], T0 + 100_000),
      ...connection(41002, [v2Header.subarray(0, 7), Buffer.concat([v2Header.subarray(7), Buffer.from(GET)])], [OK], T0 + 200_000),
      ...connection(41003, [Buffer.from(GET)], [OK], T0 + 300_000),
    ]);
    assert.deepEqual(
      spans.map((s) => [s.client.port, (s.request as { path: string }).path, (s.response as { status: number } | null)?.status, s.originalClient, s.notes]),
      [
        [41000, '/orders/7', 200, { ip: '192.168.1.7', port: 51234 }, []],
        [41001, '/orders/7', 200, { ip: '203.0.113.9', port: 40001 }, []],
        [41001, '/orders/7', 200, { ip: '203.0.113.9', port: 40001 }, []],
        [41002, '/orders/7', 200, { ip: '203.0.113.9', port: 40001 }, []],
        [41003, '/orders/7', 200, null, []],
      ],
    );
    // The request's first byte keeps its real sequence number, after the header.
    assert.equal(spans[0]!.requestSeq, 1001 + v1.length);
    assert.equal(spans[1]!.requestSeq, 1001 + v2Header.length);
    assert.equal(counters['protocols.proxy-protocol-v1'], 1);
    assert.equal(counters['protocols.proxy-protocol-v2'], 2);
    assert.equal(counters['http.parse-errors'] ?? 0, 0);
  });

  it('OTLP: client.address is the client the balancer named, the network peer is the balancer', () => {
    const { spans } = analyse(connection(41000, [Buffer.concat([v1, Buffer.from(GET)])], [OK], T0));
    const request = toOtlpRequest(spans, {});
    const server = request.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).find((s) => s.kind === 2)!;
    const attr = (key: string): unknown => server.attributes.find((a) => a.key === key)?.value;
    assert.deepEqual(attr('client.address'), { stringValue: '192.168.1.7' });
    assert.deepEqual(attr('client.port'), { intValue: 51234 });
    assert.deepEqual(attr('network.peer.address'), { stringValue: LB });
  });
});
