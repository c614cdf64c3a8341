/**
 * gRPC streams already in flight when a capture starts: their HEADERS are not in it, so gRPC can only
 * be told from the DATA framing, and only when the first DATA byte seen is provably a message start.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import type { Exchange, GrpcRequestInfo, GrpcResponseInfo, Http2ResponseInfo } from '../src/protocols/types.js';
import { PREFACE, grpcMessage, settingsFrame } from './lib/h2-builder.js';
import { Conversation, grpcRequestFields } from './lib/h2-conversation.js';
import { HandlerDriver, splitAt } from './lib/handler-driver.js';

const row = (n: number): Buffer => Buffer.from(`sku-${n};qty=${n * 7}`);

/** A server-streaming ListStock on stream 1 whose HEADERS and first replies precede the capture. */
function listStockBefore(): Conversation {
  const c = new Conversation();
  c.raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/ListStock'));
  c.data(0, 1, grpcMessage(Buffer.from('all')), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 1, grpcMessage(row(1)));
  c.data(1, 1, grpcMessage(row(2)));
  return c;
}

/** Play the steps from `from` on as a capture that began there; `cuts[i]` splits step i's bytes. */
function playFrom(c: Conversation, from: number, cuts: readonly (readonly number[])[] = []): HandlerDriver {
  const d = new HandlerDriver(new Http2Analyzer(), { handshake: false });
  c.steps.slice(from).forEach((s, i) => {
    for (const piece of splitAt(s.bytes, cuts[i] ?? [])) d.data(s.dir, piece, s.ts);
  });
  d.close(9_999_999);
  return d;
}

function stream(d: HandlerDriver, id: number): Exchange {
  const found = d.exchanges.filter((x) => x.streamId === id);
  assert.equal(found.length, 1);
  return found[0]!;
}

/** In the capture: replies 3–5 (two in one frame), a 3000-byte reply over two frames, an empty one. */
function inflightConversation(): { c: Conversation; captureStart: number; seen: Buffer[] } {
  const c = listStockBefore();
  const captureStart = c.steps.length;
  const big = grpcMessage(Buffer.alloc(3000, 0x2a));
  c.data(1, 1, grpcMessage(row(3)));
  c.data(1, 1, Buffer.concat([grpcMessage(row(4)), grpcMessage(row(5))]));
  // A unary call made during the capture, interleaved: its own counts are unaffected.
  c.headers(0, 3, grpcRequestFields('/shop.Inventory/Reserve'));
  c.data(0, 3, grpcMessage(Buffer.from('sku-9')), { endStream: true });
  c.data(1, 1, big.subarray(0, 1000));
  c.headers(1, 3, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 1, big.subarray(1000));
  c.data(1, 3, grpcMessage(Buffer.from('ok')));
  c.headers(1, 3, [['grpc-status', '0']], { endStream: true });
  c.data(1, 1, grpcMessage(Buffer.alloc(0)));
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  return { c, captureStart, seen: [row(3), row(4), row(5), Buffer.alloc(3000), Buffer.alloc(0)] };
}

test('in-flight server stream with clean framing: gRPC, the replies seen counted, nothing before claimed', () => {
  const { c, captureStart, seen } = inflightConversation();
  const d = playFrom(c, captureStart);
  const x = stream(d, 1);
  assert.equal(x.protocol, 'grpc');
  const q = x.request as GrpcRequestInfo;
  const r = x.response as GrpcResponseInfo;
  assert.deepEqual(
    [q.path, q.service, q.messages, q.messageBytes, q.callKind],
    ['<unknown>', '<unknown>', 0, 0, 'server-streaming'],
  );
  assert.deepEqual(
    [r.messages, r.messageBytes, r.compressedMessages, r.httpStatus],
    [seen.length, seen.reduce((n, m) => n + m.length, 0), 0, null],
  );
  // grpc-status was first sent in the capture (a literal, inserted then): known.
  assert.equal(r.grpcStatus, 0);
  assert.deepEqual(x.notes, [
    'request headers before capture',
    'response headers before capture',
    'request messages before capture unknown',
    'response messages before capture unknown',
    'call kind judged from the messages seen',
  ]);
  // The server ended it with trailers: emitted then, not as "still open" at the end.
  assert.equal(x.endUs, c.steps.at(-1)!.ts);
  const unary = stream(d, 3);
  assert.deepEqual(
    [(unary.request as GrpcRequestInfo).messages, (unary.response as GrpcResponseInfo).messages, unary.notes.length],
    [1, 1, 1], // the one note: content-type and te were pre-capture table entries
  );
});

test('in-flight stream cut by the end of the capture: framing alone says gRPC, the open reply counted', () => {
  const c = listStockBefore();
  const captureStart = c.steps.length;
  const big = grpcMessage(Buffer.alloc(3000, 0x2a));
  c.data(1, 1, grpcMessage(row(3)));
  c.data(1, 1, Buffer.concat([grpcMessage(row(4)), grpcMessage(row(5))]));
  c.data(1, 1, big); // the capture ends 1200 bytes into this frame
  const d = new HandlerDriver(new Http2Analyzer(), { handshake: false });
  c.steps.slice(captureStart).forEach((s, i, all) => d.data(s.dir, i === all.length - 1 ? s.bytes.subarray(0, 1200) : s.bytes, s.ts));
  d.close(9_999_999);
  const x = stream(d, 1);
  assert.equal(x.protocol, 'grpc');
  const r = x.response as GrpcResponseInfo;
  assert.deepEqual([r.messages, r.messageBytes, r.grpcStatus], [4, 3 * row(3).length + 3000, null]);
  for (const note of [
    'gRPC recognised from message framing (content-type unknown)',
    'response messages before capture unknown',
    'incomplete response message',
    'stream still open at end of capture',
  ]) assert.ok(x.notes.includes(note), note);
});

test('property: splitting the captured bytes anywhere changes nothing', () => {
  const { c, captureStart } = inflightConversation();
  const steps = c.steps.length - captureStart;
  const whole = playFrom(c, captureStart).exchanges;
  fc.assert(
    fc.property(fc.array(fc.array(fc.nat(3100), { maxLength: 5 }), { minLength: steps, maxLength: steps }), (cuts) => {
      assert.deepEqual(playFrom(c, captureStart, cuts).exchanges, whole);
    }),
    { numRuns: 150 },
  );
});

/**
 * The capture starts at the second DATA frame of a 3000-byte reply: its first byte is mid-message.
 * `tail` is what that frame begins with; the rest of the body is 0x2a.
 */
const midMessageCases: { name: string; tail: number[]; trailers: boolean; protocol: 'grpc' | 'http2' }[] = [
  { name: 'not a prefix (flag byte 0x41)', tail: [0x41, 0x41], trailers: true, protocol: 'grpc' },
  // Flag 0 and a length running past everything that follows: never ends at a frame end, cut by END_STREAM.
  { name: 'a prefix whose length overruns the stream', tail: [0, 0, 0, 0x20, 0], trailers: true, protocol: 'grpc' },
  // Flag 0, length 3: the next "prefix" is body bytes (0x2a), a bad flag.
  { name: 'a prefix whose lengths do not chain', tail: [0, 0, 0, 0, 3], trailers: true, protocol: 'grpc' },
  // No trailers, capture ends while the huge "message" is open: no frame ever ended on a boundary.
  { name: 'a prefix still open at the end of the capture', tail: [1, 0, 0x7f, 0, 0], trailers: false, protocol: 'http2' },
];

for (const { name, tail, trailers, protocol } of midMessageCases) {
  test(`in-flight stream whose first DATA byte is mid-message, ${name}: no count, said so`, () => {
    const c = listStockBefore();
    const body = Buffer.alloc(3000, 0x2a);
    body.set(tail, 995); // the bytes right after the first 1000 wire bytes (5-byte prefix + 995)
    const big = grpcMessage(body);
    c.data(1, 1, big.subarray(0, 1000));
    const captureStart = c.steps.length;
    c.data(1, 1, big.subarray(1000));
    c.data(1, 1, grpcMessage(row(3)));
    c.data(1, 1, grpcMessage(row(4)));
    if (trailers) c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
    const x = stream(playFrom(c, captureStart), 1);
    assert.equal(x.protocol, protocol);
    if (protocol === 'http2') {
      // Nothing says gRPC (no trailers, framing not believed): plain HTTP/2 with its body bytes.
      assert.equal((x.response as Http2ResponseInfo).bodyBytes, 2005 + 2 * (5 + row(3).length));
      assert.ok(x.notes.includes('stream still open at end of capture'));
      return;
    }
    const r = x.response as GrpcResponseInfo;
    assert.deepEqual([r.messages, r.messageBytes, r.grpcStatus], [0, 0, 0]); // the literal grpc-status says gRPC
    assert.ok(x.notes.includes('response messages before capture unknown'));
    assert.ok(x.notes.includes('response messages not counted (DATA seen may start mid-message)'));
    assert.ok(!x.notes.includes('gRPC recognised from message framing (content-type unknown)'));
  });
}

test('in-flight stream whose first DATA frame is cut by the capture start: the next frame is judged alone', () => {
  // The capture starts 300 bytes into a DATA frame holding reply 3; the reader skips that frame, and
  // the following frames (whole replies) start on message boundaries: counted from there.
  const c = listStockBefore();
  const captureStart = c.steps.length;
  c.data(1, 1, grpcMessage(Buffer.alloc(1000, 3)));
  c.data(1, 1, grpcMessage(row(4)));
  c.data(1, 1, grpcMessage(row(5)));
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  const d = new HandlerDriver(new Http2Analyzer(), { handshake: false });
  const first = c.steps[captureStart]!;
  d.data(1, first.bytes.subarray(300), first.ts);
  for (const s of c.steps.slice(captureStart + 1)) d.data(s.dir, s.bytes, s.ts);
  d.close(9_999_999);
  const x = stream(d, 1);
  assert.equal(x.protocol, 'grpc');
  assert.equal((x.response as GrpcResponseInfo).messages, 2);
  assert.equal(d.counters.get('http2.resync-skipped-bytes'), first.bytes.length - 300);
});

test('in-flight client-streaming upload: the request messages seen are counted the same way', () => {
  const c = new Conversation();
  c.raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/Restock'));
  c.data(0, 1, grpcMessage(row(1)));
  const captureStart = c.steps.length;
  c.data(0, 1, grpcMessage(row(2)));
  c.data(0, 1, grpcMessage(row(3)), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 1, grpcMessage(Buffer.from('restocked')));
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  const x = stream(playFrom(c, captureStart), 1);
  assert.equal(x.protocol, 'grpc');
  const q = x.request as GrpcRequestInfo;
  const r = x.response as GrpcResponseInfo;
  assert.deepEqual([q.messages, q.messageBytes, q.callKind], [2, 2 * row(2).length, 'client-streaming']);
  assert.deepEqual([r.messages, r.grpcStatus], [1, 0]);
  assert.ok(x.notes.includes('request messages before capture unknown'));
  assert.ok(!x.notes.includes('response messages before capture unknown')); // its response HEADERS are in the capture
  assert.ok(x.notes.includes('call kind judged from the messages seen'));
});
