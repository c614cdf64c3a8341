import { inflateSync } from 'node:zlib';
import type { Detection } from '../types.js';
import {
  COM_CHANGE_USER,
  COM_DEBUG,
  COM_FIELD_LIST,
  COM_INIT_DB,
  COM_PING,
  COM_PROCESS_KILL,
  COM_QUERY,
  COM_QUIT,
  COM_RESET_CONNECTION,
  COM_SET_OPTION,
  COM_STATISTICS,
  COM_STMT_CLOSE,
  COM_STMT_EXECUTE,
  COM_STMT_FETCH,
  COM_STMT_PREPARE,
  COM_STMT_RESET,
  COM_STMT_SEND_LONG_DATA,
  ERR_HEADER,
} from './constants.js';
import { COMPRESSED_HEADER_LENGTH } from './framing.js';
import { readU24 } from './wire.js';

const SQL_KEYWORDS: ReadonlySet<string> = new Set(
  (
    'SELECT INSERT UPDATE DELETE REPLACE SET SHOW USE CREATE DROP ALTER CALL BEGIN START COMMIT ROLLBACK ' +
    'WITH EXPLAIN DESCRIBE DESC TRUNCATE GRANT REVOKE LOCK UNLOCK FLUSH KILL LOAD HANDLER DO ANALYZE ' +
    'OPTIMIZE REPAIR CHECK CHECKSUM SAVEPOINT RELEASE XA PREPARE EXECUTE DEALLOCATE RENAME INSTALL ' +
    'UNINSTALL RESET PURGE CHANGE VALUES TABLE HELP SIGNAL RESIGNAL BINLOG CACHE SHUTDOWN'
  ).split(' '),
);
const LONGEST_KEYWORD = 10;

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** SQL text begins (after blanks) with a statement keyword, a comment or a parenthesis. */
export function looksLikeSql(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
  if (i >= end) return false;
  const c = b[i]!;
  if (c === 0x28 /* ( */ || c === 0x23 /* # */) return true;
  if (c === 0x2f /* / */) return b[i + 1] === 0x2a;
  if (c === 0x2d /* - */) return b[i + 1] === 0x2d;
  let word = '';
  let j = i;
  while (j < end && j - i <= LONGEST_KEYWORD && isLetter(b[j]!)) word += String.fromCharCode(b[j++]! & 0xdf);
  if (j < end && isLetter(b[j]!)) return false;
  return SQL_KEYWORDS.has(word);
}

function printableRun(b: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c < 0x20 && c !== 0x09) return c === 0 && i === end - 1; // FIELD_LIST ends its table with NUL
    if (c === 0x7f) return false;
  }
  return true;
}

export interface CommandCheck {
  /** The packet must end exactly where `end` is (a segment usually holds one binary command). */
  mustFillChunk: boolean;
  /** COM_QUERY may start with the query-attribute block (0x00 0x01 when there are none). */
  queryAttributes?: boolean;
}

/**
 * Whether a client command packet plausibly starts at `at`: sequence id 0, a known command byte and
 * a payload that fits the command (SQL text starting with a keyword, exact sizes for the binary ones).
 */
export function looksLikeCommand(b: Uint8Array, at: number, check: CommandCheck): boolean {
  if (b.length - at < 5) return false;
  const length = readU24(b, at);
  if (length === 0 || b[at + 3] !== 0) return false;
  const command = b[at + 4]!;
  const payloadEnd = at + 4 + length;
  const visibleEnd = Math.min(payloadEnd, b.length);
  const fills = payloadEnd === b.length;
  switch (command) {
    case COM_QUERY:
      if (looksLikeSql(b, at + 5, visibleEnd)) return true;
      // Query attributes with no parameters: count 0, set count 1, then the text.
      return check.queryAttributes !== false && b[at + 5] === 0 && b[at + 6] === 1 && looksLikeSql(b, at + 7, visibleEnd);
    case COM_STMT_PREPARE:
      return looksLikeSql(b, at + 5, visibleEnd);
    case COM_INIT_DB:
    case COM_FIELD_LIST:
      return length >= 2 && length <= 300 && fills && printableRun(b, at + 5, payloadEnd);
    case COM_CHANGE_USER:
      return length >= 3 && (fills || !check.mustFillChunk) && b[at + 5] !== 0;
    case COM_QUIT:
    case COM_PING:
    case COM_STATISTICS:
    case COM_DEBUG:
    case COM_RESET_CONNECTION:
      return length === 1 && (fills || !check.mustFillChunk);
    case COM_STMT_CLOSE:
    case COM_STMT_RESET:
    case COM_PROCESS_KILL:
      return length === 5 && (fills || !check.mustFillChunk);
    case COM_STMT_FETCH:
      return length === 9 && (fills || !check.mustFillChunk);
    case COM_SET_OPTION:
      return length === 3 && b[at + 6] === 0 && (b[at + 5] ?? 2) <= 1 && (fills || !check.mustFillChunk);
    case COM_STMT_EXECUTE:
      // statement id (4), flags (1, cursor type bits only), iteration count (4) always 1
      return (
        length >= 10 &&
        (fills || !check.mustFillChunk) &&
        b.length - at >= 14 &&
        b[at + 9]! <= 0x0f &&
        b[at + 10] === 1 &&
        b[at + 11] === 0 &&
        b[at + 12] === 0 &&
        b[at + 13] === 0
      );
    case COM_STMT_SEND_LONG_DATA:
      return length >= 7 && !check.mustFillChunk;
    default:
      return false;
  }
}

/**
 * A compressed-protocol frame whose content starts with a plausible command: the stored form
 * (uncompressed length 0) or a zlib stream, when the whole frame is present.
 */
export function looksLikeCompressedCommand(b: Uint8Array, at: number): boolean {
  if (b.length - at < COMPRESSED_HEADER_LENGTH + 5) return false;
  const compressedLength = readU24(b, at);
  const uncompressedLength = readU24(b, at + 4);
  const end = at + COMPRESSED_HEADER_LENGTH + compressedLength;
  if (compressedLength === 0 || end > b.length) return false;
  const body = b.subarray(at + COMPRESSED_HEADER_LENGTH, end);
  if (uncompressedLength === 0) return looksLikeCommand(body, 0, { mustFillChunk: false });
  if (body[0] !== 0x78 || ((body[0]! << 8) | body[1]!) % 31 !== 0) return false;
  try {
    const inflated = inflateSync(body);
    return inflated.length === uncompressedLength && looksLikeCommand(inflated, 0, { mustFillChunk: false });
  } catch {
    return false;
  }
}

const BINLOG_EVENT_HEADER_LENGTH = 19;
/** The highest event type MySQL (0x28) or MariaDB (0xa4) writes, with room for a few more. */
const MAX_BINLOG_EVENT_TYPE = 0xaf;

/**
 * The payload of a binary log stream packet (`length` bytes, `payload` its first bytes): the OK byte,
 * then an event whose header gives its own size, which must be the packet's (v4 events: timestamp,
 * type, server id, size, position, flags). What a replica connection carries for as long as it
 * lives, so what a capture usually starts in.
 */
export function isBinlogEventPayload(payload: Uint8Array, length: number): boolean {
  if (length < 1 + BINLOG_EVENT_HEADER_LENGTH || payload.length < 1 + BINLOG_EVENT_HEADER_LENGTH || payload[0] !== 0) return false;
  const type = payload[5]!;
  const size = (payload[10]! | (payload[11]! << 8) | (payload[12]! << 16) | (payload[13]! << 24)) >>> 0;
  return type >= 1 && type <= MAX_BINLOG_EVENT_TYPE && size === length - 1;
}

/** A packet of a binary log stream at `at` (see isBinlogEventPayload). */
export function looksLikeBinlogEvent(b: Uint8Array, at: number): boolean {
  return b.length - at >= 4 && isBinlogEventPayload(b.subarray(at + 4), readU24(b, at));
}

const MIN_GREETING_TAIL = 4 + 8 + 1 + 2; // connection id, auth data 1, filler, capabilities

/** 'yes' for a protocol-10 greeting or a connection-refusing ERR with sequence id 0. */
export function detectGreeting(b: Uint8Array): Detection {
  if (b.length < 5) return b.length === 0 || b.length < 4 || b[3] === 0 ? 'more' : 'no';
  const length = readU24(b, 0);
  if (b[3] !== 0 || length < 3 || length > 1024) return 'no';
  if (b[4] === ERR_HEADER) {
    if (b.length < 7) return 'more';
    const code = b[5]! | (b[6]! << 8);
    return code >= 1000 && code < 5000 && printableRun(b, 7, Math.min(b.length, 4 + length)) ? 'yes' : 'no';
  }
  if (b[4] !== 10) return 'no';
  const versionEnd = Math.min(b.length, 4 + length);
  let i = 5;
  for (; i < versionEnd && b[i] !== 0; i++) {
    const c = b[i]!;
    if (c < 0x20 || c > 0x7e) return 'no';
  }
  if (i >= versionEnd) return versionEnd === b.length && i - 5 < 80 ? 'more' : 'no';
  if (i === 5 || b[5]! < 0x30 || b[5]! > 0x39) return 'no'; // versions start with a digit
  if (4 + length - (i + 1) < MIN_GREETING_TAIL) return 'no';
  return 'yes';
}

/** Content detection for one direction's first bytes. */
export function detectMysql(first: Uint8Array, dir: 0 | 1): Detection {
  const greeting = detectGreeting(first);
  if (greeting === 'yes') return 'yes';
  if (dir === 1) return looksLikeBinlogEvent(first, 0) ? 'yes' : greeting;
  if (looksLikeCommand(first, 0, { mustFillChunk: true }) || looksLikeCompressedCommand(first, 0)) return 'yes';
  return first.length < 5 || greeting === 'more' ? 'more' : 'no';
}
