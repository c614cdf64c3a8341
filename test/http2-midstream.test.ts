import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import type { Exchange, GrpcRequestInfo, GrpcResponseInfo, Http2RequestInfo } from '../src/protocols/types.js';
import { PREFACE, grpcMessage, settingsFrame } from './lib/h2-builder.js';
import { Conversation, grpcRequestFields, requestFields } from './lib/h2-conversation.js';
import { HandlerDriver } from './lib/handler-driver.js';

/** Play only the steps from `from` on, as a capture that started there (no handshake seen). */
function playFrom(c: Conversation, from: number, driver = new HandlerDriver(new Http2Analyzer(), { handshake: false })): HandlerDriver {
  for (const s of c.steps.slice(from)) driver.data(s.dir, s.bytes, s.ts);
  driver.close(9_999_999);
  return driver;
}

const byStream = (xs: Exchange[]): Map<number, Exchange> => new Map(xs.map((x) => [x.streamId!, x]));

test('capture starting mid-connection: unknown HPACK entries are marked, later entries exact, open streams kept', () => {
  const c = new Conversation();
  c.raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
  // Before the capture: a gRPC call that fills both tables; stream 3 (server streaming) stays open.
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/Reserve', [['x-tenant', 'acme'], ['user-agent', 'grpc-node/1.9']]), {});
  c.data(0, 1, grpcMessage(Buffer.from('req')), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 1, grpcMessage(Buffer.from('resp')));
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  c.headers(0, 3, grpcRequestFields('/shop.Inventory/ListStock', [['x-tenant', 'acme']]));
  c.data(0, 3, grpcMessage(Buffer.from('list')), { endStream: true });
  c.headers(1, 3, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 3, grpcMessage(Buffer.from('row-1')));
  const captureStart = c.steps.length;
  c.data(1, 3, Buffer.concat([grpcMessage(Buffer.from('row-2')), grpcMessage(Buffer.from('row-3'))]));
  // In the capture: stream 5 reuses pre-capture entries and inserts a new one; stream 7 reuses both.
  c.headers(0, 5, grpcRequestFields('/shop.Inventory/Reserve', [['x-tenant', 'acme'], ['x-request-id', 'r-5']]));
  c.data(0, 5, grpcMessage(Buffer.from('req5')), { endStream: true });
  c.headers(1, 5, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 5, grpcMessage(Buffer.from('resp5')));
  c.headers(1, 5, [['grpc-status', '0']], { endStream: true });
  c.headers(0, 7, grpcRequestFields('/shop.Inventory/Reserve', [['x-tenant', 'acme'], ['x-request-id', 'r-5']]));
  c.data(0, 7, grpcMessage(Buffer.from('req7')), { endStream: true });
  c.headers(1, 3, [['grpc-status', '0']], { endStream: true });
  c.headers(1, 7, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 7, grpcMessage(Buffer.from('resp7')));
  c.headers(1, 7, [['grpc-status', '5'], ['grpc-message', 'not%20found']], { endStream: true });

  const d = playFrom(c, captureStart);
  const xs = byStream(d.exchanges);
  assert.deepEqual([...xs.keys()].sort(), [3, 5, 7]);

  const s5 = xs.get(5)!;
  const r5 = s5.request as GrpcRequestInfo;
  // Fields indexed from entries inserted before the capture are unknown as a whole (name too): here
  // :path, :authority, content-type, te and x-tenant. None of the values is wrong.
  const h5 = new Map(s5.requestHeaders);
  assert.equal(h5.get('x-request-id'), 'r-5');
  const unknownValues = s5.requestHeaders.filter(([n]) => n.startsWith('<unknown:'));
  assert.ok(unknownValues.length > 0);
  for (const [n, v] of unknownValues) assert.match(`${n} ${v}`, /^<unknown:hpack-entry-\d+> <unknown:hpack-entry-\d+>$/);
  assert.equal(r5.path, '<unknown>');
  assert.equal(r5.service, '<unknown>');
  assert.equal(unknownValues.length, 5);
  assert.equal(s5.protocol, 'grpc'); // from the response content-type
  assert.ok(s5.notes.some((n) => /^\d+ header fields unknown \(HPACK state before capture\)$/.test(n)));

  const s7 = xs.get(7)!;
  assert.equal(new Map(s7.requestHeaders).get('x-request-id'), 'r-5'); // inserted in the capture: exact
  // The same unknown entries, referenced by shifted indexes, give the same markers.
  assert.deepEqual(
    s7.requestHeaders.filter(([n]) => n.startsWith('<unknown:')),
    unknownValues,
  );
  const resp7 = s7.response as GrpcResponseInfo;
  // grpc-status was sent as a literal value with its name indexed from a pre-capture entry: the value
  // is known, the name is not. gRPC sends Status first in trailers, so the status is read from there
  // and the exchange says it was inferred.
  assert.equal(resp7.grpcStatus, 5);
  assert.ok(s7.notes.includes('grpc-status inferred: first trailer field, its name unknown (HPACK state before capture)'));
  assert.ok(s7.responseHeaders.some(([n, v]) => /^<unknown:hpack-entry-\d+>$/.test(n) && v === '5'));
  assert.equal(resp7.grpcMessage, 'not found');

  const s3 = xs.get(3)!;
  assert.ok(s3.notes.includes('request headers before capture'));
  assert.ok(s3.notes.includes('response headers before capture'));
  // Its headers and trailer names are pre-capture entries, but its one DATA frame holds two gRPC
  // messages whose prefixes chain exactly to the frame end: gRPC, counting only what the capture holds.
  assert.equal(s3.protocol, 'grpc');
  assert.equal((s3.request as GrpcRequestInfo).path, '<unknown>');
  const resp3 = s3.response as GrpcResponseInfo;
  assert.deepEqual([resp3.messages, resp3.messageBytes, resp3.grpcStatus], [2, 10, null]);
  assert.ok(s3.notes.includes('response messages before capture unknown'));
  assert.equal(s3.startUs, c.steps[captureStart]!.ts);
  assert.ok(d.counters.get('http2.hpack-unknown-fields') > 0);
});

test('capture starting inside a DATA frame: the frame boundary is found again', () => {
  const c = new Conversation();
  c.raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
  c.headers(0, 1, requestFields('/download'), { endStream: true });
  c.headers(1, 1, [[':status', '200']]);
  const body = c.steps.length;
  c.data(1, 1, Buffer.alloc(5000, 0x41));
  c.data(1, 1, Buffer.alloc(100, 0x42), { endStream: true });
  c.headers(0, 3, requestFields('/next'), { endStream: true });
  c.headers(1, 3, [[':status', '204']], { endStream: true });
  // Start 1000 bytes into the 5000-byte DATA frame.
  const d = new HandlerDriver(new Http2Analyzer(), { handshake: false });
  const first = c.steps[body]!;
  d.data(1, first.bytes.subarray(1000), first.ts);
  playFrom(c, body + 1, d);
  const xs = byStream(d.exchanges);
  assert.equal(xs.get(1)!.response && (xs.get(1)!.response as { bodyBytes: number }).bodyBytes, 100);
  assert.ok(xs.get(1)!.notes.includes('request headers before capture'));
  assert.equal((xs.get(3)!.request as Http2RequestInfo).path, '/next');
  assert.equal(d.counters.get('http2.resync'), 2);
  assert.equal(d.counters.get('http2.resync-skipped-bytes'), first.bytes.length - 1000); // the rest of that frame
});

test('a gap inside DATA keeps frame and message sync; a gap across frames leaves unknown what it may have shifted', () => {
  const c = new Conversation();
  c.raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/ListStock', [['x-tenant', 'acme']]));
  c.data(0, 1, grpcMessage(Buffer.from('q')), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
  const big = c.steps.length;
  c.data(1, 1, Buffer.concat([grpcMessage(Buffer.alloc(3000, 7)), grpcMessage(Buffer.alloc(10, 8))]));
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  const lost = c.steps.length;
  c.headers(0, 3, grpcRequestFields('/shop.Inventory/Reserve', [['x-lost', 'in-gap']]), { endStream: true }); // lost
  c.headers(0, 5, grpcRequestFields('/shop.Inventory/Reserve', [['x-tenant', 'acme'], ['x-lost', 'in-gap']]), { endStream: true });
  c.headers(1, 5, [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '0']], { endStream: true });

  const d = new HandlerDriver(new Http2Analyzer());
  c.steps.forEach((s, i) => {
    if (i === big) {
      d.data(s.dir, s.bytes.subarray(0, 200), s.ts);
      d.gap(s.dir, 1000, s.ts); // inside the first message body
      d.data(s.dir, s.bytes.subarray(1200), s.ts + 1);
    } else if (i === lost) {
      d.gap(s.dir, s.bytes.length, s.ts);
    } else {
      d.data(s.dir, s.bytes, s.ts);
    }
  });
  d.close(9_999_999);
  const xs = byStream(d.exchanges);
  const s1 = xs.get(1)!;
  assert.equal((s1.response as GrpcResponseInfo).messages, 2);
  assert.ok(s1.notes.includes('gap in response (1000 bytes)'));
  assert.equal(d.counters.get('http2.hpack-realigning'), 1);
  const s5 = xs.get(5)!;
  // The lost block inserted x-lost and :path; how many entries it inserted is unknown, and stream 5
  // refers to those two and to entries from before the gap (x-tenant, te, content-type, :authority)
  // whose indexes moved by that unknown amount. No block seen whole has stream 5's fields (x-lost is
  // new), so nothing tells the readings apart: every dynamic field is unknown, none is guessed.
  // :method and :scheme are static.
  const hidden: [string, string] = ['<unknown:hpack-entry-hidden-by-gap>', '<unknown:hpack-entry-hidden-by-gap>'];
  const shifted: [string, string] = ['<unknown:hpack-entry-shifted-by-gap>', '<unknown:hpack-entry-shifted-by-gap>'];
  assert.deepEqual(s5.requestHeaders, [hidden, shifted, shifted, shifted, shifted, hidden]);
  assert.ok(s5.notes.includes('gap: HPACK state of client-to-server not trusted'));
  assert.ok(s5.notes.includes('request header fields read across a gap (HPACK realigned: inferred)'));
  assert.ok(s5.notes.includes('6 header fields unknown (HPACK state lost in gap)'));
  assert.equal((s5.request as GrpcRequestInfo).path, '<unknown>');
  assert.equal(s5.protocol, 'grpc'); // the response side is intact
  assert.ok(!xs.has(3));
});

test('at the end of a capture, two chained frame headers are enough to read what hunting holds', () => {
  const c = new Conversation();
  c.headers(0, 1, requestFields('/sync', [], 'POST'), { endStream: true });
  c.headers(1, 1, [[':status', '200']]);
  c.data(1, 1, Buffer.alloc(16384, 1));
  const d = new HandlerDriver(new Http2Analyzer(), { handshake: false });
  d.data(0, c.steps[0]!.bytes, c.steps[0]!.ts);
  d.data(1, Buffer.concat([c.steps[1]!.bytes, c.steps[2]!.bytes.subarray(0, 1000)]), c.steps[1]!.ts); // capture ends here
  assert.equal(d.exchanges.length, 0);
  d.close(9_999_999);
  assert.equal(d.exchanges.length, 1);
  assert.deepEqual(d.exchanges[0]!.response, { status: 200, bodyBytes: 1000 - 9, reset: null });
});
