import { PayloadReader, decodeText } from './wire.js';

/** Binary-protocol field types (enum_field_types) whose encoded size is fixed. */
const FIXED_SIZE_BY_TYPE: ReadonlyMap<number, number> = new Map([
  [0x06, 0], // NULL
  [0x01, 1], // TINY
  [0x02, 2], // SHORT
  [0x0d, 2], // YEAR
  [0x03, 4], // LONG
  [0x09, 4], // INT24
  [0x04, 4], // FLOAT
  [0x08, 8], // LONGLONG
  [0x05, 8], // DOUBLE
]);
/** DATE, DATETIME, TIMESTAMP, TIME: one length byte, then that many bytes. */
const LENGTH_BYTE_TYPES: ReadonlySet<number> = new Set([0x0a, 0x0c, 0x07, 0x0b]);

function skipBinaryValue(r: PayloadReader, type: number): void {
  const fixed = FIXED_SIZE_BY_TYPE.get(type);
  if (fixed !== undefined) r.skip(fixed);
  else if (LENGTH_BYTE_TYPES.has(type)) r.skip(r.u8());
  else r.skip(r.lenenc() ?? 0);
}

/**
 * Where the SQL text of a COM_QUERY payload starts (after the command byte). With
 * CLIENT_QUERY_ATTRIBUTES the text follows a parameter block: count, set count, and when count > 0
 * a null bitmap, the new-params-bound flag, types with names, and the non-null values.
 * Returns -1 when the block is malformed.
 */
export function queryTextStart(payload: Uint8Array, queryAttributes: boolean): number {
  if (!queryAttributes) return 1;
  const r = new PayloadReader(payload, 1);
  const count = r.lenenc() ?? 0;
  r.lenenc(); // parameter set count, always 1
  if (count > 0) {
    const bitmapStart = r.pos;
    r.skip((count + 7) >> 3);
    const newParamsBound = r.u8();
    if (newParamsBound !== 1 || r.truncated) return -1;
    const types: number[] = [];
    for (let i = 0; i < count && !r.truncated; i++) {
      types.push(r.u16() & 0xff);
      r.skip(r.lenenc() ?? 0);
    }
    for (let i = 0; i < count && !r.truncated; i++) {
      const isNull = (payload[bitmapStart + (i >> 3)]! >> (i & 7)) & 1;
      if (!isNull) skipBinaryValue(r, types[i]!);
    }
  }
  return r.truncated ? -1 : r.pos;
}

/** The text after the command byte (INIT_DB schema, FIELD_LIST table up to NUL, PREPARE SQL). */
export function commandText(payload: Uint8Array, start: number, stopAtNul: boolean): string {
  let end = payload.length;
  if (stopAtNul) {
    const nul = payload.indexOf(0, start);
    if (nul >= 0) end = nul;
  }
  return decodeText(payload, start, end);
}

/** Statement id of STMT_EXECUTE / CLOSE / RESET / SEND_LONG_DATA / FETCH (4 bytes after the command). */
export function statementIdOf(payload: Uint8Array): number | null {
  if (payload.length < 5) return null;
  return new PayloadReader(payload, 1).u32();
}

/** COM_CHANGE_USER: user and schema; the auth response is skipped and never kept. */
export function parseChangeUser(payload: Uint8Array, secureConnection: boolean): { user: string; database: string | null } | null {
  const r = new PayloadReader(payload, 1);
  const user = r.nulString();
  if (secureConnection) r.skip(r.u8());
  else r.nulString();
  const database = r.remaining > 0 ? r.nulString() || null : null;
  return r.truncated ? null : { user, database };
}
