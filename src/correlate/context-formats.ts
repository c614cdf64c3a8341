/**
 * What every trace-context format parser returns: the caller's position in a trace, normalised to W3C
 * shapes (32-hex trace id, 16-hex span id). Format parsers live in traceparent.ts, b3.ts, jaeger.ts
 * and sw8.ts; each returns its own subtype of this or null, never a half-filled result.
 */
export interface ParsedTraceContext {
  /** 32 lower-case hex, never all zero. */
  traceId: string;
  /** The caller's span id (16 lower-case hex, never all zero), null when the format carried none. */
  parentSpanId: string | null;
  sampled: boolean | null;
  /** The trace id as the wire carried it, when that differs from traceId (64-bit ids, sw8 strings). */
  rawTraceId: string | null;
  /** The caller's span as the wire carried it, when it is not a 16-hex id (sw8 `segment-span`). */
  rawParentSpanId: string | null;
}

/** Multi-header B3 names (lower case). */
export const B3_MULTI_HEADERS = [
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
] as const;

/** Every header (or SQL comment key, normalised) that can carry trace context. */
export const TRACE_CONTEXT_NAMES: readonly string[] = [
  'traceparent',
  'tracestate',
  'b3',
  ...B3_MULTI_HEADERS,
  'uber-trace-id',
  'sw8',
  'x-amzn-trace-id',
];

/** True for HTTP optional whitespace (space, horizontal tab). */
export function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Removes leading and trailing spaces and tabs only (HTTP OWS), unlike String.trim. */
export function trimOws(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isOws(s.charCodeAt(start))) start++;
  while (end > start && isOws(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}
