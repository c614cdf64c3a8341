import type { Counters } from '../../util/counters.js';
import { BlockShapes, fitsPlace, type BlockKind, type BlockPlace } from './block-place.js';
import type { DecodedBlock, HpackDecoder } from './hpack.js';
import { HpackRealigner } from './hpack-realign.js';

/** What a HeaderTable decode tells besides the fields. */
export interface TableRead {
  block: DecodedBlock;
  /** Epoch of the reading (0: from the start of the capture, no gap since). */
  epoch: number;
  /** Read while several counts of hidden insertions were still possible. */
  realigned: boolean;
}

/**
 * The HPACK state of one direction of a connection: the decoder, the readings still possible after
 * a gap (HpackRealigner), and the shapes of blocks seen whole (BlockShapes).
 */
export class HeaderTable {
  private realigner: HpackRealigner | null = null;
  private readonly shapes = new BlockShapes();
  /** Header-block bytes hidden by the gaps since the last block was decoded (null: no gap since). */
  private hiddenBytes: number | null = null;
  /** Per kind, the fewest entries a block seen whole inserted, the first of its kind excepted. */
  private readonly fewestInsertions: Partial<Record<BlockKind, number>> = {};
  private readonly seenWhole: Partial<Record<BlockKind, number>> = {};

  constructor(
    private decoder: HpackDecoder,
    private readonly counters: Counters,
    private readonly limits: { maxHidden: number; maxReadings: number } = { maxHidden: 32, maxReadings: 64 },
  ) {}

  /** Whether it holds anything a lost block could make wrong (else a resync would change nothing). */
  get knowsEntries(): boolean {
    return this.realigner !== null || this.decoder.exact || this.decoder.insertedCount > 0;
  }

  /** Start over with another decoder (a direction found to start at the connection's beginning). */
  reset(decoder: HpackDecoder): void {
    this.decoder = decoder;
    this.realigner = null;
    this.hiddenBytes = null;
  }

  setSizeLimit(limit: number): void {
    this.decoder.setSizeLimit(limit);
    this.realigner?.setSizeLimit(limit);
  }

  /**
   * A gap may have hidden up to `blockBytes` bytes of header blocks (Infinity: unknown), whose
   * insertions shift the table. Counted until the next block is decoded (bytes skipped to find the
   * next frame add to it).
   */
  gap(blockBytes: number): void {
    this.hiddenBytes = (this.hiddenBytes ?? 0) + blockBytes;
  }

  /** More bytes whose header blocks, if any, were not read (skipped while looking for a frame). */
  skipped(bytes: number): void {
    if (this.hiddenBytes !== null) this.hiddenBytes += bytes;
  }

  /**
   * Before a block after a gap: one reading per count of insertions the hidden bytes can hold (an
   * insertion takes at least two bytes: a literal with an indexed name and an empty value), and at
   * least one per hidden block of this kind when every block of its kind seen whole after the first
   * inserted something (a field new on every call, such as a request id, sent the same way each time).
   */
  private afterGap(kind: BlockKind | null, hiddenBlocks: number): void {
    if (this.hiddenBytes === null) return;
    const most = Math.floor(this.hiddenBytes / 2);
    const least = kind === null || kind === 'response-or-trailers' ? 0 : hiddenBlocks * Math.min(1, this.fewestInsertions[kind] ?? 0);
    this.hiddenBytes = null;
    if (most === 0 && least === 0) return;
    // Readings must cover every count the gap allows: a count left out could be the true one.
    if (least > most || most > this.limits.maxHidden) return this.resync();
    if (this.realigner === null) {
      this.realigner = new HpackRealigner(this.decoder, most, least);
      this.counters.add('http2.hpack-realigning');
    } else if (!this.realigner.anotherGap(most, least, this.limits.maxReadings)) {
      this.resync();
    }
  }

  /** The table cannot be followed any more: decode on as if the capture started here. */
  resync(): void {
    this.hiddenBytes = null;
    if (this.realigner !== null) {
      this.decoder = this.realigner.anyReading();
      this.realigner = null;
    }
    this.decoder.resync();
    this.counters.add('http2.hpack-resync');
  }

  /**
   * Decode one whole header block; `place` null for blocks kept only to stay in step (server push).
   * `hiddenBlocks`: blocks of this kind known to have been lost since the last one (stream ids the
   * client skipped).
   */
  decode(bytes: Uint8Array, start: number, end: number, place: BlockPlace | null, hiddenBlocks = 0): TableRead {
    this.afterGap(place?.kind ?? null, hiddenBlocks);
    const realigned = this.realigner !== null;
    const epoch = this.realigner?.epoch ?? this.decoder.epoch;
    return { block: this.read(bytes, start, end, place), epoch, realigned };
  }

  private read(bytes: Uint8Array, start: number, end: number, place: BlockPlace | null): DecodedBlock {
    const realigner = this.realigner;
    if (realigner !== null) {
      const read = realigner.decode(bytes, start, end, (fields) =>
        place === null ? 1 : fitsPlace(place, fields) ? this.shapes.likeness(place.kind, fields) : 0,
      );
      if (read !== null) {
        const settled = realigner.settled;
        if (settled !== null) {
          this.decoder = settled;
          this.realigner = null;
          this.counters.add('http2.hpack-realigned');
        }
        return read;
      }
      this.resync();
    }
    const before = this.decoder.insertedCount;
    const decoded = this.decoder.decode(bytes, start, end);
    if (place !== null && decoded.error === null && decoded.unknownFields === 0 && this.decoder.exact) {
      this.shapes.remember(place.kind, decoded.fields);
      const seen = (this.seenWhole[place.kind] = (this.seenWhole[place.kind] ?? 0) + 1);
      const inserted = this.decoder.insertedCount - before;
      if (seen > 1) this.fewestInsertions[place.kind] = Math.min(this.fewestInsertions[place.kind] ?? Infinity, inserted);
    }
    return decoded;
  }
}
