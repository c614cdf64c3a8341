// Packets are views into the capture reader's 1 MiB chunks. An analyzer that kept such a view after
// a delivery would keep the whole chunk alive: one per connection, so memory would grow with the
// capture (it did, for MySQL). Each analyzer is fed real message bytes inside a large buffer, left
// with a message in progress, and the buffer must then be collectable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Http1Analyzer } from '../src/protocols/http1/analyzer.js';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import { MysqlAnalyzer } from '../src/protocols/mysql/analyzer.js';
import type { AnalyzerContext, ProtocolAnalyzer, ProtocolHandler } from '../src/protocols/types.js';
import type { Direction } from '../src/tcp/types.js';
import { Counters } from '../src/util/counters.js';
import { PREFACE, settingsFrame } from './lib/h2-builder.js';
import { Conversation, grpcRequestFields } from './lib/h2-conversation.js';
import * as mysql from './lib/mysql-builder.js';
import { fakeFlow } from './lib/mysql-driver.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const CHUNK = 1 << 20;

type Step = [Direction, Uint8Array];

/**
 * Delivers every step as a view into its own fresh 1 MiB buffer (as the capture reader does), then
 * reports whether any of those buffers survives a full collection while the handler lives on.
 */
async function buffersSurvive(analyzer: ProtocolAnalyzer, steps: Step[]): Promise<number> {
  const refs: WeakRef<ArrayBuffer>[] = [];
  const counters = new Counters();
  const exchanges: unknown[] = [];
  const ctx: AnalyzerContext = { flow: fakeFlow(), counters, emit: (x) => exchanges.push(x), switchProtocol: () => null };
  const handler: ProtocolHandler = analyzer.open(ctx);
  const offsets = [0, 0];
  let ts = 1_000;
  ((): void => {
    for (const [dir, bytes] of steps) {
      const chunk = Buffer.allocUnsafeSlow(CHUNK);
      const at = 1000;
      chunk.set(bytes, at);
      refs.push(new WeakRef(chunk.buffer));
      handler.data(dir, chunk.subarray(at, at + bytes.length), (ts += 10), offsets[dir]!);
      offsets[dir]! += bytes.length;
    }
  })();
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(handler.oldestInFlightUs() !== null || exchanges.length > 0, 'the handler did read the traffic');
  return refs.filter((r) => r.deref() !== undefined).length;
}

describe('analyzers keep no capture buffer alive between deliveries', () => {
  it('MySQL: after a whole query and its result set, with the next query cut mid-packet', async () => {
    const query = mysql.query('SELECT id, name FROM items WHERE id = 42');
    const steps: Step[] = [
      [1, mysql.greeting()],
      [0, mysql.handshakeResponse({ user: 'shop' })],
      [1, mysql.ok(2)],
      [0, mysql.query('SELECT 1')],
      [1, mysql.resultSet(['1'], [['1']]).bytes],
      [0, query.subarray(0, 10)],
    ];
    assert.equal(await buffersSurvive(new MysqlAnalyzer(), steps), 0);
  });

  it('HTTP/1: after a whole exchange, with the next request head cut mid-line', async () => {
    const text = (s: string): Uint8Array => Buffer.from(s, 'latin1');
    const steps: Step[] = [
      [0, text('GET /a HTTP/1.1\r\nHost: h\r\n\r\n')],
      [1, text('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello')],
      [0, text('POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel')],
      [0, text('lo\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHo')],
    ];
    assert.equal(await buffersSurvive(new Http1Analyzer(), steps), 0);
  });

  it('HTTP/2 + gRPC: after a whole call, with the next message cut mid-frame', async () => {
    const c = new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame([])])).raw(1, settingsFrame([]));
    const message = Buffer.concat([Buffer.from([0, 0, 0, 0, 5]), Buffer.from('hello')]);
    c.headers(0, 1, grpcRequestFields('/shop.Inventory/Reserve'));
    c.data(0, 1, message);
    c.headers(0, 3, grpcRequestFields('/shop.Inventory/Reserve'));
    const steps: Step[] = c.steps.map((s) => [s.dir, s.bytes]);
    const frame = steps.pop()![1];
    steps.push([0, frame.subarray(0, 7)], [0, frame.subarray(7)]);
    assert.equal(await buffersSurvive(new Http2Analyzer(), steps), 0);
  });
});
