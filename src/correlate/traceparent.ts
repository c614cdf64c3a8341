import { isAllZeroHex, isLowerHex } from './ids.js';
import { trimOws, type ParsedTraceContext } from './context-formats.js';

/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/), `traceparent` and `tracestate`, validated
 * as the spec's own test suite (w3c/trace-context test/test.py) expects a receiver to:
 *   version-traceid-parentid-flags, lower-case hex only, `ff` is not a version, all-zero ids are
 *   invalid, version 00 is exactly 55 characters, a higher version may be longer only when the 56th
 *   character is `-` (its first four fields are read), leading/trailing spaces and tabs are allowed.
 */
export interface Traceparent extends ParsedTraceContext {
  /** Two lower-case hex digits, never `ff`. */
  version: string;
  /** The 8 flag bits; bit 0 is `sampled`. */
  flags: number;
  sampled: boolean;
  parentSpanId: string;
}

const TRACEPARENT_V00_LENGTH = 55;
const MAX_TRACESTATE_MEMBERS = 32;

export function parseTraceparent(headerValue: string): Traceparent | null {
  const value = trimOws(headerValue);
  if (value.length < TRACEPARENT_V00_LENGTH) return null;
  const version = value.slice(0, 2);
  if (!isLowerHex(version, 2) || version === 'ff') return null;
  if (value[2] !== '-' || value[35] !== '-' || value[52] !== '-') return null;
  if (value.length > TRACEPARENT_V00_LENGTH && (version === '00' || value[55] !== '-')) return null;

  const traceId = value.slice(3, 35);
  const parentSpanId = value.slice(36, 52);
  const flagsHex = value.slice(53, 55);
  if (!isLowerHex(traceId, 32) || isAllZeroHex(traceId)) return null;
  if (!isLowerHex(parentSpanId, 16) || isAllZeroHex(parentSpanId)) return null;
  if (!isLowerHex(flagsHex, 2)) return null;

  const flags = Number.parseInt(flagsHex, 16);
  return { version, traceId, parentSpanId, flags, sampled: (flags & 1) === 1, rawTraceId: null, rawParentSpanId: null };
}

/**
 * Joins several `tracestate` header values into one list as the spec says a receiver must (in order,
 * comma separated), leaving out empty ones. Returns '' when nothing but whitespace was sent.
 */
export function combineTracestate(values: readonly string[]): string {
  const parts: string[] = [];
  for (const v of values) {
    const trimmed = trimOws(v);
    if (trimmed !== '') parts.push(trimmed);
  }
  return parts.join(',');
}

/**
 * True when `value` is a syntactically valid tracestate list: at most 32 non-empty `key=value`
 * members (empty and whitespace-only members are allowed), keys per the spec's simple-key /
 * tenant@system grammar, values 1–256 printable characters without `,` `=` and not ending in a
 * space, no key twice.
 */
export function isValidTracestate(value: string): boolean {
  const seen = new Set<string>();
  for (const rawMember of value.split(',')) {
    const member = trimOws(rawMember);
    if (member === '') continue;
    const eq = member.indexOf('=');
    if (eq <= 0) return false;
    const key = member.slice(0, eq);
    if (!isTracestateKey(key) || !isTracestateValue(member, eq + 1)) return false;
    if (seen.has(key)) return false;
    seen.add(key);
    if (seen.size > MAX_TRACESTATE_MEMBERS) return false;
  }
  return true;
}

function isLcAlpha(c: number): boolean {
  return c >= 0x61 && c <= 0x7a;
}
function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
function isKeyChar(c: number): boolean {
  return isLcAlpha(c) || isDigit(c) || c === 0x5f /* _ */ || c === 0x2d /* - */ || c === 0x2a /* * */ || c === 0x2f /* / */;
}

function isTracestateKey(key: string): boolean {
  const at = key.indexOf('@');
  if (at < 0) return isKeyPart(key, 0, key.length, false, 256);
  return isKeyPart(key, 0, at, true, 241) && isKeyPart(key, at + 1, key.length, false, 14);
}

/** A key part: first char lcalpha (or digit when `digitFirst`), then key chars, at most `max` chars. */
function isKeyPart(key: string, start: number, end: number, digitFirst: boolean, max: number): boolean {
  const length = end - start;
  if (length < 1 || length > max) return false;
  const first = key.charCodeAt(start);
  if (!(isLcAlpha(first) || (digitFirst && isDigit(first)))) return false;
  for (let i = start + 1; i < end; i++) if (!isKeyChar(key.charCodeAt(i))) return false;
  return true;
}

function isTracestateValue(member: string, start: number): boolean {
  const length = member.length - start;
  if (length < 1 || length > 256) return false;
  for (let i = start; i < member.length; i++) {
    const c = member.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x2c /* , */ || c === 0x3d /* = */) return false;
  }
  return member.charCodeAt(member.length - 1) !== 0x20;
}
