import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SpanRecord } from '../src/correlate/types.js';
import { encodeOtlpJson } from '../src/export/otlp/json.js';
import { microsToNanos } from '../src/export/otlp/model.js';
import { OtlpProtobufEncoder } from '../src/export/otlp/proto.js';
import { toOtlpRequest } from '../src/export/otlp/transform.js';
import {
  COMPARABLE,
  expectedNanos,
  flattenDecoded,
  makeRecord,
  officialTraceRequestType,
  sampleTrace,
  type FlatSpan,
} from './lib/span-fixtures.js';

const Official = officialTraceRequestType();
const encoder = new OtlpProtobufEncoder();

function decodeProtobuf(records: SpanRecord[]): FlatSpan[] {
  return flattenDecoded(Official.decode(encoder.encode(toOtlpRequest(records))));
}

/** OTLP/JSON → the official message, after turning the hex ids into bytes as the JSON mapping requires. */
function officialFromJson(json: string): object {
  const parsed = JSON.parse(json) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
  for (const rs of parsed.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        for (const field of ['traceId', 'spanId', 'parentSpanId']) {
          if (typeof span[field] === 'string') span[field] = Buffer.from(span[field], 'hex');
        }
      }
    }
  }
  return Official.fromObject(parsed);
}

test('protobuf: each exchange becomes a CLIENT span in the caller and a SERVER span in the callee', () => {
  const records = sampleTrace();
  const spans = decodeProtobuf(records);
  assert.equal(spans.length, records.length * 2);
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  assert.equal(byId.size, spans.length, 'span ids are unique');
  for (const record of records) {
    const client = byId.get(record.clientSpanId);
    const server = byId.get(record.spanId);
    assert.ok(client && server, `both halves of exchange ${record.connectionId}`);
    assert.deepEqual(
      [client.service, client.kind, client.traceId, client.parentSpanId],
      [record.peerService, 3, record.traceId, record.parentSpanId ?? ''],
    );
    assert.deepEqual(
      [server.service, server.kind, server.traceId, server.parentSpanId],
      [record.service, 2, record.traceId, record.clientSpanId],
    );
    const endUs = record.endUs ?? record.startUs;
    for (const span of [client, server]) {
      assert.equal(span.scope, 'wirespan');
      assert.equal(span.startNs, expectedNanos(record.startUs));
      assert.equal(span.endNs, expectedNanos(endUs));
      assert.equal(span.attributes['wirespan.connection_id'], record.connectionId);
      assert.equal(span.name, client.name);
    }
  }
});

test('protobuf: the parent chain links server → client → enclosing server span', () => {
  const [root, grpc, query] = sampleTrace();
  const byId = new Map(decodeProtobuf([root!, grpc!, query!]).map((s) => [s.spanId, s]));
  // mysql SERVER → users CLIENT → users SERVER → api CLIENT → api SERVER → frontend CLIENT (root)
  const chain: string[] = [];
  for (let span = byId.get(query!.spanId); span; span = byId.get(span.parentSpanId)) {
    chain.push(`${span.service}:${span.kind === 2 ? 'server' : 'client'}`);
    if (!span.parentSpanId) break;
  }
  assert.deepEqual(chain, ['mysql:server', 'users:client', 'users:server', 'api:client', 'api:server', 'frontend:client']);
});

test('protobuf: one ResourceSpans per service, service.name as its only attribute', () => {
  const request = Official.toObject(Official.decode(encoder.encode(toOtlpRequest(sampleTrace()))), COMPARABLE) as {
    resourceSpans: { resource: { attributes: { key: string; value: { stringValue: string } }[] } }[];
  };
  const services = request.resourceSpans.map((rs) => rs.resource.attributes.map((a) => `${a.key}=${a.value.stringValue}`));
  assert.deepEqual(services, [
    ['service.name=frontend'],
    ['service.name=api'],
    ['service.name=users'],
    ['service.name=mysql'],
    ['service.name=billing'],
  ]);
});

test('protobuf: semantic-convention attributes, names and statuses as decoded by the official decoder', () => {
  const records = sampleTrace();
  const byId = new Map(decodeProtobuf(records).map((s) => [s.spanId, s]));
  const [root, grpcOk, query, grpcFailed, charge, missingTable, notFound, unanswered] = records;
  const server = (r: SpanRecord): FlatSpan => byId.get(r.spanId)!;
  const client = (r: SpanRecord): FlatSpan => byId.get(r.clientSpanId)!;

  assert.equal(server(root!).name, 'GET /api/users/{id}');
  assert.deepEqual(pick(server(root!).attributes, [
    'http.request.method', 'url.path', 'http.response.status_code', 'server.address', 'server.port',
    'client.address', 'client.port', 'network.protocol.version', 'user_agent.original',
    'wirespan.link', 'wirespan.request_id', 'wirespan.trace_context_source', 'network.peer.address',
  ]), {
    'http.request.method': 'GET', 'url.path': '/api/users/42', 'http.response.status_code': 200,
    'server.address': 'api.local', 'server.port': 8080, 'client.address': '10.0.0.1', 'client.port': 40001,
    'network.protocol.version': '1.1', 'user_agent.original': 'curl/8', 'wirespan.link': 'traceparent',
    'wirespan.request_id': 'req-1', 'wirespan.trace_context_source': 'traceparent', 'network.peer.address': '10.0.0.1',
  });
  assert.equal(client(root!).attributes['network.peer.address'], '10.0.0.2');
  assert.equal(client(root!).attributes['peer.service'], 'api');

  assert.equal(server(grpcOk!).name, 'users.UserService/GetUser');
  assert.deepEqual(pick(server(grpcOk!).attributes, ['rpc.system', 'rpc.service', 'rpc.method', 'rpc.grpc.status_code', 'server.address', 'server.port']), {
    'rpc.system': 'grpc', 'rpc.service': 'users.UserService', 'rpc.method': 'GetUser', 'rpc.grpc.status_code': 0,
    'server.address': 'users', 'server.port': 50051,
  });

  assert.equal(server(query!).name, 'SELECT users');
  assert.deepEqual(pick(server(query!).attributes, ['db.system', 'db.query.text', 'db.operation.name', 'db.collection.name', 'db.namespace']), {
    'db.system': 'mysql', 'db.query.text': 'SELECT id, name FROM `users` WHERE id = ?', 'db.operation.name': 'SELECT',
    'db.collection.name': 'users', 'db.namespace': 'shop',
  });

  // [record, CLIENT status, SERVER status, error.type]
  const statuses: [SpanRecord, number, number, string | undefined][] = [
    [root!, 0, 0, undefined],
    [grpcOk!, 0, 0, undefined],
    [grpcFailed!, 2, 2, '13'],
    [charge!, 2, 2, '503'],
    [missingTable!, 2, 2, '1146'],
    [notFound!, 2, 0, '404'],
    [unanswered!, 0, 0, undefined],
  ];
  for (const [record, clientCode, serverCode, errorType] of statuses) {
    assert.equal(client(record).status.code, clientCode, `client status of ${client(record).name}`);
    assert.equal(server(record).status.code, serverCode, `server status of ${server(record).name}`);
    assert.equal(client(record).attributes['error.type'], errorType);
  }
  assert.equal(server(grpcFailed!).status.message, 'database unavailable');
  assert.equal(server(missingTable!).attributes['db.response.status_code'], '1146');
  assert.equal(server(charge!).attributes['network.protocol.version'], '2');

  assert.deepEqual(server(unanswered!).events, [
    { name: 'no response seen', timeNs: expectedNanos(unanswered!.startUs) },
    { name: 'gap in request body', timeNs: expectedNanos(unanswered!.startUs) },
  ]);
});

test('JSON: hex ids, integer enums, decimal-string int64, and the same content as protobuf', () => {
  const request = toOtlpRequest(sampleTrace());
  const json = encodeOtlpJson(request);
  const span = (JSON.parse(json) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] })
    .resourceSpans[1]!.scopeSpans[0]!.spans[0]!;
  assert.match(span['traceId'] as string, /^[0-9a-f]{32}$/);
  assert.match(span['spanId'] as string, /^[0-9a-f]{16}$/);
  assert.equal(typeof span['kind'], 'number');
  assert.match(span['startTimeUnixNano'] as string, /^\d{19}$/);
  const connection = (span['attributes'] as { key: string; value: unknown }[]).find((a) => a.key === 'wirespan.connection_id');
  assert.deepEqual(connection?.value, { intValue: '1' });

  const fromJson = Official.toObject(officialFromJson(json), COMPARABLE);
  const fromProtobuf = Official.toObject(Official.decode(encoder.encode(request)), COMPARABLE);
  assert.deepEqual(fromJson, fromProtobuf);
});

test('JSON: the root span has no parentSpanId and an UNSET status is left out', () => {
  const [root] = sampleTrace();
  const json = JSON.parse(encodeOtlpJson(toOtlpRequest([root!], { spanKinds: new Set(['client']) }))) as {
    resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[];
  };
  const span = json.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  assert.equal('parentSpanId' in span, false);
  assert.deepEqual(span['status'], {});
});

test('µs → ns is exact for today-sized times, with or without a fraction', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4_000_000_000_000_000 }), fc.constantFrom(0, 0.5, 0.25, 0.125, 0.75), (whole, fraction) => {
      const us = whole + fraction;
      // A sum that rounds in float64 is not the case under test.
      fc.pre(us - whole === fraction);
      assert.equal(microsToNanos(us), expectedNanos(us));
    }),
  );
});

test('property: any valid records survive protobuf and JSON with ids, kinds and times intact', () => {
  const hex = (n: number) => fc.array(fc.constantFrom(...'0123456789abcdef'), { minLength: n, maxLength: n }).map((a) => a.join(''));
  const id16 = hex(16).filter((h) => !/^0+$/.test(h));
  const recordArb = fc
    .record({
      traceId: hex(32).filter((h) => !/^0+$/.test(h)),
      spanId: id16,
      clientSpanId: id16,
      parentSpanId: fc.option(id16),
      service: fc.constantFrom('a', 'b', 'c'),
      peerService: fc.constantFrom('x', 'y'),
      startUs: fc.integer({ min: 1_000_000_000_000_000, max: 2_000_000_000_000_000 }),
      durationUs: fc.option(fc.integer({ min: 0, max: 10_000_000 })),
    })
    .map((f, ) => makeRecord({ ...f, endUs: f.durationUs === null ? null : f.startUs + f.durationUs }));
  fc.assert(
    fc.property(fc.array(recordArb, { minLength: 1, maxLength: 8 }), (records) => {
      fc.pre(new Set(records.flatMap((r) => [r.spanId, r.clientSpanId])).size === records.length * 2);
      const request = toOtlpRequest(records);
      const spans = flattenDecoded(Official.decode(encoder.encode(request)));
      const expected = records.flatMap((r) => [
        `${r.peerService} 3 ${r.traceId} ${r.clientSpanId} ${r.parentSpanId ?? ''} ${expectedNanos(r.startUs)}`,
        `${r.service} 2 ${r.traceId} ${r.spanId} ${r.clientSpanId} ${expectedNanos(r.startUs)}`,
      ]);
      const actual = spans.map((s) => `${s.service} ${s.kind} ${s.traceId} ${s.spanId} ${s.parentSpanId} ${s.startNs}`);
      assert.deepEqual(actual.sort(), expected.sort());
      assert.deepEqual(
        Official.toObject(officialFromJson(encodeOtlpJson(request)), COMPARABLE),
        Official.toObject(Official.decode(encoder.encode(request)), COMPARABLE),
      );
    }),
    { numRuns: 60 },
  );
});

function pick(attributes: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, attributes[k]]));
}

/**
 * Span.flags (field 16, fixed32) of every span, by span id, read from the wire format by hand: the
 * official decoder here predates the field. ExportTraceServiceRequest.resource_spans (1) →
 * ResourceSpans.scope_spans (2) → ScopeSpans.spans (2) → Span: span_id (2), flags (16).
 */
function wireSpanFlags(bytes: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const fields = (buf: Uint8Array): [number, Uint8Array | number][] => {
    const list: [number, Uint8Array | number][] = [];
    let i = 0;
    const varint = (): number => {
      let value = 0;
      for (let shift = 0; ; shift += 7) {
        const b = buf[i++]!;
        value += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return value;
      }
    };
    while (i < buf.length) {
      const key = varint();
      const [field, type] = [Math.floor(key / 8), key % 8];
      if (type === 0) list.push([field, varint()]);
      else if (type === 1) i += 8;
      else if (type === 5) list.push([field, Buffer.from(buf.subarray(i, (i += 4))).readUInt32LE(0)]);
      else if (type === 2) {
        const length = varint();
        list.push([field, buf.subarray(i, (i += length))]);
      } else throw new Error(`wire type ${type}`);
    }
    return list;
  };
  const sub = (buf: Uint8Array, n: number): Uint8Array[] => fields(buf).filter(([f, v]) => f === n && v instanceof Uint8Array).map(([, v]) => v as Uint8Array);
  for (const resourceSpans of sub(bytes, 1)) {
    for (const scopeSpans of sub(resourceSpans, 2)) {
      for (const span of sub(scopeSpans, 2)) {
        const all = fields(span);
        const id = Buffer.from(all.find(([f]) => f === 2)![1] as Uint8Array).toString('hex');
        out.set(id, (all.find(([f]) => f === 16)?.[1] as number | undefined) ?? 0);
      }
    }
  }
  return out;
}

test('protobuf: tracestate and trace flags, with whether the parent is remote', () => {
  const traced = makeRecord({ n: 1, sampled: true, tracestate: 'vendor=abc,other=1', link: 'traceparent', traceContextSource: 'traceparent' });
  const unsampled = makeRecord({ n: 2, sampled: false, parentSpanId: traced.spanId });
  const bytes = encoder.encode(toOtlpRequest([traced, unsampled]));
  const states = new Map(flattenDecoded(Official.decode(bytes)).map((s) => [s.spanId, s.traceState]));
  const flags = wireSpanFlags(bytes);
  const seen = (id: string): [string | undefined, number | undefined] => [states.get(id), flags.get(id)];
  // 0x01 sampled; 0x100 whether the parent is remote is known; 0x200 it is (a SERVER span's parent is the caller's CLIENT span).
  assert.deepEqual(seen(traced.clientSpanId), ['vendor=abc,other=1', 0x101]);
  assert.deepEqual(seen(traced.spanId), ['vendor=abc,other=1', 0x301]);
  assert.deepEqual(seen(unsampled.clientSpanId), ['', 0x100]);
  assert.deepEqual(seen(unsampled.spanId), ['', 0x300]);
  const json = JSON.parse(encodeOtlpJson(toOtlpRequest([traced]))) as { resourceSpans: { scopeSpans: { spans: { spanId: string; traceState?: string; flags?: number }[] }[] }[] };
  const jsonSpans = json.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
  assert.deepEqual(jsonSpans.map((s) => [s.spanId, s.traceState, s.flags]).sort(), [[traced.clientSpanId, 'vendor=abc,other=1', 0x101], [traced.spanId, 'vendor=abc,other=1', 0x301]].sort());
});

test('protobuf: a SERVER span without a parent says its parent is not remote', () => {
  const record = makeRecord({ n: 3 });
  const flags = wireSpanFlags(encoder.encode(toOtlpRequest([record], { spanKinds: new Set(['server']) })));
  assert.deepEqual([...flags], [[record.spanId, 0x101]]);
});
