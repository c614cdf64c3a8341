import { HTTPParser } from 'http-parser-js';

/**
 * Sniffing of HTTP/1.x start lines on raw bytes: used by content detection and by resynchronisation
 * (finding the next message start after a gap, a parse error or a capture that began mid-connection).
 * Only line starts are examined, found with `indexOf`, so skipping a body costs no per-byte JS work.
 */

export type StartVerdict = 'yes' | 'no' | 'more';
export type MessageKind = 'request' | 'response';

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;
const HTTP_1_DOT = [0x48, 0x54, 0x54, 0x50, 0x2f, 0x31, 0x2e]; // "HTTP/1."

/** Exactly the methods http-parser-js accepts (it rejects others), so sniffing and parsing agree. */
const METHODS: ReadonlySet<string> = new Set(HTTPParser.methods);
const METHOD_PREFIXES: ReadonlySet<string> = new Set(
  HTTPParser.methods.flatMap((m) => Array.from({ length: m.length }, (_, i) => m.slice(0, i + 1))),
);
const MAX_METHOD_LENGTH = Math.max(...HTTPParser.methods.map((m) => m.length));
/** A request line longer than this is not worth validating up to its end while sniffing. */
const MAX_SNIFFED_LINE = 8192;

function isMethodChar(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || c === 0x2d; // A-Z or '-'
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** `METHOD SP x` at `at` with a method http-parser-js knows and x not white space. `PRI` (HTTP/2) is no. */
export function requestStart(bytes: Uint8Array, at: number, end: number): StartVerdict {
  let i = at;
  while (i < end && i - at <= MAX_METHOD_LENGTH && isMethodChar(bytes[i]!)) i++;
  if (i === end) return i === at || METHOD_PREFIXES.has(latin1(bytes, at, i)) ? 'more' : 'no';
  if (bytes[i] !== SP || !METHODS.has(latin1(bytes, at, i))) return 'no';
  if (i + 1 >= end) return 'more';
  const next = bytes[i + 1]!;
  return next === SP || next === CR || next === LF ? 'no' : 'yes';
}

/** `HTTP/1.d SP ddd` at `at`. */
export function statusStart(bytes: Uint8Array, at: number, end: number): StartVerdict {
  for (let k = 0; k < 12; k++) {
    const i = at + k;
    if (i >= end) return 'more';
    const c = bytes[i]!;
    const ok = k < 7 ? c === HTTP_1_DOT[k] : k === 7 ? isDigit(c) : k === 8 ? c === SP : isDigit(c);
    if (!ok) return 'no';
  }
  return 'yes';
}

export function startVerdict(kind: MessageKind, bytes: Uint8Array, at: number, end: number): StartVerdict {
  return kind === 'request' ? requestStart(bytes, at, end) : statusStart(bytes, at, end);
}

/**
 * For a request line that ends inside the given bytes: does it end with ` HTTP/1.d`? Lines that do not
 * end within reach are given the benefit of the doubt (the parser decides).
 */
function requestLineEndsWell(bytes: Uint8Array, at: number, end: number): boolean {
  const lf = indexOfLf(bytes, at, Math.min(end, at + MAX_SNIFFED_LINE));
  if (lf < 0) return true;
  const lineEnd = lf > at && bytes[lf - 1] === CR ? lf - 1 : lf;
  const v = lineEnd - 9; // " HTTP/1.d"
  if (v < at || bytes[v] !== SP) return false;
  for (let k = 0; k < 7; k++) if (bytes[v + 1 + k] !== HTTP_1_DOT[k]) return false;
  return isDigit(bytes[lineEnd - 1]!);
}

function indexOfLf(bytes: Uint8Array, from: number, end: number): number {
  const i = bytes.indexOf(LF, from);
  return i >= 0 && i < end ? i : -1;
}

export type StartSearch =
  /** A plausible start line begins at `at` (`partial`: the bytes end before it could be confirmed). */
  | { found: 'yes' | 'partial'; at: number }
  /** None; `lineStartAtEnd` tells whether the byte after `end` begins a line. */
  | { found: 'none'; lineStartAtEnd: boolean };

/**
 * Find the first line start in [from, end) where a message of `kind` plausibly begins.
 * `lineStartAtFrom`: `from` itself begins a line (after a LF, or at a position where a message may start).
 */
export function findMessageStart(
  kind: MessageKind,
  bytes: Uint8Array,
  from: number,
  end: number,
  lineStartAtFrom: boolean,
): StartSearch {
  let at = from;
  if (!lineStartAtFrom) {
    const lf = indexOfLf(bytes, from, end);
    if (lf < 0) return { found: 'none', lineStartAtEnd: false };
    at = lf + 1;
  }
  while (at < end) {
    const verdict = startVerdict(kind, bytes, at, end);
    if (verdict === 'more') return { found: 'partial', at };
    if (verdict === 'yes' && (kind === 'response' || requestLineEndsWell(bytes, at, end))) return { found: 'yes', at };
    const lf = indexOfLf(bytes, at, end);
    if (lf < 0) return { found: 'none', lineStartAtEnd: false };
    at = lf + 1;
  }
  return { found: 'none', lineStartAtEnd: true };
}

/** Beyond this many first bytes without a start line, a direction is declared not HTTP/1.x. */
const MAX_SNIFFED_BYTES = 8192;

/**
 * Content detection on the first bytes of a direction: the start of `kind` at 0, or (for captures that
 * begin mid-connection, inside a body) a complete, well-formed start line at a later line start.
 */
export function sniff(kind: MessageKind, bytes: Uint8Array): StartVerdict {
  const atZero = startVerdict(kind, bytes, 0, bytes.length);
  if (atZero !== 'no') return atZero;
  if (isOtherProtocolStart(bytes)) return 'no';
  const later = findMessageStart(kind, bytes, 0, bytes.length, false);
  if (later.found === 'yes' && lineIsComplete(bytes, later.at)) return 'yes';
  return bytes.length >= MAX_SNIFFED_BYTES ? 'no' : 'more';
}

/** A TLS record or the HTTP/2 preface: no point waiting for an HTTP/1.x line further on. */
function isOtherProtocolStart(bytes: Uint8Array): boolean {
  if (bytes.length >= 2 && bytes[0]! >= 0x14 && bytes[0]! <= 0x17 && bytes[1] === 0x03) return true;
  return bytes.length >= 4 && latin1(bytes, 0, 4) === 'PRI ';
}

function lineIsComplete(bytes: Uint8Array, at: number): boolean {
  return indexOfLf(bytes, at, bytes.length) >= 0;
}
