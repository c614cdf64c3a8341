import { inflateSync } from 'node:zlib';
import { MAX_PACKET_PAYLOAD } from './constants.js';
import { readU24 } from './wire.js';

/** One logical MySQL packet (continuation packets of 0xFFFFFF bytes already joined). */
export interface MysqlPacket {
  /** Sequence id of the first physical packet. */
  seq: number;
  /** The payload, cut to the framer's `maxKeep`; a view valid only until the next `next()`/`push()`. */
  payload: Uint8Array;
  /** Full payload length. */
  length: number;
  /** Bytes of the packet in this stream, headers included. */
  wireBytes: number;
  startTs: number;
  endTs: number;
  /** Stream offset of the first header byte (with compression: of the frame holding it). */
  startOffset: number;
}

const EMPTY = new Uint8Array(0);

/** An owned copy (Buffer#slice would share memory with the lent chunk). */
function copyOf(chunk: Uint8Array, start: number, end: number): Uint8Array {
  const copy = new Uint8Array(end - start);
  copy.set(chunk.subarray(start, end));
  return copy;
}

/**
 * Splits one direction into MySQL packets. `push` lends a chunk, `next` returns packets while whole
 * ones are available; bytes of a partial packet are copied (up to `maxKeep` of its payload), and the
 * chunk is let go once `next` has returned null: a framer never keeps a capture chunk (a view into a
 * whole read buffer) alive between deliveries. Packets entirely inside one chunk are not copied.
 */
export class PacketFramer {
  private chunk: Uint8Array = EMPTY;
  private pos = 0;
  private firstTs = 0;
  private lastTs = 0;
  private chunkOffset = 0;
  private exactOffsets = true;

  private readonly header = new Uint8Array(4);
  private headerFill = 0;
  private inPayload = false;
  private physicalLength = 0;
  private remaining = 0;

  private started = false;
  private seq = 0;
  private startTs = 0;
  private startOffset = 0;
  private parts: Uint8Array[] = [];
  private kept = 0;
  private length = 0;
  private wire = 0;

  constructor(private readonly maxKeep: number) {}

  /**
   * Lend the next chunk. `firstTs` applies to packets starting in it, `lastTs` to packets ending in
   * it; with `exactOffsets` false every packet starting in the chunk gets `offset` itself.
   */
  push(chunk: Uint8Array, firstTs: number, lastTs: number, offset: number, exactOffsets = true): void {
    this.chunk = chunk;
    this.pos = 0;
    this.firstTs = firstTs;
    this.lastTs = lastTs;
    this.chunkOffset = offset;
    this.exactOffsets = exactOffsets;
  }

  /** The unread rest of the lent chunk (when the stream changes framing after a packet). */
  takeRest(): Uint8Array {
    const rest = this.chunk.subarray(this.pos);
    this.chunk = EMPTY;
    this.pos = 0;
    return rest;
  }

  /** True while a packet has begun but not ended. */
  get partial(): boolean {
    return this.started || this.headerFill > 0;
  }

  /** Forget any partial packet and the lent chunk (after a gap). */
  reset(): void {
    this.chunk = EMPTY;
    this.pos = 0;
    this.headerFill = 0;
    this.inPayload = false;
    this.clearPacket();
  }

  next(): MysqlPacket | null {
    const chunk = this.chunk;
    for (;;) {
      if (!this.inPayload) {
        const available = chunk.length - this.pos;
        if (available === 0) return this.consumed();
        if (!this.started && this.headerFill === 0) {
          this.startTs = this.firstTs;
          this.startOffset = this.exactOffsets ? this.chunkOffset + this.pos : this.chunkOffset;
        }
        const take = Math.min(4 - this.headerFill, available);
        for (let i = 0; i < take; i++) this.header[this.headerFill + i] = chunk[this.pos + i]!;
        this.headerFill += take;
        this.pos += take;
        if (this.headerFill < 4) return this.consumed();
        this.headerFill = 0;
        this.physicalLength = readU24(this.header, 0);
        if (!this.started) {
          this.started = true;
          this.seq = this.header[3]!;
        }
        this.inPayload = true;
        this.remaining = this.physicalLength;
        this.wire += 4;
      }
      const take = Math.min(this.remaining, chunk.length - this.pos);
      let payload: Uint8Array;
      if (take === this.remaining && this.length === 0 && this.physicalLength < MAX_PACKET_PAYLOAD) {
        payload = chunk.subarray(this.pos, this.pos + Math.min(take, this.maxKeep));
      } else {
        const keep = Math.min(take, this.maxKeep - this.kept);
        if (keep > 0) this.parts.push(copyOf(chunk, this.pos, this.pos + keep));
        this.kept += keep;
        if (take < this.remaining || this.physicalLength === MAX_PACKET_PAYLOAD) {
          this.pos += take;
          this.remaining -= take;
          this.length += take;
          this.wire += take;
          if (this.remaining > 0) return this.consumed();
          this.inPayload = false;
          continue; // the logical packet goes on in the next physical packet
        }
        payload = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
      }
      this.pos += take;
      this.inPayload = false;
      const packet: MysqlPacket = {
        seq: this.seq,
        payload,
        length: this.length + take,
        wireBytes: this.wire + take,
        startTs: this.startTs,
        endTs: this.lastTs,
        startOffset: this.startOffset,
      };
      this.clearPacket();
      return packet;
    }
  }

  /** The lent chunk is used up: release it. */
  private consumed(): null {
    this.chunk = EMPTY;
    this.pos = 0;
    return null;
  }

  private clearPacket(): void {
    this.started = false;
    this.parts = [];
    this.kept = 0;
    this.length = 0;
    this.wire = 0;
  }
}

/** A decoded frame of the compressed protocol. */
export interface CompressedFrame {
  bytes: Uint8Array;
  startTs: number;
  endTs: number;
  offset: number;
}

export const COMPRESSED_HEADER_LENGTH = 7;

/**
 * Removes compressed-protocol framing: 3-byte compressed length, 1-byte sequence, 3-byte
 * uncompressed length (0: the payload is stored as is), then the (zlib) payload. Whole frames are
 * needed to inflate, so a frame spanning chunks is copied.
 */
export class CompressedDeframer {
  private readonly header = new Uint8Array(COMPRESSED_HEADER_LENGTH);
  private headerFill = 0;
  private inPayload = false;
  private remaining = 0;
  private parts: Uint8Array[] = [];
  private startTs = 0;
  private startOffset = 0;

  /** Calls `onFrame` for each complete frame; `onError` when a payload does not inflate. */
  push(
    chunk: Uint8Array,
    ts: number,
    offset: number,
    onFrame: (frame: CompressedFrame) => void,
    onError: (reason: string) => void,
  ): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.inPayload) {
        if (this.headerFill === 0) {
          this.startTs = ts;
          this.startOffset = offset + pos;
        }
        const take = Math.min(COMPRESSED_HEADER_LENGTH - this.headerFill, chunk.length - pos);
        for (let i = 0; i < take; i++) this.header[this.headerFill + i] = chunk[pos + i]!;
        this.headerFill += take;
        pos += take;
        if (this.headerFill < COMPRESSED_HEADER_LENGTH) return;
        this.headerFill = 0;
        this.inPayload = true;
        this.remaining = readU24(this.header, 0);
      }
      const take = Math.min(this.remaining, chunk.length - pos);
      let stored: Uint8Array;
      if (take === this.remaining && this.parts.length === 0) {
        stored = chunk.subarray(pos, pos + take);
        pos += take;
      } else {
        this.parts.push(copyOf(chunk, pos, pos + take));
        this.remaining -= take;
        pos += take;
        if (this.remaining > 0) return;
        stored = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
        this.parts = [];
      }
      this.remaining = 0;
      this.inPayload = false;
      const uncompressedLength = readU24(this.header, 4);
      let bytes: Uint8Array = stored;
      if (uncompressedLength > 0) {
        try {
          bytes = inflateSync(stored);
        } catch {
          onError('inflate-failed');
          continue;
        }
        if (bytes.length !== uncompressedLength) onError('inflated-length-mismatch');
      }
      onFrame({ bytes, startTs: this.startTs, endTs: ts, offset: this.startOffset });
    }
  }

  reset(): void {
    this.headerFill = 0;
    this.inPayload = false;
    this.remaining = 0;
    this.parts = [];
  }
}
