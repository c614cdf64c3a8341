// Captures where clients and servers share an address (loopback, one host): concurrent requests to one
// server must not parent each other, while a real call made by another service on the host still links.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Exchange } from '../src/protocols/types.js';
import { correlateAll } from './lib/exchange-fixtures.js';

const HOST = '127.0.0.1';
const T0 = 1_700_000_000_000_000;

function http(i: number, clientPort: number, serverPort: number, start: number, end: number, requestId: string | null): Exchange {
  return {
    protocol: 'http',
    connectionId: i + 1,
    client: { ip: HOST, port: clientPort },
    server: { ip: HOST, port: serverPort },
    index: 0,
    requestSeq: 1000 + i,
    streamId: null,
    startUs: T0 + start,
    requestEndUs: T0 + start + 1,
    responseStartUs: T0 + end - 1,
    endUs: T0 + end,
    request: { method: 'GET', path: `/r/${i}`, host: null, version: '1.1', bodyBytes: 0 },
    response: { status: 200, reason: 'OK', version: '1.1', bodyBytes: 2 },
    requestHeaders: requestId ? [['x-request-id', requestId]] : [],
    responseHeaders: [],
    contextText: null,
    bytes: { request: 50, response: 50 },
    notes: [],
  };
}

const run = (exchanges: Exchange[]): ReturnType<typeof correlateAll> => correlateAll(exchanges, { streamed: true });

it('a load generator on loopback: 3000 overlapping requests to one server, one shared request id, no links', () => {
  const exchanges = Array.from({ length: 3000 }, (_, i) => http(i, 40000 + (i % 64), 8080, i * 10, i * 10 + 500 + (i % 7) * 100, 'fixed-id'));
  const { spans, counters } = run(exchanges);
  assert.equal(spans.length, 3000);
  assert.deepEqual(spans.filter((s) => s.link !== null).map((s) => s.request), []);
  assert.equal(counters.get('correlate.traces'), 3000);
});

it('on one host, a call from the frontend to the backend is still the frontend request\'s child', () => {
  const front = http(0, 50000, 3000, 0, 10_000, null);
  const call = http(1, 50001, 8080, 2_000, 5_000, null);
  const other = http(2, 50002, 3000, 500, 12_000, null);
  const { spans } = run([front, call, other]);
  const byPath = new Map(spans.map((s) => [(s.request as { path: string }).path, s]));
  const child = byPath.get('/r/1')!;
  assert.equal(child.link, 'timing');
  assert.ok([byPath.get('/r/0')!.spanId, byPath.get('/r/2')!.spanId].includes(child.parentSpanId!));
  assert.equal(byPath.get('/r/0')!.link, null, 'requests to the same frontend never parent each other');
  assert.equal(byPath.get('/r/2')!.link, null);
});

it('windows that contain each other within the tolerance never form a cycle: every exchange is emitted', () => {
  // Two calls between two services on one host, each within 1 ms of containing the other.
  const a = http(0, 50000, 3000, 0, 1000, null);
  const b = http(1, 50001, 8080, 100, 400, null);
  const { spans, counters } = run([a, b]);
  assert.equal(spans.length, 2);
  assert.equal(spans.filter((s) => s.link === null).length >= 1, true, 'at least one root');
  assert.equal(counters.get('correlate.orphans-emitted'), 0);
});
