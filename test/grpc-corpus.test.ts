import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import type { GrpcRequestInfo, GrpcResponseInfo } from '../src/protocols/types.js';
import { type Truth, analyzeFiles } from './lib/analyze-file.js';

const corpus = (name: string): string => `../shared/corpus/${name}`;
const truthOf = (name: string): Truth => JSON.parse(readFileSync(corpus(`${name}.truth.json`), 'utf8')) as Truth;

function grpcRows(spans: SpanRecord[]): [string, number | null, number, number | null][] {
  return spans
    .filter((s) => s.protocol === 'grpc')
    .sort((a, b) => a.startUs - b.startUs)
    .map((s) => {
      const q = s.request as GrpcRequestInfo;
      const r = s.response as GrpcResponseInfo | null;
      return [q.path, r?.grpcStatus ?? null, q.messages, r?.messages ?? null];
    });
}

test('grpc-streaming.pcap: every call with its path, status and message counts', async () => {
  const { spans } = await analyzeFiles([corpus('grpc-streaming.pcap')]);
  const truth = truthOf('grpc-streaming').exchanges.sort((a, b) => a.start_us - b.start_us);
  assert.deepEqual(
    grpcRows(spans),
    truth.map((t) => [t.grpc_method!, t.status as number, t.request_messages!, t.response_messages!]),
  );
  assert.ok(spans.every((s) => s.notes.length === 0), JSON.stringify(spans.map((s) => s.notes)));
});

test('midstream.pcap: calls made in the capture are all found; nothing decoded is wrong', async () => {
  const { spans } = await analyzeFiles([corpus('midstream.pcap')]);
  const truth = truthOf('midstream').exchanges
    .filter((t) => t.protocol === 'grpc' && t.in_capture === 'full')
    .sort((a, b) => a.start_us - b.start_us);
  const rows = grpcRows(spans);
  assert.equal(rows.length, truth.length);
  rows.forEach(([path, status, requests, responses], i) => {
    const t = truth[i]!;
    assert.equal(path, t.grpc_method);
    assert.ok(status === null || status === t.status, `status ${status} vs ${t.status}`);
    assert.equal(requests, t.request_messages);
    assert.equal(responses, t.response_messages);
  });
  // The slow stream that began before the capture is still an exchange, marked as such.
  const before = spans.filter((s) => s.notes.includes('request headers before capture'));
  assert.equal(before.length, 1);
  assert.ok(before[0]!.notes.includes('stream still open at end of capture'));
});
