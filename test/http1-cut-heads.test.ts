/**
 * Heads cut short at the capture's edges: by the end of a direction, by a gap, or (for a request) by the
 * server answering before the rest of the head was captured. A complete start line is kept (method and
 * path, or status) with a note saying how the head was cut; a partial start line stays unknown.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { Exchange, HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { HandlerDriver, bytesOf, splitAt, type Delivery } from './lib/handler-driver.js';

const GET_A = 'GET /a HTTP/1.1\r\nHost: h\r\n\r\n';
const GET_B = 'GET /b HTTP/1.1\r\nHost: h\r\n\r\n';
const OK_2 = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const CREATED_0 = 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n';
/** A request head cut after its request line and one complete field, inside the next field. */
const CUT_REQUEST = 'POST /orders?id=7 HTTP/1.1\r\nHost: shop\r\nX-Trace: ab';
/** A response head cut after its status line and one complete field, inside the next field. */
const CUT_RESPONSE = 'HTTP/1.0 503 Service Unavailable\r\nServer: edge\r\nRetry-Af';

function row(x: Exchange) {
  const req = x.request as HttpRequestInfo;
  const res = x.response as HttpResponseInfo | null;
  return { request: `${req.method} ${req.path}`, status: res?.status ?? null, notes: x.notes };
}

function run(script: Delivery[], handshake: boolean): HandlerDriver {
  return new HandlerDriver(new Http1Analyzer(), { handshake }).run(script).close(1000);
}

interface Case {
  name: string;
  script: Delivery[];
  /** Per handshake seen (true) and not seen (false), when they differ; else one expectation for both. */
  rows: ReturnType<typeof row>[] | { true: ReturnType<typeof row>[]; false: ReturnType<typeof row>[] };
  counters: Record<string, number> | { true: Record<string, number>; false: Record<string, number> };
}

const CASES: Case[] = [
  // Responses
  {
    name: 'complete status line, then the end of the capture',
    script: [{ dir: 0, bytes: GET_A, ts: 10 }, { dir: 1, bytes: 'HTTP/1.0 200 OK\r\n', ts: 20 }],
    rows: [{ request: 'GET /a', status: 200, notes: ['response head incomplete at end of capture'] }],
    counters: { 'http.incomplete-heads': 1 },
  },
  {
    name: 'complete status line and a field, then the server FIN inside the next field',
    script: [{ dir: 0, bytes: GET_A, ts: 10 }, { dir: 1, bytes: CUT_RESPONSE, ts: 20 }, { dir: 1, end: 'fin', ts: 30 }],
    rows: [{ request: 'GET /a', status: 503, notes: ['response head incomplete at end of connection'] }],
    counters: { 'http.incomplete-heads': 1 },
  },
  {
    name: 'partial status line, then the end of the capture: the status stays unknown',
    script: [{ dir: 0, bytes: GET_A, ts: 10 }, { dir: 1, bytes: 'HTTP/1.0 200 OK', ts: 20 }],
    rows: {
      true: [{ request: 'GET /a', status: null, notes: ['response incomplete'] }],
      false: [{ request: 'GET /a', status: null, notes: ['no response seen'] }],
    },
    counters: { true: { 'http.incomplete-heads': 1 }, false: { 'http.resync-skipped-bytes': 15 } },
  },
  {
    name: 'complete status line, then a gap; the next response pairs with the next request',
    script: [
      { dir: 0, bytes: GET_A + GET_B, ts: 10 },
      { dir: 1, bytes: 'HTTP/1.1 200 OK\r\n', ts: 20 },
      { dir: 1, gap: 40, ts: 21 },
      { dir: 1, bytes: 'of the lost head\r\n\r\n' + CREATED_0, ts: 22 },
    ],
    rows: [
      { request: 'GET /a', status: 200, notes: ['response head cut by a gap'] },
      { request: 'GET /b', status: 201, notes: ['response paired after a gap'] },
    ],
    counters: { 'http.incomplete-heads': 1, 'http.resync-skipped-bytes': 'of the lost head\r\n\r\n'.length },
  },
  {
    name: 'partial status line, then a gap',
    script: [
      { dir: 0, bytes: GET_A + GET_B, ts: 10 },
      { dir: 1, bytes: 'HTTP/1.1 20', ts: 20 },
      { dir: 1, gap: 40, ts: 21 },
      { dir: 1, bytes: 'of the lost head\r\n\r\n' + CREATED_0, ts: 22 },
    ],
    rows: {
      true: [
        { request: 'GET /a', status: null, notes: ['response lost in gap'] },
        { request: 'GET /b', status: 201, notes: ['response paired after a gap'] },
      ],
      // Without the handshake a cut start is only a guess: the next response pairs with the oldest request.
      false: [
        { request: 'GET /a', status: 201, notes: [] },
        { request: 'GET /b', status: null, notes: ['no response seen'] },
      ],
    },
    counters: {
      true: { 'http.resync-skipped-bytes': 'of the lost head\r\n\r\n'.length },
      false: { 'http.resync-skipped-bytes': 'HTTP/1.1 20'.length + 'of the lost head\r\n\r\n'.length },
    },
  },
  {
    name: 'complete status line of a response without a request, then the end',
    script: [{ dir: 1, bytes: 'HTTP/1.1 200 OK\r\n', ts: 20 }],
    rows: [],
    counters: { 'http.incomplete-heads': 1, 'http.responses-without-request': 1 },
  },
  // Requests
  {
    name: 'complete request line and a field, then the end of the capture',
    script: [{ dir: 0, bytes: CUT_REQUEST, ts: 10 }],
    rows: [{ request: 'POST /orders?id=7', status: null, notes: ['request head incomplete at end of capture', 'no response seen'] }],
    counters: { 'http.incomplete-heads': 1 },
  },
  {
    name: 'partial request line, then the end of the capture: no exchange',
    script: [{ dir: 0, bytes: 'POST /orders?id=7 HTT', ts: 10 }],
    rows: [],
    counters: { true: { 'http.incomplete-heads': 1 }, false: { 'http.resync-skipped-bytes': 'POST /orders?id=7 HTT'.length } },
  },
  {
    name: 'complete request line, then the response (the rest of the head was never captured)',
    script: [{ dir: 0, bytes: CUT_REQUEST, ts: 10 }, { dir: 1, bytes: OK_2, ts: 20 }, { dir: 0, end: 'eof', ts: 30 }],
    rows: [{ request: 'POST /orders?id=7', status: 200, notes: ['request head incomplete (lost in capture)'] }],
    counters: { 'http.incomplete-heads': 1 },
  },
  {
    name: 'complete request line, an early answer, then the rest of the head after all: skipped, the next request is read',
    script: [
      { dir: 0, bytes: CUT_REQUEST, ts: 10 },
      { dir: 1, bytes: 'HTTP/1.1 431 Too Large\r\nContent-Length: 0\r\n\r\n', ts: 20 },
      { dir: 0, bytes: 'cd\r\n\r\n' + GET_B, ts: 30 },
      { dir: 1, bytes: CREATED_0, ts: 40 },
    ],
    rows: [
      { request: 'POST /orders?id=7', status: 431, notes: ['request head incomplete (lost in capture)'] },
      { request: 'GET /b', status: 201, notes: [] },
    ],
    counters: { 'http.incomplete-heads': 1, 'http.resync-skipped-bytes': 'cd\r\n\r\n'.length },
  },
  {
    name: 'partial request line, then the response: a response without a request, as before',
    script: [{ dir: 0, bytes: 'POST /orders?id=7 HTT', ts: 10 }, { dir: 1, bytes: OK_2, ts: 20 }],
    rows: [],
    counters: {
      true: { 'http.incomplete-heads': 1, 'http.responses-without-request': 1 },
      false: { 'http.resync-skipped-bytes': 'POST /orders?id=7 HTT'.length, 'http.responses-without-request': 1 },
    },
  },
  {
    name: 'complete request line, then a gap, then the next request: each response pairs with its own request',
    script: [
      { dir: 0, bytes: CUT_REQUEST, ts: 10 },
      { dir: 0, gap: 30, ts: 11 },
      { dir: 0, bytes: 'rest\r\n\r\n' + GET_B, ts: 12 },
      { dir: 1, bytes: OK_2 + CREATED_0, ts: 20 },
    ],
    rows: [
      { request: 'POST /orders?id=7', status: 200, notes: ['request head cut by a gap'] },
      { request: 'GET /b', status: 201, notes: ['gap before request'] },
    ],
    counters: { 'http.incomplete-heads': 1, 'http.resync-skipped-bytes': 'rest\r\n\r\n'.length },
  },
  {
    name: 'partial request line, then a gap, then the next request',
    script: [
      { dir: 0, bytes: 'POST /ord', ts: 10 },
      { dir: 0, gap: 30, ts: 11 },
      { dir: 0, bytes: 'rest\r\n\r\n' + GET_B, ts: 12 },
      { dir: 1, bytes: OK_2 + CREATED_0, ts: 20 },
    ],
    rows: {
      true: [{ request: 'GET /b', status: 201, notes: ['gap before request'] }],
      false: [{ request: 'GET /b', status: 200, notes: [] }],
    },
    counters: {
      true: { 'http.resync-skipped-bytes': 'rest\r\n\r\n'.length, 'http.responses-to-lost-requests': 1 },
      false: { 'http.resync-skipped-bytes': 'POST /ord'.length + 'rest\r\n\r\n'.length, 'http.responses-without-request': 1 },
    },
  },
];

describe('http1 heads cut at the edges of the capture', () => {
  for (const c of CASES) {
    for (const handshake of [true, false]) {
      test(`${c.name} (handshake ${handshake ? 'seen' : 'not seen'})`, () => {
        const d = run(c.script, handshake);
        const key = String(handshake) as 'true' | 'false';
        const rows = Array.isArray(c.rows) ? c.rows : c.rows[key];
        const counters = 'true' in c.counters && 'false' in c.counters ? c.counters[key] : c.counters;
        assert.deepEqual(d.exchanges.map(row), rows);
        assert.deepEqual(d.counters.toJSON(), counters);
      });
    }
  }

  test('the fields read before the cut are kept, bytes and times are those of the cut message', () => {
    const d = run([{ dir: 0, bytes: CUT_REQUEST, ts: 10 }, { dir: 1, bytes: CUT_RESPONSE, ts: 20 }, { dir: 1, end: 'eof', ts: 30 }], true);
    const [x] = d.exchanges;
    assert.deepEqual(
      {
        request: x!.request,
        response: x!.response,
        requestHeaders: x!.requestHeaders,
        responseHeaders: x!.responseHeaders,
        times: [x!.startUs, x!.requestEndUs, x!.responseStartUs, x!.endUs],
        bytes: x!.bytes,
        notes: x!.notes,
      },
      {
        request: { method: 'POST', path: '/orders?id=7', host: 'shop', version: '1.1', bodyBytes: 0, userAgent: null, forwardedFor: null },
        response: { status: 503, reason: 'Service Unavailable', version: '1.0', bodyBytes: 0 },
        requestHeaders: [['host', 'shop']],
        responseHeaders: [['server', 'edge']],
        times: [10, 10, 20, 20],
        bytes: { request: CUT_REQUEST.length, response: CUT_RESPONSE.length },
        notes: ['request head incomplete (lost in capture)', 'response head incomplete at end of capture'],
      },
    );
  });

  test('a head cut after its start line: splitting the bytes anywhere changes nothing', () => {
    const request = bytesOf(CUT_REQUEST);
    const response = bytesOf(CUT_RESPONSE);
    const whole = run([{ dir: 0, bytes: request, ts: 10 }, { dir: 1, bytes: response, ts: 20 }], false).exchanges;
    assert.equal(whole.length, 1);
    const cuts = fc.array(fc.nat(request.length + response.length), { maxLength: 6 });
    fc.assert(
      fc.property(fc.boolean(), cuts, cuts, (handshake, requestCuts, responseCuts) => {
        const script: Delivery[] = [
          ...splitAt(request, requestCuts).map((bytes): Delivery => ({ dir: 0, bytes, ts: 10 })),
          ...splitAt(response, responseCuts).map((bytes): Delivery => ({ dir: 1, bytes, ts: 20 })),
        ];
        assert.deepEqual(run(script, handshake).exchanges, whole);
      }),
      { numRuns: 300 },
    );
  });
});

