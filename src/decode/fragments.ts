import type { Counters } from '../util/counters.js';

/** What add() did with a fragment. */
export const FragmentStatus = {
  /** Stored; the datagram is not complete yet. */
  Held: 0,
  /** This fragment completed the datagram: read `datagram` and `protocol`. */
  Complete: 1,
  /** The datagram cannot be reassembled (this fragment or an earlier one was bad). */
  Failed: 2,
} as const;
export type FragmentStatus = (typeof FragmentStatus)[keyof typeof FragmentStatus];

export interface FragmentReassemblerOptions {
  counters: Counters;
  /** A datagram whose first fragment is older than this (packet time, µs) is dropped. */
  timeoutUs: number;
  /** Bytes held across all pending datagrams; the oldest datagrams are evicted beyond it. */
  maxBytes: number;
}

interface Piece {
  offset: number;
  bytes: Uint8Array;
}

interface PendingDatagram {
  firstTs: number;
  pieces: Piece[];
  /** Known once the last fragment (more-fragments clear) arrived, else -1. */
  totalLength: number;
  /** Next protocol from the offset-0 fragment, else -1. */
  protocol: number;
  heldBytes: number;
  /** Already counted as failed: later fragments are absorbed (and counted) until it expires. */
  failed: boolean;
}

/** Largest IP payload a 16-bit length field can describe. */
const MAX_DATAGRAM_LENGTH = 65535;

/**
 * IPv4/IPv6 fragment reassembly, keyed by the caller (src, dst, id and, for IPv4, the protocol).
 *
 * Overlaps: the first copy of a byte wins (later fragments never overwrite data already received),
 * as in the BSD stacks and Wireshark's default; overlapping fragments are legal for IPv4 and, although
 * forbidden in IPv6 by RFC 5722, mostly come from retransmission rather than attack, so the datagram
 * is still delivered. A fragment cut by the snaplen, a non-final fragment whose length is not a
 * multiple of 8, data past the end of the datagram, conflicting final fragments and datagrams over
 * 65535 bytes fail the whole datagram.
 *
 * Expiry runs on packet time. Entries sit in a Map in order of their first fragment, so expiry
 * only looks at the oldest entries. Counters: decode.fragments-reassembled, decode.fragments-expired
 * (datagrams never completed), decode.fragments-evicted (dropped by the memory cap).
 */
export class FragmentReassembler {
  /** The datagram completed by the last add() that returned Complete; owned until the next one. */
  datagram: Uint8Array = new Uint8Array(0);
  /** Next protocol of `datagram` (from its offset-0 fragment). */
  protocol = -1;

  private readonly pending = new Map<string, PendingDatagram>();
  private heldBytes = 0;

  constructor(private readonly options: FragmentReassemblerOptions) {}

  get pendingDatagrams(): number {
    return this.pending.size;
  }

  /**
   * Add one fragment: `bytes` is what was captured of its payload, `wireLength` what the IP header
   * announces; `offset` is in bytes.
   */
  add(key: string, ts: number, offset: number, more: boolean, bytes: Uint8Array, wireLength: number, protocol: number): FragmentStatus {
    let entry = this.pending.get(key);
    if (entry === undefined) {
      entry = { firstTs: ts, pieces: [], totalLength: -1, protocol: -1, heldBytes: 0, failed: false };
      this.pending.set(key, entry);
    }
    if (entry.failed) return FragmentStatus.Failed;

    const fragmentEnd = offset + wireLength;
    const malformed =
      bytes.length < wireLength ||
      (more && wireLength % 8 !== 0) ||
      fragmentEnd > MAX_DATAGRAM_LENGTH ||
      (entry.totalLength >= 0 && (fragmentEnd > entry.totalLength || (!more && fragmentEnd !== entry.totalLength)));
    if (malformed) return this.failEntry(entry);
    if (!more) {
      for (const piece of entry.pieces) if (piece.offset + piece.bytes.length > fragmentEnd) return this.failEntry(entry);
      entry.totalLength = fragmentEnd;
    }
    if (offset === 0 && entry.protocol < 0) entry.protocol = protocol;
    if (wireLength > 0) {
      if (!this.makeRoom(wireLength, entry)) return this.failEntry(entry);
      entry.pieces.push({ offset, bytes: bytes.slice() });
      entry.heldBytes += wireLength;
      this.heldBytes += wireLength;
    }
    if (entry.totalLength < 0 || entry.protocol < 0 || !isCovered(entry.pieces, entry.totalLength)) return FragmentStatus.Held;

    this.datagram = assemble(entry.pieces, entry.totalLength);
    this.protocol = entry.protocol;
    this.remove(key, entry);
    this.options.counters.add('decode.fragments-reassembled');
    return FragmentStatus.Complete;
  }

  /** Drop datagrams whose first fragment is older than the timeout at packet time `ts`. */
  expire(ts: number): void {
    if (this.pending.size === 0) return;
    for (const [key, entry] of this.pending) {
      if (ts - entry.firstTs <= this.options.timeoutUs) break;
      this.remove(key, entry);
      if (!entry.failed) this.options.counters.add('decode.fragments-expired');
    }
  }

  /** End of capture: every datagram still pending is lost; count them. */
  flush(): void {
    for (const [key, entry] of this.pending) {
      this.remove(key, entry);
      if (!entry.failed) this.options.counters.add('decode.fragments-expired');
    }
  }

  private failEntry(entry: PendingDatagram): FragmentStatus {
    this.heldBytes -= entry.heldBytes;
    entry.heldBytes = 0;
    entry.pieces = [];
    entry.failed = true;
    return FragmentStatus.Failed;
  }

  private remove(key: string, entry: PendingDatagram): void {
    this.heldBytes -= entry.heldBytes;
    this.pending.delete(key);
  }

  /** Evict the oldest other datagrams until `bytes` more fit; false if they cannot. */
  private makeRoom(bytes: number, keep: PendingDatagram): boolean {
    if (this.heldBytes + bytes <= this.options.maxBytes) return true;
    if (keep.heldBytes + bytes > this.options.maxBytes) return false;
    for (const [key, entry] of this.pending) {
      if (this.heldBytes + bytes <= this.options.maxBytes) break;
      if (entry === keep || entry.heldBytes === 0) continue;
      this.remove(key, entry);
      if (!entry.failed) this.options.counters.add('decode.fragments-evicted');
    }
    return true;
  }
}

function isCovered(pieces: Piece[], totalLength: number): boolean {
  const sorted = [...pieces].sort((a, b) => a.offset - b.offset);
  let covered = 0;
  for (const piece of sorted) {
    if (piece.offset > covered) return false;
    covered = Math.max(covered, piece.offset + piece.bytes.length);
  }
  return covered >= totalLength;
}

function assemble(pieces: Piece[], totalLength: number): Uint8Array {
  const datagram = new Uint8Array(totalLength);
  // Latest first, so that the first copy of any byte is the one left standing.
  for (let i = pieces.length - 1; i >= 0; i--) datagram.set(pieces[i]!.bytes, pieces[i]!.offset);
  return datagram;
}
