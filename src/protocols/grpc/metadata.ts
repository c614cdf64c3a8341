/** gRPC over HTTP/2 header conventions (grpc/doc/PROTOCOL-HTTP2.md). */

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/** `grpc-timeout` ("1*8DIGIT unit", units H M S m u n) in milliseconds; null when malformed. */
export function parseGrpcTimeout(value: string): number | null {
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!match) return null;
  return Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
}

/** `grpc-message` is percent-encoded UTF-8; invalid escapes are kept as they are. */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length && /^[0-9a-fA-F]{2}$/.test(value.slice(i + 1, i + 3))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(c & 0xff);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** True for `application/grpc`, `application/grpc+proto`, `application/grpc;...`. */
export function isGrpcContentType(value: string | null | undefined): boolean {
  if (!value) return false;
  const v = value.toLowerCase();
  return v === 'application/grpc' || v.startsWith('application/grpc+') || v.startsWith('application/grpc;');
}

/** `/pkg.Service/Method` → ['pkg.Service', 'Method'], null when not of that shape. */
export function splitGrpcPath(path: string): [service: string, method: string] | null {
  const match = /^\/([^/]+)\/([^/]+)$/.exec(path);
  return match ? [match[1]!, match[2]!] : null;
}

export type GrpcCallKind = 'unary' | 'client-streaming' | 'server-streaming' | 'bidi-streaming';

/**
 * The wire cannot tell a unary call from a streaming call that sent one message, so the kind follows
 * the message counts seen: more than one request message → client streaming, more than one response
 * message → server streaming, both → bidi, otherwise unary (also 0/0, 1/0 and 0/1).
 */
export function callKindFromCounts(requestMessages: number, responseMessages: number): GrpcCallKind {
  if (requestMessages > 1) return responseMessages > 1 ? 'bidi-streaming' : 'client-streaming';
  return responseMessages > 1 ? 'server-streaming' : 'unary';
}
