import { isAllZeroHex, isHex, padHex } from './ids.js';
import { trimOws, type ParsedTraceContext } from './context-formats.js';

/**
 * Jaeger's native propagation: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}`.
 * Ids are hex that clients write without leading zeros (`1f:2a:0:1`), so they are left-padded to 32 /
 * 16 hex. Some HTTP stacks URL-encode the value; `%3A` separators are decoded as Jaeger clients do.
 * Flags are one byte in hex: bit 0 sampled, bit 1 debug. parent-span-id is deprecated and usually `0`.
 */
export interface UberTraceId extends ParsedTraceContext {
  parentSpanId: string;
  sampled: boolean;
  /** The deprecated parent-span-id field, null when `0`. */
  callerParentSpanId: string | null;
  flags: number;
  debug: boolean;
}

const ENCODED_COLON = /%3a/gi;

export function parseUberTraceId(headerValue: string): UberTraceId | null {
  let value = trimOws(headerValue);
  if (value.includes('%')) value = value.replace(ENCODED_COLON, ':');
  const fields = value.split(':');
  if (fields.length !== 4) return null;
  const [traceField, spanField, parentField, flagsField] = fields as [string, string, string, string];

  if (traceField.length > 32 || !isHex(traceField) || isAllZeroHex(traceField)) return null;
  if (spanField.length > 16 || !isHex(spanField) || isAllZeroHex(spanField)) return null;
  if (parentField.length > 16 || !isHex(parentField)) return null;
  if (flagsField.length > 2 || !isHex(flagsField)) return null;

  const flags = Number.parseInt(flagsField, 16);
  const traceId = padHex(traceField, 32);
  return {
    traceId,
    parentSpanId: padHex(spanField, 16),
    callerParentSpanId: isAllZeroHex(parentField) ? null : padHex(parentField, 16),
    sampled: (flags & 1) === 1,
    debug: (flags & 2) === 2,
    flags,
    rawTraceId: traceId === traceField ? null : traceField,
    rawParentSpanId: null,
  };
}
