/**
 * HPACK header block decoder (RFC 7541) for a passive observer that may start in the middle of a
 * connection.
 *
 * Unknown history. When the decoder did not see its table from the start (capture began mid-connection,
 * or a gap or malformed block made it lose track: each such point starts a new *epoch*), the dynamic
 * table may hold entries inserted before the epoch began. Those are modelled as unknown entries *below*
 * the ones inserted since: every entry inserted in the epoch gets an absolute number 1, 2, 3...; a
 * dynamic index i then designates entry number `inserted - i + 1`. A number below the oldest entry we
 * hold designates an entry we never saw, and is reported as `<unknown:hpack-entry-K>` with
 * K = 1 - number: K = 1 is the last entry inserted before the epoch began, K = 2 the one before, and so
 * on (K <= 0 only for entries of this epoch we had to drop, see maxUnknownTableSize). K does not change
 * as later entries shift the index, so repeated references to the same unknown entry give the same
 * marker. After a gap, markers carry the epoch: `<unknown:hpack-entry-K@gapE>`.
 *
 * The table's maximum size is unknown too in such an epoch, so nothing is evicted by guessing (holding
 * more than the real table is harmless: indexes count from the newest entry). The first dynamic table
 * size update gives the maximum; from then on known entries are evicted exactly, and once a known entry
 * is evicted every older (unknown) entry is certainly gone: the decoder is exact again.
 */
import { huffmanDecode, maxHuffmanDecodedLength } from './huffman.js';
import { STATIC_TABLE, STATIC_TABLE_LENGTH } from './static-table.js';

export interface DecodedField {
  name: string;
  value: string;
  /** Sent as "literal never indexed": the sender marked it sensitive. */
  neverIndexed: boolean;
  /** Name or value refers to a dynamic table entry this decoder never saw. */
  unknown: boolean;
}

export interface DecodedBlock {
  fields: DecodedField[];
  /** Fields whose name or value is an unknown-entry marker. */
  unknownFields: number;
  /** Why decoding stopped early (the decoder then starts a new epoch), else null. */
  error: string | null;
  /** A dynamic table size update exceeded the limit announced in SETTINGS (applied anyway). */
  sizeUpdateOverLimit: boolean;
}

export interface HpackDecoderOptions {
  /** The decoder sees the table from the beginning of the connection (initial size 4096, exact). */
  knownFromStart: boolean;
  /**
   * While the maximum table size is unknown (mid-stream), known entries are held up to this accounted
   * size; older ones are dropped and then reported as unknown. Default 65536.
   */
  maxUnknownTableSize?: number;
}

const ENTRY_OVERHEAD = 32;
const DEFAULT_TABLE_SIZE = 4096;
const MAX_INTEGER = 2 ** 31 - 1;

/** An entry a header block hidden by a gap inserted. */
const HIDDEN_ENTRY = '<unknown:hpack-entry-hidden-by-gap>';

/** Marker used for header names and values that cannot be known; names never start with '<'. */
export function isUnknownMarker(s: string): boolean {
  return s.startsWith('<unknown:');
}

export class HpackDecoder {
  // Held entries in insertion order: [oldest, names.length) are live, older slots await compaction.
  private names: string[] = [];
  private values: string[] = [];
  private sizes: number[] = [];
  private oldest = 0;
  /** Absolute number (within the epoch) of names[0]. */
  private firstNumber = 1;
  private inserted = 0;
  private heldSize = 0;
  /** Held entries whose name came from an unknown entry. */
  private unknownNamed = 0;
  private max: number | null;
  /** No entry older than the ones held can remain in the real table. */
  private nothingBelow: boolean;
  private epochNumber = 0;
  private limitValue: number | null;
  private readonly maxUnknownTableSize: number;
  private scratch: Buffer = Buffer.allocUnsafe(256);

  constructor(opts: HpackDecoderOptions) {
    this.nothingBelow = opts.knownFromStart;
    this.max = opts.knownFromStart ? DEFAULT_TABLE_SIZE : null;
    this.limitValue = opts.knownFromStart ? DEFAULT_TABLE_SIZE : null;
    this.maxUnknownTableSize = opts.maxUnknownTableSize ?? 65536;
  }

  /** True when every entry the table can hold is known. */
  get exact(): boolean {
    return this.nothingBelow && this.unknownNamed === 0;
  }

  /** 0 from the start of the capture; +1 at every resync (gap or decoding error). */
  get epoch(): number {
    return this.epochNumber;
  }

  /** Entries inserted since the epoch began. */
  get insertedCount(): number {
    return this.inserted;
  }

  /** Accounted size (RFC 7541 4.1) of the entries held; a lower bound while not exact. */
  get size(): number {
    return this.heldSize;
  }

  /** Current maximum table size, null while unknown. */
  get maxSize(): number | null {
    return this.max;
  }

  /** The largest size update the encoder may send (SETTINGS_HEADER_TABLE_SIZE of the decoder's side). */
  get sizeLimit(): number | null {
    return this.limitValue;
  }

  /** Apply an acknowledged SETTINGS_HEADER_TABLE_SIZE sent by this decoder's side. */
  setSizeLimit(limit: number): void {
    this.limitValue = limit;
  }

  /** Held entries, newest first (dynamic index 1 first). */
  entries(): [name: string, value: string][] {
    const out: [string, string][] = [];
    for (let k = this.names.length - 1; k >= this.oldest; k--) out.push([this.names[k]!, this.values[k]!]);
    return out;
  }

  /**
   * A gap may have hidden header blocks that inserted entries: one copy of this decoder per count
   * of hidden insertions, k = minHidden..maxHidden, the k-th holding k unknown entries on top of the table
   * (hpack-realign.ts keeps the copies that later blocks do not disprove). Sizes of hidden entries
   * count as the minimum, so the copies hold at least what the real table holds (harmless: indexes
   * count from the newest entry).
   */
  afterHiddenInsertions(maxHidden: number, minHidden = 0): HpackDecoder[] {
    const copies: HpackDecoder[] = [];
    for (let k = minHidden; k <= maxHidden; k++) {
      const copy = this.copy();
      copy.epochNumber++;
      for (let i = 0; i < k; i++) copy.insert(HIDDEN_ENTRY, HIDDEN_ENTRY, true, ENTRY_OVERHEAD); // the least an entry can count
      copies.push(copy);
    }
    return copies;
  }

  private copy(): HpackDecoder {
    const copy = Object.assign(Object.create(HpackDecoder.prototype) as HpackDecoder, this);
    copy.names = this.names.slice(this.oldest);
    copy.values = this.values.slice(this.oldest);
    copy.sizes = this.sizes.slice(this.oldest);
    copy.firstNumber = this.firstNumber + this.oldest;
    copy.oldest = 0;
    copy.scratch = Buffer.allocUnsafe(256);
    return copy;
  }

  /** Forget everything: what follows is decoded as if the capture started here. */
  resync(): void {
    this.names = [];
    this.values = [];
    this.sizes = [];
    this.oldest = 0;
    this.firstNumber = 1;
    this.inserted = 0;
    this.heldSize = 0;
    this.unknownNamed = 0;
    this.max = null;
    this.nothingBelow = false;
    this.epochNumber++;
  }

  /** Decode one complete header block `block[start, end)`. */
  decode(block: Uint8Array, start = 0, end = block.length): DecodedBlock {
    const buf = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    const out: DecodedBlock = { fields: [], unknownFields: 0, error: null, sizeUpdateOverLimit: false };
    const cursor = { pos: start };
    while (cursor.pos < end) {
      const b = buf[cursor.pos]!;
      let error: string | null;
      if (b & 0x80) error = this.indexed(buf, cursor, end, out);
      else if (b & 0x40) error = this.literal(buf, cursor, end, 6, true, false, out);
      else if (b & 0x20) error = this.sizeUpdate(buf, cursor, end, out);
      else error = this.literal(buf, cursor, end, 4, false, (b & 0x10) !== 0, out);
      if (error) {
        out.error = error;
        this.resync();
        break;
      }
    }
    return out;
  }

  private indexed(buf: Buffer, cursor: { pos: number }, end: number, out: DecodedBlock): string | null {
    const index = readInteger(buf, cursor, end, 7);
    if (index < 0) return 'truncated index';
    if (index === 0) return 'index 0';
    const entry = this.lookup(index);
    if (!entry) return `index ${index} out of range`;
    out.fields.push({ name: entry[0], value: entry[1], neverIndexed: false, unknown: entry[2] });
    if (entry[2]) out.unknownFields++;
    return null;
  }

  private literal(
    buf: Buffer,
    cursor: { pos: number },
    end: number,
    prefixBits: number,
    addToTable: boolean,
    neverIndexed: boolean,
    out: DecodedBlock,
  ): string | null {
    const nameIndex = readInteger(buf, cursor, end, prefixBits);
    if (nameIndex < 0) return 'truncated name index';
    let name: string;
    let unknown = false;
    if (nameIndex === 0) {
      const s = this.readString(buf, cursor, end);
      if (s === null) return 'bad name string';
      name = s;
    } else {
      const entry = this.lookup(nameIndex);
      if (!entry) return `name index ${nameIndex} out of range`;
      name = entry[0];
      unknown = isUnknownMarker(name);
    }
    const value = this.readString(buf, cursor, end);
    if (value === null) return 'bad value string';
    out.fields.push({ name, value, neverIndexed, unknown });
    if (unknown) out.unknownFields++;
    if (addToTable) this.insert(name, value, unknown);
    return null;
  }

  private sizeUpdate(buf: Buffer, cursor: { pos: number }, end: number, out: DecodedBlock): string | null {
    const size = readInteger(buf, cursor, end, 5);
    if (size < 0) return 'truncated size update';
    if (this.limitValue !== null && size > this.limitValue) out.sizeUpdateOverLimit = true;
    this.max = size;
    this.evictUntil(size);
    if (size === 0) this.nothingBelow = true;
    return null;
  }

  /** [name, value, unknown] for a 1-based HPACK index, or null when it cannot exist. */
  private lookup(index: number): [string, string, boolean] | null {
    if (index <= STATIC_TABLE_LENGTH) {
      const [name, value] = STATIC_TABLE[index - 1]!;
      return [name, value, false];
    }
    const number = this.inserted - (index - STATIC_TABLE_LENGTH) + 1;
    const slot = number - this.firstNumber;
    if (slot >= this.oldest) return [this.names[slot]!, this.values[slot]!, isUnknownMarker(this.names[slot]!)];
    if (this.nothingBelow) return null;
    const marker = `<unknown:hpack-entry-${1 - number}${this.epochNumber > 0 ? `@gap${this.epochNumber}` : ''}>`;
    return [marker, marker, true];
  }

  private insert(name: string, value: string, nameUnknown: boolean, knownSize?: number): void {
    // An unknown name counts as 0 octets: sizes stay a lower bound, so we never evict too much.
    const entrySize = knownSize ?? (nameUnknown ? 0 : name.length) + value.length + ENTRY_OVERHEAD;
    if (this.max !== null) {
      if (entrySize > this.max) {
        this.evictUntil(0);
        this.nothingBelow = true;
        return;
      }
      this.evictUntil(this.max - entrySize);
    }
    this.names.push(name);
    this.values.push(value);
    this.sizes.push(entrySize);
    this.inserted++;
    this.heldSize += entrySize;
    if (nameUnknown) this.unknownNamed++;
    if (this.max === null) {
      while (this.heldSize > this.maxUnknownTableSize) this.evictOldest();
    }
  }

  private evictUntil(size: number): void {
    while (this.heldSize > size && this.oldest < this.names.length) {
      this.evictOldest();
      // Known entries go only after all older ones, unknown included; with a known maximum this is exact.
      if (this.max !== null) this.nothingBelow = true;
    }
  }

  private evictOldest(): void {
    this.heldSize -= this.sizes[this.oldest]!;
    if (isUnknownMarker(this.names[this.oldest]!)) this.unknownNamed--;
    this.oldest++;
    if (this.oldest > 64 && this.oldest * 2 > this.names.length) {
      this.names.splice(0, this.oldest);
      this.values.splice(0, this.oldest);
      this.sizes.splice(0, this.oldest);
      this.firstNumber += this.oldest;
      this.oldest = 0;
    }
  }

  private readString(buf: Buffer, cursor: { pos: number }, end: number): string | null {
    if (cursor.pos >= end) return null;
    const huffman = (buf[cursor.pos]! & 0x80) !== 0;
    const length = readInteger(buf, cursor, end, 7);
    if (length < 0 || cursor.pos + length > end) return null;
    const start = cursor.pos;
    cursor.pos += length;
    if (!huffman) return buf.toString('latin1', start, start + length);
    const need = maxHuffmanDecodedLength(length);
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    const n = huffmanDecode(buf, start, start + length, this.scratch);
    return n < 0 ? null : this.scratch.toString('latin1', 0, n);
  }
}

/** RFC 7541 5.1 integer with an N-bit prefix; -1 when truncated or absurdly large. */
function readInteger(buf: Uint8Array, cursor: { pos: number }, end: number, prefixBits: number): number {
  if (cursor.pos >= end) return -1;
  const mask = (1 << prefixBits) - 1;
  let value = buf[cursor.pos++]! & mask;
  if (value < mask) return value;
  let shift = 0;
  for (;;) {
    if (cursor.pos >= end) return -1;
    const b = buf[cursor.pos++]!;
    value += (b & 0x7f) * 2 ** shift;
    if (value > MAX_INTEGER) return -1;
    if ((b & 0x80) === 0) return value;
    shift += 7;
  }
}
