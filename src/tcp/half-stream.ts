import type { Counters } from '../util/counters.js';
import { RecentSegments } from './copies.js';
import { seqAdd, seqDiff } from './sequence.js';
import type { Direction, DirectionStats, EndReason } from './types.js';

/** Piece count allowed per direction: one per this many bytes of the byte cap (1400-byte segments fit). */
const MIN_PIECE_BYTES = 256;
/**
 * How far (bytes) a RST's sequence number, or an acknowledgment of bytes not seen, may be from the
 * stream's position: a generous receive window.
 */
const RESET_WINDOW = 16 * 1024 * 1024;

/** Where a half stream sends what it reassembled (implemented by the flow). */
export interface HalfStreamSink {
  data(stream: HalfStream, bytes: Uint8Array, ts: number, offset: number): void;
  gap(stream: HalfStream, lostBytes: number, ts: number, offset: number): void;
  /** Every byte before this direction's FIN was delivered (or declared lost). */
  finReached(stream: HalfStream, ts: number): void;
  bufferedChanged(delta: number): void;
}

/** Out-of-order bytes held until the hole before them fills. Owned copies, never packet views. */
interface BufferedPiece {
  offset: number;
  bytes: Uint8Array;
}

/**
 * One direction of a connection: maps sequence numbers to stream offsets and delivers bytes in
 * order. Stream offsets are plain numbers counting from `base` (gap bytes included), so they never
 * wrap; sequence numbers are converted relative to the next expected byte, which keeps wrap-around
 * correct while segments stay within 2^31 of it.
 *
 * Invariant: `buffer` is sorted, its pieces never overlap each other, and every piece starts after
 * `nextOffset` (a piece at `nextOffset` is delivered at once).
 */
export class HalfStream {
  readonly stats: DirectionStats = {
    packets: 0,
    payloadBytes: 0,
    retransmittedBytes: 0,
    copies: 0,
    outOfOrderSegments: 0,
    gaps: 0,
    gapBytes: 0,
  };
  /** This direction's latest segments, to drop copies of them. */
  readonly recent = new RecentSegments();
  /** Sequence number of stream offset 0; null until a SYN or the first data/FIN of this direction. */
  base: number | null = null;
  /** Sequence number of this direction's SYN, when seen. */
  isn: number | null = null;
  /** Stream offset of the next byte to deliver. */
  nextOffset = 0;
  /** Stream offset the FIN occupies, once seen. */
  finOffset: number | null = null;
  ended: EndReason | null = null;
  /** Highest stream offset of this direction that the peer acknowledged. */
  private peerAcked = 0;
  /** An acknowledgment of this direction's bytes was seen since its base was known. */
  private ackSeen = false;
  private readonly buffer: BufferedPiece[] = [];
  bufferedBytes = 0;
  private readonly maxPieces: number;

  constructor(
    public dir: Direction,
    private readonly sink: HalfStreamSink,
    private readonly counters: Counters,
    private readonly maxBufferedBytes: number,
  ) {
    this.maxPieces = Math.max(1024, Math.ceil(maxBufferedBytes / MIN_PIECE_BYTES));
  }

  /**
   * Whether a RST with sequence number `seq` from this direction's sender can be genuine: its sequence
   * number lies within RESET_WINDOW of what this direction has reached. A stack ignores a RST outside
   * its window (RFC 793, RFC 5961), and so must the reassembly, or the connection would end here for
   * us and not for the peers. Without a known sequence space every RST is taken.
   */
  acceptsReset(seq: number): boolean {
    if (this.base === null) return true;
    const offset = this.offsetOf(seq);
    const last = this.buffer[this.buffer.length - 1];
    const reached = last ? Math.max(this.nextOffset, last.offset + last.bytes.length) : this.nextOffset;
    return offset >= this.nextOffset - RESET_WINDOW && offset <= reached + RESET_WINDOW;
  }

  /** Stream offset of a sequence number (requires `base`). */
  offsetOf(seq: number): number {
    const base = this.base as number;
    return this.nextOffset + seqDiff(seq, seqAdd(base, this.nextOffset));
  }

  /** A SYN from this side: its ISN fixes offset 0 (the SYN itself consumes one number). */
  syn(isn: number): void {
    if (this.isn !== null) return;
    this.isn = isn;
    if (this.base === null) this.base = seqAdd(isn, 1);
  }

  /** The peer acknowledged everything before `ack`. */
  peerAck(ack: number): void {
    if (this.base === null) return;
    const offset = this.offsetOf(ack);
    this.ackSeen = true;
    if (offset > this.peerAcked) this.peerAcked = offset;
  }

  /** Highest offset the peer acknowledged, null before any acknowledgment of this direction's bytes. */
  get acknowledged(): number | null {
    return this.ackSeen ? this.peerAcked : null;
  }

  /** Payload (and FIN flag) of one segment whose first payload byte has sequence `dataSeq`. */
  accept(dataSeq: number, payload: Uint8Array, fin: boolean, ts: number): void {
    if (payload.length === 0 && !fin) return;
    if (this.base === null) this.base = dataSeq;
    const start = this.offsetOf(dataSeq);
    if (this.ended !== null) {
      this.countAfterEnd(start, payload.length);
      return;
    }
    if (payload.length > 0) this.acceptBytes(payload, start, ts);
    if (fin && this.ended === null) this.noteFin(start + payload.length, ts);
  }

  /**
   * A packet of this direction arrived: holes that the peer already acknowledged were sent and
   * lost by the capture, so they become gaps now (a retransmission cannot fill them any more).
   */
  resolveAcknowledgedHoles(ts: number): void {
    while (this.ended === null) {
      const holeEnd = this.buffer.length > 0 ? this.buffer[0].offset : this.finOffset;
      if (holeEnd === null || holeEnd <= this.nextOffset || this.peerAcked < holeEnd) return;
      this.skipTo(holeEnd, ts);
      this.drain(ts);
    }
  }

  /**
   * The peer is answering (a packet of its own with payload) and acknowledges bytes of this direction
   * that never arrived, past everything buffered: the capture lost them, and a parser must hear of the
   * gap before it reads the answer (an HTTP response to a request lost whole must not be paired with
   * the next request). A single unseen byte is left alone: it is as likely a FIN lost by the capture.
   */
  resolveAcknowledgedTail(ts: number): void {
    this.resolveAcknowledgedHoles(ts);
    if (this.ended !== null || this.buffer.length > 0 || this.finOffset !== null) return;
    const unseen = this.peerAcked - this.nextOffset;
    if (unseen > 1 && unseen <= RESET_WINDOW) this.skipTo(this.peerAcked, ts);
  }

  /** Gap up to the oldest buffered piece, then deliver what became contiguous. */
  forceOldest(ts: number): boolean {
    if (this.buffer.length === 0) return false;
    this.skipTo(this.buffer[0].offset, ts);
    this.drain(ts);
    return true;
  }

  /** The direction is ending: deliver everything buffered (gaps first), and reach a seen FIN. */
  flushAll(ts: number): void {
    while (this.ended === null && this.forceOldest(ts));
    if (this.ended === null && this.finOffset !== null && this.finOffset > this.nextOffset) {
      this.skipTo(this.finOffset, ts);
      this.drain(ts);
    }
  }

  private acceptBytes(payload: Uint8Array, start: number, ts: number): void {
    let from = start;
    let to = start + payload.length;
    if (this.finOffset !== null && to > this.finOffset) {
      this.counters.add('tcp.data-after-fin-bytes', to - Math.max(from, this.finOffset));
      to = this.finOffset;
      if (to <= from) return;
    }
    if (from < 0) {
      this.counters.add('tcp.before-start-bytes', Math.min(to, 0) - from);
      from = 0;
      if (to <= from) return;
    }
    if (from < this.nextOffset) {
      this.stats.retransmittedBytes += Math.min(to, this.nextOffset) - from;
      from = this.nextOffset;
      if (to <= from) return;
    }
    if (from === this.nextOffset) {
      const limit = this.buffer.length > 0 ? Math.min(to, this.buffer[0].offset) : to;
      this.deliver(payload, from - start, limit - start, ts);
      if (limit < to) this.insert(payload, start, limit, to);
      if (this.buffer.length > 0 || this.finOffset !== null) this.drain(ts);
      return;
    }
    this.stats.outOfOrderSegments++;
    this.insert(payload, start, from, to);
    if (this.overCap()) {
      this.counters.add('tcp.buffer-cap-per-connection');
      while (this.overCap() && this.forceOldest(ts));
    }
  }

  /** Bytes over the cap, or so many tiny pieces that their bookkeeping would outweigh the bytes. */
  private overCap(): boolean {
    return this.bufferedBytes > this.maxBufferedBytes || this.buffer.length > this.maxPieces;
  }

  private noteFin(finOffset: number, ts: number): void {
    if (this.finOffset === null) {
      if (finOffset < this.nextOffset) {
        this.counters.add('tcp.fin-inconsistent');
        return;
      }
      this.finOffset = finOffset;
      this.dropBufferedFrom(finOffset);
    } else if (this.finOffset !== finOffset) {
      this.counters.add('tcp.fin-inconsistent');
    }
    if (this.nextOffset === this.finOffset) this.sink.finReached(this, ts);
  }

  /** Deliver `payload[a, b)` (zero copy) at `nextOffset`. */
  private deliver(payload: Uint8Array, a: number, b: number, ts: number): void {
    const bytes = a === 0 && b === payload.length ? payload : payload.subarray(a, b);
    const offset = this.nextOffset;
    this.nextOffset += b - a;
    this.stats.payloadBytes += b - a;
    this.sink.data(this, bytes, ts, offset);
  }

  /** Deliver the buffered pieces that became contiguous, then the FIN if it is next. */
  private drain(ts: number): void {
    let count = 0;
    let expected = this.nextOffset;
    let bytes = 0;
    while (count < this.buffer.length && this.buffer[count].offset === expected) {
      expected += this.buffer[count].bytes.length;
      bytes += this.buffer[count].bytes.length;
      count++;
    }
    if (count > 0) {
      const ready = this.buffer.splice(0, count);
      this.changeBuffered(-bytes);
      for (const piece of ready) {
        this.nextOffset += piece.bytes.length;
        this.stats.payloadBytes += piece.bytes.length;
        this.sink.data(this, piece.bytes, ts, piece.offset);
      }
    }
    if (this.ended === null && this.nextOffset === this.finOffset) this.sink.finReached(this, ts);
  }

  private skipTo(offset: number, ts: number): void {
    const lost = offset - this.nextOffset;
    const at = this.nextOffset;
    this.nextOffset = offset;
    this.stats.gaps++;
    this.stats.gapBytes += lost;
    this.sink.gap(this, lost, ts, at);
  }

  /**
   * Buffer `[from, to)` of a segment that starts at stream offset `start`, copying only the parts
   * not buffered yet: the first copy received wins (as most receiving stacks keep queued data).
   */
  private insert(payload: Uint8Array, start: number, from: number, to: number): void {
    const buffer = this.buffer;
    let i = this.firstEndingAfter(from);
    let cursor = from;
    let added = 0;
    while (cursor < to) {
      const piece = i < buffer.length ? buffer[i] : undefined;
      if (piece === undefined || piece.offset >= to) {
        buffer.splice(i, 0, { offset: cursor, bytes: payload.slice(cursor - start, to - start) });
        added += to - cursor;
        break;
      }
      if (piece.offset > cursor) {
        buffer.splice(i, 0, { offset: cursor, bytes: payload.slice(cursor - start, piece.offset - start) });
        added += piece.offset - cursor;
        i++;
      }
      const pieceEnd = piece.offset + piece.bytes.length;
      const overlapFrom = Math.max(cursor, piece.offset);
      const overlapTo = Math.min(to, pieceEnd);
      if (overlapTo > overlapFrom) {
        const length = overlapTo - overlapFrom;
        this.stats.retransmittedBytes += length;
        if (!sameBytes(payload, overlapFrom - start, piece.bytes, overlapFrom - piece.offset, length)) {
          this.counters.add('tcp.overlap-conflicts');
        }
      }
      cursor = Math.max(cursor, pieceEnd);
      i++;
    }
    if (added > 0) this.changeBuffered(added);
  }

  /** Index of the first buffered piece that ends after `offset` (binary search). */
  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.buffer.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const piece = this.buffer[mid];
      if (piece.offset + piece.bytes.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Buffered bytes at or after the FIN can never be part of the stream. */
  private dropBufferedFrom(offset: number): void {
    let dropped = 0;
    for (let i = this.buffer.length - 1; i >= 0; i--) {
      const piece = this.buffer[i];
      const pieceEnd = piece.offset + piece.bytes.length;
      if (pieceEnd <= offset) break;
      if (piece.offset >= offset) {
        this.buffer.pop();
        dropped += piece.bytes.length;
      } else {
        piece.bytes = piece.bytes.subarray(0, offset - piece.offset);
        dropped += pieceEnd - offset;
      }
    }
    if (dropped > 0) {
      this.counters.add('tcp.data-after-fin-bytes', dropped);
      this.changeBuffered(-dropped);
    }
  }

  private countAfterEnd(start: number, length: number): void {
    const old = Math.max(0, Math.min(start + length, this.nextOffset) - Math.max(start, 0));
    this.stats.retransmittedBytes += old;
    if (length > old) this.counters.add('tcp.data-after-end-bytes', length - old);
  }

  private changeBuffered(delta: number): void {
    this.bufferedBytes += delta;
    this.sink.bufferedChanged(delta);
  }
}

function sameBytes(a: Uint8Array, aFrom: number, b: Uint8Array, bFrom: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a[aFrom + k] !== b[bFrom + k]) return false;
  return true;
}
