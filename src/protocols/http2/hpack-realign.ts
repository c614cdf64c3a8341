import type { Counters } from '../../util/counters.js';
import type { DecodedBlock, DecodedField, HpackDecoder } from './hpack.js';

/** What a header block must be where it stands on its stream. */
export type BlockKind = 'request' | 'response' | 'trailers' | 'response-or-trailers';

/** Where a block stands: its kind, and whether its stream carries gRPC (whose fields are mandated). */
export interface BlockPlace {
  kind: BlockKind;
  grpc: boolean;
}

/**
 * HPACK after a gap that may have hidden header blocks. Every hidden block may have inserted
 * entries, shifting every older one by an unknown count. Instead of forgetting the table, one copy
 * of the decoder is kept per possible count (bounded by the bytes the gap hid, an insertion taking at
 * least two, and by skipped stream ids, see HeaderTable); each block is decoded by every copy.
 *
 * Copies whose reading cannot be are dropped: an index beyond the table (hidden entries count as
 * small as an entry can, so the true reading always resolves), or fields the protocol forbids or
 * lacks where the block stands (fitsPlace). Of the rest, only those whose reading is most like the
 * blocks seen whole are kept (`fit`: clients and servers send the same fields in the same order on
 * every call). That last step is an inference, not a proof: when the table repeats itself (small
 * tables recycled by every call, metadata values that recur), a shifted reading can look exactly
 * like a whole block while the true one shows hidden entries. Fields the kept copies read alike are
 * reported, the others unknown, and exchanges read this way say so in a note. One copy left is the
 * decoder again (`settled`); none left, the caller starts over as after any lost table.
 */
export class HpackRealigner {
  private copies: HpackDecoder[];

  constructor(decoder: HpackDecoder, maxHidden: number, minHidden = 0) {
    this.copies = decoder.afterHiddenInsertions(maxHidden, minHidden);
  }

  /**
   * Another gap came before the readings were told apart: each reading splits again, as far as
   * `maxReadings` allows. False when not even one more insertion per reading fits (give up).
   */
  anotherGap(maxHidden: number, minHidden: number, maxReadings: number): boolean {
    const most = Math.min(maxHidden, minHidden + Math.floor(maxReadings / this.copies.length) - 1);
    if (most < minHidden) return false;
    this.copies = this.copies.flatMap((copy) => copy.afterHiddenInsertions(most, minHidden));
    return true;
  }

  /** The one reading left, once every other was disproved; null before. */
  get settled(): HpackDecoder | null {
    return this.copies.length === 1 ? this.copies[0]! : null;
  }

  get epoch(): number {
    return this.copies[0]!.epoch;
  }

  /** One of the readings, for a caller that gives up on telling them apart. */
  anyReading(): HpackDecoder {
    return this.copies[0]!;
  }

  setSizeLimit(limit: number): void {
    for (const copy of this.copies) copy.setSizeLimit(limit);
  }

  /**
   * The block as every reading kept agrees on it; null when no reading fits. `fit`: 0 the reading
   * cannot be, higher is likelier; only the readings with the highest are kept.
   */
  decode(block: Uint8Array, start: number, end: number, fit: (fields: readonly DecodedField[]) => number): DecodedBlock | null {
    const readings: { copy: HpackDecoder; block: DecodedBlock; fit: number }[] = [];
    for (const copy of this.copies) {
      const decoded = copy.decode(block, start, end);
      const f = decoded.error === null ? fit(decoded.fields) : 0;
      if (f > 0) readings.push({ copy, block: decoded, fit: f });
    }
    if (readings.length === 0) return null;
    const best = Math.max(...readings.map((r) => r.fit));
    const kept = readings.filter((r) => r.fit === best);
    this.copies = kept.map((r) => r.copy);
    return agreed(kept.map((r) => r.block));
  }
}

const DISAGREEING = '<unknown:hpack-entry-shifted-by-gap>';

/** Fields every reading gives alike; the others as unknown. */
function agreed(blocks: DecodedBlock[]): DecodedBlock {
  const first = blocks[0]!;
  const fields = first.fields.map((field, i) =>
    blocks.every((b) => b.fields[i]?.name === field.name && b.fields[i]?.value === field.value)
      ? field
      : { name: DISAGREEING, value: DISAGREEING, neverIndexed: field.neverIndexed, unknown: true },
  );
  return {
    fields,
    unknownFields: fields.filter((f) => f.unknown).length,
    error: null,
    sizeUpdateOverLimit: blocks.some((b) => b.sizeUpdateOverLimit),
  };
}

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
/** Fields a block carries once (RFC 9110 singletons, and gRPC's). */
const SINGLETONS = new Set([
  'content-type', 'content-length', 'content-encoding', 'date', 'host', 'user-agent', 'te', 'server',
  'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-status', 'grpc-message', 'grpc-status-details-bin',
]);

/**
 * Whether decoded fields can be a block at this place. RFC 9113 §8.3: pseudo-header fields first,
 * none twice, only those of the kind (none in trailers), the mandatory ones present; no singleton
 * field twice. gRPC over HTTP/2
 * (PROTOCOL-HTTP2.md): a request is a POST with `content-type: application/grpc...` and `te: trailers`,
 * trailers and a trailers-only response carry a numeric `grpc-status`. A field required but absent
 * is accepted while an unknown field may be it; a field present with a wrong value is not.
 */
export function fitsPlace(place: BlockPlace, fields: readonly DecodedField[]): boolean {
  const { kind, grpc } = place;
  if (kind === 'response-or-trailers') {
    return fitsPlace({ kind: 'response', grpc }, fields) || fitsPlace({ kind: 'trailers', grpc }, fields);
  }
  const seen = new Map<string, string>();
  let regular = false;
  let unknown = false;
  for (const f of fields) {
    if (f.unknown) {
      unknown = true;
      continue;
    }
    if (!f.name.startsWith(':')) {
      regular = true;
      if (!seen.has(f.name)) seen.set(f.name, f.value);
      else if (SINGLETONS.has(f.name)) return false;
      continue;
    }
    if (regular || seen.has(f.name)) return false;
    seen.set(f.name, f.value);
    if (kind === 'trailers') return false;
    if (kind === 'response' ? f.name !== ':status' : !REQUEST_PSEUDO.has(f.name)) return false;
  }
  const has = (name: string, valid: (value: string) => boolean): boolean => {
    const value = seen.get(name);
    return value === undefined ? unknown : valid(value);
  };
  const grpcStatus = (v: string): boolean => /^\d+$/.test(v);
  const grpcType = (v: string): boolean => v.startsWith('application/grpc');
  switch (kind) {
    case 'request':
      if (!has(':method', () => true)) return false;
      if (seen.get(':method') === 'CONNECT') return true;
      if (!has(':path', () => true)) return false;
      return !grpc || (has(':method', (v) => v === 'POST') && has('content-type', grpcType) && has('te', (v) => v === 'trailers'));
    case 'response':
      if (!has(':status', (v) => /^\d{3}$/.test(v))) return false;
      if (!grpc) return true;
      return seen.has('grpc-status') ? grpcStatus(seen.get('grpc-status')!) : !seen.has('content-type') || grpcType(seen.get('content-type')!);
    case 'trailers':
      return !grpc || has('grpc-status', grpcStatus);
  }
}

/**
 * Field names of blocks seen whole, per kind: clients and servers send the same fields in the same
 * order, call after call (values vary).
 */
export class BlockShapes {
  private readonly shapes: Record<Exclude<BlockKind, 'response-or-trailers'>, Map<string, readonly string[]>> = {
    request: new Map(),
    response: new Map(),
    trailers: new Map(),
  };

  constructor(private readonly maxPerKind = 32) {}

  remember(kind: BlockKind, fields: readonly DecodedField[]): void {
    if (kind === 'response-or-trailers' || fields.some((f) => f.unknown)) return;
    const shapes = this.shapes[kind];
    const names = fields.map((f) => f.name);
    if (shapes.size < this.maxPerKind) shapes.set(names.join('\n'), names);
  }

  /**
   * How a reading compares with the blocks seen whole: 3 its names are exactly those of one, 2 its
   * known names are (unknown ones in between), 1 neither.
   */
  likeness(kind: BlockKind, fields: readonly DecodedField[]): number {
    if (this.matching(kind, fields).length === 0) return 1;
    return fields.some((f) => f.unknown) ? 2 : 3;
  }

  private matching(kind: BlockKind, fields: readonly DecodedField[]): (readonly string[])[] {
    const kinds = kind === 'response-or-trailers' ? (['response', 'trailers'] as const) : [kind];
    const out: (readonly string[])[] = [];
    for (const k of kinds) {
      for (const shape of this.shapes[k].values()) {
        if (shape.length === fields.length && fields.every((f, i) => f.unknown || f.name === shape[i])) out.push(shape);
      }
    }
    return out;
  }
}

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
    private readonly limits: { maxHidden: number; maxReadings: number } = { maxHidden: 16, maxReadings: 32 },
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
    const most = Math.min(this.limits.maxHidden, Math.floor(this.hiddenBytes / 2));
    const least = kind === null || kind === 'response-or-trailers' ? 0 : hiddenBlocks * Math.min(1, this.fewestInsertions[kind] ?? 0);
    this.hiddenBytes = null;
    if (most === 0 && least === 0) return;
    if (least > most) return this.resync();
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
