/**
 * Key/value pairs carried in SQL comments, the way applications tag queries with trace context:
 *
 * - sqlcommenter (google.github.io/sqlcommenter): `/*key='value',key2='value2'*\/`, keys and values
 *   URL-encoded, `'` inside a value escaped as `\'`. Drivers that format SQL with `%` (Python DB-API)
 *   double every `%`, so `%%` is read as `%` before URL-decoding. Bad `%` escapes are kept as written.
 * - key-value comments: `/* traceparent: 00-… *\/`, `/* x-request-id=abc, b3=… *\/`, pairs separated by
 *   commas or whitespace; `-- key=value` and MySQL's `# key: value` line comments. Unquoted values end
 *   at whitespace or a comma and are not URL-decoded (so an unquoted tracestate list is cut at its
 *   first comma; sqlcommenter's quoted, encoded form carries it whole).
 *
 * Comments are found the way MySQL's lexer finds them: text inside '…', "…" (with backslash escapes)
 * and `…` is not scanned, `--` starts a comment only when followed by whitespace
 * or the end, and executable comments `/*! … *\/`, `/*M! … *\/` and optimizer hints `/*+ … *\/` are SQL,
 * not tags. An unterminated `/*` comment runs to the end of the text (the SQL may have been cut).
 */

export interface SqlCommentField {
  /** The key as written, URL-decoded (not lower-cased: see normalizeCommentKey). */
  key: string;
  value: string;
}

const SINGLE_QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;
const BACKTICK = 0x60;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const STAR = 0x2a;
const DASH = 0x2d;
const HASH = 0x23;
const BANG = 0x21;
const PLUS = 0x2b;
const COMMA = 0x2c;
const EQUALS = 0x3d;
const COLON = 0x3a;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/** `request_id`, `X-Request-ID` → `request-id`, `x-request-id`: how keys are matched to header names. */
export function normalizeCommentKey(key: string): string {
  return key.toLowerCase().replaceAll('_', '-');
}

/** Every key/value pair found in the comments of `sql`, in order of appearance. Never throws. */
export function extractSqlCommentFields(sql: string): SqlCommentField[] {
  const fields: SqlCommentField[] = [];
  if (!mayHaveComment(sql)) return fields;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === SINGLE_QUOTE || c === DOUBLE_QUOTE || c === BACKTICK) {
      i = skipQuoted(sql, i, n, c, c !== BACKTICK);
    } else if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const close = sql.indexOf('*/', i + 2);
      const bodyEnd = close < 0 ? n : close;
      if (!isExecutableOrHint(sql, i + 2)) readPairs(sql, i + 2, bodyEnd, fields);
      i = close < 0 ? n : close + 2;
    } else if ((c === DASH && sql.charCodeAt(i + 1) === DASH && startsDashComment(sql, i + 2)) || c === HASH) {
      const bodyStart = c === HASH ? i + 1 : i + 2;
      const lineEnd = endOfLine(sql, bodyStart, n);
      readPairs(sql, bodyStart, lineEnd, fields);
      i = lineEnd;
    } else {
      i++;
    }
  }
  return fields;
}

/**
 * A sqlcommenter value (between its single quotes): `\x` → `x`, `%%` → `%`, then URL-decoding that
 * keeps any `%` sequence that does not decode (bad hex, broken UTF-8) as written.
 */
export function decodeSqlcommenterValue(quoted: string): string {
  let value = quoted.includes('\\') ? quoted.replace(/\\(.)/gs, '$1') : quoted;
  if (!value.includes('%')) return value;
  value = value.replaceAll('%%', '%');
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(?:%[0-9a-fA-F]{2})+/g, decodeRunTolerantly);
  }
}

/** Decodes a run of `%XX` escapes one UTF-8 sequence at a time, keeping escapes that do not decode. */
function decodeRunTolerantly(run: string): string {
  try {
    return decodeURIComponent(run);
  } catch {
    const parts: string[] = [];
    let i = 0;
    while (i < run.length) {
      const lead = Number.parseInt(run.slice(i + 1, i + 3), 16);
      const escapes = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
      try {
        parts.push(decodeURIComponent(run.slice(i, i + 3 * escapes)));
        i += 3 * escapes;
      } catch {
        parts.push(run.slice(i, i + 3));
        i += 3;
      }
    }
    return parts.join('');
  }
}

function mayHaveComment(sql: string): boolean {
  return sql.includes('/*') || sql.includes('--') || sql.includes('#');
}

/** Index just past the closing quote (or `n` when unterminated). */
function skipQuoted(s: string, open: number, n: number, quote: number, backslashEscapes: boolean): number {
  const close = closingQuote(s, open, n, quote, backslashEscapes);
  return close < 0 ? n : close + 1;
}

/**
 * Index of the quote closing the one at `open`, or -1. A doubled quote (`'it''s'`) needs no rule of its
 * own: read as two adjacent literals it hides exactly the same text.
 */
function closingQuote(s: string, open: number, n: number, quote: number, backslashEscapes: boolean): number {
  let j = open + 1;
  while (j < n) {
    const c = s.charCodeAt(j);
    if (c === quote) return j;
    j += c === BACKSLASH && backslashEscapes ? 2 : 1;
  }
  return -1;
}

function isExecutableOrHint(s: string, bodyStart: number): boolean {
  const first = s.charCodeAt(bodyStart);
  if (first === BANG || first === PLUS) return true;
  return first === 0x4d /* M */ && s.charCodeAt(bodyStart + 1) === BANG;
}

/** MySQL: `--` opens a comment only before whitespace or a control character (or the end). */
function startsDashComment(s: string, after: number): boolean {
  return after >= s.length || s.charCodeAt(after) <= 0x20;
}

function endOfLine(s: string, from: number, n: number): number {
  for (let j = from; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c === NEWLINE || c === CARRIAGE_RETURN) return j;
  }
  return n;
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function endsKey(c: number): boolean {
  return isSpace(c) || c === EQUALS || c === COLON || c === COMMA || c === SINGLE_QUOTE || c === DOUBLE_QUOTE;
}

/** Reads `key=value` / `key: value` pairs from s[start, end); any other text is skipped. */
function readPairs(s: string, start: number, end: number, out: SqlCommentField[]): void {
  let i = start;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (isSpace(c) || c === COMMA) {
      i++;
      continue;
    }
    let keyEnd = i;
    while (keyEnd < end && !endsKey(s.charCodeAt(keyEnd))) keyEnd++;
    if (keyEnd === i) {
      i = c === SINGLE_QUOTE || c === DOUBLE_QUOTE ? skipQuoted(s, i, end, c, true) : i + 1;
      continue;
    }
    let j = keyEnd;
    while (j < end && isSpace(s.charCodeAt(j))) j++;
    const separator = s.charCodeAt(j);
    if (j >= end || (separator !== EQUALS && separator !== COLON)) {
      i = keyEnd;
      continue;
    }
    j++;
    while (j < end && isSpace(s.charCodeAt(j))) j++;
    const key = decodeSqlcommenterValue(s.slice(i, keyEnd));
    const quote = s.charCodeAt(j);
    if (j < end && (quote === SINGLE_QUOTE || quote === DOUBLE_QUOTE)) {
      const close = closingQuote(s, j, end, quote, true);
      if (close < 0) return;
      out.push({ key, value: decodeSqlcommenterValue(s.slice(j + 1, close)) });
      i = close + 1;
    } else {
      let valueEnd = j;
      while (valueEnd < end && !isSpace(s.charCodeAt(valueEnd)) && s.charCodeAt(valueEnd) !== COMMA) valueEnd++;
      out.push({ key, value: s.slice(j, valueEnd) });
      i = valueEnd;
    }
  }
}
