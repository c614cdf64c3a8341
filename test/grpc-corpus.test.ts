import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import type { GrpcRequestInfo, GrpcResponseInfo } from '../src/protocols/types.js';
import { type Truth, analyzeFiles } from './lib/analyze-file.js';
import { missingTools } from './lib/tshark.js';

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

/**
 * The server→client DATA payloads of one HTTP/2 stream, in capture order, as tshark reads them
 * (decoded as HTTP/2 on the gRPC port; every frame of a packet, not just the first).
 */
function tsharkDataPayloads(file: string, streamId: number): Buffer[] {
  const out = execFileSync(
    'tshark',
    ['-r', file, '-n', '-d', 'tcp.port==50051,http2', '-Y', `http2.streamid==${streamId} && tcp.srcport==50051`,
      '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=|',
      '-e', 'http2.streamid', '-e', 'http2.type', '-e', 'http2.length', '-e', 'http2.data.data'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const payloads: Buffer[] = [];
  for (const line of out.split('\n').filter((l) => l.length > 0)) {
    const [ids, types, lengths, data] = line.split('\t').map((cell) => (cell === '' ? [] : cell.split('|')));
    let nextData = 0;
    types!.forEach((type, k) => {
      if (type !== '0' || lengths![k] === '0') return; // only DATA frames with bytes carry http2.data.data
      const hex = data![nextData++]!;
      if (ids![k] === String(streamId)) payloads.push(Buffer.from(hex, 'hex'));
    });
  }
  return payloads;
}

/** Walks gRPC length prefixes from the first byte; null unless they chain exactly to the last byte. */
function chainedMessages(bytes: Buffer): { messages: number; messageBytes: number } | null {
  let messages = 0;
  let messageBytes = 0;
  for (let at = 0; at < bytes.length; messages++) {
    if (at + 5 > bytes.length || bytes[at]! > 1) return null;
    const length = bytes.readUInt32BE(at + 1);
    messageBytes += length;
    at += 5 + length;
    if (at > bytes.length) return null;
  }
  return { messages, messageBytes };
}

test('midstream.pcap: calls made in the capture are all found; nothing decoded is wrong', async () => {
  const { spans } = await analyzeFiles([corpus('midstream.pcap')]);
  const truth = truthOf('midstream').exchanges
    .filter((t) => t.protocol === 'grpc' && t.in_capture === 'full')
    .sort((a, b) => a.start_us - b.start_us);
  const rows = grpcRows(spans.filter((s) => !s.notes.includes('request headers before capture')));
  assert.equal(rows.length, truth.length);
  rows.forEach(([path, status, requests, responses], i) => {
    const t = truth[i]!;
    assert.equal(path, t.grpc_method);
    assert.ok(status === null || status === t.status, `status ${status} vs ${t.status}`);
    assert.equal(requests, t.request_messages);
    assert.equal(responses, t.response_messages);
  });
});

test('midstream.pcap: the stream in flight at the start is gRPC, its replies in the capture counted', { skip: missingTools('tshark') }, async () => {
  const { spans } = await analyzeFiles([corpus('midstream.pcap')]);
  const before = spans.filter((s) => s.notes.includes('request headers before capture'));
  assert.equal(before.length, 1);
  const inflight = before[0]!;
  const truth = truthOf('midstream').exchanges.filter((t) => t.protocol === 'grpc' && t.in_capture === 'partial');
  assert.equal(truth.length, 1);

  // The truth gives 30 replies in all, some sent before the capture began. What the capture holds is
  // read with tshark: stream 21's server DATA, whose gRPC prefixes (walked by the test itself; tshark's
  // gRPC dissector finds none, it never saw the content-type) chain from the first byte to the last.
  const seen = chainedMessages(Buffer.concat(tsharkDataPayloads(corpus('midstream.pcap'), inflight.streamId!)));
  assert.ok(seen !== null && seen.messages > 0 && seen.messages < truth[0]!.response_messages!);
  assert.equal(inflight.protocol, 'grpc');
  const q = inflight.request as GrpcRequestInfo;
  const r = inflight.response as GrpcResponseInfo;
  assert.equal(r.messages, seen.messages);
  assert.equal(r.messageBytes, seen.messageBytes);
  // Its one request message and the earlier replies are before the capture: not counted, and said so.
  assert.equal(q.messages, 0);
  assert.equal(q.path, '<unknown>');
  assert.equal(q.callKind, 'server-streaming');
  assert.equal(r.grpcStatus, null); // the trailers are references to entries from before the capture
  for (const note of [
    'gRPC recognised from message framing (content-type unknown)',
    'request messages before capture unknown',
    'response messages before capture unknown',
    'call kind judged from the messages seen',
  ]) assert.ok(inflight.notes.includes(note), note);
  // The server ended it in the capture (trailers with END_STREAM): it is not reported as still open.
  assert.ok(!inflight.notes.includes('stream still open at end of capture'));
  assert.ok(Math.abs(inflight.endUs! - truth[0]!.end_us) < 5000, `end ${inflight.endUs} vs ${truth[0]!.end_us}`);
});
