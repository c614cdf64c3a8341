import type { Endpoint } from '../tcp/types.js';
import type { Exchange, ProtocolName, RequestInfo, ResponseInfo, TlsInfo } from '../protocols/types.js';

/** Which rule found a span's parent. */
export type LinkRule = 'traceparent' | 'request-id' | 'timing';

/** Trace context found on one exchange (request side, else echoed on the response). */
export interface TraceContext {
  /** 32 lower-case hex, from traceparent / b3 / uber-trace-id / sw8. */
  traceId: string | null;
  /** The caller's span id carried on the wire (16 hex), if any. */
  parentSpanId: string | null;
  sampled: boolean | null;
  /** Which header gave traceId: "traceparent" | "b3" | "uber-trace-id" | "sw8" | "sql-comment" ... */
  source: string | null;
  tracestate: string | null;
  /** First request id found (configured header names, in order). */
  requestId: string | null;
  /** Header carrying requestId. */
  requestIdSource: string | null;
  /** Headers present but invalid (ignored, counted): header names. */
  invalid: string[];
  /**
   * Values of request header fields whose name the capture could not read (an HTTP/2 name from an
   * HPACK entry inserted before the capture or lost in a gap), and of SQL comment keys that are no
   * request id name configured (a comment `rid=4bf9...`): possible request ids, believed only when
   * one equals the request id of an exchange that could be this one's parent (ParentLinker).
   */
  unnamedValues: string[];
  /** Where each of unnamedValues was found: `sql-comment:<key>`, or null for a header name unknown. */
  unnamedFrom: (string | null)[];
}

export type ServiceKind = 'service' | 'database' | 'client' | 'external';

/**
 * One exchange after correlation: the record written to --exchanges (NDJSON), one per line.
 * Field names are stable and documented in docs/exchange-record.md.
 */
export interface SpanRecord {
  protocol: ProtocolName;
  client: Endpoint;
  server: Endpoint;
  /** The client a load balancer's PROXY protocol header named (`client` is the balancer); else null. */
  originalClient: Endpoint | null;
  /** The address the client dialed, when the capture saw the connection before and after destination NAT; else null. */
  dialedServer: Endpoint | null;
  /** The TLS session the exchange was decrypted from (`--tls-keylog`), else null. */
  tls: TlsInfo | null;
  connectionId: number;
  index: number;
  streamId: number | null;
  requestSeq: number | null;
  startUs: number;
  endUs: number | null;
  durationUs: number | null;
  request: RequestInfo;
  response: ResponseInfo | null;
  requestId: string | null;
  traceId: string;
  /** The SERVER span of this exchange (16 hex), deterministic from the wire. */
  spanId: string;
  /** The CLIENT span of this exchange (16 hex), as the caller's instrumentation would have made it. */
  clientSpanId: string;
  /** spanId of the exchange this one was made while serving, or the wire's parent span id, else null. */
  parentSpanId: string | null;
  /** Name of the service that served the request (server side). */
  service: string;
  /** Name of the caller (client side). */
  peerService: string;
  serviceKind: ServiceKind;
  /** Kind of the caller: 'service' when it also serves requests, else 'client'. */
  peerServiceKind?: ServiceKind;
  link: LinkRule | null;
  traceContextSource: string | null;
  /** The sampling decision the wire carried (traceparent flags, B3, uber-trace-id flags, sw8), else null. */
  sampled: boolean | null;
  /** The W3C `tracestate` that came with a valid `traceparent`, else null. */
  tracestate: string | null;
  error: boolean;
  bytes: { request: number; response: number };
  notes: string[];
}

export interface TraceTree {
  traceId: string;
  startUs: number;
  endUs: number | null;
  spans: number;
  root: SpanNode;
}
export interface SpanNode {
  span: SpanRecord;
  children: SpanNode[];
}

export type { Exchange };
