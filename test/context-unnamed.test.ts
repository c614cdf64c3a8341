// HTTP/2 fields whose name the capture could not read (an HPACK entry from before the capture, or one
// a gap hid) but whose value it did: a long-lived gRPC connection captured mid-way sends every
// x-request-id and traceparent as a literal named by such an entry. A value in the exact W3C form is a
// traceparent; a value equal to the request id of the exchange the call was made in is its request id.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { TraceContextExtractor } from '../src/correlate/context.js';
import type { SpanRecord } from '../src/correlate/types.js';
import type { Exchange, HeaderField } from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { correlateAll, exchangeOf } from './lib/exchange-fixtures.js';
import { T0 } from './lib/span-fixtures.js';
import { writePcap } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
import { loadTruth } from './lib/truth-match.js';

const UNKNOWN = '<unknown:hpack-entry-3>';
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('trace context under unknown header names', () => {
  const extract = (headers: HeaderField[]) => new TraceContextExtractor({ counters: new Counters() }).fromHeaders(headers, []);

  it('a value in the exact traceparent form is the trace context', () => {
    const ctx = extract([[UNKNOWN, TP]]);
    assert.deepEqual([ctx.source, ctx.traceId, ctx.parentSpanId], ['traceparent (name unknown)', '0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331']);
  });

  it('a named traceparent wins; a malformed one under an unknown name is only a value', () => {
    const named = extract([[UNKNOWN, TP], ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01']]);
    assert.equal(named.traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    const malformed = extract([[UNKNOWN, '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01']]);
    assert.deepEqual([malformed.traceId, malformed.unnamedValues.length], [null, 1]);
  });

  it('other values long enough to be ids are kept aside; short ones, spaced ones and unknown values are not', () => {
    const ctx = extract([[UNKNOWN, 'c453f375-1b9e-4a0d'], [UNKNOWN, '4999m'], [UNKNOWN, 'has a space in it'], [UNKNOWN, UNKNOWN], ['user-agent', 'grpc-node-js/1.12.0']]);
    assert.deepEqual([ctx.requestId, ctx.unnamedValues], [null, ['c453f375-1b9e-4a0d']]);
    assert.deepEqual(extract([['x-request-id', 'named-id-1'], [UNKNOWN, 'c453f375-1b9e-4a0d']]).unnamedValues, []);
  });
});

describe('a request id under an unknown name links to the exchange that carries it', () => {
  // Two requests into the service at once: timing alone could not tell which one made the call.
  const into = (n: number, id: string): Exchange =>
    exchangeOf({ connectionId: n, client: { ip: '10.0.0.2', port: 40000 + n }, requestSeq: n, requestHeaders: [['x-request-id', id]] });
  const call = (value: string): Exchange =>
    exchangeOf({
      protocol: 'grpc',
      connectionId: 9,
      client: { ip: '10.0.0.3', port: 50000 },
      server: { ip: '10.0.0.4', port: 50051 },
      streamId: 1,
      requestSeq: 99,
      startUs: T0 + 100,
      requestEndUs: T0 + 110,
      responseStartUs: T0 + 190,
      endUs: T0 + 200,
      request: { service: 'shop.Inventory', method: 'Reserve', path: '/shop.Inventory/Reserve', authority: null, streamId: 1, messages: 1, messageBytes: 10, compressedMessages: 0, timeoutMs: null, callKind: 'unary' },
      response: { httpStatus: 200, grpcStatus: 0, grpcMessage: null, messages: 1, messageBytes: 5, compressedMessages: 0, trailersOnly: false, reset: null },
      requestHeaders: [[UNKNOWN, value]],
    });

  it('equal to one of the requests in flight: that one is the parent, and the value the request id', () => {
    const { spans, counters } = correlateAll([call('req-bbbbbbbb'), into(1, 'req-aaaaaaaa'), into(2, 'req-bbbbbbbb')]);
    const grpc = spans.find((s) => s.protocol === 'grpc')!;
    const parent = spans.find((s) => s.requestId === 'req-bbbbbbbb' && s.protocol === 'http')!;
    assert.deepEqual([grpc.parentSpanId, grpc.link, grpc.requestId], [parent.spanId, 'request-id', 'req-bbbbbbbb']);
    assert.deepEqual(grpc.notes, ['request id found under a header name the capture could not read']);
    assert.equal(counters.get('correlate.unnamed-request-ids'), 1);
  });

  it('equal to none: the call is linked by timing as any call without an id, and keeps no request id', () => {
    const { spans } = correlateAll([call('something-else'), into(1, 'req-aaaaaaaa'), into(2, 'req-bbbbbbbb')]);
    const grpc = spans.find((s) => s.protocol === 'grpc')!;
    assert.deepEqual([grpc.link, grpc.requestId], ['timing', null]);
  });
});

describe('a real capture cut after its gRPC connection was set up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-unnamed-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gRPC calls get their request id and parent back, though their header names are unknown', async () => {
    const CAPTURE = '../shared/corpus/shop-concurrent.pcap';
    const truth = loadTruth(CAPTURE.replace('.pcap', '.truth.json'));
    const packets = [...readPcapSimple(CAPTURE)];
    const file = join(dir, 'cut.pcap');
    // The last 70 % of the packets: orders' HTTP/2 connection to inventory and its HPACK table predate them.
    writeFileSync(file, writePcap(packets.slice(Math.floor(packets.length * 0.3)).map((p) => ({ ts: p.ts, data: p.data })), { linkType: packets[0]!.linkType }));
    const { spans, result } = await analyzeFiles([file]);
    const grpc = spans.filter((s) => s.protocol === 'grpc' && (s.request as { path: string }).path.startsWith('/'));
    assert.ok(grpc.length >= 80, `${grpc.length} gRPC calls`);
    assert.ok(result.counters.get('http2.hpack-unknown-fields') > 0, 'the table predates the capture');
    const truthOf = new Map(truth.exchanges.filter((x) => x.protocol === 'grpc').map((x) => [`${x.client_port} ${x.request_id}`, x]));
    const byTruthId = new Map<string, SpanRecord>();
    for (const s of spans) {
      const x = truth.exchanges.find((t) => t.protocol === s.protocol && t.request_id === s.requestId && t.client_port === s.client.port);
      if (x) byTruthId.set(x.id, s);
    }
    const wrong: string[] = [];
    let withId = 0;
    for (const s of grpc) {
      if (s.requestId === null) {
        // Made while serving a request that began before the capture: no parent to find, none claimed.
        if (s.link !== null) wrong.push(`stream ${s.streamId}: linked by ${s.link} without an id`);
        continue;
      }
      withId++;
      const x = truthOf.get(`${s.client.port} ${s.requestId}`);
      if (!x) {
        wrong.push(`stream ${s.streamId}: request id ${s.requestId} not the truth's`);
        continue;
      }
      const parent = x.parent ? byTruthId.get(x.parent) : undefined;
      if (!parent || s.parentSpanId !== parent.spanId || s.link !== 'request-id') wrong.push(`stream ${s.streamId}: parent`);
    }
    assert.deepEqual(wrong, []);
    assert.ok(withId >= grpc.length - 5, `${withId} of ${grpc.length} with their request id`);
  });
});
