import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Counters } from '../src/util/counters.js';
import { routeTemplate, splitHostPort, sqlSummary } from '../src/export/otlp/exchange.js';
import { SpanKind, type OtlpSpan } from '../src/export/otlp/model.js';
import { exchangeToSpans, toOtlpRequest, type OtlpTransformOptions } from '../src/export/otlp/transform.js';
import {
  grpcRequest,
  grpcResponse,
  httpRequest,
  httpResponse,
  makeRecord,
  mysqlRequest,
  mysqlResponse,
  sampleTrace,
} from './lib/span-fixtures.js';

function attribute(span: OtlpSpan, key: string): unknown {
  const found = span.attributes.find((a) => a.key === key);
  if (!found) return undefined;
  return Object.values(found.value)[0];
}

function spansOf(options: OtlpTransformOptions): { service: string; kind: number; spanId: string; parent: string | null }[] {
  return sampleTrace().flatMap((r) =>
    exchangeToSpans(r, options).map(({ service, span }) => ({ service, kind: span.kind, spanId: span.spanId, parent: span.parentSpanId })),
  );
}

test('--local keeps a CLIENT span only when the client is local and a SERVER span only when the server is', () => {
  const records = sampleTrace();
  const spans = spansOf({ localAddresses: new Set(['10.0.0.2']) });
  const expected = records.flatMap((r) => [
    ...(r.client.ip === '10.0.0.2' ? [`${r.clientSpanId} client`] : []),
    ...(r.server.ip === '10.0.0.2' ? [`${r.spanId} server`] : []),
  ]);
  assert.deepEqual(spans.map((s) => `${s.spanId} ${s.kind === SpanKind.CLIENT ? 'client' : 'server'}`), expected);
  // api is both: the server of the HTTP exchanges (root, 404, unanswered) and the client of the gRPC and HTTP/2 calls.
  assert.equal(spans.filter((s) => s.kind === SpanKind.SERVER).length, 3);
  assert.equal(spans.filter((s) => s.kind === SpanKind.CLIENT).length, 3);
  // Ids are untouched: the other half is expected from another capture point.
  for (const s of spans.filter((x) => x.kind === SpanKind.SERVER)) {
    const record = records.find((r) => r.spanId === s.spanId)!;
    assert.equal(s.parent, record.clientSpanId);
  }
});

test('an empty --local set filters nothing', () => {
  assert.equal(spansOf({ localAddresses: new Set() }).length, sampleTrace().length * 2);
});

test('span kinds: SERVER spans alone hang from the enclosing server span so the tree stays connected', () => {
  const records = sampleTrace();
  const spans = spansOf({ spanKinds: new Set(['server']) });
  assert.equal(spans.length, records.length);
  assert.ok(spans.every((s) => s.kind === SpanKind.SERVER));
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) {
    const record = records.find((r) => r.spanId === s.spanId)!;
    assert.equal(s.parent, record.parentSpanId);
    if (s.parent !== null) assert.ok(ids.has(s.parent), 'the parent is an exported span');
  }
});

test('span kinds: CLIENT spans alone keep their parents', () => {
  const records = sampleTrace();
  const spans = spansOf({ spanKinds: new Set(['client']) });
  assert.deepEqual(
    spans.map((s) => [s.service, s.spanId, s.parent]),
    records.map((r) => [r.peerService, r.clientSpanId, r.parentSpanId]),
  );
});

test('records with invalid ids are counted and skipped', () => {
  const counters = new Counters();
  const bad = [
    makeRecord({ traceId: '0'.repeat(32) }),
    makeRecord({ traceId: 'XYZ' }),
    makeRecord({ spanId: '00000000000000001' }),
    makeRecord({ clientSpanId: 'ABCDEF0123456789' }),
  ];
  const request = toOtlpRequest([...bad, makeRecord()], { counters });
  assert.equal(counters.get('export.otlp.invalid_ids'), bad.length);
  assert.equal(request.resourceSpans.flatMap((rs) => rs.scopeSpans[0]!.spans).length, 2);
});

test('an invalid parent id makes a root CLIENT span rather than a broken reference', () => {
  const [{ span }] = exchangeToSpans(makeRecord({ parentSpanId: 'not-hex-at-all!!' }), { spanKinds: new Set(['client']) });
  assert.equal(span!.parentSpanId, null);
});

test('scope name and version', () => {
  const request = toOtlpRequest([makeRecord()], { scopeVersion: '1.2.3' });
  assert.deepEqual(request.resourceSpans[0]!.scopeSpans[0]!.scope, { name: 'wirespan', version: '1.2.3' });
});

// [description, record, option overrides, expected name, expected attributes, [client status, server status]]
const SEMANTICS: [string, ReturnType<typeof makeRecord>, OtlpTransformOptions, string, Record<string, unknown>, [number, number]][] = [
  [
    'unknown HTTP method',
    makeRecord({ request: httpRequest({ method: 'PROPFIND', path: '/dav/x' }), response: httpResponse(207) }),
    {},
    'HTTP',
    { 'http.request.method': '_OTHER', 'http.request.method_original': 'PROPFIND', 'server.address': '10.0.0.2', 'server.port': 8080 },
    [0, 0],
  ],
  [
    'HTTP span named by method only on request',
    makeRecord({ request: httpRequest({ path: '/orders/123/items?x=1' }) }),
    { httpSpanName: 'method' },
    'GET',
    { 'url.path': '/orders/123/items' },
    [0, 0],
  ],
  [
    'HTTP 500: an error on both sides',
    makeRecord({ response: httpResponse(500) }),
    {},
    'GET /',
    { 'http.response.status_code': 500, 'error.type': '500' },
    [2, 2],
  ],
  [
    'HTTP/2 reset stream',
    makeRecord({
      protocol: 'http2',
      request: { method: 'GET', path: '/s', authority: 'svc:9000', scheme: 'http', streamId: 3, bodyBytes: 0 },
      response: { status: null, bodyBytes: 0, reset: 'CANCEL' },
    }),
    {},
    'GET /s',
    { 'network.protocol.version': '2', 'server.address': 'svc', 'server.port': 9000, 'error.type': 'CANCEL' },
    [2, 2],
  ],
  [
    'gRPC NOT_FOUND: a client error only',
    makeRecord({ protocol: 'grpc', request: grpcRequest('pkg.Svc', 'Get'), response: grpcResponse(5, 'no such thing') }),
    {},
    'pkg.Svc/Get',
    { 'rpc.grpc.status_code': 5, 'rpc.system': 'grpc' },
    [2, 0],
  ],
  [
    'gRPC UNAVAILABLE: an error on both sides',
    makeRecord({ protocol: 'grpc', request: grpcRequest('pkg.Svc', 'Get'), response: grpcResponse(14) }),
    {},
    'pkg.Svc/Get',
    { 'rpc.grpc.status_code': 14 },
    [2, 2],
  ],
  [
    'MySQL full SQL on request',
    makeRecord({ protocol: 'mysql', request: mysqlRequest('INSERT INTO t (a) VALUES (1)', 'INSERT INTO t (a) VALUES (?)'), response: mysqlResponse() }),
    { sqlText: 'full' },
    'INSERT t',
    { 'db.query.text': 'INSERT INTO t (a) VALUES (1)', 'db.operation.name': 'INSERT', 'db.collection.name': 't' },
    [0, 0],
  ],
  [
    'MySQL without SQL is named by its command',
    makeRecord({ protocol: 'mysql', request: mysqlRequest(null, null, 'PING'), response: mysqlResponse() }),
    {},
    'mysql PING',
    { 'db.operation.name': 'PING', 'db.query.text': undefined, 'wirespan.mysql.command': 'PING' },
    [0, 0],
  ],
  [
    'MySQL normalized text is never replaced by the full one',
    makeRecord({ protocol: 'mysql', request: mysqlRequest('SELECT 1', null), response: mysqlResponse() }),
    {},
    'SELECT',
    { 'db.query.text': undefined },
    [0, 0],
  ],
];

for (const [description, record, options, name, attributes, [clientCode, serverCode]] of SEMANTICS) {
  test(`semantics: ${description}`, () => {
    const [client, server] = exchangeToSpans(record, options).map((s) => s.span);
    assert.equal(client!.name, name);
    assert.equal(server!.name, name);
    for (const [key, value] of Object.entries(attributes)) {
      if (key !== 'error.type') assert.equal(attribute(server!, key), value, key);
    }
    if ('error.type' in attributes) assert.equal(attribute(client!, 'error.type'), attributes['error.type']);
    assert.deepEqual([client!.status.code, server!.status.code], [clientCode, serverCode]);
  });
}

test('attribute keys are unique on every span', () => {
  for (const { span } of sampleTrace().flatMap((r) => exchangeToSpans(r))) {
    const keys = span.attributes.map((a) => a.key);
    assert.equal(new Set(keys).size, keys.length, `${span.name}: ${keys.join(',')}`);
  }
});

test('routeTemplate', () => {
  const table: [string, string][] = [
    ['/', '/'],
    ['/api/users/42', '/api/users/{id}'],
    ['/api/users/42?expand=1#top', '/api/users/{id}'],
    ['/o/3f2504e0-4f89-11d3-9a0c-0305e82c3301/x', '/o/{id}/x'],
    ['/blob/0123456789abcdef0123', '/blob/{id}'],
    ['/v2/items', '/v2/items'],
    ['*', '*'],
    ['example.com:443', 'example.com:443'],
  ];
  for (const [input, expected] of table) assert.equal(routeTemplate(input), expected, input);
});

test('splitHostPort', () => {
  const table: [string, { host: string; port: number | null }][] = [
    ['api', { host: 'api', port: null }],
    ['api:8080', { host: 'api', port: 8080 }],
    ['[::1]:443', { host: '::1', port: 443 }],
    ['[::1]', { host: '::1', port: null }],
    ['::1', { host: '::1', port: null }],
    ['api:99999', { host: 'api', port: null }],
    ['api:http', { host: 'api', port: null }],
  ];
  for (const [input, expected] of table) assert.deepEqual(splitHostPort(input), expected, input);
});

test('sqlSummary', () => {
  const table: [string, string | null, string | null][] = [
    ['SELECT a FROM t WHERE x = ?', 'SELECT', 't'],
    ['select * from `db`.`orders` o join x', 'SELECT', 'db.orders'],
    ['/* traceparent=00-.. */ -- note\nUPDATE LOW_PRIORITY accounts SET a = ?', 'UPDATE', 'accounts'],
    ['# c\nDELETE FROM sessions', 'DELETE', 'sessions'],
    ['INSERT INTO log VALUES (?)', 'INSERT', 'log'],
    ['BEGIN', 'BEGIN', null],
    ['SELECT 1', 'SELECT', null],
    ['', null, null],
    ['/* only a comment */', null, null],
  ];
  for (const [sql, operation, table_] of table) assert.deepEqual(sqlSummary(sql), { operation, table: table_ }, sql);
});

test('property: the transform never throws and emits at most two spans per record, with valid ids', () => {
  const anyText = fc.string({ maxLength: 40 });
  const recordArb = fc
    .record({
      method: anyText,
      path: anyText,
      host: fc.option(anyText),
      status: fc.option(fc.integer({ min: 0, max: 999 })),
      parent: fc.option(anyText),
      n: fc.integer({ min: 1, max: 1000 }),
    })
    .map(({ method, path, host, status, parent, n }) =>
      makeRecord({
        n,
        request: httpRequest({ method, path, host }),
        response: status === null ? null : httpResponse(status),
        parentSpanId: parent,
      }),
    );
  fc.assert(
    fc.property(recordArb, (record) => {
      const spans = exchangeToSpans(record);
      assert.equal(spans.length, 2);
      for (const { span } of spans) {
        assert.ok(span.parentSpanId === null || /^[0-9a-f]{16}$/.test(span.parentSpanId));
        assert.ok(span.endTimeUnixNano >= span.startTimeUnixNano);
      }
    }),
  );
});
