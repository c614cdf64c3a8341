// The terminal report's arithmetic: self time (an exchange's time outside its calls) and where
// failures start, on trees built from span records.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SpanNode, SpanRecord } from '../src/correlate/types.js';
import { FailureSummary, selfTimeUs } from '../src/export/report.js';
import { T0, httpRequest, httpResponse, makeRecord, mysqlRequest } from './lib/span-fixtures.js';
import { expectsResponse, hasUnknownOutcome, statusText } from '../src/correlate/outcome.js';

function node(n: number, start: number, end: number | null, children: SpanNode[] = [], over: Partial<SpanRecord> = {}): SpanNode {
  return { span: makeRecord({ n, startUs: T0 + start, endUs: end === null ? null : T0 + end, ...over }), children };
}

describe('self time', () => {
  it('duration less the union of the calls: parallel calls count once, calls spilling out are cut', () => {
    const tree = node(1, 0, 100, [node(2, 10, 30), node(3, 20, 40), node(4, 60, 70), node(5, 90, 130)]);
    // busy: [10, 40] + [60, 70] + [90, 100] = 30 + 10 + 10
    assert.equal(selfTimeUs(tree), 50);
  });
  it('no calls, or no end: none', () => {
    assert.equal(selfTimeUs(node(1, 0, 100)), null);
    assert.equal(selfTimeUs(node(1, 0, null, [node(2, 10, 20)])), null);
  });
});

describe('where failures start', () => {
  it('a failing call whose own calls all succeeded started the failure; its failing callers passed it on', () => {
    const failing = (n: number, path: string, start: number, end: number, children: SpanNode[] = []): SpanNode =>
      node(n, start, end, children, { request: httpRequest({ method: 'POST', path }), response: httpResponse(502), error: true, peerService: `caller-${path}`, service: `svc-${path}` });
    const summary = new FailureSummary();
    for (let i = 0; i < 3; i++) {
      const root = failing(1, '/orders', 0, 100, [failing(2, '/charge', 10, 20), node(3, 30, 40)]);
      summary.add({ traceId: 't', startUs: T0, endUs: T0 + 100, spans: 3, root });
    }
    assert.equal(summary.top(1).others, 3, 'the kinds past the first are summed');
    assert.equal(summary.top().others, 0);
    assert.deepEqual(
      summary.top().kinds.map((f) => [f.call, f.status, f.failed, f.started]),
      [
        ['POST /charge', '502', 3, 3],
        ['POST /orders', '502', 3, 0],
      ],
    );
  });
});

describe('status text', () => {
  it('a request the protocol never answers is not reported as unanswered', () => {
    const quit = { protocol: 'mysql', request: mysqlRequest(null, null, 'QUIT'), response: null };
    const query = { protocol: 'mysql', request: mysqlRequest('SELECT 1', 'SELECT ?'), response: null };
    assert.deepEqual([expectsResponse(quit), statusText(quit)], [false, 'no reply by protocol']);
    assert.deepEqual([expectsResponse(query), statusText(query)], [true, 'no response']);
    for (const command of ['STMT_CLOSE', 'STMT_SEND_LONG_DATA']) {
      assert.equal(expectsResponse({ protocol: 'mysql', request: mysqlRequest(null, null, command) }), false, command);
    }
    assert.equal(expectsResponse({ protocol: 'http', request: httpRequest() }), true);
  });
});

describe('unknown outcomes', () => {
  it('an HTTP/2 or gRPC answer whose status was not read, and not reset, has an unknown outcome', () => {
    const grpc = (grpcStatus: number | null, reset: string | null = null) => ({
      protocol: 'grpc',
      response: { httpStatus: 200, grpcStatus, grpcMessage: null, messages: 1, messageBytes: 1, compressedMessages: 0, trailersOnly: false, reset },
    });
    assert.equal(hasUnknownOutcome(grpc(null)), true);
    assert.equal(hasUnknownOutcome(grpc(0)), false);
    assert.equal(hasUnknownOutcome(grpc(null, 'CANCEL')), false, 'a reset is an outcome');
    assert.equal(hasUnknownOutcome({ protocol: 'http2', response: { status: null, bodyBytes: 0, reset: null } }), true);
    assert.equal(hasUnknownOutcome({ protocol: 'http', response: httpResponse(200) }), false);
    assert.equal(hasUnknownOutcome({ protocol: 'grpc', response: null }), false, 'no answer is counted apart');
  });
});
