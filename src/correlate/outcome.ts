import type { Exchange, GrpcResponseInfo, Http2ResponseInfo, HttpResponseInfo, MysqlResponseInfo } from '../protocols/types.js';

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

/** A short status text for reports: "200", "grpc 5", "ERR 1062", "no response". */
export function statusText(x: { protocol: string; response: Exchange['response'] }): string {
  const r = x.response;
  if (!r) return 'no response';
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
