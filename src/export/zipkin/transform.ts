import { isIP } from 'node:net';
import type { SpanRecord } from '../../correlate/types.js';
import type { Endpoint } from '../../tcp/types.js';
import type { Counters } from '../../util/counters.js';
import { exportedSql, pathWithoutQuery, viewExchange, type SqlText } from '../otlp/exchange.js';
import { isValidHexId } from '../otlp/model.js';
import { describeExchange, type HttpSpanName, type SideOutcome } from '../otlp/semconv.js';
import { selectedSides, type SpanSelection } from '../otlp/transform.js';

/** Zipkin v2 Endpoint (zipkin2-api.yaml). */
export interface ZipkinEndpoint {
  serviceName?: string;
  ipv4?: string;
  ipv6?: string;
  port?: number;
}

/** Zipkin v2 Span (zipkin2-api.yaml): ids lower-case hex, times integer µs. */
export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  kind: 'CLIENT' | 'SERVER';
  name: string;
  timestamp: number;
  duration?: number;
  shared?: true;
  localEndpoint: ZipkinEndpoint;
  remoteEndpoint: ZipkinEndpoint;
  annotations?: { timestamp: number; value: string }[];
  tags: Record<string, string>;
}

export interface ZipkinTransformOptions extends SpanSelection {
  sqlText?: SqlText;
  httpSpanName?: HttpSpanName;
  /** Records skipped for invalid ids are counted here: `export.zipkin.invalid_ids`. */
  counters?: Counters;
}

/**
 * One exchange → Zipkin's native RPC model: the CLIENT and SERVER halves SHARE one span id, the
 * server half marked `shared: true`, both with the caller's enclosing span as parent. The shared id is
 * the record's `spanId` (its SERVER span id), because that is what the exchanges made while serving
 * it name as their `parentSpanId`; using `clientSpanId` would orphan them. Either half alone
 * (`--span-kinds`, `--local`) is still correctly placed in the tree.
 */
export function exchangeToZipkinSpans(record: SpanRecord, options: ZipkinTransformOptions = {}): ZipkinSpan[] {
  if (!isValidHexId(record.traceId, 32) || !isValidHexId(record.spanId, 16)) {
    options.counters?.add('export.zipkin.invalid_ids');
    return [];
  }
  const sides = selectedSides(record, options);
  if (!sides.client && !sides.server) return [];

  const semantics = describeExchange(record, {
    sqlText: options.sqlText ?? 'normalized',
    httpSpanName: options.httpSpanName ?? 'method-path',
  });
  // A localEndpoint port is a listen port (zipkin2-api.yaml): the caller's ephemeral port is only
  // given where it is the remote side of the socket.
  const callerAsLocal = zipkinEndpoint(record.peerService, { ip: record.client.ip, port: 0 });
  const callerAsRemote = zipkinEndpoint(record.peerService, record.client);
  const calleeEndpoint = zipkinEndpoint(record.service, record.server);
  const timestamp = Math.round(record.startUs);
  const base = {
    traceId: record.traceId,
    id: record.spanId,
    ...(isValidHexId(record.parentSpanId, 16) ? { parentId: record.parentSpanId } : {}),
    name: semantics.name.toLowerCase(),
    timestamp,
    ...(record.endUs !== null ? { duration: Math.max(1, Math.round(record.endUs) - timestamp) } : {}),
    ...annotations(record),
  };
  const tags = zipkinTags(record, options.sqlText ?? 'normalized');

  const spans: ZipkinSpan[] = [];
  if (sides.client) {
    spans.push({
      ...base,
      kind: 'CLIENT',
      localEndpoint: callerAsLocal,
      remoteEndpoint: calleeEndpoint,
      tags: withError(tags, semantics.client),
    });
  }
  if (sides.server) {
    spans.push({
      ...base,
      kind: 'SERVER',
      shared: true,
      localEndpoint: calleeEndpoint,
      remoteEndpoint: callerAsRemote,
      tags: withError(tags, semantics.server),
    });
  }
  return spans;
}

export function toZipkinSpans(records: Iterable<SpanRecord>, options: ZipkinTransformOptions = {}): ZipkinSpan[] {
  const out: ZipkinSpan[] = [];
  for (const record of records) out.push(...exchangeToZipkinSpans(record, options));
  return out;
}

/**
 * Zipkin keeps service names lower-case; the address goes to ipv4 or ipv6 (zone id dropped, IPv4-mapped
 * IPv6 as ipv4, as the model asks); port 0 means none.
 */
export function zipkinEndpoint(serviceName: string, endpoint: Endpoint): ZipkinEndpoint {
  const out: ZipkinEndpoint = { serviceName: serviceName.toLowerCase() };
  const ip = endpoint.ip.replace(/%.*$/, '').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  const family = isIP(ip);
  if (family === 4) out.ipv4 = ip;
  else if (family === 6) out.ipv6 = ip;
  if (endpoint.port > 0) out.port = endpoint.port;
  return out;
}

/** Tags as Zipkin's own instrumentation (Brave) names them, plus wirespan's. Values are strings. */
function zipkinTags(record: SpanRecord, sqlText: SqlText): Record<string, string> {
  const tags: Record<string, string> = {};
  const view = viewExchange(record);
  switch (view.protocol) {
    case 'http':
      tags['http.method'] = view.request.method;
      tags['http.path'] = pathWithoutQuery(view.request.target);
      if (view.request.authority) tags['http.host'] = view.request.authority;
      if (view.response?.status != null) tags['http.status_code'] = String(view.response.status);
      break;
    case 'grpc':
      tags['grpc.path'] = view.request.path;
      if (view.response?.grpcStatus != null) tags['grpc.status_code'] = String(view.response.grpcStatus);
      break;
    case 'mysql': {
      const sql = exportedSql(view.request, sqlText);
      if (sql !== null) tags['sql.query'] = sql;
      tags['mysql.command'] = view.request.command;
      if (view.request.database) tags['db.instance'] = view.request.database;
      if (view.response && !view.response.ok && view.response.errorCode !== null) {
        tags['mysql.error_code'] = String(view.response.errorCode);
      }
      break;
    }
  }
  tags['wirespan.connection_id'] = String(record.connectionId);
  if (record.link) tags['wirespan.link'] = record.link;
  if (record.requestId) tags['wirespan.request_id'] = record.requestId;
  if (record.traceContextSource) tags['wirespan.trace_context_source'] = record.traceContextSource;
  return tags;
}

/** Zipkin marks a failed span with an `error` tag: the message when there is one, else the code. */
function withError(tags: Record<string, string>, outcome: SideOutcome): Record<string, string> {
  if (outcome.errorType === null) return tags;
  return { ...tags, error: outcome.status.message || outcome.errorType };
}

function annotations(record: SpanRecord): { annotations?: { timestamp: number; value: string }[] } {
  if (record.notes.length === 0) return {};
  const timestamp = Math.round(record.endUs ?? record.startUs);
  return { annotations: record.notes.map((value) => ({ timestamp, value })) };
}
