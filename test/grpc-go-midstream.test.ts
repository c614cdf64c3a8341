// A real grpc-go client and server (fixtures/grpc-go/run.sh), the capture started while their one
// connection was busy and stopped before it ended: both HPACK tables hold entries from before the
// capture. grpc-go names every new `grpc-status`, `x-request-id` and `traceparent` after the entry
// with that name before it, so those names never reach the wire again; their values do. The client's
// log (grpc-go-midstream.calls.jsonl) is the truth: call n carried traceparent trace id 0xabc0000+n.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import type { GrpcRequestInfo, GrpcResponseInfo } from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';

interface LoggedCall {
  requestId: string;
  method: string;
  grpcStatus: number;
  responses: number;
  startUs: number;
  endUs: number;
}

const STATUS_INFERRED = 'grpc-status inferred: first trailer field, its name unknown (HPACK state before capture)';

describe('grpc-go over a connection older than the capture: grpc-go-midstream.pcap', () => {
  const calls: LoggedCall[] = readFileSync('fixtures/grpc-go-midstream.calls.jsonl', 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  const byTraceId = new Map(calls.map((c) => [(0xabc0000 + Number(c.requestId.slice(3))).toString(16).padStart(32, '0'), c]));
  let spans: SpanRecord[] = [];
  const counters = new Counters();
  const response = (s: SpanRecord): GrpcResponseInfo => s.response as GrpcResponseInfo;

  before(async () => {
    spans = (await analyzeFiles(['fixtures/grpc-go-midstream.pcap'], { counters })).spans;
  });

  it('the capture is what it claims: mid-connection, with calls logged before and after it', () => {
    assert.ok(spans.length > 200);
    assert.ok(spans.every((s) => s.protocol === 'grpc'));
    assert.equal(new Set(spans.map((s) => s.connectionId)).size, 1);
    assert.ok(spans.some((s) => s.notes.some((n) => /header fields unknown \(HPACK state before capture\)/.test(n))));
    const first = Math.min(...spans.map((s) => s.startUs));
    const last = Math.max(...spans.map((s) => s.endUs ?? s.startUs));
    assert.ok(calls.some((c) => c.endUs < first) && calls.some((c) => c.startUs > last));
  });

  it('every call made inside the capture is found, its trace id read from a traceparent whose name is unknown', () => {
    const first = Math.min(...spans.map((s) => s.startUs));
    const last = Math.max(...spans.map((s) => s.endUs ?? s.startUs));
    const inside = calls.filter((c) => c.startUs > first + 1000 && c.endUs < last - 1000);
    const found = new Set(spans.map((s) => s.traceId));
    assert.ok(inside.length > 200);
    for (const [traceId, c] of byTraceId) if (inside.includes(c)) assert.ok(found.has(traceId), `call ${c.requestId}`);
    assert.ok(spans.filter((s) => s.traceContextSource === 'traceparent (name unknown)').length >= inside.length);
  });

  it('no status or method is ever wrong; statuses are read for nearly every call, failures included', () => {
    let statuses = 0;
    let failures = 0;
    let inferred = 0;
    for (const s of spans) {
      const call = byTraceId.get(s.traceId);
      if (!call) continue;
      const path = (s.request as GrpcRequestInfo).path;
      if (path !== '<unknown>') assert.equal(path, call.method, `stream ${s.streamId}`);
      const status = response(s)?.grpcStatus ?? null;
      if (status === null) continue;
      assert.equal(status, call.grpcStatus, `stream ${s.streamId}`);
      statuses++;
      if (status !== 0) failures++;
      if (s.notes.includes(STATUS_INFERRED)) inferred++;
    }
    // Before the status was read from the unnamed first trailer field, none was (0 of 280).
    assert.ok(statuses >= 0.85 * spans.length, `${statuses} of ${spans.length} statuses read`);
    assert.ok(inferred > 0.5 * statuses);
    const loggedFailures = spans.filter((s) => (byTraceId.get(s.traceId)?.grpcStatus ?? 0) !== 0).length;
    assert.ok(failures >= 0.8 * loggedFailures && failures > 10, `${failures} of ${loggedFailures} failures seen`);
    assert.equal(counters.get('grpc.status-from-unnamed-trailer'), inferred);
  });
});
