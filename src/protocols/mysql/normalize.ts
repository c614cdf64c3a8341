/**
 * SQL text with its literals replaced by `?`, for grouping statements that differ only in values:
 * quoted strings (with backslash escapes and doubled quotes), numbers, hex and bit literals become
 * `?`; comments are removed; whitespace is collapsed; `IN (?, ?, ...)` becomes `IN (?)`.
 * Identifiers (also `quoted`) and keywords are kept as written. `literals`, when given, receives the
 * text of each literal (strings without their quotes).
 */
export function normalizeSql(sql: string, literals?: string[]): string {
  const out: string[] = [];
  const n = sql.length;
  let i = 0;
  let pendingSpace = false;
  const emit = (piece: string): void => {
    if (pendingSpace && out.length > 0) out.push(' ');
    pendingSpace = false;
    out.push(piece);
  };
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      pendingSpace = true;
      i++;
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? n : end + 2;
      pendingSpace = true;
    } else if (c === 0x23 /* # */ || (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d && (i + 2 >= n || isSpace(sql.charCodeAt(i + 2))))) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
      pendingSpace = true;
    } else if (c === 0x27 /* ' */ || c === 0x22 /* " */) {
      const end = skipQuoted(sql, i, c);
      literals?.push(sql.slice(i + 1, end - 1));
      i = end;
      emit('?');
    } else if (c === 0x60 /* ` */) {
      const end = sql.indexOf('`', i + 1);
      const stop = end < 0 ? n : end + 1;
      emit(sql.slice(i, stop));
      i = stop;
    } else if ((c === 0x78 || c === 0x58 || c === 0x62 || c === 0x42) && sql.charCodeAt(i + 1) === 0x27 && !isWordChar(sql.charCodeAt(i - 1))) {
      i = skipQuoted(sql, i + 1, 0x27); // X'..' and b'..'
      emit('?');
    } else if (isDigit(c) || (c === 0x2e /* . */ && isDigit(sql.charCodeAt(i + 1)) && !isWordChar(sql.charCodeAt(i - 1)))) {
      const end = skipNumber(sql, i);
      literals?.push(sql.slice(i, end));
      i = end;
      emit('?');
    } else if (isWordChar(c)) {
      let end = i + 1;
      while (end < n && isWordChar(sql.charCodeAt(end))) end++;
      emit(sql.slice(i, end));
      i = end;
    } else {
      emit(sql[i]!);
      i++;
    }
  }
  return joinPieces(out).replace(IN_LIST, (match) => match.slice(0, match.indexOf('(')) + '(?)');
}

const IN_LIST = /\bIN ?\( ?\?(?: ?, ?\?)* ?\)/gi;

/** Pieces are single tokens; a space before `,` or `)` and after `(` adds nothing to a shape. */
function joinPieces(pieces: string[]): string {
  let s = '';
  for (let k = 0; k < pieces.length; k++) {
    const piece = pieces[k]!;
    if (piece === ' ') {
      const next = pieces[k + 1];
      const prev = pieces[k - 1];
      if (next === ',' || next === ')' || prev === '(') continue;
    }
    s += piece;
  }
  return s;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0c || c === 0x0b;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || isDigit(c) || c === 0x5f || c === 0x24 || c > 0x7f
  );
}

/** Index after the closing quote; backslash escapes and doubled quotes stay inside. */
function skipQuoted(sql: string, open: number, quote: number): number {
  let i = open + 1;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (c === 0x5c /* \ */) i += 2;
    else if (c === quote) {
      if (sql.charCodeAt(i + 1) === quote) i += 2;
      else return i + 1;
    } else i++;
  }
  return sql.length;
}

/** Decimal (with fraction and exponent), 0x hex and 0b bit literals; a digit-led identifier stays one word. */
function skipNumber(sql: string, start: number): number {
  let i = start;
  if (sql.charCodeAt(i) === 0x30 && (sql[i + 1] === 'x' || sql[i + 1] === 'X' || sql[i + 1] === 'b' || sql[i + 1] === 'B')) i += 2;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (isWordChar(c) || c === 0x2e) {
      if ((c === 0x65 || c === 0x45) && (sql[i + 1] === '+' || sql[i + 1] === '-')) i++; // 1e-5
      i++;
    } else break;
  }
  return i;
}
