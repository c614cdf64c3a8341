import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { decodeGrpcMessage, parseGrpcTimeout } from '../src/protocols/grpc/metadata.js';
import { ProtoMessageDecoder } from '../src/protocols/grpc/proto-decoder.js';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import type { Exchange, GrpcRequestInfo, GrpcResponseInfo } from '../src/protocols/types.js';
import { PREFACE, grpcMessage, settingsFrame } from './lib/h2-builder.js';
import { Conversation, grpcRequestFields } from './lib/h2-conversation.js';
import { HandlerDriver } from './lib/handler-driver.js';

function play(c: Conversation, analyzer = new Http2Analyzer()): HandlerDriver {
  const d = new HandlerDriver(analyzer);
  for (const s of c.steps) d.data(s.dir, s.bytes, s.ts);
  d.close(9_999_999);
  return d;
}

function start(): Conversation {
  return new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame()])).raw(1, settingsFrame());
}

const rq = (x: Exchange): GrpcRequestInfo => x.request as GrpcRequestInfo;
const rs = (x: Exchange): GrpcResponseInfo => x.response as GrpcResponseInfo;

test('unary call: service, method, status, counts, timeout, metadata', () => {
  const c = start();
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/Reserve', [['grpc-timeout', '250m'], ['x-request-id', 'r1']]));
  c.data(0, 1, grpcMessage(Buffer.from('0123456789')), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 1, grpcMessage(Buffer.from('ok')));
  c.headers(1, 1, [['grpc-status', '0'], ['grpc-message', '']], { endStream: true });
  const [x] = play(c).exchanges;
  assert.equal(x!.protocol, 'grpc');
  assert.deepEqual(rq(x!), {
    service: 'shop.Inventory', method: 'Reserve', path: '/shop.Inventory/Reserve', authority: 'inventory:50051', streamId: 1,
    messages: 1, messageBytes: 10, compressedMessages: 0, timeoutMs: 250, callKind: 'unary', forwardedFor: null,
  });
  assert.deepEqual(rs(x!), {
    httpStatus: 200, grpcStatus: 0, grpcMessage: '', messages: 1, messageBytes: 2, compressedMessages: 0, trailersOnly: false, reset: null,
  });
  assert.deepEqual(x!.requestHeaders, [['content-type', 'application/grpc'], ['te', 'trailers'], ['grpc-timeout', '250m'], ['x-request-id', 'r1']]);
  assert.deepEqual(x!.responseHeaders, [['content-type', 'application/grpc'], ['grpc-status', '0'], ['grpc-message', '']]);
  assert.equal(x!.endUs, c.steps.at(-1)!.ts);
});

test('streaming: messages split across DATA frames and several per frame, compressed ones counted', () => {
  const c = start();
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/Sync'));
  const m1 = grpcMessage(Buffer.alloc(40_000, 1));
  c.data(0, 1, m1.subarray(0, 16384));
  c.data(0, 1, m1.subarray(16384, 32768));
  c.data(0, 1, Buffer.concat([m1.subarray(32768), grpcMessage(Buffer.alloc(3), true), grpcMessage(Buffer.alloc(0))]), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc+proto']]);
  for (let i = 0; i < 5; i++) c.data(1, 1, grpcMessage(Buffer.alloc(i)), { pad: i });
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  const [x] = play(c).exchanges;
  assert.deepEqual([rq(x!).messages, rq(x!).messageBytes, rq(x!).compressedMessages], [3, 40_003, 1]);
  assert.deepEqual([rs(x!).messages, rs(x!).messageBytes], [5, 10]);
  assert.equal(rq(x!).callKind, 'bidi-streaming');
});

test('call kinds follow the message counts', () => {
  const kinds: [number, number, string][] = [[1, 1, 'unary'], [0, 0, 'unary'], [3, 1, 'client-streaming'], [1, 4, 'server-streaming'], [2, 2, 'bidi-streaming']];
  for (const [q, r, kind] of kinds) {
    const c = start();
    c.headers(0, 1, grpcRequestFields('/a.B/C'));
    c.data(0, 1, Buffer.concat(Array.from({ length: q }, () => grpcMessage(Buffer.from('x')))), { endStream: true });
    c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
    if (r > 0) c.data(1, 1, Buffer.concat(Array.from({ length: r }, () => grpcMessage(Buffer.from('y')))));
    c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
    assert.equal(rq(play(c).exchanges[0]!).callKind, kind, `${q}/${r}`);
  }
});

test('trailers-only error response with a percent-encoded message', () => {
  const c = start();
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/Reserve'));
  c.data(0, 1, grpcMessage(Buffer.from('sku-999')), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '5'], ['grpc-message', 'unknown%20sku%3A%20sku-999%20%E2%9C%97']], { endStream: true });
  const [x] = play(c).exchanges;
  assert.deepEqual(rs(x!), {
    httpStatus: 200, grpcStatus: 5, grpcMessage: 'unknown sku: sku-999 ✗', messages: 0, messageBytes: 0, compressedMessages: 0, trailersOnly: true, reset: null,
  });
});

test('grpc-timeout and grpc-message parsing tables', () => {
  const timeouts: [string, number | null][] = [
    ['1H', 3_600_000], ['2M', 120_000], ['3S', 3000], ['250m', 250], ['1500u', 1.5], ['2000000n', 2], ['99999999S', 99_999_999_000],
    ['123456789S', null], ['10', null], ['S', null], ['1.5S', null], ['-1S', null], ['5s', null], ['', null],
  ];
  for (const [text, ms] of timeouts) assert.equal(parseGrpcTimeout(text), ms, text);
  const messages: [string, string][] = [['plain', 'plain'], ['a%20b', 'a b'], ['100%', '100%'], ['%zz', '%zz'], ['%C3%A9t%C3%A9', 'été']];
  for (const [text, decoded] of messages) assert.equal(decodeGrpcMessage(text), decoded, text);
});

test('--proto: the first request and response messages are decoded, JSON-safe and size-capped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-proto-'));
  const file = join(dir, 'shop.proto');
  writeFileSync(file, `syntax = "proto3"; package shop;
    message ReserveRequest { string sku = 1; int64 quantity = 2; bytes note = 3; }
    message ReserveReply { bool ok = 1; repeated string lines = 2; }
    service Inventory { rpc Reserve (ReserveRequest) returns (ReserveReply); }`);
  const decoder = await ProtoMessageDecoder.load([file], { maxJsonLength: 200 });
  const root = await protobuf.load(file);
  const Req = root.lookupType('shop.ReserveRequest');
  const Rep = root.lookupType('shop.ReserveReply');
  const reqBytes = Req.encode({ sku: 'sku-1', quantity: 9007199254740993n.toString(), note: Buffer.from('hi') }).finish();
  const repBytes = Rep.encode({ ok: true, lines: Array.from({ length: 30 }, (_, i) => `line ${i}`) }).finish();
  const c = start();
  c.headers(0, 1, grpcRequestFields('/shop.Inventory/Reserve'));
  c.data(0, 1, Buffer.concat([grpcMessage(reqBytes), grpcMessage(Buffer.from('second'))]), { endStream: true });
  c.headers(1, 1, [[':status', '200'], ['content-type', 'application/grpc']]);
  c.data(1, 1, grpcMessage(repBytes));
  c.headers(1, 1, [['grpc-status', '0']], { endStream: true });
  const [x] = play(c, new Http2Analyzer({ protoDecoder: decoder })).exchanges;
  assert.deepEqual(rq(x!).message, { sku: 'sku-1', quantity: '9007199254740993', note: 'aGk=' });
  const cut = rs(x!).message as { truncated: boolean; json: string };
  assert.equal(cut.truncated, true);
  assert.equal(cut.json.length, 200);
  assert.ok(cut.json.startsWith('{"ok":true,"lines":["line 0"'));
  // Without a decoder nothing about payloads is kept.
  const [plain] = play(c).exchanges;
  assert.equal('message' in rq(plain!), false);
  assert.equal(decoder.decode('/shop.Inventory/Unknown', 'request', reqBytes), undefined);
});
