import { createRequire } from 'node:module';
import type { SpanRecord } from '../../src/correlate/types.js';
import type {
  GrpcRequestInfo,
  GrpcResponseInfo,
  Http2RequestInfo,
  Http2ResponseInfo,
  HttpRequestInfo,
  HttpResponseInfo,
  MysqlRequestInfo,
  MysqlResponseInfo,
} from '../../src/protocols/types.js';

/** SpanRecords for exporter tests: a small realistic trace and builders for single exchanges. */

export const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
/** Today's times in µs: their ns values exceed 2^53, so a float conversion would show. */
export const T0 = 1_700_000_000_123_456;

export function spanIdOf(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export function httpRequest(over: Partial<HttpRequestInfo> = {}): HttpRequestInfo {
  return { method: 'GET', path: '/', host: null, version: '1.1', bodyBytes: 0, userAgent: null, ...over };
}
export function httpResponse(status: number): HttpResponseInfo {
  return { status, reason: '', version: '1.1', bodyBytes: 12 };
}
export function grpcRequest(service: string, method: string): GrpcRequestInfo {
  return {
    service,
    method,
    path: `/${service}/${method}`,
    authority: null,
    streamId: 1,
    messages: 1,
    messageBytes: 10,
    compressedMessages: 0,
    timeoutMs: null,
    callKind: 'unary',
  };
}
export function grpcResponse(grpcStatus: number | null, grpcMessage: string | null = null): GrpcResponseInfo {
  return {
    httpStatus: 200,
    grpcStatus,
    grpcMessage,
    messages: grpcStatus === 0 ? 1 : 0,
    messageBytes: 0,
    compressedMessages: 0,
    trailersOnly: grpcStatus !== 0,
  };
}
export function mysqlRequest(sql: string | null, normalizedSql: string | null, command = 'QUERY'): MysqlRequestInfo {
  return { command, sql, normalizedSql, statementId: null, database: 'shop' };
}
export function mysqlResponse(errorCode: number | null = null, errorMessage: string | null = null): MysqlResponseInfo {
  return {
    ok: errorCode === null,
    errorCode,
    sqlState: errorCode === null ? null : '42S02',
    errorMessage,
    rows: errorCode === null ? 1 : null,
    columns: errorCode === null ? 2 : null,
    affectedRows: null,
    lastInsertId: null,
    warnings: null,
  };
}

/** One exchange; everything not given is plausible and valid. */
export function makeRecord(over: Partial<SpanRecord> & { n?: number } = {}): SpanRecord {
  const n = over.n ?? 1;
  const startUs = over.startUs ?? T0 + n * 1000;
  const endUs = over.endUs === undefined ? startUs + 250 : over.endUs;
  const { n: _ignored, ...rest } = over;
  return {
    protocol: 'http',
    client: { ip: '10.0.0.1', port: 40000 + n },
    server: { ip: '10.0.0.2', port: 8080 },
    originalClient: null,
    dialedServer: null,
    tls: null,
    connectionId: n,
    index: 0,
    streamId: null,
    requestSeq: 1000,
    durationUs: endUs === null ? null : endUs - startUs,
    request: httpRequest(),
    response: httpResponse(200),
    requestId: null,
    traceId: TRACE_ID,
    spanId: spanIdOf(0x100 + n),
    clientSpanId: spanIdOf(0x200 + n),
    parentSpanId: null,
    service: 'api',
    peerService: 'frontend',
    serviceKind: 'service',
    link: null,
    traceContextSource: null,
    sampled: null,
    tracestate: null,
    error: false,
    bytes: { request: 100, response: 200 },
    notes: [],
    ...rest,
    startUs,
    endUs,
  };
}

/**
 * frontend → api (HTTP) → users (gRPC) → mysql, plus failures: a gRPC INTERNAL, an HTTP/2 503, a MySQL
 * error, an HTTP 404 and an exchange without response. Parents follow the wirespan id scheme:
 * a child's parentSpanId is the SERVER spanId of the exchange it was made while serving.
 */
export function sampleTrace(): SpanRecord[] {
  const root = makeRecord({
    n: 1,
    startUs: T0,
    endUs: T0 + 9000.5,
    request: httpRequest({ method: 'GET', path: '/api/users/42?verbose=1', host: 'api.local:8080', userAgent: 'curl/8' }),
    response: httpResponse(200),
    link: 'traceparent',
    traceContextSource: 'traceparent',
    requestId: 'req-1',
  });
  const grpcOk = makeRecord({
    n: 2,
    protocol: 'grpc',
    client: { ip: '10.0.0.2', port: 50000 },
    server: { ip: '10.0.0.3', port: 50051 },
    startUs: T0 + 1000,
    endUs: T0 + 3000,
    streamId: 1,
    request: { ...grpcRequest('users.UserService', 'GetUser'), authority: 'users:50051' },
    response: grpcResponse(0),
    parentSpanId: root.spanId,
    service: 'users',
    peerService: 'api',
    link: 'timing',
  });
  const query = makeRecord({
    n: 3,
    protocol: 'mysql',
    client: { ip: '10.0.0.3', port: 51000 },
    server: { ip: '10.0.0.4', port: 3306 },
    startUs: T0 + 1500.25,
    endUs: T0 + 2500,
    request: mysqlRequest(
      "/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000102-01' */ SELECT id, name FROM `users` WHERE id = 42",
      'SELECT id, name FROM `users` WHERE id = ?',
    ),
    response: mysqlResponse(),
    parentSpanId: grpcOk.spanId,
    service: 'mysql',
    peerService: 'users',
    serviceKind: 'database',
    link: 'timing',
  });
  const grpcFailed = makeRecord({
    n: 4,
    protocol: 'grpc',
    client: { ip: '10.0.0.2', port: 50000 },
    server: { ip: '10.0.0.3', port: 50051 },
    startUs: T0 + 3100,
    endUs: T0 + 3300,
    streamId: 3,
    request: grpcRequest('users.UserService', 'UpdateUser'),
    response: grpcResponse(13, 'database unavailable'),
    parentSpanId: root.spanId,
    service: 'users',
    peerService: 'api',
    error: true,
  });
  const charge = makeRecord({
    n: 5,
    protocol: 'http2',
    client: { ip: '10.0.0.2', port: 52000 },
    server: { ip: '10.0.0.5', port: 443 },
    startUs: T0 + 3400,
    endUs: T0 + 3900,
    streamId: 1,
    request: { method: 'POST', path: '/charge', authority: 'billing', scheme: 'http', streamId: 1, bodyBytes: 40 } satisfies Http2RequestInfo,
    response: { status: 503, bodyBytes: 0 } satisfies Http2ResponseInfo,
    parentSpanId: root.spanId,
    service: 'billing',
    peerService: 'api',
    error: true,
  });
  const missingTable = makeRecord({
    n: 6,
    protocol: 'mysql',
    client: { ip: '10.0.0.3', port: 51000 },
    server: { ip: '10.0.0.4', port: 3306 },
    startUs: T0 + 4000,
    endUs: T0 + 4100,
    request: mysqlRequest('UPDATE carts SET n = 1', 'UPDATE carts SET n = ?'),
    response: mysqlResponse(1146, "Table 'shop.carts' doesn't exist"),
    parentSpanId: grpcFailed.spanId,
    service: 'mysql',
    peerService: 'users',
    serviceKind: 'database',
    error: true,
  });
  const notFound = makeRecord({
    n: 7,
    startUs: T0 + 5000,
    endUs: T0 + 5100,
    request: httpRequest({ method: 'GET', path: '/favicon.ico' }),
    response: httpResponse(404),
  });
  const unanswered = makeRecord({
    n: 8,
    startUs: T0 + 6000,
    endUs: null,
    request: httpRequest({ method: 'POST', path: '/upload' }),
    response: null,
    notes: ['no response seen', 'gap in request body'],
  });
  return [root, grpcOk, query, grpcFailed, charge, missingTable, notFound, unanswered];
}

/** The official OTLP decoder (generated by opentelemetry-js from opentelemetry-proto) as a test oracle. */
export interface OfficialMessageType {
  decode(bytes: Uint8Array): object;
  fromObject(object: object): object;
  toObject(message: object, options: object): Record<string, unknown>;
}

export function officialTraceRequestType(): OfficialMessageType {
  const require = createRequire(import.meta.url);
  const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
    opentelemetry: { proto: { collector: { trace: { v1: { ExportTraceServiceRequest: OfficialMessageType } } } } };
  };
  return root.opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
}

/** Plain-object form used to compare: 64-bit values as decimal strings, bytes as hex, defaults filled in. */
export const COMPARABLE = { longs: String, enums: Number, bytes: String, defaults: true, arrays: true, oneofs: false };

export interface FlatSpan {
  service: string;
  scope: string;
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, string | number | boolean>;
  events: { name: string; timeNs: bigint }[];
  status: { code: number; message: string };
}

interface DecodedValue {
  stringValue?: string | null;
  intValue?: { toString(): string } | number | null;
  boolValue?: boolean | null;
  doubleValue?: number | null;
}
interface DecodedKeyValue {
  key: string;
  value: DecodedValue;
}

/** Official decoder output (message objects) → one FlatSpan per span, in wire order. */
export function flattenDecoded(request: object): FlatSpan[] {
  const out: FlatSpan[] = [];
  const hex = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('hex') : '');
  const attrs = (list: DecodedKeyValue[] | undefined): Record<string, string | number | boolean> => {
    const result: Record<string, string | number | boolean> = {};
    for (const { key, value } of list ?? []) {
      assertUnique(result, key);
      // Decoded messages have null (prototype default) for the oneof members that are not set.
      if (value.stringValue != null) result[key] = value.stringValue;
      else if (value.intValue != null) result[key] = Number(value.intValue.toString());
      else if (value.boolValue != null) result[key] = value.boolValue;
      else if (value.doubleValue != null) result[key] = value.doubleValue;
      else throw new Error(`attribute ${key} has no value`);
    }
    return result;
  };
  const { resourceSpans } = request as {
    resourceSpans: {
      resource: { attributes: DecodedKeyValue[] };
      scopeSpans: { scope: { name: string }; spans: Record<string, unknown>[] }[];
    }[];
  };
  for (const rs of resourceSpans ?? []) {
    const resource = attrs(rs.resource.attributes);
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        const events = (span['events'] as { name: string; timeUnixNano: { toString(): string } }[] | undefined) ?? [];
        const status = (span['status'] as { code?: number; message?: string } | undefined) ?? {};
        out.push({
          service: String(resource['service.name']),
          scope: ss.scope.name,
          kind: span['kind'] as number,
          traceId: hex(span['traceId'] as Uint8Array),
          spanId: hex(span['spanId'] as Uint8Array),
          parentSpanId: hex(span['parentSpanId'] as Uint8Array | undefined),
          traceState: (span['traceState'] as string | undefined) ?? '',
          flags: (span['flags'] as number | undefined) ?? 0,
          name: span['name'] as string,
          startNs: BigInt(String(span['startTimeUnixNano'])),
          endNs: BigInt(String(span['endTimeUnixNano'])),
          attributes: attrs(span['attributes'] as DecodedKeyValue[]),
          events: events.map((e) => ({ name: e.name, timeNs: BigInt(e.timeUnixNano.toString()) })),
          status: { code: status.code ?? 0, message: status.message ?? '' },
        });
      }
    }
  }
  return out;
}

function assertUnique(seen: Record<string, unknown>, key: string): void {
  if (key in seen) throw new Error(`attribute ${key} appears twice`);
}

/**
 * µs → ns by decimal string arithmetic, independent of the code under test: `toFixed` rounds the exact
 * binary value (not its shortest printed form) to 3 decimals, with exact arithmetic per ECMA-262.
 */
export function expectedNanos(us: number): bigint {
  return BigInt(us.toFixed(3).replace('.', ''));
}
