import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { SpanRecord } from '../src/correlate/types.js';
import { createOtlpExporter, otlpFormatFor, parseOtlpFormat, parseSpanKinds, parseSqlText } from '../src/export/otlp/exporter.js';
import {
  BatchingSpanExporter,
  HttpTransport,
  parseHeaderFlags,
  parseRetryAfterMs,
  resolveEndpoint,
  type BatchEncoder,
  type Transport,
} from '../src/export/transport.js';
import { flattenDecoded, makeRecord, officialTraceRequestType, sampleTrace, type FlatSpan } from './lib/span-fixtures.js';

const Official = officialTraceRequestType();
/** Retries without waiting: tests stay fast. */
const FAST_RETRY = { initialBackoffMs: 1, maxBackoffMs: 4, jitter: 0, timeoutMs: 2000 };

interface Received {
  at: number;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A local OTLP/HTTP receiver answering with `answer(n)` to its n-th request (from 0). */
async function receiver(
  answer: (n: number) => { status: number; headers?: Record<string, string>; body?: Buffer | string } | 'hang',
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const reply = answer(received.length);
      received.push({ at: performance.now(), url: req.url ?? '', headers: req.headers, body });
      if (reply === 'hang') return;
      res.writeHead(reply.status, reply.headers).end(reply.body ?? (reply.status === 200 ? '' : 'busy'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function decodedSpans(bodies: Buffer[]): FlatSpan[] {
  return bodies.flatMap((b) => flattenDecoded(Official.decode(b)));
}

function spanKey(s: FlatSpan): string {
  return `${s.spanId}/${s.kind}`;
}

function expectedKeys(records: SpanRecord[]): string[] {
  return records.flatMap((r) => [`${r.clientSpanId}/3`, `${r.spanId}/2`]).sort();
}

test('503, 503, then 200: every span arrives exactly once, gzip+protobuf to /v1/traces with the headers', async () => {
  const rx = await receiver((n) => ({ status: n < 2 ? 503 : 200 }));
  try {
    const records = sampleTrace();
    const exporter = createOtlpExporter({
      target: rx.url,
      headers: parseHeaderFlags(['Authorization=Bearer a=b', 'x-tenant = shop']),
      http: FAST_RETRY,
      maxBatchSize: 100,
    });
    for (const r of records) exporter.add(r);
    const summary = await exporter.shutdown();
    assert.deepEqual(summary, { exportedSpans: records.length * 2, failedSpans: 0, errors: [], warnings: [] });
    assert.equal(rx.received.length, 3);
    for (const req of rx.received) {
      assert.equal(req.url, '/v1/traces');
      assert.equal(req.headers['content-type'], 'application/x-protobuf');
      assert.equal(req.headers['content-encoding'], 'gzip');
      assert.equal(req.headers['authorization'], 'Bearer a=b');
      assert.equal(req.headers['x-tenant'], 'shop');
    }
    // The three attempts carried the same batch; the receiver accepted only the last.
    assert.deepEqual(decodedSpans([rx.received[2]!.body]).map(spanKey).sort(), expectedKeys(records));
    assert.ok(rx.received[0]!.body.equals(rx.received[2]!.body));
  } finally {
    await rx.close();
  }
});

test('batches: many records, several batches, each span delivered once and in batch order', async () => {
  const rx = await receiver(() => ({ status: 200 }));
  try {
    const records = Array.from({ length: 23 }, (_, i) => makeRecord({ n: i + 1 }));
    const exporter = createOtlpExporter({ target: `${rx.url}/`, http: FAST_RETRY, maxBatchSize: 5, maxInFlight: 1 });
    for (const r of records) exporter.add(r);
    const summary = await exporter.shutdown();
    assert.equal(summary.exportedSpans, 46);
    assert.equal(rx.received.length, 5);
    const spans = decodedSpans(rx.received.map((r) => r.body));
    assert.deepEqual(spans.map(spanKey).sort(), expectedKeys(records));
    const firstServerIdOfEachBatch = rx.received.map((r) => decodedSpans([r.body]).find((s) => s.kind === 2)!.spanId);
    assert.deepEqual(firstServerIdOfEachBatch, [0, 5, 10, 15, 20].map((i) => records[i]!.spanId));
  } finally {
    await rx.close();
  }
});

test('a partial batch is sent after maxDelayMs without waiting for shutdown', async () => {
  const rx = await receiver(() => ({ status: 200 }));
  try {
    const exporter = createOtlpExporter({ target: rx.url, http: FAST_RETRY, maxBatchSize: 100, maxDelayMs: 20 });
    exporter.add(makeRecord());
    // Only the delay timer can send it: no flush, no full batch. Poll rather than guess a sleep.
    const deadline = performance.now() + 5000;
    while (exporter.summary().exportedSpans === 0 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(rx.received.length, 1);
    assert.equal(exporter.summary().exportedSpans, 2);
    assert.equal((await exporter.shutdown()).exportedSpans, 2);
  } finally {
    await rx.close();
  }
});

test('a receiver that always answers 503: every span is reported failed, with the reason', async () => {
  const rx = await receiver(() => ({ status: 503 }));
  try {
    const records = sampleTrace();
    const exporter = createOtlpExporter({ target: rx.url, http: { ...FAST_RETRY, maxAttempts: 3 }, maxBatchSize: 3 });
    for (const r of records) exporter.add(r);
    const summary = await exporter.shutdown();
    assert.equal(summary.exportedSpans, 0);
    assert.equal(summary.failedSpans, records.length * 2);
    assert.deepEqual(summary.errors, ['HTTP 503: busy (3 attempts) (3 batches)']);
    assert.equal(rx.received.length, 3 * 3);
  } finally {
    await rx.close();
  }
});

test('Retry-After is honoured', async () => {
  const rx = await receiver((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '0.08' } } : { status: 200 }));
  try {
    const transport = new HttpTransport({ url: resolveEndpoint(rx.url, '/v1/traces'), contentType: 'application/x-protobuf', ...FAST_RETRY });
    const result = await transport.send(new Uint8Array([1, 2, 3]));
    await transport.close();
    assert.deepEqual(result, { ok: true, attempts: 2 });
    const waited = rx.received[1]!.at - rx.received[0]!.at;
    assert.ok(waited >= 75, `waited ${waited} ms`);
  } finally {
    await rx.close();
  }
});

test('a Retry-After beyond maxRetryAfterMs ends the retries as a retryable failure', async () => {
  const rx = await receiver(() => ({ status: 503, headers: { 'retry-after': '3600' } }));
  try {
    const transport = new HttpTransport({ url: rx.url, contentType: 'application/json', ...FAST_RETRY, maxRetryAfterMs: 100 });
    const result = await transport.send(new Uint8Array([1]));
    await transport.close();
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.retryable && /Retry-After 3600000 ms/.test(result.error));
    assert.equal(rx.received.length, 1);
  } finally {
    await rx.close();
  }
});

test('400 is not retried', async () => {
  const rx = await receiver(() => ({ status: 400 }));
  try {
    const transport = new HttpTransport({ url: rx.url, contentType: 'application/x-protobuf', ...FAST_RETRY });
    const result = await transport.send(new Uint8Array([1]));
    await transport.close();
    assert.deepEqual(result, { ok: false, retryable: false, error: 'HTTP 400: busy', attempts: 1 });
  } finally {
    await rx.close();
  }
});

test('connection refused is retryable and retried', async () => {
  const rx = await receiver(() => ({ status: 200 }));
  const url = rx.url;
  await rx.close(); // nobody listens on that port now
  const transport = new HttpTransport({ url, contentType: 'application/x-protobuf', ...FAST_RETRY, maxAttempts: 3 });
  const result = await transport.send(new Uint8Array([1]));
  await transport.close();
  assert.equal(result.ok, false);
  assert.ok(!result.ok && result.retryable && result.attempts === 3 && /ECONNREFUSED/.test(result.error), JSON.stringify(result));
});

test('a receiver that never answers times out, retryably', async () => {
  const rx = await receiver(() => 'hang');
  try {
    const transport = new HttpTransport({ url: rx.url, contentType: 'application/x-protobuf', ...FAST_RETRY, timeoutMs: 30, maxAttempts: 2 });
    const result = await transport.send(new Uint8Array([1]));
    await transport.close();
    assert.ok(!result.ok && result.retryable && /timeout/.test(result.error), JSON.stringify(result));
    assert.equal(rx.received.length, 2);
  } finally {
    await rx.close();
  }
});

test('OTLP/JSON over HTTP, uncompressed', async () => {
  const rx = await receiver(() => ({ status: 200 }));
  try {
    const exporter = createOtlpExporter({ target: rx.url, format: 'json', http: { ...FAST_RETRY, compression: 'none' } });
    exporter.add(makeRecord());
    assert.equal((await exporter.shutdown()).exportedSpans, 2);
    const [req] = rx.received;
    assert.equal(req!.headers['content-type'], 'application/json');
    assert.equal(req!.headers['content-encoding'], undefined);
    const json = JSON.parse(req!.body.toString('utf8')) as { resourceSpans: unknown[] };
    assert.equal(json.resourceSpans.length, 2);
  } finally {
    await rx.close();
  }
});

test('files: JSON lines and length-delimited protobuf, one request per batch, as the Collector writes them', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wirespan-otlp-'));
  try {
    const records = sampleTrace();
    for (const name of ['traces.jsonl', 'traces.pb']) {
      const exporter = createOtlpExporter({ target: join(dir, name), maxBatchSize: 3 });
      for (const r of records) exporter.add(r);
      assert.deepEqual(await exporter.shutdown(), { exportedSpans: records.length * 2, failedSpans: 0, errors: [], warnings: [] });
    }
    const lines = (await readFile(join(dir, 'traces.jsonl'), 'utf8')).split('\n');
    assert.equal(lines.pop(), '', 'the file ends with a newline');
    assert.equal(lines.length, 3);

    const file = await readFile(join(dir, 'traces.pb'));
    const messages: Buffer[] = [];
    for (let at = 0; at < file.length; ) {
      const length = file.readUInt32BE(at);
      messages.push(file.subarray(at + 4, at + 4 + length));
      at += 4 + length;
    }
    assert.equal(messages.length, 3);
    assert.deepEqual(decodedSpans(messages).map(spanKey).sort(), expectedKeys(records));
    for (const [i, line] of lines.entries()) {
      const fromLine = JSON.parse(line) as { resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
      const ids = fromLine.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId)));
      assert.deepEqual(ids.sort(), decodedSpans([messages[i]!]).map((s) => s.spanId).sort());
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a file that cannot be written: the failure is reported with the span count', async () => {
  const exporter = createOtlpExporter({ target: '/nonexistent-dir/x/traces.jsonl' });
  for (const r of sampleTrace()) exporter.add(r);
  const summary = await exporter.shutdown();
  assert.equal(summary.exportedSpans, 0);
  assert.equal(summary.failedSpans, 16);
  assert.ok(summary.errors.some((e) => /ENOENT/.test(e)), summary.errors.join('; '));
});

test('exporter: a full queue fails the overflow, counted; whenReady waits for room', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const sent: number[] = [];
  const transport: Transport = {
    send: async (body) => {
      await gate;
      sent.push(body[0]!);
      return { ok: true, attempts: 1 };
    },
    close: async () => {},
  };
  const encoder: BatchEncoder<number> = { encode: (items) => ({ body: new Uint8Array(items), spans: items.length }) };
  const exporter = new BatchingSpanExporter(encoder, transport, { maxBatchSize: 1, maxInFlight: 1, maxQueuedBatches: 2 });
  for (let i = 1; i <= 5; i++) exporter.add(i); // 1 in flight, 2 queued, 2 overflow
  let ready = false;
  const readiness = exporter.whenReady().then(() => (ready = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ready, false);
  release();
  await readiness;
  const summary = await exporter.shutdown();
  assert.deepEqual(sent, [1, 2, 3]);
  assert.deepEqual(summary, { exportedSpans: 3, failedSpans: 2, errors: ['export queue full (2 batches)'], warnings: [] });
  exporter.add(6);
  assert.equal(exporter.summary().failedSpans, 3, 'a record after shutdown counts as failed');
});

test('parseRetryAfterMs', () => {
  const now = Date.parse('2024-01-01T00:00:00Z');
  const table: [string | undefined, number | null][] = [
    [undefined, null],
    ['120', 120_000],
    ['0', 0],
    [' 2 ', 2000],
    ['0.05', 50],
    ['Mon, 01 Jan 2024 00:00:30 GMT', 30_000],
    ['Sun, 31 Dec 2023 23:00:00 GMT', 0],
    ['soon', null],
    ['-1', null],
  ];
  for (const [value, expected] of table) assert.equal(parseRetryAfterMs(value, now), expected, String(value));
});

test('resolveEndpoint and otlpFormatFor', () => {
  const table: [string, string][] = [
    ['http://collector:4318', 'http://collector:4318/v1/traces'],
    ['http://collector:4318/', 'http://collector:4318/v1/traces'],
    ['https://otlp.example.com/custom/path', 'https://otlp.example.com/custom/path'],
  ];
  for (const [input, expected] of table) assert.equal(resolveEndpoint(input, '/v1/traces'), expected);
  assert.throws(() => resolveEndpoint('http//broken', '/v1/traces'), { name: 'ExportConfigError' });
  assert.equal(otlpFormatFor('out.json'), 'json');
  assert.equal(otlpFormatFor('out.JSONL'), 'json');
  assert.equal(otlpFormatFor('out.pb'), 'protobuf');
  assert.equal(otlpFormatFor('http://c:4318/x.json'), 'protobuf');
  assert.equal(otlpFormatFor('out.pb', 'json'), 'json');
});

test('parseHeaderFlags', () => {
  assert.deepEqual(parseHeaderFlags(['A=1', 'b = two=2', 'c=']), { a: '1', b: 'two=2', c: '' });
  for (const bad of ['novalue', '=x', 'bad name=1']) {
    assert.throws(() => parseHeaderFlags([bad]), { name: 'ExportConfigError' }, bad);
  }
});

test('flag parsers: --span-kinds, --sql-text, --otlp-format', () => {
  assert.deepEqual([...parseSpanKinds('client,server')], ['client', 'server']);
  assert.deepEqual([...parseSpanKinds(' Server ')], ['server']);
  assert.equal(parseSqlText('full'), 'full');
  assert.equal(parseOtlpFormat('json'), 'json');
  for (const bad of [() => parseSpanKinds(''), () => parseSpanKinds('client,internal'), () => parseSqlText('raw'), () => parseOtlpFormat('grpc')]) {
    assert.throws(bad, { name: 'ExportConfigError' });
  }
});

test('exporter: a transport that throws fails its batch with the reason, the process goes on', async () => {
  const transport: Transport = {
    send: () => {
      throw new Error('socket exploded');
    },
    close: async () => {},
  };
  const encoder: BatchEncoder<number> = { encode: (items) => ({ body: new Uint8Array(items), spans: items.length * 2 }) };
  const exporter = new BatchingSpanExporter(encoder, transport, { maxBatchSize: 2, maxDelayMs: 1 });
  for (let i = 0; i < 3; i++) exporter.add(i);
  assert.deepEqual(await exporter.shutdown(), { exportedSpans: 0, failedSpans: 6, errors: ['socket exploded (2 batches)'], warnings: [] });
});

/**
 * ExportTraceServiceResponse { partial_success (1) { rejected_spans (1, int64), error_message (2) } },
 * written byte by byte from opentelemetry-proto's field numbers, not with wirespan's schema.
 */
function partialSuccessProtobuf(rejected: number, message: string): Buffer {
  const text = Buffer.from(message, 'utf8');
  const inner = Buffer.concat([Buffer.from([0x08, rejected]), Buffer.from([0x12, text.length]), text]);
  return Buffer.concat([Buffer.from([0x0a, inner.length]), inner]);
}

test('partial success (protobuf): the spans the receiver rejected are counted undelivered, with its message', async () => {
  const rx = await receiver((n) => ({ status: 200, body: n === 0 ? partialSuccessProtobuf(3, 'spans too old') : Buffer.alloc(0) }));
  try {
    const records = Array.from({ length: 10 }, (_, i) => makeRecord({ n: i + 1 }));
    const exporter = createOtlpExporter({ target: rx.url, http: FAST_RETRY, maxBatchSize: 5, maxInFlight: 1 });
    for (const r of records) exporter.add(r);
    const summary = await exporter.shutdown();
    assert.equal(rx.received.length, 2);
    assert.deepEqual(summary, { exportedSpans: 17, failedSpans: 3, errors: ['rejected by the receiver: spans too old'], warnings: [] });
  } finally {
    await rx.close();
  }
});

test('partial success (JSON): int64 as a string; nothing rejected but a message is a warning, not a failure', async () => {
  const answers = [
    JSON.stringify({ partialSuccess: { rejectedSpans: '2', errorMessage: 'quota' } }),
    JSON.stringify({ partialSuccess: { errorMessage: 'attribute values truncated' } }),
    '{}',
  ];
  const rx = await receiver((n) => ({ status: 200, headers: { 'content-type': 'application/json' }, body: answers[n] ?? '' }));
  try {
    const records = Array.from({ length: 6 }, (_, i) => makeRecord({ n: i + 1 }));
    const exporter = createOtlpExporter({ target: rx.url, format: 'json', http: FAST_RETRY, maxBatchSize: 2, maxInFlight: 1 });
    for (const r of records) exporter.add(r);
    const summary = await exporter.shutdown();
    assert.equal(rx.received.length, 3);
    assert.deepEqual(summary, {
      exportedSpans: 10,
      failedSpans: 2,
      errors: ['rejected by the receiver: quota'],
      warnings: ['receiver warning: attribute values truncated'],
    });
  } finally {
    await rx.close();
  }
});

test('a 200 whose body is not a response message counts as accepted (the status is the receiver\'s word)', async () => {
  const rx = await receiver(() => ({ status: 200, body: 'ok' }));
  try {
    const exporter = createOtlpExporter({ target: rx.url, format: 'json', http: FAST_RETRY });
    exporter.add(makeRecord({ n: 1 }));
    assert.deepEqual(await exporter.shutdown(), { exportedSpans: 2, failedSpans: 0, errors: [], warnings: [] });
  } finally {
    await rx.close();
  }
});
