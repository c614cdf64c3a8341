import type {
  GrpcRequestInfo,
  GrpcResponseInfo,
  Http2RequestInfo,
  Http2ResponseInfo,
  HttpRequestInfo,
  HttpResponseInfo,
  MysqlRequestInfo,
  MysqlResponseInfo,
} from '../../protocols/types.js';
import type { SpanRecord } from '../../correlate/types.js';

/**
 * A protocol-typed view of one SpanRecord, shared by the OTLP and Zipkin transforms:
 * HTTP/1.x and non-gRPC HTTP/2 look the same to a tracing backend.
 */
export type ExchangeView =
  | { protocol: 'http'; request: HttpLikeRequest; response: HttpLikeResponse | null }
  | { protocol: 'grpc'; request: GrpcRequestInfo; response: GrpcResponseInfo | null }
  | { protocol: 'mysql'; request: MysqlRequestInfo; response: MysqlResponseInfo | null };

export interface HttpLikeRequest {
  method: string;
  /** Request target as seen on the wire (may include a query). */
  target: string;
  /** Host header or :authority. */
  authority: string | null;
  /** `network.protocol.version`: "1.0", "1.1" or "2". */
  version: string;
  bodyBytes: number;
  userAgent: string | null;
}

export interface HttpLikeResponse {
  status: number | null;
  bodyBytes: number;
  /** RST_STREAM / GOAWAY reason when the HTTP/2 stream did not end normally. */
  reset: string | null;
}

export function viewExchange(record: SpanRecord): ExchangeView {
  switch (record.protocol) {
    case 'http': {
      const req = record.request as HttpRequestInfo;
      const res = record.response as HttpResponseInfo | null;
      return {
        protocol: 'http',
        request: {
          method: req.method,
          target: req.path,
          authority: req.host,
          version: req.version,
          bodyBytes: req.bodyBytes,
          userAgent: req.userAgent ?? null,
        },
        response: res ? { status: res.status, bodyBytes: res.bodyBytes, reset: null } : null,
      };
    }
    case 'http2': {
      const req = record.request as Http2RequestInfo;
      const res = record.response as Http2ResponseInfo | null;
      return {
        protocol: 'http',
        request: {
          method: req.method,
          target: req.path,
          authority: req.authority,
          version: '2',
          bodyBytes: req.bodyBytes,
          userAgent: null,
        },
        response: res ? { status: res.status, bodyBytes: res.bodyBytes, reset: res.reset ?? null } : null,
      };
    }
    case 'grpc':
      return {
        protocol: 'grpc',
        request: record.request as GrpcRequestInfo,
        response: record.response as GrpcResponseInfo | null,
      };
    case 'mysql':
      return {
        protocol: 'mysql',
        request: record.request as MysqlRequestInfo,
        response: record.response as MysqlResponseInfo | null,
      };
  }
}

export function pathWithoutQuery(target: string): string {
  const cut = target.search(/[?#]/);
  return cut < 0 ? target : target.slice(0, cut);
}

const ID_SEGMENT = /^(?:\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

/**
 * A low-cardinality stand-in for the route we cannot know: the path without its query, with
 * segments that look like identifiers (all digits, UUIDs, long hex) replaced by `{id}`.
 */
export function routeTemplate(target: string): string {
  const path = pathWithoutQuery(target);
  if (!path.startsWith('/')) return path; // "*" (OPTIONS), authority-form (CONNECT)
  return path
    .split('/')
    .map((segment) => (ID_SEGMENT.test(segment) ? '{id}' : segment))
    .join('/');
}

/** "host", "host:port", "[v6]:port" → parts; port null when absent or not a number. */
export function splitHostPort(authority: string): { host: string; port: number | null } {
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close > 0) {
      const port = authority.slice(close + 1).startsWith(':') ? parsePort(authority.slice(close + 2)) : null;
      return { host: authority.slice(1, close), port };
    }
  }
  const colon = authority.lastIndexOf(':');
  if (colon > 0 && authority.indexOf(':') === colon) {
    return { host: authority.slice(0, colon), port: parsePort(authority.slice(colon + 1)) };
  }
  return { host: authority, port: null };
}

function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

/** gRPC codes that mean the server failed (OTel semconv for rpc SERVER spans). */
export const GRPC_SERVER_ERROR_CODES: ReadonlySet<number> = new Set([2, 4, 12, 13, 14, 15]);

export type SqlText = 'normalized' | 'full';

/** The SQL to export: normalized unless asked otherwise; never the full text when normalized is asked. */
export function exportedSql(request: MysqlRequestInfo, sqlText: SqlText): string | null {
  return sqlText === 'full' ? (request.sql ?? request.normalizedSql) : request.normalizedSql;
}

const LEADING_COMMENTS = /^(?:\s+|\/\*[\s\S]*?\*\/|(?:--|#)[^\n]*(?:\n|$))*/;
const TABLE_NAME = String.raw`((?:[\w$]+|\x60[^\x60]+\x60)(?:\.(?:[\w$]+|\x60[^\x60]+\x60))?)`;
const TABLE_AFTER: Record<string, RegExp> = {
  SELECT: new RegExp(String.raw`\bfrom\s+` + TABLE_NAME, 'i'),
  DELETE: new RegExp(String.raw`\bfrom\s+` + TABLE_NAME, 'i'),
  INSERT: new RegExp(String.raw`\binto\s+` + TABLE_NAME, 'i'),
  REPLACE: new RegExp(String.raw`\binto\s+` + TABLE_NAME, 'i'),
  UPDATE: new RegExp(String.raw`^update\s+(?:low_priority\s+|ignore\s+)*` + TABLE_NAME, 'i'),
};

/**
 * First SQL keyword (upper-case) and, for simple SELECT/INSERT/UPDATE/DELETE/REPLACE, the first
 * table named. Leading comments (where trace context often hides) are skipped. A best effort:
 * joins, sub-queries and CTEs give the first table only or none.
 */
export function sqlSummary(sql: string): { operation: string | null; table: string | null } {
  const body = sql.replace(LEADING_COMMENTS, '');
  const keyword = /^[A-Za-z]+/.exec(body)?.[0]?.toUpperCase() ?? null;
  if (!keyword) return { operation: null, table: null };
  const tableMatch = TABLE_AFTER[keyword]?.exec(body);
  const table = tableMatch?.[1] ? tableMatch[1].replace(/\x60/g, '') : null;
  return { operation: keyword, table };
}
