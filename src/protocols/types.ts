import type { Counters } from '../util/counters.js';
import type { Direction, Endpoint, Flow, StreamHandler } from '../tcp/types.js';

export type ProtocolName = 'http' | 'http2' | 'grpc' | 'mysql';

/** A header or metadata field; names are lower-case. Sensitive fields are never kept. */
export type HeaderField = [name: string, value: string];

export interface HttpRequestInfo {
  method: string;
  path: string;
  host: string | null;
  version: string; // "1.0" | "1.1"
  bodyBytes: number;
  userAgent?: string | null;
  /** The client a proxy claims it forwarded for (`Forwarded` for=, else `X-Forwarded-For`), protocols/forwarded.ts. */
  forwardedFor?: string | null;
}
export interface HttpResponseInfo {
  status: number;
  reason: string;
  version: string;
  bodyBytes: number;
  /** 1xx interim statuses seen before the final one. */
  interim?: number[];
}

export interface Http2RequestInfo {
  method: string;
  path: string;
  authority: string | null;
  scheme: string | null;
  streamId: number;
  bodyBytes: number;
  /** As HttpRequestInfo's. */
  forwardedFor?: string | null;
}
export interface Http2ResponseInfo {
  status: number | null;
  bodyBytes: number;
  /** RST_STREAM error code name or GOAWAY, when the stream did not end normally. */
  reset?: string | null;
}

export interface GrpcRequestInfo {
  /** `pkg.Service` */
  service: string;
  /** RPC method name */
  method: string;
  /** `/pkg.Service/Method` */
  path: string;
  authority: string | null;
  streamId: number;
  messages: number;
  messageBytes: number;
  compressedMessages: number;
  /** grpc-timeout converted to milliseconds, null when absent */
  timeoutMs: number | null;
  /** As HttpRequestInfo's. */
  forwardedFor?: string | null;
  callKind: 'unary' | 'client-streaming' | 'server-streaming' | 'bidi-streaming';
  /** First message decoded with --proto (size-capped), when configured. */
  message?: unknown;
}
export interface GrpcResponseInfo {
  httpStatus: number | null;
  grpcStatus: number | null;
  grpcMessage: string | null;
  messages: number;
  messageBytes: number;
  compressedMessages: number;
  trailersOnly: boolean;
  reset?: string | null;
  message?: unknown;
}

export interface MysqlRequestInfo {
  /** Upper-case command name without COM_ prefix: QUERY, STMT_EXECUTE, ... or UNKNOWN_0x.. */
  command: string;
  sql: string | null;
  /** SQL with literals replaced by `?`, for grouping */
  normalizedSql: string | null;
  statementId: number | null;
  database: string | null;
  /** The argument of commands that carry no SQL (Zeek's `arg`): user, schema, table, option. */
  argument?: string | null;
}
export interface MysqlResponseInfo {
  ok: boolean;
  errorCode: number | null;
  sqlState: string | null;
  errorMessage: string | null;
  rows: number | null;
  columns: number | null;
  affectedRows: number | null;
  lastInsertId: number | null;
  warnings: number | null;
}

export type RequestInfo = HttpRequestInfo | Http2RequestInfo | GrpcRequestInfo | MysqlRequestInfo;
export type ResponseInfo = HttpResponseInfo | Http2ResponseInfo | GrpcResponseInfo | MysqlResponseInfo;

/** The TLS session an exchange was decrypted from. */
export interface TlsInfo {
  version: 'TLS 1.2' | 'TLS 1.3';
  /** IANA name of the cipher suite. */
  cipherSuite: string;
  /** The host name the client asked for (SNI), null when it did not say. */
  serverName: string | null;
}

/**
 * One request/response exchange as seen on the wire, before correlation.
 * Times are µs since the Unix epoch (packet time).
 */
export interface Exchange {
  protocol: ProtocolName;
  /** Connection number (Flow.id) and its endpoints. */
  connectionId: number;
  client: Endpoint;
  server: Endpoint;
  /**
   * The client named by a PROXY protocol header that a load balancer put before the connection's
   * first byte (`client` is then the balancer). Absent or null without one.
   */
  originalClient?: Endpoint | null;
  /** The server address the client dialed before destination NAT (Flow.dialedServer). Absent or null without. */
  dialedServer?: Endpoint | null;
  /** The TLS session the exchange was decrypted from (`--tls-keylog`); absent or null in the clear. */
  tls?: TlsInfo | null;
  /** Position of the request on its connection, from 0 (HTTP/2: order of stream opening). */
  index: number;
  /** Absolute TCP sequence number of the first request byte, null if unknown (after a gap). */
  requestSeq: number | null;
  /** HTTP/2 stream id, else null. */
  streamId: number | null;
  /** First request byte. */
  startUs: number;
  /** Last request byte. */
  requestEndUs: number;
  /** First response byte, null when no response was seen. */
  responseStartUs: number | null;
  /** Last response byte, null when no response was seen. */
  endUs: number | null;
  request: RequestInfo;
  response: ResponseInfo | null;
  /** Request headers/metadata that may carry trace context (lower-case names, sensitive removed). */
  requestHeaders: HeaderField[];
  /** Response headers/trailers (gateways echo request ids). */
  responseHeaders: HeaderField[];
  /** Free text that may carry trace context (SQL text with comments), else null. */
  contextText: string | null;
  /** Bytes on the wire per direction attributable to this exchange (headers + body). */
  bytes: { request: number; response: number };
  /** Things the parser could not know or had to skip: "no response seen", "gap in response body", ... */
  notes: string[];
  /**
   * Values the request carries beyond its target and SQL text (a prepared statement's parameters, the
   * scalars of a gRPC request message), for the correlator to match a call with the request it was
   * made for (correlate/linking-values.ts). Never written out: they may be personal data.
   */
  linkValues?: readonly string[];
  /** An HTTP/1 request body's first bytes, read for linkValues only when the correlator asks. Never written out. */
  requestBodyHead?: RequestBodyHead;
}

/** The first bytes of a request body (up to 512, copied) and its content type. */
export interface RequestBodyHead {
  bytes: Uint8Array;
  contentType: string | null;
}

/** Content detection verdict on the first bytes of one direction. */
export type Detection = 'yes' | 'no' | 'more';

export interface AnalyzerContext {
  flow: Flow;
  emit(exchange: Exchange): void;
  counters: Counters;
  /**
   * Hand the rest of the connection to another analyzer (HTTP/1.1 `Upgrade: h2c` → http2).
   * Returns the new handler, already opened on the same flow, or null if no such analyzer.
   * The caller forwards the remaining bytes and events to it. `upgrade`, when given, describes what
   * the switch carries over (for http2: the `H2cUpgradeRequest` that becomes stream 1); it is handed
   * to the next analyzer's `openUpgraded`.
   */
  switchProtocol(name: ProtocolName, upgrade?: unknown): ProtocolHandler | null;
  /**
   * The connection turns to TLS from here (MySQL's SSL request): returns the handler to feed the raw
   * bytes that follow, whose decrypted application data comes back through `plaintext`; null when no
   * TLS secrets are known (the rest stays unread, and the connection is reported as TLS not analysed).
   */
  startTls?(plaintext: ProtocolHandler): ProtocolHandler | null;
  /**
   * The rest of the connection carries another conversation (an HTTP CONNECT tunnel): returns a
   * handler that recognises its protocol as for a new connection, TLS included.
   */
  openTunnel?(): ProtocolHandler;
}

/** A connection's handler as an analyzer opens it: the TCP events in, and what it is still reading. */
export interface ProtocolHandler extends StreamHandler {
  /**
   * Start (packet time, µs) of the oldest exchange this connection has begun and not emitted yet:
   * its first request byte was read. Null when nothing is in flight. The correlator decides a call
   * early once nothing that started before it can still be reported (docs/design.md).
   */
  oldestInFlightUs(): number | null;
}

/** One protocol: content detection and a per-connection handler. Stateless; options via its constructor. */
export interface ProtocolAnalyzer {
  readonly name: ProtocolName;
  /** Ports where this protocol is the usual server (a hint only; detection decides). */
  readonly defaultPorts: readonly number[];
  /**
   * Look at the first bytes seen in direction `dir` (as the assembler currently labels it).
   * 'yes' also when the bytes prove the roles are reversed; then `reversed` tells it.
   */
  detect(first: Uint8Array, dir: Direction): Detection;
  /** True when `detect` said 'yes' for bytes that only a server would send in `dir` = client→server. */
  reversed?(first: Uint8Array, dir: Direction): boolean;
  open(ctx: AnalyzerContext): ProtocolHandler;
  /**
   * Like `open`, for a connection switched to this protocol by another analyzer that passed an
   * `upgrade` payload to `switchProtocol` (its shape is agreed between the two analyzers).
   */
  openUpgraded?(ctx: AnalyzerContext, upgrade: unknown): ProtocolHandler;
}
