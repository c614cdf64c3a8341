import {
  CLIENT_CONNECT_WITH_DB,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
  CLIENT_PROTOCOL_41,
  CLIENT_SECURE_CONNECTION,
  EOF_HEADER,
} from './constants.js';

/**
 * A cursor over one packet payload. Reads past the end set `truncated` and return zero/empty
 * instead of throwing, so a malformed packet is detected by the caller with one check.
 */
export class PayloadReader {
  pos: number;
  truncated = false;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return Math.max(0, this.bytes.length - this.pos);
  }

  private need(n: number): boolean {
    if (this.pos + n > this.bytes.length) {
      this.truncated = true;
      this.pos = this.bytes.length;
      return false;
    }
    return true;
  }

  u8(): number {
    if (!this.need(1)) return 0;
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    if (!this.need(2)) return 0;
    const b = this.bytes;
    const v = b[this.pos]! | (b[this.pos + 1]! << 8);
    this.pos += 2;
    return v;
  }

  u24(): number {
    if (!this.need(3)) return 0;
    const v = readU24(this.bytes, this.pos);
    this.pos += 3;
    return v;
  }

  u32(): number {
    if (!this.need(4)) return 0;
    const b = this.bytes;
    const v = (b[this.pos]! | (b[this.pos + 1]! << 8) | (b[this.pos + 2]! << 16)) + b[this.pos + 3]! * 0x1000000;
    this.pos += 4;
    return v;
  }

  /** Length-encoded integer; null for the NULL marker 0xFB. 8-byte values above 2^53 lose precision. */
  lenenc(): number | null {
    const first = this.u8();
    if (first < 0xfb) return first;
    if (first === 0xfb) return null;
    if (first === 0xfc) return this.u16();
    if (first === 0xfd) return this.u24();
    if (first === 0xfe) {
      const low = this.u32();
      const high = this.u32();
      return high * 0x100000000 + low;
    }
    this.truncated = true; // 0xFF is not a valid length prefix
    return 0;
  }

  skip(n: number): void {
    if (this.need(n)) this.pos += n;
  }

  /** Bytes up to (not including) the next NUL, consuming the NUL; the rest when there is none. */
  nulString(): string {
    const b = this.bytes;
    let end = this.pos;
    while (end < b.length && b[end] !== 0) end++;
    const s = decodeText(b, this.pos, end);
    this.pos = end < b.length ? end + 1 : end;
    return s;
  }

  fixedString(n: number): string {
    if (!this.need(n)) return '';
    const s = decodeText(this.bytes, this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  lenencString(): string | null {
    const n = this.lenenc();
    if (n === null) return null;
    return this.fixedString(n);
  }

  restString(): string {
    const s = decodeText(this.bytes, this.pos, this.bytes.length);
    this.pos = this.bytes.length;
    return s;
  }
}

export function readU24(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16);
}

export function decodeText(b: Uint8Array, start: number, end: number): string {
  if (end <= start) return '';
  return Buffer.from(b.buffer, b.byteOffset + start, end - start).toString('utf8');
}

export interface ServerGreeting {
  protocolVersion: number;
  serverVersion: string;
  connectionId: number;
  capabilities: number;
  authPlugin: string | null;
}

/** Protocol 10 initial handshake (HandshakeV10); null when it is not one. */
export function parseGreeting(payload: Uint8Array): ServerGreeting | null {
  const r = new PayloadReader(payload);
  const protocolVersion = r.u8();
  if (protocolVersion !== 10) return null;
  const serverVersion = r.nulString();
  const connectionId = r.u32();
  r.skip(8 + 1); // auth-plugin-data part 1, filler
  let capabilities = r.u16();
  let authPlugin: string | null = null;
  if (r.truncated) return null;
  if (r.remaining > 0) {
    r.skip(1 + 2); // character set, status flags
    capabilities |= r.u16() << 16;
    capabilities >>>= 0;
    const authDataLength = r.u8();
    r.skip(10);
    if (capabilities & CLIENT_SECURE_CONNECTION) r.skip(Math.max(13, authDataLength - 8));
    if (!r.truncated && r.remaining > 0) authPlugin = r.nulString();
  }
  return { protocolVersion, serverVersion, connectionId, capabilities, authPlugin };
}

export interface HandshakeResponse {
  capabilities: number;
  user: string | null;
  database: string | null;
  authPlugin: string | null;
  /** An SSLRequest: the client switches to TLS next. */
  sslRequest: boolean;
}

/** HandshakeResponse41 (or 320); the auth response is skipped and never kept. */
export function parseHandshakeResponse(payload: Uint8Array, sslFlag: number): HandshakeResponse | null {
  const r = new PayloadReader(payload);
  let capabilities = r.u16();
  if (!(capabilities & CLIENT_PROTOCOL_41)) {
    r.skip(3); // max packet size
    const user = r.nulString();
    return r.truncated ? null : { capabilities, user, database: null, authPlugin: null, sslRequest: false };
  }
  capabilities = (capabilities | (r.u16() << 16)) >>> 0;
  r.skip(4 + 1 + 23); // max packet size, character set, filler
  if (r.truncated) return null;
  if (r.remaining === 0) {
    return { capabilities, user: null, database: null, authPlugin: null, sslRequest: (capabilities & sslFlag) !== 0 };
  }
  const user = r.nulString();
  if (capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) r.skip(r.lenenc() ?? 0);
  else if (capabilities & CLIENT_SECURE_CONNECTION) r.skip(r.u8());
  else r.nulString();
  let database: string | null = null;
  if (capabilities & CLIENT_CONNECT_WITH_DB && r.remaining > 0) database = r.nulString() || null;
  const authPlugin = r.remaining > 0 ? r.nulString() : null;
  if (r.truncated) return null;
  return { capabilities, user, database, authPlugin, sslRequest: false };
}

export interface OkPacket {
  affectedRows: number;
  lastInsertId: number;
  status: number;
  warnings: number;
}

/** OK packet (header 0x00, or 0xFE when it ends a result set under CLIENT_DEPRECATE_EOF). */
export function parseOk(payload: Uint8Array): OkPacket | null {
  const r = new PayloadReader(payload, 1);
  const affectedRows = r.lenenc() ?? 0;
  const lastInsertId = r.lenenc() ?? 0;
  const status = r.remaining >= 2 ? r.u16() : 0;
  const warnings = r.remaining >= 2 ? r.u16() : 0;
  return r.truncated ? null : { affectedRows, lastInsertId, status, warnings };
}

export interface ErrPacket {
  code: number;
  sqlState: string | null;
  message: string;
}

export function parseErr(payload: Uint8Array): ErrPacket | null {
  const r = new PayloadReader(payload, 1);
  const code = r.u16();
  if (r.truncated) return null;
  let sqlState: string | null = null;
  if (payload[r.pos] === 0x23 /* '#' */ && r.remaining >= 6) sqlState = r.fixedString(6);
  return { code, sqlState, message: r.restString() };
}

/** Terminator of definitions or rows: a 5-byte EOF or (CLIENT_DEPRECATE_EOF) an OK with header 0xFE. */
export interface Terminator {
  status: number;
  warnings: number;
  affectedRows: number | null;
}

/**
 * A row never starts with 0xFE unless its first value is longer than 16 MiB, so 0xFE in a shorter
 * packet is an EOF (exactly 5 bytes) or a 0xFE OK (7 bytes or more); their length tells them apart,
 * so CLIENT_DEPRECATE_EOF need not be known (it is not after a mid-stream start).
 */
export function isTerminator(payload: Uint8Array, fullLength: number): boolean {
  return payload[0] === EOF_HEADER && fullLength < 0xffffff;
}

export function isEofPacket(payload: Uint8Array, fullLength: number): boolean {
  return payload[0] === EOF_HEADER && fullLength === 5;
}

export function parseTerminator(payload: Uint8Array, fullLength: number): Terminator | null {
  if (fullLength === 5 || fullLength === 1) {
    const r = new PayloadReader(payload, 1);
    const warnings = fullLength === 5 ? r.u16() : 0;
    const status = fullLength === 5 ? r.u16() : 0;
    return { status, warnings, affectedRows: null };
  }
  const ok = parseOk(payload);
  return ok && { status: ok.status, warnings: ok.warnings, affectedRows: ok.affectedRows };
}

export interface PrepareOk {
  statementId: number;
  columns: number;
  params: number;
  warnings: number;
}

export function parsePrepareOk(payload: Uint8Array): PrepareOk | null {
  if (payload.length < 9) return null;
  const r = new PayloadReader(payload, 1);
  const statementId = r.u32();
  const columns = r.u16();
  const params = r.u16();
  r.skip(1);
  const warnings = r.remaining >= 2 ? r.u16() : 0;
  return { statementId, columns, params, warnings };
}
