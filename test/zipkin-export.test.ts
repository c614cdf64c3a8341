import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { isIPv4, isIPv6, type AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Counters } from '../src/util/counters.js';
import { createZipkinExporter } from '../src/export/zipkin/exporter.js';
import { exchangeToZipkinSpans, toZipkinSpans, zipkinEndpoint, type ZipkinSpan } from '../src/export/zipkin/transform.js';
import { makeRecord, sampleTrace, T0 } from './lib/span-fixtures.js';

const LOWER_HEX = /^[0-9a-f]+$/;

/** The constraints of zipkin2-api.yaml (Span, Endpoint, Annotation, Tags) that a collector enforces. */
function assertZipkinV2(span: ZipkinSpan): void {
  const raw = span as unknown as Record<string, unknown>;
  const allowed = new Set(['traceId', 'id', 'parentId', 'kind', 'name', 'timestamp', 'duration', 'debug', 'shared', 'localEndpoint', 'remoteEndpoint', 'annotations', 'tags']);
  for (const key of Object.keys(raw)) assert.ok(allowed.has(key), `unknown field ${key}`);
  assert.ok(LOWER_HEX.test(span.traceId) && (span.traceId.length === 16 || span.traceId.length === 32), span.traceId);
  assert.ok(LOWER_HEX.test(span.id) && span.id.length === 16, span.id);
  if (span.parentId !== undefined) assert.ok(LOWER_HEX.test(span.parentId) && span.parentId.length === 16, span.parentId);
  assert.ok(['CLIENT', 'SERVER', 'PRODUCER', 'CONSUMER'].includes(span.kind));
  assert.equal(span.name, span.name.toLowerCase());
  assert.ok(Number.isSafeInteger(span.timestamp) && span.timestamp > 0);
  if (span.duration !== undefined) assert.ok(Number.isSafeInteger(span.duration) && span.duration >= 1);
  if (span.shared !== undefined) assert.equal(span.shared, true);
  for (const endpoint of [span.localEndpoint, span.remoteEndpoint]) {
    if (endpoint.serviceName !== undefined) assert.equal(endpoint.serviceName, endpoint.serviceName.toLowerCase());
    if (endpoint.ipv4 !== undefined) assert.ok(isIPv4(endpoint.ipv4));
    if (endpoint.ipv6 !== undefined) assert.ok(isIPv6(endpoint.ipv6));
    if (endpoint.port !== undefined) assert.ok(Number.isInteger(endpoint.port) && endpoint.port > 0 && endpoint.port < 65536);
  }
  for (const a of span.annotations ?? []) {
    assert.ok(Number.isSafeInteger(a.timestamp));
    assert.equal(typeof a.value, 'string');
  }
  for (const value of Object.values(span.tags)) assert.equal(typeof value, 'string');
}

test('Zipkin: both halves share the SERVER span id, the server half is shared, the parent is the enclosing span', () => {
  const records = sampleTrace();
  const spans = toZipkinSpans(records);
  assert.equal(spans.length, records.length * 2);
  spans.forEach(assertZipkinV2);
  for (const [i, record] of records.entries()) {
    const [client, server] = [spans[2 * i]!, spans[2 * i + 1]!];
    assert.deepEqual([client.kind, client.id, client.parentId, client.shared], ['CLIENT', record.spanId, record.parentSpanId ?? undefined, undefined]);
    assert.deepEqual([server.kind, server.id, server.parentId, server.shared], ['SERVER', record.spanId, record.parentSpanId ?? undefined, true]);
    assert.equal(client.localEndpoint.serviceName, record.peerService);
    assert.equal(client.remoteEndpoint.serviceName, record.service);
    assert.equal(server.localEndpoint.serviceName, record.service);
    assert.equal(server.remoteEndpoint.serviceName, record.peerService);
  }
  // Every parentId names an exported span: the tree is whole.
  const ids = new Set(spans.map((s) => s.id));
  for (const s of spans) if (s.parentId) assert.ok(ids.has(s.parentId), `parent ${s.parentId}`);
});

test('Zipkin: endpoints, integer µs times, tags and annotations', () => {
  const [root, , query, grpcFailed, , , notFound, unanswered] = sampleTrace();
  const [client, server] = exchangeToZipkinSpans(root!);
  assert.deepEqual(client!.localEndpoint, { serviceName: 'frontend', ipv4: '10.0.0.1' });
  assert.deepEqual(client!.remoteEndpoint, { serviceName: 'api', ipv4: '10.0.0.2', port: 8080 });
  assert.deepEqual(server!.remoteEndpoint, { serviceName: 'frontend', ipv4: '10.0.0.1', port: 40001 });
  assert.equal(server!.timestamp, T0);
  assert.equal(server!.duration, 9001); // 9000.5 µs, end rounded to an integer µs
  assert.equal(server!.name, 'get /api/users/{id}');
  assert.deepEqual(server!.tags, {
    'http.method': 'GET',
    'http.path': '/api/users/42',
    'http.host': 'api.local:8080',
    'http.status_code': '200',
    'wirespan.connection_id': '1',
    'wirespan.link': 'traceparent',
    'wirespan.request_id': 'req-1',
    'wirespan.trace_context_source': 'traceparent',
  });

  const [, dbServer] = exchangeToZipkinSpans(query!);
  assert.equal(dbServer!.tags['sql.query'], 'SELECT id, name FROM `users` WHERE id = ?');
  assert.equal(dbServer!.timestamp, Math.round(query!.startUs));
  assert.equal(dbServer!.name, 'select users');

  const [failedClient, failedServer] = exchangeToZipkinSpans(grpcFailed!);
  assert.equal(failedClient!.tags['grpc.status_code'], '13');
  assert.equal(failedServer!.tags['error'], 'database unavailable');

  const [nfClient, nfServer] = exchangeToZipkinSpans(notFound!);
  assert.equal(nfClient!.tags['error'], '404', 'a 4xx is a client error');
  assert.equal(nfServer!.tags['error'], undefined, 'but not a server error');

  const [, openServer] = exchangeToZipkinSpans(unanswered!);
  assert.equal(openServer!.duration, undefined);
  assert.deepEqual(openServer!.annotations, [
    { timestamp: unanswered!.startUs, value: 'no response seen' },
    { timestamp: unanswered!.startUs, value: 'gap in request body' },
  ]);
});

test('Zipkin: --local and span kinds select halves; invalid ids are counted', () => {
  const records = sampleTrace();
  const local = toZipkinSpans(records, { localAddresses: new Set(['10.0.0.3']) });
  assert.deepEqual(
    local.map((s) => `${s.kind} ${s.localEndpoint.ipv4}`),
    records.flatMap((r) => [
      ...(r.client.ip === '10.0.0.3' ? ['CLIENT 10.0.0.3'] : []),
      ...(r.server.ip === '10.0.0.3' ? ['SERVER 10.0.0.3'] : []),
    ]),
  );
  assert.ok(toZipkinSpans(records, { spanKinds: new Set(['client']) }).every((s) => s.kind === 'CLIENT'));
  const counters = new Counters();
  assert.deepEqual(toZipkinSpans([makeRecord({ traceId: 'zz' })], { counters }), []);
  assert.equal(counters.get('export.zipkin.invalid_ids'), 1);
});

test('zipkinEndpoint: address families', () => {
  const table: [string, number, object][] = [
    ['10.1.2.3', 80, { serviceName: 'svc', ipv4: '10.1.2.3', port: 80 }],
    ['fe80::1%eth0', 443, { serviceName: 'svc', ipv6: 'fe80::1', port: 443 }],
    ['::ffff:192.0.2.7', 0, { serviceName: 'svc', ipv4: '192.0.2.7' }],
    ['not-an-ip', 5, { serviceName: 'svc', port: 5 }],
  ];
  for (const [ip, port, expected] of table) assert.deepEqual(zipkinEndpoint('SVC', { ip, port }), expected, ip);
});

test('Zipkin file: one JSON array of every span, across batches; an empty run writes []', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'wirespan-zipkin-'));
  try {
    const records = sampleTrace();
    const exporter = createZipkinExporter({ target: join(dir, 'spans.json'), maxBatchSize: 3 });
    for (const r of records) exporter.add(r);
    assert.deepEqual(await exporter.shutdown(), { exportedSpans: 16, failedSpans: 0, errors: [], warnings: [] });
    const spans = JSON.parse(await readFile(join(dir, 'spans.json'), 'utf8')) as ZipkinSpan[];
    assert.deepEqual(spans, toZipkinSpans(records));

    const empty = createZipkinExporter({ target: join(dir, 'empty.json') });
    assert.equal((await empty.shutdown()).exportedSpans, 0);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'empty.json'), 'utf8')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('Zipkin POST: /api/v2/spans, JSON, gzip, retried on 503, each span once', async () => {
  const bodies: { url: string; type: string | undefined; spans: ZipkinSpan[] }[] = [];
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (requests++ === 0) return res.writeHead(503).end();
      const body = gunzipSync(Buffer.concat(chunks)).toString('utf8');
      bodies.push({ url: req.url ?? '', type: req.headers['content-type'], spans: JSON.parse(body) as ZipkinSpan[] });
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const exporter = createZipkinExporter({
      target: `http://127.0.0.1:${port}`,
      http: { initialBackoffMs: 1, jitter: 0 },
      maxBatchSize: 4,
      maxInFlight: 1,
    });
    const records = sampleTrace();
    for (const r of records) exporter.add(r);
    assert.deepEqual(await exporter.shutdown(), { exportedSpans: 16, failedSpans: 0, errors: [], warnings: [] });
    assert.equal(requests, 3);
    assert.ok(bodies.every((b) => b.url === '/api/v2/spans' && b.type === 'application/json'));
    assert.deepEqual(bodies.flatMap((b) => b.spans), toZipkinSpans(records));
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
