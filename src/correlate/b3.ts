import { isAllZeroHex, isHex, padHex } from './ids.js';
import { trimOws, type ParsedTraceContext } from './context-formats.js';

/**
 * Zipkin B3 propagation (github.com/openzipkin/b3-propagation), the single `b3` header and the
 * `X-B3-*` headers. The spec says lower-hex; upper-case hex is accepted and lower-cased (as
 * opentelemetry-js' B3 propagator does) because an observer gains nothing by refusing it.
 * 64-bit (16-hex) trace ids are left-padded with zeros to 128 bits, as Zipkin itself does when it
 * mixes them with 128-bit ids.
 */
export interface B3Context extends ParsedTraceContext {
  kind: 'context';
  /** B3's SpanId: the caller's span, which the server may share or make a child of. */
  parentSpanId: string;
  /** B3's own ParentSpanId: the parent of the caller's span, null when absent. */
  callerParentSpanId: string | null;
  /** `d` / `X-B3-Flags: 1`: debug, which implies sampled. */
  debug: boolean;
}

/** Only a sampling decision and no ids (`b3: 0`, or X-B3-Sampled without X-B3-TraceId). */
export interface B3SamplingOnly {
  kind: 'sampling';
  sampled: boolean;
  debug: boolean;
}

export type B3Result = B3Context | B3SamplingOnly;

interface Sampling {
  sampled: boolean | null;
  debug: boolean;
}

/** `b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`, or `b3: {SamplingState}`. */
export function parseB3Single(headerValue: string): B3Result | null {
  const value = trimOws(headerValue);
  const fields = value.split('-');
  if (fields.length === 1) {
    const sampling = parseSamplingState(value);
    if (sampling === null) return null;
    return { kind: 'sampling', sampled: sampling.sampled, debug: sampling.debug };
  }
  if (fields.length > 4) return null;
  const [traceField, spanField, samplingField, parentField] = fields as [string, string, string?, string?];
  const sampling: Sampling | null =
    samplingField === undefined ? { sampled: null, debug: false } : parseSamplingState(samplingField);
  if (sampling === null) return null;
  return b3Context(traceField, spanField, parentField ?? null, sampling);
}

/** The X-B3-* headers, each given as its first value (undefined when absent). */
export interface B3MultiHeaders {
  traceId?: string | undefined;
  spanId?: string | undefined;
  parentSpanId?: string | undefined;
  sampled?: string | undefined;
  flags?: string | undefined;
}

export function parseB3Multi(headers: B3MultiHeaders): B3Result | null {
  const debug = headers.flags !== undefined && trimOws(headers.flags) === '1';
  if (headers.flags !== undefined && !debug && trimOws(headers.flags) !== '0') return null;
  let sampled: boolean | null = debug ? true : null;
  if (headers.sampled !== undefined) {
    // Older tracers sent true/false; the spec asks receivers to accept both spellings.
    const text = trimOws(headers.sampled).toLowerCase();
    if (text === '1' || text === 'true') sampled = true;
    else if (text === '0' || text === 'false') sampled = debug ? true : false;
    else return null;
  }
  if (headers.traceId === undefined) {
    if (headers.spanId !== undefined || headers.parentSpanId !== undefined || sampled === null) return null;
    return { kind: 'sampling', sampled, debug };
  }
  if (headers.spanId === undefined) return null;
  return b3Context(
    trimOws(headers.traceId),
    trimOws(headers.spanId),
    headers.parentSpanId === undefined ? null : trimOws(headers.parentSpanId),
    { sampled, debug },
  );
}

function b3Context(traceField: string, spanField: string, parentField: string | null, sampling: Sampling): B3Context | null {
  if ((traceField.length !== 16 && traceField.length !== 32) || !isHex(traceField) || isAllZeroHex(traceField)) return null;
  if (!isSpanId(spanField)) return null;
  if (parentField !== null && !isSpanId(parentField)) return null;
  return {
    kind: 'context',
    traceId: padHex(traceField, 32),
    parentSpanId: spanField.toLowerCase(),
    callerParentSpanId: parentField === null ? null : parentField.toLowerCase(),
    sampled: sampling.sampled,
    debug: sampling.debug,
    rawTraceId: traceField.length === 16 ? traceField : null,
    rawParentSpanId: null,
  };
}

function isSpanId(s: string): boolean {
  return s.length === 16 && isHex(s) && !isAllZeroHex(s);
}

function parseSamplingState(s: string): { sampled: boolean; debug: boolean } | null {
  if (s === '1') return { sampled: true, debug: false };
  if (s === '0') return { sampled: false, debug: false };
  if (s === 'd') return { sampled: true, debug: true };
  return null;
}
