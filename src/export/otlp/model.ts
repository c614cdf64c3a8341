/**
 * The OTLP trace data model as the transform produces it, independent of the encoding.
 *
 * Shapes and names follow opentelemetry-proto (camelCase, as protobufjs and OTLP/JSON spell them),
 * with two deliberate differences that the serializers resolve: ids are lower-case hex strings and
 * times are `bigint` nanoseconds, so nothing is lost before the encoding is chosen.
 */

/** `opentelemetry.proto.trace.v1.Span.SpanKind` */
export const SpanKind = { UNSPECIFIED: 0, INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;
export type SpanKindValue = (typeof SpanKind)[keyof typeof SpanKind];

/** `opentelemetry.proto.trace.v1.Status.StatusCode` */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;
export type StatusCodeValue = (typeof StatusCode)[keyof typeof StatusCode];

/** `AnyValue` restricted to what wirespan emits. `intValue` is a safe integer. */
export type OtlpAnyValue =
  | { stringValue: string }
  | { intValue: number }
  | { doubleValue: number }
  | { boolValue: boolean };

export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}

export interface OtlpEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: OtlpKeyValue[];
}

export interface OtlpStatus {
  code: StatusCodeValue;
  /** Empty when there is nothing to say (omitted on the wire). */
  message: string;
}

export interface OtlpSpan {
  /** 32 lower-case hex */
  traceId: string;
  /** 16 lower-case hex */
  spanId: string;
  /** 16 lower-case hex, null for a root span */
  parentSpanId: string | null;
  /** W3C tracestate; empty when none. */
  traceState: string;
  /** `Span.flags`: the W3C trace flags in bits 0-7, whether the parent is remote in bits 8-9 (SpanFlags). */
  flags: number;
  name: string;
  kind: SpanKindValue;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: OtlpKeyValue[];
  events: OtlpEvent[];
  status: OtlpStatus;
}

export interface OtlpScopeSpans {
  scope: { name: string; version: string };
  spans: OtlpSpan[];
}

export interface OtlpResourceSpans {
  resource: { attributes: OtlpKeyValue[] };
  scopeSpans: OtlpScopeSpans[];
}

/** `opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest` */
export interface OtlpTraceRequest {
  resourceSpans: OtlpResourceSpans[];
}

export function stringAttr(key: string, value: string): OtlpKeyValue {
  return { key, value: { stringValue: value } };
}
export function intAttr(key: string, value: number): OtlpKeyValue {
  return { key, value: { intValue: value } };
}
export function boolAttr(key: string, value: boolean): OtlpKeyValue {
  return { key, value: { boolValue: value } };
}

const NANOS_PER_MICRO = 1000n;

/**
 * µs since the epoch (possibly fractional) → ns, exactly. `us * 1000` in floating point loses the
 * last digits (today's times in ns exceed 2^53), so the integer and fractional parts are scaled apart.
 */
export function microsToNanos(us: number): bigint {
  const whole = Math.floor(us);
  const fractionNs = Math.round((us - whole) * 1000);
  return BigInt(whole) * NANOS_PER_MICRO + BigInt(fractionNs);
}

const HEX_ID = /^[0-9a-f]+$/;

/** A valid OTLP id: `length` lower-case hex digits, not all zero. */
export function isValidHexId(id: string | null | undefined, length: number): id is string {
  return typeof id === 'string' && id.length === length && HEX_ID.test(id) && !/^0+$/.test(id);
}
