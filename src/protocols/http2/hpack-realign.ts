import type { DecodedBlock, DecodedField, HpackDecoder } from './hpack.js';

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

/**
 * Fields as every reading gives them, the others unknown. A value every reading gives alike is kept
 * even when the name is not: a literal value under an indexed name reads the same in every reading
 * while the name, an entry from before the capture, is numbered differently by each count of hidden
 * insertions; the value is what matters (a request id, a gRPC status). A name without its value is
 * of no use and is dropped with it.
 */
function agreed(blocks: DecodedBlock[]): DecodedBlock {
  const first = blocks[0]!;
  const fields = first.fields.map((field, i) => {
    if (!blocks.every((b) => b.fields[i]?.value === field.value)) {
      return { name: DISAGREEING, value: DISAGREEING, neverIndexed: field.neverIndexed, unknown: true };
    }
    if (blocks.every((b) => b.fields[i]?.name === field.name)) return field;
    return { name: DISAGREEING, value: field.value, neverIndexed: field.neverIndexed, unknown: true };
  });
  return {
    fields,
    unknownFields: fields.filter((f) => f.unknown).length,
    error: null,
    sizeUpdateOverLimit: blocks.some((b) => b.sizeUpdateOverLimit),
  };
}
