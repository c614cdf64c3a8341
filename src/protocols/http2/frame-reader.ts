/**
 * Splits one direction of an HTTP/2 connection into frames, whatever the TCP segmentation.
 *
 * Non-DATA frames are delivered whole (a view into the segment when it holds the whole frame, else a
 * copy); DATA payload is delivered piece by piece as it arrives (padding removed), so large bodies are
 * never buffered. Without a known frame boundary (capture started mid-connection, bytes lost) the
 * reader hunts for one with the frame-structure heuristic of frames.ts.
 */
import type { Direction } from '../../tcp/types.js';
import {
  CONNECTION_PREFACE,
  FRAME_HEADER_LENGTH,
  Flag,
  FrameType,
  findFrameBoundary,
  lastChanceFrameBoundary,
  readUint24,
  readUint31,
} from './frames.js';

/** One frame header. The reader reuses the object: copy what you keep after the call. */
export interface FrameInfo {
  length: number;
  type: number;
  flags: number;
  streamId: number;
  /** Stream offset of the first header byte. */
  offset: number;
  /** Packet time of the first header byte. */
  startTs: number;
}

export interface FrameSink {
  /** A complete frame other than DATA; `payload` is valid only during the call. */
  onFrame(dir: Direction, frame: FrameInfo, payload: Uint8Array, endTs: number): void;
  /** A frame too long to buffer was passed over. */
  onFrameSkipped(dir: Direction, frame: FrameInfo): void;
  /** A piece of a DATA frame's data (padding excluded). */
  onData(dir: Direction, frame: FrameInfo, bytes: Uint8Array, start: number, end: number, ts: number): void;
  /** `lost` bytes of the current DATA frame's data were never captured (the reader stays in sync). */
  onDataLost(dir: Direction, frame: FrameInfo, lost: number): void;
  /** The DATA frame is complete. */
  onDataEnd(dir: Direction, frame: FrameInfo, endTs: number): void;
  /** A frame boundary was found again after `skipped` bytes that could not be framed. */
  onResync(dir: Direction, skipped: number, ts: number): void;
  /** The bytes at the start of this direction are not the client connection preface. */
  onPrefaceMismatch(dir: Direction): void;
}

export type ReaderStart = 'preface' | 'frames' | 'hunt';

export interface FrameReaderOptions {
  dir: Direction;
  sink: FrameSink;
  /** Longest non-DATA frame buffered; longer ones are skipped. Default 1 MiB. */
  maxBufferedFrame?: number;
  /** Bytes held while hunting for a frame boundary before deciding with what is there. Default 256 KiB. */
  maxHuntBuffer?: number;
}

const enum State {
  Preface,
  Header,
  Payload,
  Skip,
  DataPadLength,
  DataBody,
  DataPadding,
  Hunt,
}

interface HuntChunk {
  pos: number;
  ts: number;
  offset: number;
}

export class FrameReader {
  private state = State.Hunt;
  private readonly dir: Direction;
  private readonly sink: FrameSink;
  private readonly maxBufferedFrame: number;
  private readonly maxHuntBuffer: number;

  private readonly header = new Uint8Array(FRAME_HEADER_LENGTH);
  private have = 0;
  private readonly frame: FrameInfo = { length: 0, type: 0, flags: 0, streamId: 0, offset: 0, startTs: 0 };
  private payload = new Uint8Array(1024);
  private remaining = 0;
  private padRemaining = 0;

  private hunt = new Uint8Array(0);
  private huntLength = 0;
  private huntChunks: HuntChunk[] = [];
  private huntSkipped = 0;

  constructor(opts: FrameReaderOptions) {
    this.dir = opts.dir;
    this.sink = opts.sink;
    this.maxBufferedFrame = opts.maxBufferedFrame ?? 1 << 20;
    this.maxHuntBuffer = opts.maxHuntBuffer ?? 256 * 1024;
  }

  /** Where the next byte is expected: the client preface, a frame header, or anywhere (hunt). */
  begin(start: ReaderStart): void {
    this.state = start === 'preface' ? State.Preface : start === 'frames' ? State.Header : State.Hunt;
    this.have = 0;
    this.huntLength = 0;
    this.huntChunks = [];
    this.huntSkipped = 0;
  }

  get hunting(): boolean {
    return this.state === State.Hunt;
  }

  /**
   * At most how many bytes of header blocks a gap of `lost` bytes (negative: unknown) starting here
   * may hide, with those of a HEADERS, CONTINUATION or PUSH_PROMISE frame already buffered and lost
   * with it: DATA bytes and frame headers known to lie in the gap are not counted. Infinity when unknown.
   * (Bytes skipped while hunting afterwards may hide more: onResync reports them.)
   */
  hiddenBlockBytes(lost: number): number {
    if (lost < 0) return Infinity;
    const afterFrame = (inFrame: number): number => (lost > inFrame ? Math.max(0, lost - inFrame - FRAME_HEADER_LENGTH) : 0);
    switch (this.state) {
      case State.Header:
        return this.have === 0 ? Math.max(0, lost - FRAME_HEADER_LENGTH) : lost;
      case State.Payload: {
        const blockFrame = this.frame.type === FrameType.Headers || this.frame.type === FrameType.Continuation || this.frame.type === FrameType.PushPromise;
        const inFrame = Math.min(lost, this.remaining);
        return (blockFrame ? this.frame.length - this.remaining + inFrame : 0) + afterFrame(this.remaining);
      }
      case State.DataBody:
      case State.DataPadding:
        return afterFrame(this.remaining + this.padRemaining);
      default:
        return lost;
    }
  }

  /**
   * `lost` bytes are missing before the next delivery. Inside DATA data (known amount) the reader keeps
   * its place and returns true; otherwise it starts hunting and returns false.
   */
  gap(lost: number): boolean {
    if (lost >= 0 && this.state === State.DataBody && lost <= this.remaining) {
      this.sink.onDataLost(this.dir, this.frame, lost);
      this.remaining -= lost;
      if (this.remaining === 0) this.state = this.padRemaining > 0 ? State.DataPadding : State.DataBody;
      return true;
    }
    if (lost >= 0 && this.state === State.DataPadding && lost <= this.padRemaining) {
      this.padRemaining -= lost;
      return true;
    }
    this.begin('hunt');
    return false;
  }

  push(bytes: Uint8Array, ts: number, offset: number): void {
    const end = bytes.length;
    let pos = 0;
    while (pos < end) {
      switch (this.state) {
        case State.Preface: {
          while (pos < end && this.have < CONNECTION_PREFACE.length && bytes[pos] === CONNECTION_PREFACE[this.have]) {
            pos++;
            this.have++;
          }
          if (this.have === CONNECTION_PREFACE.length) {
            this.state = State.Header;
            this.have = 0;
          } else if (pos < end) {
            this.sink.onPrefaceMismatch(this.dir);
            this.begin('hunt');
          }
          break;
        }
        case State.Header: {
          if (this.have === 0) {
            this.frame.offset = offset + pos;
            this.frame.startTs = ts;
          }
          if (this.have === 0 && end - pos >= FRAME_HEADER_LENGTH) {
            this.beginFrame(bytes, pos, ts);
            pos += FRAME_HEADER_LENGTH;
          } else {
            const n = Math.min(FRAME_HEADER_LENGTH - this.have, end - pos);
            this.header.set(bytes.subarray(pos, pos + n), this.have);
            this.have += n;
            pos += n;
            if (this.have === FRAME_HEADER_LENGTH) this.beginFrame(this.header, 0, ts);
          }
          if ((this.state as State) === State.Payload && end - pos >= this.remaining) {
            // The whole payload is in this segment: no copy.
            this.state = State.Header;
            this.sink.onFrame(this.dir, this.frame, bytes.subarray(pos, pos + this.remaining), ts);
            pos += this.remaining;
          }
          break;
        }
        case State.Payload: {
          const n = Math.min(this.remaining, end - pos);
          this.payload.set(bytes.subarray(pos, pos + n), this.frame.length - this.remaining);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) {
            this.state = State.Header;
            this.sink.onFrame(this.dir, this.frame, this.payload.subarray(0, this.frame.length), ts);
          }
          break;
        }
        case State.Skip: {
          const n = Math.min(this.remaining, end - pos);
          this.remaining -= n;
          pos += n;
          if (this.remaining === 0) this.state = State.Header;
          break;
        }
        case State.DataPadLength: {
          const padLength = bytes[pos++]!;
          this.remaining--;
          this.padRemaining = Math.min(padLength, this.remaining);
          this.remaining -= this.padRemaining;
          this.afterData(ts);
          break;
        }
        case State.DataBody: {
          const n = Math.min(this.remaining, end - pos);
          this.sink.onData(this.dir, this.frame, bytes, pos, pos + n, ts);
          this.remaining -= n;
          pos += n;
          this.afterData(ts);
          break;
        }
        case State.DataPadding: {
          const n = Math.min(this.padRemaining, end - pos);
          this.padRemaining -= n;
          pos += n;
          this.afterData(ts);
          break;
        }
        case State.Hunt:
          this.huntIn(bytes, pos, ts, offset);
          return;
      }
    }
  }

  /** Start the frame whose header is at `h[p..p+9)`. */
  private beginFrame(h: Uint8Array, p: number, ts: number): void {
    const f = this.frame;
    f.length = readUint24(h, p);
    f.type = h[p + 3]!;
    f.flags = h[p + 4]!;
    f.streamId = readUint31(h, p + 5);
    this.have = 0;
    this.remaining = f.length;
    if (f.type === FrameType.Data) {
      this.padRemaining = 0;
      this.state = (f.flags & Flag.Padded) !== 0 && f.length > 0 ? State.DataPadLength : State.DataBody;
      if (f.length === 0) this.afterData(ts);
    } else if (f.length === 0) {
      this.state = State.Header;
      this.sink.onFrame(this.dir, f, this.payload.subarray(0, 0), ts);
    } else if (f.length > this.maxBufferedFrame) {
      this.sink.onFrameSkipped(this.dir, f);
      this.state = State.Skip;
    } else {
      if (this.payload.length < f.length) this.payload = new Uint8Array(Math.max(f.length, this.payload.length * 2));
      this.state = State.Payload;
    }
  }

  private afterData(ts: number): void {
    if (this.remaining > 0) {
      this.state = State.DataBody;
    } else if (this.padRemaining > 0) {
      this.state = State.DataPadding;
    } else {
      this.state = State.Header;
      this.sink.onDataEnd(this.dir, this.frame, ts);
    }
  }

  private huntIn(bytes: Uint8Array, pos: number, ts: number, offset: number): void {
    const n = bytes.length - pos;
    if (this.hunt.length < this.huntLength + n) {
      const grown = new Uint8Array(Math.max(this.huntLength + n, this.hunt.length * 2, 4096));
      grown.set(this.hunt.subarray(0, this.huntLength));
      this.hunt = grown;
    }
    this.hunt.set(bytes.subarray(pos), this.huntLength);
    this.huntChunks.push({ pos: this.huntLength, ts, offset: offset + pos });
    this.huntLength += n;

    const full = this.huntLength >= this.maxHuntBuffer;
    const verdict = findFrameBoundary(this.hunt, this.huntLength, this.dir, full);
    if (verdict.kind === 'found') {
      this.resumeAt(verdict.at);
    } else if (verdict.kind === 'none') {
      this.dropHunted(this.huntLength);
    } else {
      this.dropHunted(full ? Math.max(verdict.from, this.huntLength >> 1) : verdict.from);
    }
  }

  /** No more bytes will come: settle for weaker evidence of a boundary in what hunting holds. */
  flush(): void {
    if (this.state !== State.Hunt || this.huntLength === 0) return;
    const at = lastChanceFrameBoundary(this.hunt, this.huntLength, this.dir);
    if (at >= 0) this.resumeAt(at);
  }

  private dropHunted(count: number): void {
    if (count <= 0) return;
    this.hunt.copyWithin(0, count, this.huntLength);
    this.huntLength -= count;
    this.huntSkipped += count;
    const kept: HuntChunk[] = [];
    for (let i = 0; i < this.huntChunks.length; i++) {
      const c = this.huntChunks[i]!;
      const next = this.huntChunks[i + 1]?.pos ?? Infinity;
      if (next <= count) continue;
      const cut = Math.max(0, count - c.pos);
      kept.push({ pos: c.pos + cut - count, ts: c.ts, offset: c.offset + cut });
    }
    this.huntChunks = kept;
  }

  /** Leave hunt mode at hunt[at] and replay the held bytes, chunk by chunk, as frames. */
  private resumeAt(at: number): void {
    this.dropHunted(at);
    const held = this.hunt.slice(0, this.huntLength);
    const chunks = this.huntChunks;
    const skipped = this.huntSkipped;
    this.begin('frames');
    this.sink.onResync(this.dir, skipped, chunks[0]?.ts ?? 0);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i]!;
      const next = chunks[i + 1]?.pos ?? held.length;
      this.push(held.subarray(c.pos, next), c.ts, c.offset);
    }
  }
}
