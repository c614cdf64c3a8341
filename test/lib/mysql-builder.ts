import { deflateSync } from 'node:zlib';

/** Builders of real MySQL protocol bytes for tests (layouts as in the MySQL client/server protocol docs). */

export const CAP = {
  LONG_PASSWORD: 0x1,
  CONNECT_WITH_DB: 0x8,
  COMPRESS: 0x20,
  LOCAL_FILES: 0x80,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PLUGIN_AUTH: 0x80000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  DEPRECATE_EOF: 0x1000000,
  QUERY_ATTRIBUTES: 0x8000000,
} as const;

export const BASE_CAPS =
  CAP.LONG_PASSWORD |
  CAP.CONNECT_WITH_DB |
  CAP.LOCAL_FILES |
  CAP.PROTOCOL_41 |
  CAP.TRANSACTIONS |
  CAP.SECURE_CONNECTION |
  CAP.MULTI_STATEMENTS |
  CAP.MULTI_RESULTS |
  CAP.PLUGIN_AUTH |
  CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA;

export const STATUS_AUTOCOMMIT = 0x0002;
export const STATUS_MORE_RESULTS = 0x0008;

const MAX_PAYLOAD = 0xffffff;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
function u24(n: number): Buffer {
  return Buffer.from([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff]);
}
function nul(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

export function lenenc(n: number): Buffer {
  if (n < 0xfb) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.concat([Buffer.from([0xfc]), u16(n)]);
  if (n < 0x1000000) return Buffer.concat([Buffer.from([0xfd]), u24(n)]);
  const b = Buffer.alloc(9);
  b[0] = 0xfe;
  b.writeBigUInt64LE(BigInt(n), 1);
  return b;
}

export function lenencString(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([lenenc(bytes.length), bytes]);
}

/** One logical packet; payloads of 16 MiB - 1 or more are split into continuation packets. */
export function packet(seq: number, payload: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  let pos = 0;
  let s = seq;
  for (;;) {
    const length = Math.min(MAX_PAYLOAD, payload.length - pos);
    parts.push(u24(length), Buffer.from([s & 0xff]), Buffer.from(payload.subarray(pos, pos + length)));
    pos += length;
    s++;
    if (length < MAX_PAYLOAD) break;
  }
  return Buffer.concat(parts);
}

export interface GreetingOptions {
  version?: string;
  connectionId?: number;
  capabilities?: number;
  authPlugin?: string;
}

export function greeting(o: GreetingOptions = {}): Buffer {
  const caps = o.capabilities ?? BASE_CAPS | CAP.DEPRECATE_EOF | CAP.COMPRESS | CAP.SSL | CAP.QUERY_ATTRIBUTES;
  const payload = Buffer.concat([
    Buffer.from([10]),
    nul(o.version ?? '8.0.36'),
    u32(o.connectionId ?? 42),
    Buffer.from('abcdefgh'),
    Buffer.from([0]),
    u16(caps & 0xffff),
    Buffer.from([0x21]),
    u16(STATUS_AUTOCOMMIT),
    u16(caps >>> 16),
    Buffer.from([21]),
    Buffer.alloc(10),
    Buffer.from('ijklmnopqrst\0'),
    nul(o.authPlugin ?? 'mysql_native_password'),
  ]);
  return packet(0, payload);
}

export interface HandshakeResponseOptions {
  capabilities?: number;
  user?: string;
  database?: string | null;
  authData?: Uint8Array;
  authPlugin?: string;
  seq?: number;
}

export function handshakeResponse(o: HandshakeResponseOptions = {}): Buffer {
  let caps = o.capabilities ?? BASE_CAPS;
  const database = o.database === undefined ? 'shop' : o.database;
  if (database !== null) caps |= CAP.CONNECT_WITH_DB;
  else caps &= ~CAP.CONNECT_WITH_DB;
  const auth = o.authData ?? Buffer.from('0123456789abcdefghij');
  const authPart = caps & CAP.PLUGIN_AUTH_LENENC_CLIENT_DATA ? Buffer.concat([lenenc(auth.length), auth]) : Buffer.concat([Buffer.from([auth.length]), auth]);
  const payload = Buffer.concat([
    u32(caps),
    u32(MAX_PAYLOAD + 1),
    Buffer.from([0x21]),
    Buffer.alloc(23),
    nul(o.user ?? 'shop'),
    authPart,
    database !== null ? nul(database) : Buffer.alloc(0),
    caps & CAP.PLUGIN_AUTH ? nul(o.authPlugin ?? 'mysql_native_password') : Buffer.alloc(0),
  ]);
  return packet(o.seq ?? 1, payload);
}

export function sslRequest(capabilities = BASE_CAPS | CAP.SSL): Buffer {
  return packet(1, Buffer.concat([u32(capabilities), u32(MAX_PAYLOAD + 1), Buffer.from([0x21]), Buffer.alloc(23)]));
}

export interface OkOptions {
  affectedRows?: number;
  lastInsertId?: number;
  status?: number;
  warnings?: number;
  info?: string;
  /** 0xFE when the OK ends a result set under CLIENT_DEPRECATE_EOF. */
  header?: 0x00 | 0xfe;
}

export function okPayload(o: OkOptions = {}): Buffer {
  return Buffer.concat([
    Buffer.from([o.header ?? 0]),
    lenenc(o.affectedRows ?? 0),
    lenenc(o.lastInsertId ?? 0),
    u16(o.status ?? STATUS_AUTOCOMMIT),
    u16(o.warnings ?? 0),
    Buffer.from(o.info ?? ''),
  ]);
}

export function ok(seq: number, o: OkOptions = {}): Buffer {
  return packet(seq, okPayload(o));
}

export function err(seq: number, code: number, sqlState: string, message: string): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0xff]), u16(code), Buffer.from('#' + sqlState), Buffer.from(message)]));
}

export function eof(seq: number, status = STATUS_AUTOCOMMIT, warnings = 0): Buffer {
  return packet(seq, Buffer.concat([Buffer.from([0xfe]), u16(warnings), u16(status)]));
}

export function columnDefinition(seq: number, name: string, type = 0xfd): Buffer {
  return packet(
    seq,
    Buffer.concat([
      lenencString('def'),
      lenencString('shop'),
      lenencString('t'),
      lenencString('t'),
      lenencString(name),
      lenencString(name),
      Buffer.from([0x0c]),
      u16(0x21),
      u32(255),
      Buffer.from([type]),
      u16(0),
      Buffer.from([0, 0, 0]),
    ]),
  );
}

export function textRow(seq: number, values: (string | null)[]): Buffer {
  return packet(seq, Buffer.concat(values.map((v) => (v === null ? Buffer.from([0xfb]) : lenencString(v)))));
}

/** Binary row of LONGLONG columns (0x00 header, null bitmap offset by 2, values). */
export function binaryRow(seq: number, values: (number | null)[]): Buffer {
  const bitmap = Buffer.alloc((values.length + 7 + 2) >> 3);
  const cells: Buffer[] = [];
  values.forEach((v, i) => {
    if (v === null) bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
    else {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(v));
      cells.push(b);
    }
  });
  return packet(seq, Buffer.concat([Buffer.from([0]), bitmap, ...cells]));
}

export interface ResultSetOptions {
  deprecateEof?: boolean;
  status?: number;
  /** Rows are binary (COM_STMT_EXECUTE). */
  binary?: boolean;
  firstSeq?: number;
}

/** A whole result set: column count, definitions, [EOF], rows, terminator. Returns bytes and the next seq. */
export function resultSet(columns: string[], rows: (string | null)[][], o: ResultSetOptions = {}): { bytes: Buffer; nextSeq: number } {
  let seq = o.firstSeq ?? 1;
  const parts: Buffer[] = [packet(seq++, lenenc(columns.length))];
  for (const c of columns) parts.push(columnDefinition(seq++, c));
  if (!o.deprecateEof) parts.push(eof(seq++));
  for (const r of rows) {
    parts.push(o.binary ? binaryRow(seq++, r.map((v) => (v === null ? null : Number(v)))) : textRow(seq++, r));
  }
  const status = o.status ?? STATUS_AUTOCOMMIT;
  parts.push(o.deprecateEof ? ok(seq++, { header: 0xfe, status }) : eof(seq++, status));
  return { bytes: Buffer.concat(parts), nextSeq: seq };
}

export function prepareOk(
  statementId: number,
  params: number,
  columns: number,
  o: { deprecateEof?: boolean; warnings?: number } = {},
): Buffer {
  let seq = 1;
  const parts: Buffer[] = [
    packet(seq++, Buffer.concat([Buffer.from([0]), u32(statementId), u16(columns), u16(params), Buffer.from([0]), u16(o.warnings ?? 0)])),
  ];
  for (let i = 0; i < params; i++) parts.push(columnDefinition(seq++, '?'));
  if (params > 0 && !o.deprecateEof) parts.push(eof(seq++));
  for (let i = 0; i < columns; i++) parts.push(columnDefinition(seq++, `c${i}`));
  if (columns > 0 && !o.deprecateEof) parts.push(eof(seq++));
  return Buffer.concat(parts);
}

/** A command packet (sequence id 0). */
export function command(code: number, body: Uint8Array | string = ''): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
  return packet(0, Buffer.concat([Buffer.from([code]), b]));
}

export const COM = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  FIELD_LIST: 0x04,
  STATISTICS: 0x09,
  PROCESS_KILL: 0x0c,
  DEBUG: 0x0d,
  PING: 0x0e,
  CHANGE_USER: 0x11,
  STMT_PREPARE: 0x16,
  STMT_EXECUTE: 0x17,
  STMT_SEND_LONG_DATA: 0x18,
  STMT_CLOSE: 0x19,
  STMT_RESET: 0x1a,
  SET_OPTION: 0x1b,
  RESET_CONNECTION: 0x1f,
} as const;

export function query(sql: string): Buffer {
  return command(COM.QUERY, sql);
}

/** COM_QUERY with the CLIENT_QUERY_ATTRIBUTES block: string attributes (type VAR_STRING). */
export function queryWithAttributes(sql: string, attributes: [string, string | null][]): Buffer {
  const parts: Buffer[] = [lenenc(attributes.length), lenenc(1)];
  if (attributes.length > 0) {
    const bitmap = Buffer.alloc((attributes.length + 7) >> 3);
    attributes.forEach(([, v], i) => {
      if (v === null) bitmap[i >> 3]! |= 1 << (i & 7);
    });
    parts.push(bitmap, Buffer.from([1]));
    for (const [name] of attributes) parts.push(u16(0xfd), lenencString(name));
    for (const [, v] of attributes) if (v !== null) parts.push(lenencString(v));
  }
  parts.push(Buffer.from(sql, 'utf8'));
  return command(COM.QUERY, Buffer.concat(parts));
}

export function execute(statementId: number, longlongParams: number[] = []): Buffer {
  const parts: Buffer[] = [u32(statementId), Buffer.from([0]), u32(1)];
  if (longlongParams.length > 0) {
    parts.push(Buffer.alloc((longlongParams.length + 7) >> 3), Buffer.from([1]));
    for (let i = 0; i < longlongParams.length; i++) parts.push(u16(0x08));
    for (const v of longlongParams) {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(BigInt(v));
      parts.push(b);
    }
  }
  return command(COM.STMT_EXECUTE, Buffer.concat(parts));
}

export function statementCommand(code: number, statementId: number): Buffer {
  return command(code, u32(statementId));
}

export function changeUser(user: string, database: string): Buffer {
  const auth = Buffer.from('01234567890123456789');
  return command(COM.CHANGE_USER, Buffer.concat([nul(user), Buffer.from([auth.length]), auth, nul(database), u16(0x21), nul('mysql_native_password')]));
}

/**
 * One compressed-protocol frame around `bytes`: zlib when `store` is false, else stored as is
 * (uncompressed length 0).
 */
export function compressedFrame(seq: number, bytes: Uint8Array, store = false): Buffer {
  if (store) return Buffer.concat([u24(bytes.length), Buffer.from([seq]), u24(0), Buffer.from(bytes)]);
  const z = deflateSync(bytes);
  return Buffer.concat([u24(z.length), Buffer.from([seq]), u24(bytes.length), z]);
}
