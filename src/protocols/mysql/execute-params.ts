import { PayloadReader } from './wire.js';

/** Column types of the binary protocol (MySQL `enum_field_types`) whose values this reads. */
const FIXED_WIDTH: Record<number, number> = {
  0x01: 1, // TINY
  0x02: 2, // SHORT
  0x0d: 2, // YEAR
  0x03: 4, // LONG
  0x09: 4, // INT24
  0x08: 8, // LONGLONG
};
const FLOAT = 0x04;
const DOUBLE = 0x05;
const NULL_TYPE = 0x06;
/** DATE, DATETIME, TIMESTAMP, TIME: a length byte, then that many bytes (not read as values). */
const TEMPORAL = new Set([0x0a, 0x0c, 0x07, 0x0b]);
const UNSIGNED = 0x80;

export interface ExecuteParams {
  /** Each parameter as text (numbers in decimal); null for NULL or a type not read. */
  values: (string | null)[];
  /** The types sent, or those of the statement's previous EXECUTE when this one sent none. */
  types: number[];
}

/**
 * The parameter values of a COM_STMT_EXECUTE (`payload` from its command byte), for a statement of
 * `count` parameters. Types come with the EXECUTE when its new-params-bound flag is set, else they
 * are those of the statement's previous EXECUTE (`previousTypes`). Null when they are unknown or the
 * payload does not hold what they say (the caller reads nothing rather than something wrong). Not for
 * connections with query attributes, whose EXECUTE adds a parameter count and names.
 */
export function readExecuteParams(payload: Uint8Array, count: number, previousTypes: number[] | null): ExecuteParams | null {
  if (count === 0) return { values: [], types: [] };
  const r = new PayloadReader(payload, 10); // command, statement id, flags, iteration count
  const nullBitmap = Array.from({ length: (count + 7) >> 3 }, () => r.u8());
  let types = previousTypes;
  if (r.u8() === 1) {
    types = [];
    for (let i = 0; i < count; i++) types.push(r.u16());
  }
  if (types === null || types.length !== count || r.truncated) return null;
  const values: (string | null)[] = [];
  for (let i = 0; i < count; i++) {
    if ((nullBitmap[i >> 3]! >> (i & 7)) & 1) {
      values.push(null);
      continue;
    }
    const value = readValue(r, types[i]!);
    if (value === undefined || r.truncated) return null;
    values.push(value);
  }
  return { values, types };
}

/** undefined when the type's width is not known (nothing after it can be read). */
function readValue(r: PayloadReader, typeAndFlags: number): string | null | undefined {
  const type = typeAndFlags & 0xff;
  const unsigned = (typeAndFlags >> 8) & UNSIGNED;
  const width = FIXED_WIDTH[type];
  if (width !== undefined) return integer(r, width, unsigned !== 0);
  if (type === FLOAT) {
    r.skip(4);
    return null;
  }
  if (type === DOUBLE) {
    r.skip(8);
    return null;
  }
  if (type === NULL_TYPE) return null;
  if (TEMPORAL.has(type)) {
    r.skip(r.u8());
    return null;
  }
  // Strings, decimals, blobs, JSON, enums, sets, bits, geometry: length-encoded bytes.
  return r.lenencString();
}

function integer(r: PayloadReader, width: number, unsigned: boolean): string {
  let value = 0n;
  for (let i = 0; i < width; i++) value |= BigInt(r.u8()) << BigInt(8 * i);
  if (!unsigned && value >= 1n << BigInt(8 * width - 1)) value -= 1n << BigInt(8 * width);
  return value.toString();
}

/** How many `?` placeholders a prepared statement's text has (outside quotes and comments). */
export function placeholderCount(sql: string): number {
  let count = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === '?') count++;
    else if (c === "'" || c === '"' || c === '`') {
      const close = sql.indexOf(c, i + 1);
      i = close < 0 ? sql.length : close;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 1;
    } else if ((c === '-' && sql[i + 1] === '-') || c === '#') {
      const close = sql.indexOf('\n', i);
      i = close < 0 ? sql.length : close;
    }
  }
  return count;
}
