import type { SpanRecord } from '../../correlate/types.js';
import {
  GRPC_SERVER_ERROR_CODES,
  exportedSql,
  pathWithoutQuery,
  routeTemplate,
  splitHostPort,
  sqlSummary,
  viewExchange,
  type ExchangeView,
  type HttpLikeRequest,
  type SqlText,
} from './exchange.js';
import { StatusCode, intAttr, stringAttr, type OtlpKeyValue, type OtlpStatus } from './model.js';

/** How HTTP spans are named: `{method}` (semconv without a route) or `{method} {route guess}`. */
export type HttpSpanName = 'method' | 'method-path';

export interface SemconvOptions {
  sqlText: SqlText;
  httpSpanName: HttpSpanName;
}

/** The judgement of one side of an exchange: OTel asks CLIENT and SERVER spans to judge differently. */
export interface SideOutcome {
  status: OtlpStatus;
  /** `error.type` when in error, else null. */
  errorType: string | null;
}

export interface ExchangeSemantics {
  name: string;
  /** Attributes shared by the CLIENT and the SERVER span. */
  attributes: OtlpKeyValue[];
  client: SideOutcome;
  server: SideOutcome;
}

const OK_OUTCOME: SideOutcome = { status: { code: StatusCode.UNSET, message: '' }, errorType: null };

function failed(errorType: string, message = ''): SideOutcome {
  return { status: { code: StatusCode.ERROR, message }, errorType };
}

/** OpenTelemetry semantic conventions (HTTP, RPC/gRPC, database) for one exchange. */
export function describeExchange(record: SpanRecord, options: SemconvOptions): ExchangeSemantics {
  const view = viewExchange(record);
  const attributes: OtlpKeyValue[] = [];
  let described: Omit<ExchangeSemantics, 'attributes'>;
  switch (view.protocol) {
    case 'http':
      described = describeHttp(view, record, attributes, options.httpSpanName);
      break;
    case 'grpc':
      described = describeGrpc(view, record, attributes);
      break;
    case 'mysql':
      described = describeMysql(view, record, attributes, options.sqlText);
      break;
  }
  addNetworkAttributes(record, attributes);
  return { ...described, attributes };
}

const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY']);

function describeHttp(
  view: Extract<ExchangeView, { protocol: 'http' }>,
  record: SpanRecord,
  out: OtlpKeyValue[],
  spanName: HttpSpanName,
): Omit<ExchangeSemantics, 'attributes'> {
  const { request, response } = view;
  const known = KNOWN_METHODS.has(request.method);
  out.push(stringAttr('http.request.method', known ? request.method : '_OTHER'));
  if (!known) out.push(stringAttr('http.request.method_original', request.method));
  out.push(stringAttr('url.path', pathWithoutQuery(request.target)));
  addServerAddress(request.authority, record, out);
  out.push(stringAttr('network.protocol.name', 'http'));
  out.push(stringAttr('network.protocol.version', request.version));
  if (request.userAgent) out.push(stringAttr('user_agent.original', request.userAgent));
  out.push(intAttr('http.request.body.size', request.bodyBytes));
  if (response?.status != null) out.push(intAttr('http.response.status_code', response.status));
  if (response) out.push(intAttr('http.response.body.size', response.bodyBytes));

  const base = known ? request.method : 'HTTP';
  const name = spanName === 'method-path' && known ? `${base} ${routeTemplate(request.target)}` : base;
  return { name, ...httpOutcomes(view.response) };
}

function httpOutcomes(response: Extract<ExchangeView, { protocol: 'http' }>['response']): {
  client: SideOutcome;
  server: SideOutcome;
} {
  if (response?.reset) {
    const outcome = failed(response.reset, `stream reset: ${response.reset}`);
    return { client: outcome, server: outcome };
  }
  const status = response?.status;
  if (status == null) return { client: OK_OUTCOME, server: OK_OUTCOME };
  return {
    client: status >= 400 ? failed(String(status)) : OK_OUTCOME,
    server: status >= 500 ? failed(String(status)) : OK_OUTCOME,
  };
}

function describeGrpc(
  view: Extract<ExchangeView, { protocol: 'grpc' }>,
  record: SpanRecord,
  out: OtlpKeyValue[],
): Omit<ExchangeSemantics, 'attributes'> {
  const { request, response } = view;
  out.push(stringAttr('rpc.system', 'grpc'));
  out.push(stringAttr('rpc.service', request.service));
  out.push(stringAttr('rpc.method', request.method));
  addServerAddress(request.authority, record, out);
  out.push(stringAttr('network.protocol.name', 'http'));
  out.push(stringAttr('network.protocol.version', '2'));
  const code = response?.grpcStatus ?? null;
  if (code !== null) out.push(intAttr('rpc.grpc.status_code', code));

  let client = OK_OUTCOME;
  let server = OK_OUTCOME;
  if (code !== null && code !== 0) {
    const message = response?.grpcMessage ?? '';
    client = failed(String(code), message);
    if (GRPC_SERVER_ERROR_CODES.has(code)) server = client;
  } else if (code === null && response?.reset) {
    client = server = failed(response.reset, `stream reset: ${response.reset}`);
  }
  return { name: `${request.service}/${request.method}`, client, server };
}

function describeMysql(
  view: Extract<ExchangeView, { protocol: 'mysql' }>,
  record: SpanRecord,
  out: OtlpKeyValue[],
  sqlText: SqlText,
): Omit<ExchangeSemantics, 'attributes'> {
  const { request, response } = view;
  out.push(stringAttr('db.system', 'mysql'));
  if (request.database) out.push(stringAttr('db.namespace', request.database));
  const sql = exportedSql(request, sqlText);
  if (sql !== null) out.push(stringAttr('db.query.text', sql));
  // The keyword of the SQL when there is one (what database instrumentation reports), else the command.
  const summary = sqlSummary(request.normalizedSql ?? request.sql ?? '');
  const operation = summary.operation ?? request.command;
  out.push(stringAttr('db.operation.name', operation));
  if (summary.table) out.push(stringAttr('db.collection.name', summary.table));
  out.push(stringAttr('wirespan.mysql.command', request.command));
  addServerAddress(null, record, out);
  if (response && !response.ok && response.errorCode !== null) {
    out.push(stringAttr('db.response.status_code', String(response.errorCode)));
  }

  const name = summary.operation
    ? summary.table
      ? `${summary.operation} ${summary.table}`
      : summary.operation
    : `mysql ${request.command}`;
  let outcome = OK_OUTCOME;
  if (response && !response.ok) {
    outcome = failed(response.errorCode !== null ? String(response.errorCode) : '_OTHER', response.errorMessage ?? '');
  }
  return { name, client: outcome, server: outcome };
}

/**
 * `server.address`/`server.port`: the name the caller used when the wire shows it, else the address it
 * dialed (before destination NAT, when the capture saw both), else the socket.
 */
function addServerAddress(authority: string | null, record: SpanRecord, out: OtlpKeyValue[]): void {
  const fromAuthority = authority ? splitHostPort(authority) : null;
  const dialed = record.dialedServer ?? record.server;
  if (fromAuthority && fromAuthority.host) {
    out.push(stringAttr('server.address', fromAuthority.host));
    out.push(intAttr('server.port', fromAuthority.port ?? dialed.port));
  } else {
    out.push(stringAttr('server.address', dialed.ip));
    out.push(intAttr('server.port', dialed.port));
  }
}

function addNetworkAttributes(record: SpanRecord, out: OtlpKeyValue[]): void {
  // Behind a load balancer that sent a PROXY header, the client is the one it named; else, behind a
  // proxy, the one its Forwarded / X-Forwarded-For names (as the HTTP conventions say). The socket's
  // other side is the network peer (set per span side).
  const forwarded = record.originalClient === null ? forwardedFor(record) : null;
  const client = record.originalClient ?? record.client;
  out.push(stringAttr('client.address', forwarded ?? client.ip));
  if (forwarded === null) out.push(intAttr('client.port', client.port));
  out.push(stringAttr('network.transport', 'tcp'));
  // OpenTelemetry's TLS attributes, for exchanges read from a decrypted session.
  if (record.tls) {
    out.push(stringAttr('tls.protocol.name', 'tls'));
    out.push(stringAttr('tls.protocol.version', record.tls.version.slice('TLS '.length)));
    out.push(stringAttr('tls.cipher', record.tls.cipherSuite));
    if (record.tls.serverName !== null) out.push(stringAttr('tls.client.server_name', record.tls.serverName));
  }
}

function forwardedFor(record: SpanRecord): string | null {
  const request = record.request as { forwardedFor?: string | null };
  return request.forwardedFor ?? null;
}

export type { HttpLikeRequest, SqlText };
