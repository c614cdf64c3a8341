import { HTTPParser } from 'http-parser-js';

/**
 * A fast path for the common HTTP/1.x head, read straight from the bytes instead of through
 * http-parser-js (which builds a string per line and runs a regular expression on each).
 *
 * It accepts only heads on which http-parser-js 0.5.x cannot fail and reads them to the same result:
 * complete within the chunk, no leading empty line, no CR other than the one before each LF, a start
 * line its expressions match, field lines `name:value` with a name free of blanks and colons, at
 * most one Content-Length, no longer than the parser's header size limit. Anything else returns
 * null and goes to http-parser-js, so the two paths agree on every input.
 */
export interface CleanHead {
  /** Request method ('' for responses). */
  method: string;
  target: string;
  /** Response status (0 for requests). */
  status: number;
  reason: string;
  version: string;
  /** Alternating names and values, latin1, values trimmed of SP/HTAB as http-parser-js does. */
  rawHeaders: string[];
  /** Index just past the LF of the empty line that ends the head. */
  end: number;
}

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;
const ZERO = 0x30;
/** Each method http-parser-js knows, to itself: a head's method string is the shared one, not a copy per request. */
const KNOWN_METHODS: ReadonlyMap<string, string> = new Map(HTTPParser.methods.map((m: string) => [m, m]));
/** `d.d` for every version digit pair, shared (index major * 10 + minor) rather than built per head. */
const VERSIONS: readonly string[] = Array.from({ length: 100 }, (_, i) => `${Math.floor(i / 10)}.${i % 10}`);
/** " HTTP/d.d" at the end of a request line. */
const REQUEST_LINE_TAIL = 9;
/** "HTTP/d.d ddd" at the start of a status line. */
const STATUS_LINE_MIN = 12;

export function readCleanHead(
  kind: 'request' | 'response',
  buf: Buffer,
  start: number,
  end: number,
  maxHeadBytes: number,
): CleanHead | null {
  const first = buf[start];
  if (first === undefined || first === CR || first === LF) return null;
  let lf = buf.indexOf(LF, start);
  if (lf < 0 || lf >= end) return null;
  let lineEnd = contentEnd(buf, start, lf);
  if (lineEnd < 0) return null;
  const head = kind === 'request' ? requestLine(buf, start, lineEnd) : statusLine(buf, start, lineEnd);
  if (head === null) return null;
  let contentLengths = 0;
  let at = lf + 1;
  for (;;) {
    if (at - start > maxHeadBytes) return null;
    lf = buf.indexOf(LF, at);
    if (lf < 0 || lf >= end || lf + 1 - start > maxHeadBytes) return null;
    lineEnd = contentEnd(buf, at, lf);
    if (lineEnd < 0) return null;
    if (lineEnd === at) break; // the empty line
    let colon = at;
    for (; colon < lineEnd; colon++) {
      const c = buf[colon]!;
      if (c === COLON) break;
      if (c === SP || c === HTAB) return null;
    }
    if (colon === at || colon === lineEnd) return null;
    let valueStart = colon + 1;
    while (valueStart < lineEnd && isBlank(buf[valueStart]!)) valueStart++;
    let valueEnd = lineEnd;
    while (valueEnd > valueStart && isBlank(buf[valueEnd - 1]!)) valueEnd--;
    const name = buf.toString('latin1', at, colon);
    if (name.length === 14 && name.toLowerCase() === 'content-length' && ++contentLengths > 1) return null;
    head.rawHeaders.push(name, buf.toString('latin1', valueStart, valueEnd));
    at = lf + 1;
  }
  head.end = lf + 1;
  return head;
}

/** End of the line's content (before a CR that precedes the LF); -1 when the line holds another CR. */
function contentEnd(buf: Buffer, from: number, lf: number): number {
  const end = lf > from && buf[lf - 1] === CR ? lf - 1 : lf;
  for (let i = from; i < end; i++) if (buf[i] === CR) return -1;
  return end;
}

function isBlank(c: number): boolean {
  return c === SP || c === HTAB;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= ZERO && c <= ZERO + 9;
}

/** `^([A-Z-]+) ([^ ]+) HTTP\/(\d)\.(\d)$` with a method http-parser-js knows. */
function requestLine(buf: Buffer, from: number, to: number): CleanHead | null {
  let methodEnd = from;
  for (; methodEnd < to; methodEnd++) {
    const c = buf[methodEnd]!;
    if (!((c >= 0x41 && c <= 0x5a) || c === 0x2d)) break;
  }
  const tail = to - REQUEST_LINE_TAIL;
  if (methodEnd === from || buf[methodEnd] !== SP || tail <= methodEnd + 1) return null;
  if (!versionAt(buf, tail + 1) || buf[tail] !== SP) return null;
  const space = buf.indexOf(SP, methodEnd + 1);
  if (space < tail) return null;
  const method = KNOWN_METHODS.get(buf.toString('latin1', from, methodEnd));
  if (method === undefined) return null;
  return {
    method,
    target: buf.toString('latin1', methodEnd + 1, tail),
    status: 0,
    reason: '',
    version: versionText(buf, tail + 6),
    rawHeaders: [],
    end: 0,
  };
}

/** `^HTTP\/(\d)\.(\d) (\d{3}) ?(.*)$` */
function statusLine(buf: Buffer, from: number, to: number): CleanHead | null {
  if (to - from < STATUS_LINE_MIN || !versionAt(buf, from) || buf[from + 8] !== SP) return null;
  if (!isDigit(buf[from + 9]) || !isDigit(buf[from + 10]) || !isDigit(buf[from + 11])) return null;
  const status = (buf[from + 9]! - ZERO) * 100 + (buf[from + 10]! - ZERO) * 10 + (buf[from + 11]! - ZERO);
  const reasonStart = from + STATUS_LINE_MIN < to && buf[from + STATUS_LINE_MIN] === SP ? from + 13 : from + 12;
  return {
    method: '',
    target: '',
    status,
    reason: buf.toString('latin1', reasonStart, to),
    version: versionText(buf, from + 5),
    rawHeaders: [],
    end: 0,
  };
}

/** The `d.d` of a version whose major digit is at `at` (checked by versionAt). */
function versionText(buf: Buffer, at: number): string {
  return VERSIONS[(buf[at]! - ZERO) * 10 + (buf[at + 2]! - ZERO)]!;
}

/** `HTTP/d.d` at `at`. */
function versionAt(buf: Buffer, at: number): boolean {
  return (
    buf[at] === 0x48 &&
    buf[at + 1] === 0x54 &&
    buf[at + 2] === 0x54 &&
    buf[at + 3] === 0x50 &&
    buf[at + 4] === 0x2f &&
    isDigit(buf[at + 5]) &&
    buf[at + 6] === 0x2e &&
    isDigit(buf[at + 7])
  );
}
