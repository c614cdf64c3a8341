import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import type { Exchange, Http2RequestInfo, Http2ResponseInfo } from '../src/protocols/types.js';
import {
  PREFACE, frame, goawayFrame, pingFrame, pushPromiseFrame, rstStreamFrame, settingsFrame, windowUpdateFrame,
} from './lib/h2-builder.js';
import { Conversation, requestFields } from './lib/h2-conversation.js';
import { HandlerDriver, splitAt } from './lib/handler-driver.js';

function start(): Conversation {
  return new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame([[4, 65535]])])).raw(1, settingsFrame([[3, 100]])).raw(0, settingsFrame([], true)).raw(1, settingsFrame([], true));
}

function play(c: Conversation, driver = new HandlerDriver(new Http2Analyzer())): HandlerDriver {
  for (const s of c.steps) driver.data(s.dir, s.bytes, s.ts);
  driver.close(9_999_999);
  return driver;
}

const req = (x: Exchange): Http2RequestInfo => x.request as Http2RequestInfo;
const res = (x: Exchange): Http2ResponseInfo => x.response as Http2ResponseInfo;

test('prior knowledge: one GET with a body, timing, sequence numbers, sizes', () => {
  const c = start();
  c.headers(0, 1, requestFields('/items?id=7', [['x-request-id', 'abc'], ['authorization', 'Bearer s'], ['cookie', 'a=b']]), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'text/plain'], ['set-cookie', 'k=v'], ['x-request-id', 'abc']]);
  c.data(1, 1, Buffer.from('hello '));
  c.data(1, 1, Buffer.from('world'), { endStream: true });
  const d = play(c);
  assert.equal(d.exchanges.length, 1);
  const x = d.exchanges[0]!;
  const headersStep = c.steps[4]!;
  assert.equal(x.protocol, 'http2');
  assert.deepEqual(req(x), { method: 'GET', path: '/items?id=7', authority: 'svc:8080', scheme: 'http', streamId: 1, bodyBytes: 0, forwardedFor: null });
  assert.deepEqual(res(x), { status: 200, bodyBytes: 11, reset: null });
  assert.equal(x.streamId, 1);
  assert.equal(x.index, 0);
  assert.equal(x.startUs, headersStep.ts);
  assert.equal(x.requestEndUs, headersStep.ts);
  assert.equal(x.responseStartUs, c.steps[5]!.ts);
  assert.equal(x.endUs, c.steps[7]!.ts);
  // Client stream: preface (24) + SETTINGS (9+6) + SETTINGS ACK (9) before the HEADERS frame.
  assert.equal(x.requestSeq, 1000 + 24 + 15 + 9);
  assert.equal(x.bytes.request, headersStep.bytes.length);
  assert.equal(x.bytes.response, c.steps[5]!.bytes.length + c.steps[6]!.bytes.length + c.steps[7]!.bytes.length);
  assert.deepEqual(x.requestHeaders, [['x-request-id', 'abc']]);
  assert.deepEqual(x.responseHeaders, [['content-type', 'text/plain'], ['x-request-id', 'abc']]);
  assert.deepEqual(x.notes, []);
  assert.equal(d.counters.get('http2.hpack-unknown-fields'), 0);
});

test('multiplexed streams are paired by id, emitted as they close, indexed by opening order', () => {
  const c = start();
  for (const id of [1, 3, 5]) c.headers(0, id, requestFields(`/s${id}`), { endStream: true });
  c.headers(1, 5, [[':status', '404']], { endStream: true });
  c.headers(1, 1, [[':status', '200']]);
  c.headers(1, 3, [[':status', '500']]);
  c.data(1, 3, Buffer.alloc(3), { endStream: true });
  c.data(1, 1, Buffer.alloc(7), { endStream: true });
  const d = play(c);
  assert.deepEqual(
    d.exchanges.map((x) => [x.streamId, x.index, req(x).path, res(x).status, res(x).bodyBytes]),
    [[5, 2, '/s5', 404, 0], [3, 1, '/s3', 500, 3], [1, 0, '/s1', 200, 7]],
  );
});

test('RST_STREAM from either side and GOAWAY end streams with a reset outcome', () => {
  const c = start();
  for (const id of [1, 3, 5, 7]) c.headers(0, id, requestFields(`/r${id}`), { endStream: id !== 1 });
  c.raw(0, rstStreamFrame(1, 8));
  c.raw(1, rstStreamFrame(3, 7));
  c.headers(1, 5, [[':status', '200']]);
  c.raw(1, goawayFrame(5, 0));
  c.data(1, 5, Buffer.alloc(2), { endStream: true });
  const d = play(c);
  const byId = new Map(d.exchanges.map((x) => [x.streamId, x]));
  assert.equal(res(byId.get(1)!)?.reset ?? null, 'CANCEL');
  assert.ok(byId.get(1)!.notes.includes('reset by client'));
  assert.equal(byId.get(1)!.endUs, null);
  assert.equal(res(byId.get(3)!).reset, 'REFUSED_STREAM');
  assert.equal(byId.get(3)!.endUs, c.steps[9]!.ts);
  assert.equal(res(byId.get(7)!).reset, 'GOAWAY');
  assert.deepEqual(res(byId.get(5)!), { status: 200, bodyBytes: 2, reset: null });
  assert.deepEqual(d.exchanges.map((x) => x.streamId), [1, 3, 7, 5]);
  assert.equal(d.counters.get('http2.goaway'), 1);
});

test('padding, PRIORITY, CONTINUATION, control frames and unknown frame types', () => {
  const c = start();
  const big: [string, string][] = Array.from({ length: 20 }, (_, i) => [`x-h${i}`, `value-${i}-`.repeat(5)]);
  c.headers(0, 1, requestFields('/padded', big, 'POST'), { pad: 7, priority: true, fragment: 40 });
  c.raw(0, frame(0x0b, 0x3, 0, Buffer.from('unknown extension frame')));
  c.data(0, 1, Buffer.from('body!'), { pad: 3, endStream: true });
  c.raw(1, Buffer.concat([pingFrame(), windowUpdateFrame(0, 1000), windowUpdateFrame(1, 10)]));
  c.headers(1, 1, [[':status', '200']], { pad: 2 });
  c.data(1, 1, Buffer.from('ok'), { pad: 250, endStream: true });
  const d = play(c);
  assert.equal(d.exchanges.length, 1);
  const x = d.exchanges[0]!;
  assert.equal(req(x).method, 'POST');
  assert.equal(req(x).bodyBytes, 5);
  assert.deepEqual(x.requestHeaders, big);
  assert.equal(res(x).bodyBytes, 2);
  assert.equal(d.counters.get('http2.unknown-frame-types'), 1);
});

test('PUSH_PROMISE blocks are decoded to keep HPACK in step; pushed streams make no exchange', () => {
  const c = start();
  c.headers(0, 1, requestFields('/page'), { endStream: true });
  const promised = c.encoders[1].encode(requestFields('/style.css', [['x-pushed', 'yes-indexed']]));
  c.raw(1, pushPromiseFrame(1, 2, promised));
  c.headers(1, 1, [[':status', '200'], ['x-pushed', 'yes-indexed']]); // indexed from the push entry
  c.headers(1, 2, [[':status', '200']]);
  c.data(1, 2, Buffer.from('css'), { endStream: true });
  c.data(1, 1, Buffer.from('html'), { endStream: true });
  const d = play(c);
  assert.equal(d.exchanges.length, 1);
  assert.deepEqual(d.exchanges[0]!.responseHeaders, [['x-pushed', 'yes-indexed']]);
  assert.equal(d.counters.get('http2.push-promised'), 1);
  assert.equal(d.counters.get('http2.hpack-unknown-fields'), 0);
});

test('a stream still open at the end is emitted with a note', () => {
  const c = start();
  c.headers(0, 1, requestFields('/slow'), { endStream: true });
  c.headers(1, 1, [[':status', '200']]);
  c.data(1, 1, Buffer.alloc(10));
  const d = play(c);
  assert.equal(d.exchanges.length, 1);
  assert.ok(d.exchanges[0]!.notes.includes('stream still open at end of capture'));
  assert.equal(d.exchanges[0]!.endUs, c.steps.at(-1)!.ts);
});

test('SETTINGS_HEADER_TABLE_SIZE bounds the peer encoder only once acknowledged', () => {
  const c = new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame([[1, 100]])]));
  c.encoders[1].setMaxSize(4096); // allowed: the client's 100 is not acknowledged yet
  c.headers(0, 1, requestFields('/a'), { endStream: true });
  c.headers(1, 1, [[':status', '200']], { endStream: true });
  c.raw(1, settingsFrame([], true));
  c.encoders[1].setMaxSize(200); // over the acknowledged 100
  c.headers(0, 3, requestFields('/b'), { endStream: true });
  c.headers(1, 3, [[':status', '200']], { endStream: true });
  const d = play(c);
  assert.equal(d.exchanges.length, 2);
  assert.equal(d.counters.get('http2.hpack-size-update-over-limit'), 1);
});

test('property: any segmentation of the two byte streams gives the same exchanges', () => {
  const c = start();
  c.headers(0, 1, requestFields('/one', [['x-a', 'a'.repeat(50)]]), { fragment: 20 });
  c.headers(0, 3, requestFields('/two', [['x-a', 'a'.repeat(50)]]), { endStream: true, pad: 4 });
  c.data(0, 1, Buffer.alloc(300, 1), { endStream: true, pad: 9 });
  c.headers(1, 3, [[':status', '200']]);
  c.headers(1, 1, [[':status', '201']], { priority: true });
  c.data(1, 1, Buffer.alloc(100), { endStream: true });
  c.data(1, 3, Buffer.alloc(50), { pad: 1, endStream: true });
  const whole = play(c).exchanges;
  assert.equal(whole.length, 2);
  fc.assert(
    fc.property(fc.array(fc.array(fc.nat(700), { maxLength: 6 }), { minLength: c.steps.length, maxLength: c.steps.length }), (cuts) => {
      const d = new HandlerDriver(new Http2Analyzer());
      c.steps.forEach((s, i) => {
        for (const piece of splitAt(s.bytes, cuts[i]!)) d.data(s.dir, piece, s.ts);
      });
      d.close(9_999_999);
      assert.deepEqual(d.exchanges, whole);
    }),
    { numRuns: 200 },
  );
});

test('detect and reversed', () => {
  const a = new Http2Analyzer();
  const c = start();
  c.headers(0, 1, requestFields('/'), { endStream: true });
  c.headers(1, 1, [[':status', '200']], { endStream: true });
  const client = c.bytes(0);
  const server = c.bytes(1);
  const table: [string, Uint8Array, 0 | 1, string, boolean][] = [
    ['preface', client, 0, 'yes', false],
    ['preface prefix', client.subarray(0, 10), 0, 'more', false],
    ['preface in direction 1', client, 1, 'yes', true],
    ['server frames from the start', server, 1, 'yes', false],
    ['server frames labelled client', server, 0, 'yes', true],
    ['client frames without preface', client.subarray(24), 0, 'yes', false],
    ['client frames labelled server', client.subarray(24), 1, 'yes', true],
    ['HTTP/1.1', Buffer.from('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), 0, 'no', false],
    ['TLS', Buffer.from('160301020001000200030301', 'hex'), 0, 'no', false],
    ['MySQL greeting', Buffer.from('4a0000000a352e372e3333000b000000', 'hex'), 1, 'no', false],
  ];
  for (const [name, bytes, dir, verdict, reversed] of table) {
    assert.equal(a.detect(bytes, dir), verdict, name);
    if (verdict === 'yes') assert.equal(a.reversed(bytes, dir), reversed, name);
  }
});

test('h2c upgrade: stream 1 answers the HTTP/1.1 request, later streams are plain HTTP/2', () => {
  const c = new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
  c.headers(1, 1, [[':status', '200']]);
  c.data(1, 1, Buffer.from('upgraded'), { endStream: true });
  c.headers(0, 3, requestFields('/after'), { endStream: true });
  c.headers(1, 3, [[':status', '204']], { endStream: true });
  const analyzer = new Http2Analyzer();
  const d = new HandlerDriver(analyzer);
  const handler = analyzer.openUpgraded(d.ctx, {
    method: 'GET', path: '/up', authority: 'svc', headers: [['x-request-id', 'u1']], startUs: 10, requestEndUs: 20,
    requestSeq: 1000, bodyBytes: 0, wireBytes: 90, http2Settings: 'AAEAAAEA', // HEADER_TABLE_SIZE 256
  });
  for (const s of c.steps) handler.data(s.dir, s.bytes, s.ts, 0);
  handler.close(9_999_999);
  const [up, after] = d.exchanges;
  assert.deepEqual(req(up!), { method: 'GET', path: '/up', authority: 'svc', scheme: 'http', streamId: 1, bodyBytes: 0, forwardedFor: null });
  assert.deepEqual(res(up!), { status: 200, bodyBytes: 8, reset: null });
  assert.deepEqual([up!.startUs, up!.requestEndUs, up!.requestSeq, up!.bytes.request], [10, 20, 1000, 90]);
  assert.deepEqual(up!.requestHeaders, [['x-request-id', 'u1']]);
  assert.equal(req(after!).path, '/after');
  assert.equal(res(after!).status, 204);
});
