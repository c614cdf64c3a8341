import type { Direction } from '../../tcp/types.js';
import type { ProtoMessageDecoder } from '../grpc/proto-decoder.js';
import type { AnalyzerContext, Detection, ProtocolAnalyzer, ProtocolHandler } from '../types.js';
import { type H2cUpgradeRequest, Http2Connection, type Http2ConnectionOptions } from './connection.js';
import {
  CONNECTION_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  FRAME_HEADER_LENGTH,
  Flag,
  FrameType,
  chainVerdict,
  findFrameBoundary,
  plausibleFrameLength,
} from './frames.js';

export interface Http2AnalyzerOptions extends Http2ConnectionOptions {
  /** Decode the first gRPC request/response message of methods it knows (`--proto`). */
  protoDecoder?: ProtoMessageDecoder | undefined;
  defaultPorts?: readonly number[];
}

/**
 * HTTP/2 over cleartext TCP (prior knowledge, `Upgrade: h2c`, or joined mid-connection) and gRPC on it.
 *
 * Detection: the client connection preface, else frame structure: plausible frame headers chained
 * from the first byte (three frames, or frames ending exactly at the end of the bytes), or, when the
 * bytes start inside a frame, three chained frames from a later offset.
 *
 * Role reversal: the preface seen in direction 1, or a HEADERS block whose first field is a static
 * `:status` (server) in direction 0 / a static `:method`, `:path` or `:scheme` (client) in direction 1.
 */
export class Http2Analyzer implements ProtocolAnalyzer {
  readonly name = 'http2' as const;
  readonly defaultPorts: readonly number[];

  constructor(private readonly opts: Http2AnalyzerOptions = {}) {
    this.defaultPorts = opts.defaultPorts ?? [50051, 8080, 8443, 9090, 10000];
  }

  detect(first: Uint8Array, dir: Direction): Detection {
    const preface = prefaceMatch(first);
    if (preface !== 'no') return preface;
    // Detection does not assume a raised SETTINGS_MAX_FRAME_SIZE.
    const atStart = chainVerdict(first, 0, first.length, dir, DEFAULT_MAX_FRAME_SIZE);
    if (atStart !== 'no') return atStart;
    // The bytes may begin inside a frame: demand three whole frames from a later boundary.
    const later = findFrameBoundary(first, first.length, dir, false, DEFAULT_MAX_FRAME_SIZE);
    if (later.kind === 'found') return completeFrames(first, later.at, dir) >= 3 ? 'yes' : 'no';
    // Undecided only for a plausible frame header not yet complete, not for the last few bytes.
    return later.kind === 'more' && later.from + FRAME_HEADER_LENGTH <= first.length ? 'more' : 'no';
  }

  reversed(first: Uint8Array, dir: Direction): boolean {
    if (prefaceMatch(first) === 'yes') return dir === 1;
    const boundary = findFrameBoundary(first, first.length, dir, true);
    if (boundary.kind !== 'found') return false;
    const role = firstHeadersRole(first, boundary.at, dir);
    return role !== null && role !== (dir === 0 ? 'client' : 'server');
  }

  open(ctx: AnalyzerContext): Http2Connection {
    return new Http2Connection(ctx, this.opts);
  }

  /** A handler for a connection switched from HTTP/1.1 by `Upgrade: h2c`; stream 1 answers `request`. */
  openUpgraded(ctx: AnalyzerContext, request: H2cUpgradeRequest): ProtocolHandler {
    const connection = this.open(ctx);
    connection.acceptUpgrade(request);
    return connection;
  }
}

function prefaceMatch(first: Uint8Array): Detection {
  const n = Math.min(first.length, CONNECTION_PREFACE.length);
  for (let i = 0; i < n; i++) if (first[i] !== CONNECTION_PREFACE[i]) return 'no';
  return n === CONNECTION_PREFACE.length ? 'yes' : 'more';
}

function completeFrames(b: Uint8Array, p: number, dir: Direction): number {
  let frames = 0;
  for (let q = p; q + FRAME_HEADER_LENGTH <= b.length; frames++) {
    const length = plausibleFrameLength(b, q, dir);
    if (length < 0 || q + FRAME_HEADER_LENGTH + length > b.length) break;
    q += FRAME_HEADER_LENGTH + length;
  }
  return frames;
}

/** Who sent the first HEADERS frame in the chain from `p`, judged by its first static-table field. */
function firstHeadersRole(b: Uint8Array, p: number, dir: Direction): 'client' | 'server' | null {
  for (let q = p; q + FRAME_HEADER_LENGTH <= b.length; ) {
    const length = plausibleFrameLength(b, q, dir);
    if (length < 0) return null;
    if (b[q + 3] === FrameType.Headers) {
      const flags = b[q + 4]!;
      let at = q + FRAME_HEADER_LENGTH + ((flags & Flag.Padded) !== 0 ? 1 : 0) + ((flags & Flag.Priority) !== 0 ? 5 : 0);
      while (at < b.length && (b[at]! & 0xe0) === 0x20) at++; // skip size updates (short ones)
      if (at >= b.length) return null;
      const first = b[at]!;
      const index = first & 0x80 ? first & 0x7f : first & 0x40 ? first & 0x3f : first & 0x0f;
      if (index >= 8 && index <= 14) return 'server';
      if (index >= 2 && index <= 7) return 'client';
      return null;
    }
    q += FRAME_HEADER_LENGTH + length;
  }
  return null;
}
