import { NO_RESPONSE_COMMANDS, commandName } from '../protocols/mysql/constants.js';
import { H2C_ANSWERED_ON_STREAM_1 } from '../protocols/http2/connection.js';
import type { Exchange, GrpcResponseInfo, Http2ResponseInfo, HttpResponseInfo, MysqlRequestInfo, MysqlResponseInfo } from '../protocols/types.js';

/** The names (MysqlRequestInfo.command) of the MySQL commands the server never answers. */
const UNANSWERED_MYSQL_COMMANDS: ReadonlySet<string> = new Set([...NO_RESPONSE_COMMANDS].map(commandName));

/** Whether the protocol answers this request at all: false for the MySQL commands that get no reply. */
export function expectsResponse(x: { protocol: string; request: Exchange['request'] }): boolean {
  return !(x.protocol === 'mysql' && UNANSWERED_MYSQL_COMMANDS.has((x.request as MysqlRequestInfo).command));
}

/** MySQL commands whose answer is a stream for as long as the client stays: a replica reading the binary log. */
const SUBSCRIPTION_MYSQL_COMMANDS: ReadonlySet<string> = new Set(['BINLOG_DUMP', 'BINLOG_DUMP_GTID']);

/**
 * Whether an exchange is a subscription rather than a request: its duration is how long the client
 * listened, not how long an answer took, so latency figures and the slowest traces leave it out.
 */
export function isSubscription(x: { protocol: string; request: Exchange['request'] }): boolean {
  return x.protocol === 'mysql' && SUBSCRIPTION_MYSQL_COMMANDS.has((x.request as MysqlRequestInfo).command);
}

/**
 * An HTTP/1.1 request that an h2c upgrade made HTTP/2 stream 1: that stream is the call (with its
 * answer); the service map counts it there only.
 */
export function isUpgradedRequest(x: { protocol: string; notes: readonly string[] }): boolean {
  return x.protocol === 'http' && x.notes.includes(H2C_ANSWERED_ON_STREAM_1);
}

/**
 * Whether an exchange failed, as the service map and reports count errors: HTTP 5xx, a gRPC status
 * other than OK, a MySQL error, or a stream reset. A missing response is not an error (the capture
 * may simply have ended); it is visible in `notes` and counted as incomplete.
 */
export function isErrorExchange(x: Exchange): boolean {
  const r = x.response;
  if (!r) return false;
  switch (x.protocol) {
    case 'http':
      return (r as HttpResponseInfo).status >= 500;
    case 'http2': {
      const h2 = r as Http2ResponseInfo;
      return (h2.status ?? 0) >= 500 || Boolean(h2.reset);
    }
    case 'grpc': {
      const g = r as GrpcResponseInfo;
      return (g.grpcStatus !== null && g.grpcStatus !== 0) || Boolean(g.reset);
    }
    case 'mysql':
      return !(r as MysqlResponseInfo).ok;
  }
}

/**
 * An answer was seen but its outcome cannot be told: an HTTP/2 or gRPC status in header fields the
 * capture could not read (HPACK state from before the capture or lost in a gap), and no reset.
 */
export function hasUnknownOutcome(x: { protocol: string; response: Exchange['response'] }): boolean {
  const r = x.response;
  if (!r) return false;
  if (x.protocol === 'grpc') return (r as GrpcResponseInfo).grpcStatus === null && !(r as GrpcResponseInfo).reset;
  if (x.protocol === 'http2') return (r as Http2ResponseInfo).status === null && !(r as Http2ResponseInfo).reset;
  return false;
}

/** A short status text for reports: "200", "grpc 5", "ERR 1062", "no response", "no reply by protocol". */
export function statusText(x: { protocol: string; request: Exchange['request']; response: Exchange['response'] }): string {
  const r = x.response;
  if (!r) return expectsResponse(x) ? 'no response' : 'no reply by protocol';
  switch (x.protocol) {
    case 'http':
      return String((r as HttpResponseInfo).status);
    case 'http2':
      return (r as Http2ResponseInfo).reset ? `reset ${(r as Http2ResponseInfo).reset}` : String((r as Http2ResponseInfo).status);
    case 'grpc': {
      const g = r as GrpcResponseInfo;
      return g.reset ? `reset ${g.reset}` : `grpc ${g.grpcStatus ?? '?'}`;
    }
    default: {
      const m = r as MysqlResponseInfo;
      return m.ok ? 'OK' : `ERR ${m.errorCode ?? '?'}`;
    }
  }
}
