/** HTTP/2 frame layout (RFC 9113 section 4 and 6) and the frame-structure heuristics. */
import type { Direction } from '../../tcp/types.js';

export const FRAME_HEADER_LENGTH = 9;
export const DEFAULT_MAX_FRAME_SIZE = 16384;
export const MAX_FRAME_LENGTH = 0xffffff;
export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const enum FrameType {
  Data = 0x0,
  Headers = 0x1,
  Priority = 0x2,
  RstStream = 0x3,
  Settings = 0x4,
  PushPromise = 0x5,
  Ping = 0x6,
  Goaway = 0x7,
  WindowUpdate = 0x8,
  Continuation = 0x9,
}

export const enum Flag {
  EndStream = 0x1,
  Ack = 0x1,
  EndHeaders = 0x4,
  Padded = 0x8,
  Priority = 0x20,
}

export const enum SettingId {
  HeaderTableSize = 0x1,
  MaxFrameSize = 0x5,
}

const FRAME_TYPE_NAMES = [
  'DATA', 'HEADERS', 'PRIORITY', 'RST_STREAM', 'SETTINGS', 'PUSH_PROMISE', 'PING', 'GOAWAY', 'WINDOW_UPDATE', 'CONTINUATION',
];

export function frameTypeName(type: number): string {
  return FRAME_TYPE_NAMES[type] ?? `UNKNOWN_0x${type.toString(16)}`;
}

const ERROR_CODE_NAMES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT', 'STREAM_CLOSED',
  'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR', 'CONNECT_ERROR', 'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];

/** RST_STREAM / GOAWAY error code name, `0x..` for codes not in RFC 9113. */
export function errorCodeName(code: number): string {
  return ERROR_CODE_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Flags each frame type defines; anything else is implausible when hunting for frame boundaries. */
const DEFINED_FLAGS = [0x09, 0x2d, 0x00, 0x00, 0x01, 0x0c, 0x01, 0x00, 0x00, 0x04];

export function readUint24(b: Uint8Array, p: number): number {
  return (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
}

export function readUint31(b: Uint8Array, p: number): number {
  return ((b[p]! & 0x7f) * 0x1000000) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

export function readUint32(b: Uint8Array, p: number): number {
  return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/**
 * Payload length of the frame header at `b[p..p+9)` if it is a plausible frame for `dir` when the frame
 * boundaries are not known, else -1. Plausible: a type defined by RFC 9113 with only its defined flags,
 * reserved bit clear, stream 0 exactly for connection frames and otherwise an odd (client-initiated)
 * stream (server push is not considered), a length fitting the type, PUSH_PROMISE only from the server,
 * and no empty DATA frame without END_STREAM.
 */
export function plausibleFrameLength(b: Uint8Array, p: number, dir: Direction, maxLength = MAX_FRAME_LENGTH): number {
  const length = readUint24(b, p);
  if (length > maxLength) return -1;
  const type = b[p + 3]!;
  const flags = b[p + 4]!;
  if (type > FrameType.Continuation || (flags & ~DEFINED_FLAGS[type]!) !== 0) return -1;
  if (b[p + 5]! & 0x80) return -1;
  const stream = readUint31(b, p + 5);
  const connectionFrame = type === FrameType.Settings || type === FrameType.Ping || type === FrameType.Goaway;
  if (connectionFrame ? stream !== 0 : type !== FrameType.WindowUpdate && stream === 0) return -1;
  if (stream !== 0 && stream % 2 === 0) return -1;
  if ((flags & Flag.Padded) !== 0 && type !== FrameType.Settings && length < 1) return -1;
  switch (type) {
    case FrameType.Data:
      return length === 0 && (flags & Flag.EndStream) === 0 ? -1 : length;
    case FrameType.Headers:
    case FrameType.Continuation:
      return length >= 1 ? length : -1;
    case FrameType.Priority:
      return length === 5 ? length : -1;
    case FrameType.RstStream:
    case FrameType.WindowUpdate:
      return length === 4 ? length : -1;
    case FrameType.Settings:
      return length % 6 === 0 && (length === 0 || (flags & Flag.Ack) === 0) ? length : -1;
    case FrameType.PushPromise:
      return dir === 1 && length >= 4 ? length : -1;
    case FrameType.Ping:
      return length === 8 ? length : -1;
    default: // GOAWAY
      return length >= 8 ? length : -1;
  }
}

/**
 * 'found': a frame starts at `at`. 'more': undecided until more bytes arrive; nothing before `from`
 * can be a frame start. 'none': no frame starts anywhere in the bytes.
 */
export type BoundaryVerdict = { kind: 'found'; at: number } | { kind: 'more'; from: number } | { kind: 'none' };

/** Consecutive plausible frames needed to believe in a boundary, plus one per frame over 16 KiB. */
const CHAIN_EVIDENCE = 3;

/**
 * Is `p` the start of a frame? Follows the chain of frame headers from `p`. Accepted when
 * CHAIN_EVIDENCE plausible frames follow each other (one more per frame longer than 16384), or when the
 * chain ends exactly at `end` (one frame suffices, unless long). 'more' when the bytes run out first.
 */
export function chainVerdict(
  b: Uint8Array,
  p: number,
  end: number,
  dir: Direction,
  maxLength = MAX_FRAME_LENGTH,
): 'yes' | 'no' | 'more' {
  let q = p;
  let frames = 0;
  let needed = CHAIN_EVIDENCE;
  for (;;) {
    if (q === end && frames > 0) return frames >= needed - CHAIN_EVIDENCE + 1 ? 'yes' : 'more';
    if (q + FRAME_HEADER_LENGTH > end) return 'more';
    const length = plausibleFrameLength(b, q, dir, maxLength);
    if (length < 0) return frames >= needed ? 'yes' : 'no';
    frames++;
    if (length > DEFAULT_MAX_FRAME_SIZE) needed++;
    q += FRAME_HEADER_LENGTH + length;
    if (frames >= needed && q <= end) return 'yes';
  }
}

/**
 * Find the first frame boundary in `b[0, end)`. A candidate that cannot be decided yet ('more') before
 * the first accepted one makes the answer 'more' (unless `decideNow`: the buffer cannot grow).
 */
export function findFrameBoundary(
  b: Uint8Array,
  end: number,
  dir: Direction,
  decideNow = false,
  maxLength = MAX_FRAME_LENGTH,
): BoundaryVerdict {
  let firstUndecided = -1;
  for (let p = 0; p < end; p++) {
    const verdict = chainVerdict(b, p, end, dir, maxLength);
    if (verdict === 'yes') return firstUndecided >= 0 && !decideNow ? { kind: 'more', from: firstUndecided } : { kind: 'found', at: p };
    if (verdict === 'more' && firstUndecided < 0) firstUndecided = p;
  }
  return firstUndecided >= 0 ? { kind: 'more', from: firstUndecided } : { kind: 'none' };
}

/**
 * Weaker evidence for the end of a capture, when no more bytes will come: the first `p` from which at
 * least two plausible frame headers chain (the last frame may be cut short), else -1.
 */
export function lastChanceFrameBoundary(b: Uint8Array, end: number, dir: Direction): number {
  for (let p = 0; p + FRAME_HEADER_LENGTH <= end; p++) {
    let headers = 0;
    for (let q = p; q + FRAME_HEADER_LENGTH <= end; ) {
      const length = plausibleFrameLength(b, q, dir, DEFAULT_MAX_FRAME_SIZE);
      if (length < 0) break;
      headers++;
      q += FRAME_HEADER_LENGTH + length;
    }
    if (headers >= 2) return p;
  }
  return -1;
}
