import type { Counters } from '../util/counters.js';
import { CaptureFormatError } from './errors.js';
import {
  BLOCK_DECRYPTION_SECRETS,
  BLOCK_ENHANCED_PACKET,
  BLOCK_INTERFACE_DESCRIPTION,
  BLOCK_OBSOLETE_PACKET,
  BLOCK_SECTION_HEADER,
  BLOCK_SIMPLE_PACKET,
  BYTE_ORDER_MAGIC,
  BYTE_ORDER_MAGIC_SWAPPED,
  MIN_BLOCK_BYTES,
  PACKET_BLOCK_FIXED_BYTES,
  PCAP_FILE_HEADER_BYTES,
  PCAP_LINK_TYPE_MASK,
  PCAP_MODIFIED_RECORD_HEADER_BYTES,
  PCAP_RECORD_HEADER_BYTES,
  type PcapngInterface,
  SECTION_HEADER_MIN_BYTES,
  SIMPLE_PACKET_FIXED_BYTES,
  detectCaptureFormat,
  isGzipMagic,
  parseInterfaceDescription,
} from './formats.js';
import { ticksToMicros } from './timestamps.js';
import type { CaptureFileInfo, CapturedPacket } from './types.js';

/** Larger records are taken for corruption rather than waited for. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;

const EMPTY = new Uint8Array(0);

type Stage = 'magic' | 'pcap-header' | 'pcap-records' | 'pcapng-blocks';


export interface CaptureParserOptions {
  /** Shown in errors and info (usually the path). */
  name: string;
  sourceIndex: number;
  counters: Counters;
  /** The bytes were gunzipped on the way in: only changes the reported format. */
  gzip?: boolean;
  /** A pcapng Decryption Secrets Block: its secrets type (0x544c534b: a TLS key log) and data (a copy). */
  onDecryptionSecrets?(secretsType: number, data: Uint8Array): void;
}

/**
 * Incremental, synchronous reader of classic pcap (µs, ns, modified; both byte orders) and pcapng.
 *
 * Feed chunks in order with push(); each call returns the packets completed by that chunk. Packets
 * are views into the chunks (or, for a record straddling two chunks, into a buffer made for that
 * record alone), so a chunk must not be modified after it was pushed. Only the unconsumed tail of a
 * chunk is kept between calls.
 */
export class CaptureParser {
  private readonly name: string;
  private readonly sourceIndex: number;
  private readonly counters: Counters;
  private readonly gzip: boolean;
  private readonly onDecryptionSecrets: CaptureParserOptions['onDecryptionSecrets'];

  private stage: Stage = 'magic';
  private littleEndian = true;
  /** Byte order of the file header (the first section's, for pcapng). */
  private fileLittleEndian = true;
  private format = 'unknown';
  /** Absolute stream offset of the first byte not yet consumed. */
  private offset = 0;
  /** Absolute stream offset of byte 0 of the buffer being parsed (for error messages). */
  private bufferBase = 0;
  private ended = false;
  /** A format error found after some packets of the same chunk: they go out first, the error next call. */
  private failure: CaptureFormatError | null = null;

  /** Unconsumed bytes: a view into the last chunk, or a buffer of our own while a record is stitched. */
  private pending: Uint8Array = EMPTY;
  private pendingLength = 0;
  private pendingOwned = false;

  private pcapRecordHeaderBytes = PCAP_RECORD_HEADER_BYTES;
  private pcapSubsecondDivisor = 1;
  private pcapLinkType = 0;
  private snaplen = 0;

  private interfaces: PcapngInterface[] = [];
  private sections = 0;
  private lastTimestamp = 0;
  private warnedSimplePacketTime = false;

  private readonly linkTypes: number[] = [];
  private readonly warnings: string[] = [];
  private packets = 0;
  private bytes = 0;

  constructor(opts: CaptureParserOptions) {
    this.name = opts.name;
    this.sourceIndex = opts.sourceIndex;
    this.counters = opts.counters;
    this.gzip = opts.gzip ?? false;
    this.onDecryptionSecrets = opts.onDecryptionSecrets;
  }

  /**
   * Returns the packets this chunk completes. On a format error, the packets before it are returned
   * first and the error is thrown by the next push() or end().
   */
  push(chunk: Uint8Array): CapturedPacket[] {
    if (this.failure !== null) throw this.failure;
    if (this.ended) throw new Error('CaptureParser.push() after end()');
    const out: CapturedPacket[] = [];
    try {
      this.consume(chunk, out);
    } catch (error) {
      if (!(error instanceof CaptureFormatError) || out.length === 0) throw error;
      this.failure = error;
    }
    return out;
  }

  private consume(chunk: Uint8Array, out: CapturedPacket[]): void {
    let position = 0;
    if (this.pendingLength > 0) {
      position = this.completePending(chunk, out);
      if (this.pendingLength > 0) return;
    }
    const stop = this.parse(chunk, position, chunk.length, out);
    if (stop < chunk.length) {
      this.pending = chunk.subarray(stop);
      this.pendingLength = this.pending.length;
      this.pendingOwned = false;
    }
  }

  /** The input is complete. A partial last record becomes a warning; a partial file header throws. */
  end(): CapturedPacket[] {
    if (this.failure !== null) throw this.failure;
    if (this.ended) return [];
    this.ended = true;
    const have = this.pendingLength;
    if (this.stage === 'magic') {
      const what = have === 0 ? 'empty file' : `file too short (${have} bytes)`;
      throw new CaptureFormatError('ERR_NOT_A_CAPTURE', `${this.name}: not a pcap or pcapng file (${what})`, 0);
    }
    if (this.stage === 'pcap-header' || (this.stage === 'pcapng-blocks' && this.sections === 0)) {
      throw new CaptureFormatError(
        'ERR_TRUNCATED_HEADER',
        `${this.name}: truncated ${this.format} file header (${have} bytes)`,
        0,
      );
    }
    if (have > 0) {
      const view = this.pending.subarray(0, have);
      this.bufferBase = this.offset;
      const need = this.bytesNeeded(view, this.dataView(view));
      const known = this.headerComplete(view);
      this.warnings.push(`truncated last record: ${have} of ${known ? '' : 'at least '}${need} bytes`);
      this.counters.add('capture.truncated-last-record');
      this.pending = EMPTY;
      this.pendingLength = 0;
    }
    return [];
  }

  /** A problem noticed by whoever feeds the parser (e.g. the gzip layer), reported with the file. */
  addWarning(warning: string): void {
    this.warnings.push(warning);
  }

  info(): CaptureFileInfo {
    return {
      name: this.name,
      format: this.gzip ? `${this.format}+gzip` : this.format,
      byteOrder: this.fileLittleEndian ? 'little' : 'big',
      linkTypes: [...this.linkTypes],
      snaplen: this.snaplen,
      packets: this.packets,
      bytes: this.bytes,
      warnings: [...this.warnings],
    };
  }

  /** Moves bytes of `chunk` into the pending record until it is complete; returns bytes taken. */
  private completePending(chunk: Uint8Array, out: CapturedPacket[]): number {
    let position = 0;
    while (position < chunk.length) {
      const have = this.pendingLength;
      const current = this.pending.subarray(0, have);
      this.bufferBase = this.offset;
      const need = this.bytesNeeded(current, this.dataView(current));
      if (!this.pendingOwned || this.pending.length < need) {
        const grown = new Uint8Array(need);
        grown.set(current);
        this.pending = grown;
        this.pendingOwned = true;
      }
      const take = Math.min(need - have, chunk.length - position);
      this.pending.set(chunk.subarray(position, position + take), have);
      this.pendingLength += take;
      position += take;
      if (this.pendingLength < need) break;
      // Either a whole unit (consumed entirely) or just enough header to learn the unit's length.
      if (this.parse(this.pending, 0, need, out) === need) {
        // Packets may point into this buffer: let it go, never write to it again.
        this.pending = EMPTY;
        this.pendingLength = 0;
        this.pendingOwned = false;
        break;
      }
    }
    return position;
  }

  /** Parses every complete unit in buf[start, end); returns where it stopped. */
  private parse(buf: Uint8Array, start: number, end: number, out: CapturedPacket[]): number {
    let position = start;
    this.bufferBase = this.offset - start;
    if (this.stage === 'magic') {
      if (end - position < 4) return position;
      this.detectFormat(buf, position);
    }
    if (this.stage === 'pcap-header') {
      if (end - position < PCAP_FILE_HEADER_BYTES) return position;
      this.readPcapFileHeader(this.dataView(buf), position);
      position += PCAP_FILE_HEADER_BYTES;
      this.offset += PCAP_FILE_HEADER_BYTES;
      this.stage = 'pcap-records';
    }
    const view = this.dataView(buf);
    const stop =
      this.stage === 'pcap-records'
        ? this.parsePcapRecords(buf, view, position, end, out)
        : this.parsePcapngBlocks(buf, view, position, end, out);
    this.offset += stop - position;
    return stop;
  }

  private dataView(buf: Uint8Array): DataView {
    return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private detectFormat(buf: Uint8Array, position: number): void {
    const detected = detectCaptureFormat(buf, position);
    if (detected === null) {
      const magic = ((buf[position]! << 24) | (buf[position + 1]! << 16) | (buf[position + 2]! << 8) | buf[position + 3]!) >>> 0;
      const hex = magic.toString(16).padStart(8, '0');
      if (isGzipMagic(buf[position], buf[position + 1])) {
        throw new CaptureFormatError(
          'ERR_GZIP_NOT_DECODED',
          `${this.name}: gzip-compressed data reached the capture parser undecoded (magic 0x${hex})`,
          this.offset,
        );
      }
      const packed = compressionOf(buf, position);
      const hint = packed ? `: ${packed.name}-compressed; pipe \`${packed.tool} -dc ${this.name}\` into \`-\`` : '';
      throw new CaptureFormatError('ERR_NOT_A_CAPTURE', `${this.name}: not a pcap or pcapng file (magic 0x${hex})${hint}`, 0);
    }
    this.format = detected.format;
    if (detected.format === 'pcapng') {
      this.stage = 'pcapng-blocks';
      return;
    }
    this.littleEndian = detected.littleEndian;
    this.fileLittleEndian = detected.littleEndian;
    this.pcapSubsecondDivisor = detected.format === 'pcap-nsec' ? 1000 : 1;
    this.pcapRecordHeaderBytes =
      detected.format === 'pcap-modified' ? PCAP_MODIFIED_RECORD_HEADER_BYTES : PCAP_RECORD_HEADER_BYTES;
    this.stage = 'pcap-header';
  }

  private readPcapFileHeader(view: DataView, position: number): void {
    this.snaplen = view.getUint32(position + 16, this.littleEndian);
    this.pcapLinkType = view.getUint32(position + 20, this.littleEndian) & PCAP_LINK_TYPE_MASK;
    this.linkTypes.push(this.pcapLinkType);
  }

  /**
   * Bytes the unit starting at buf[0] needs in total, as far as buf tells: the header size while the
   * header is incomplete, then the whole unit. Throws on a length that cannot be right.
   */
  private bytesNeeded(buf: Uint8Array, view: DataView): number {
    const have = buf.length;
    switch (this.stage) {
      case 'magic':
        return 4;
      case 'pcap-header':
        return PCAP_FILE_HEADER_BYTES;
      case 'pcap-records':
        if (have < this.pcapRecordHeaderBytes) return this.pcapRecordHeaderBytes;
        return this.pcapRecordHeaderBytes + this.checkedPcapLength(view, 0);
      case 'pcapng-blocks':
        return this.pcapngBlockLength(view, 0, have);
    }
  }

  /** Whether `bytesNeeded` gave the unit's real length rather than a header minimum. */
  private headerComplete(buf: Uint8Array): boolean {
    if (this.stage === 'pcap-records') return buf.length >= this.pcapRecordHeaderBytes;
    if (buf.length < 8) return false;
    return buf.length >= MIN_BLOCK_BYTES || this.dataView(buf).getUint32(0, true) !== BLOCK_SECTION_HEADER;
  }

  private checkedPcapLength(view: DataView, position: number): number {
    const captured = view.getUint32(position + 8, this.littleEndian);
    if (captured > MAX_RECORD_BYTES) this.throwCorrupt(position, `record length ${captured}`);
    return captured;
  }

  private throwCorrupt(position: number, what: string): never {
    const at = this.bufferBase + position;
    throw new CaptureFormatError('ERR_CORRUPT_RECORD', `${this.name}: corrupt ${what} at byte offset ${at}`, at);
  }

  private parsePcapRecords(
    buf: Uint8Array,
    view: DataView,
    start: number,
    end: number,
    out: CapturedPacket[],
  ): number {
    const littleEndian = this.littleEndian;
    const headerBytes = this.pcapRecordHeaderBytes;
    const subsecondDivisor = this.pcapSubsecondDivisor;
    const linkType = this.pcapLinkType;
    const sourceIndex = this.sourceIndex;
    const snaplen = this.snaplen;
    const arrayBuffer = buf.buffer;
    const base = buf.byteOffset;
    let position = start;
    let packets = 0;
    let bytes = 0;
    let overSnaplen = 0;
    while (end - position >= headerBytes) {
      const captured = view.getUint32(position + 8, littleEndian);
      if (captured > MAX_RECORD_BYTES) this.throwCorrupt(position, `record length ${captured}`);
      const dataStart = position + headerBytes;
      if (end - dataStart < captured) break;
      if (captured > snaplen) overSnaplen++;
      out.push({
        ts: view.getUint32(position, littleEndian) * 1e6 + view.getUint32(position + 4, littleEndian) / subsecondDivisor,
        linkType,
        data: new Uint8Array(arrayBuffer, base + dataStart, captured),
        origLen: view.getUint32(position + 12, littleEndian),
        interfaceId: 0,
        sourceIndex,
      });
      position = dataStart + captured;
      packets++;
      bytes += captured;
    }
    this.packets += packets;
    this.bytes += bytes;
    if (overSnaplen > 0 && snaplen > 0) this.counters.add('capture.record-exceeds-snaplen', overSnaplen);
    return position;
  }

  /** Total length of the block at `position` (or the bytes needed to learn it); validated. */
  private pcapngBlockLength(view: DataView, position: number, available: number): number {
    if (available < 8) return 8;
    let littleEndian = this.littleEndian;
    if (view.getUint32(position, true) === BLOCK_SECTION_HEADER) {
      if (available < MIN_BLOCK_BYTES) return MIN_BLOCK_BYTES;
      littleEndian = this.sectionByteOrder(view, position);
    }
    const length = view.getUint32(position + 4, littleEndian);
    if (length < MIN_BLOCK_BYTES || length % 4 !== 0 || length > MAX_RECORD_BYTES) {
      this.throwCorrupt(position, `pcapng block length ${length}`);
    }
    return length;
  }

  private sectionByteOrder(view: DataView, position: number): boolean {
    const magic = view.getUint32(position + 8, true);
    if (magic === BYTE_ORDER_MAGIC) return true;
    if (magic === BYTE_ORDER_MAGIC_SWAPPED) return false;
    this.throwCorrupt(position, `pcapng byte-order magic 0x${magic.toString(16).padStart(8, '0')}`);
  }

  private parsePcapngBlocks(
    buf: Uint8Array,
    view: DataView,
    start: number,
    end: number,
    out: CapturedPacket[],
  ): number {
    const arrayBuffer = buf.buffer;
    const base = buf.byteOffset;
    let position = start;
    while (end - position >= MIN_BLOCK_BYTES) {
      const length = this.pcapngBlockLength(view, position, end - position);
      if (end - position < length) break;
      const type = view.getUint32(position, this.littleEndian);
      if (type === BLOCK_SECTION_HEADER) this.readSectionHeader(view, position, length);
      if (view.getUint32(position + length - 4, this.littleEndian) !== length) {
        this.throwCorrupt(position, `pcapng block (trailing length differs from ${length})`);
      }
      if (type === BLOCK_ENHANCED_PACKET) this.readPacketBlock(arrayBuffer, base, view, position, length, true, out);
      else if (type === BLOCK_SIMPLE_PACKET) this.readSimplePacket(arrayBuffer, base, view, position, length, out);
      else if (type === BLOCK_INTERFACE_DESCRIPTION) this.readInterfaceDescription(view, position, length);
      else if (type === BLOCK_OBSOLETE_PACKET) this.readPacketBlock(arrayBuffer, base, view, position, length, false, out);
      else if (type === BLOCK_DECRYPTION_SECRETS) this.readDecryptionSecrets(buf, view, position, length);
      position += length;
    }
    return position;
  }

  private readDecryptionSecrets(buf: Uint8Array, view: DataView, position: number, length: number): void {
    this.counters.add('capture.decryption-secrets-blocks');
    const secretsLength = length >= 20 ? view.getUint32(position + 12, this.littleEndian) : -1;
    if (secretsLength < 0 || 16 + secretsLength > length - 4) {
      this.counters.add('capture.malformed-decryption-secrets-blocks');
      return;
    }
    const start = position + 16;
    this.onDecryptionSecrets?.(view.getUint32(position + 8, this.littleEndian), buf.slice(start, start + secretsLength));
  }

  private readSectionHeader(view: DataView, position: number, length: number): void {
    this.littleEndian = this.sectionByteOrder(view, position);
    const major = view.getUint16(position + 12, this.littleEndian);
    if (length < SECTION_HEADER_MIN_BYTES || major !== 1) {
      this.throwCorrupt(position, `pcapng section header (version ${major}, length ${length})`);
    }
    if (this.sections === 0) this.fileLittleEndian = this.littleEndian;
    this.sections++;
    this.interfaces = [];
  }

  private readInterfaceDescription(view: DataView, position: number, length: number): void {
    const description = parseInterfaceDescription(view, position, length, this.littleEndian);
    if (description === null) {
      this.counters.add('capture.pcapng-bad-interface-block');
      return;
    }
    this.interfaces.push(description);
    this.linkTypes.push(description.linkType);
    if (description.snaplen > this.snaplen) this.snaplen = description.snaplen;
  }

  /** EPB (32-bit interface id) or the obsolete packet block (16-bit interface id + 16-bit drops). */
  private readPacketBlock(
    arrayBuffer: ArrayBufferLike,
    base: number,
    view: DataView,
    position: number,
    length: number,
    enhanced: boolean,
    out: CapturedPacket[],
  ): void {
    const littleEndian = this.littleEndian;
    if (length < PACKET_BLOCK_FIXED_BYTES) {
      this.counters.add('capture.pcapng-bad-packet-block');
      return;
    }
    const interfaceId = enhanced ? view.getUint32(position + 8, littleEndian) : view.getUint16(position + 8, littleEndian);
    const captured = view.getUint32(position + 20, littleEndian);
    if (captured > length - PACKET_BLOCK_FIXED_BYTES) {
      this.counters.add('capture.pcapng-bad-packet-block');
      return;
    }
    const description = this.interfaces[interfaceId];
    if (description === undefined) {
      this.counters.add('capture.pcapng-unknown-interface');
      return;
    }
    const ts =
      ticksToMicros(view.getUint32(position + 12, littleEndian), view.getUint32(position + 16, littleEndian), description.unitsPerSecond) +
      description.offsetMicros;
    this.lastTimestamp = ts;
    out.push({
      ts,
      linkType: description.linkType,
      data: new Uint8Array(arrayBuffer, base + position + 28, captured),
      origLen: view.getUint32(position + 24, littleEndian),
      interfaceId,
      sourceIndex: this.sourceIndex,
    });
    this.packets++;
    this.bytes += captured;
  }

  /**
   * SPB: interface 0, no timestamp, captured length = min(original length, snaplen). Without a time
   * of its own the packet gets the previous packet's, so time never runs backwards downstream.
   */
  private readSimplePacket(
    arrayBuffer: ArrayBufferLike,
    base: number,
    view: DataView,
    position: number,
    length: number,
    out: CapturedPacket[],
  ): void {
    const description = this.interfaces[0];
    if (description === undefined) {
      this.counters.add('capture.pcapng-unknown-interface');
      return;
    }
    const originalLength = view.getUint32(position + 8, this.littleEndian);
    const room = length - SIMPLE_PACKET_FIXED_BYTES;
    let captured =
      description.snaplen > 0 && description.snaplen < originalLength ? description.snaplen : originalLength;
    if (captured > room) {
      this.counters.add('capture.pcapng-bad-packet-block');
      captured = room;
    }
    if (!this.warnedSimplePacketTime) {
      this.warnedSimplePacketTime = true;
      this.warnings.push('simple packet blocks carry no timestamp: each takes the previous packet time');
    }
    out.push({
      ts: this.lastTimestamp,
      linkType: description.linkType,
      data: new Uint8Array(arrayBuffer, base + position + 12, captured),
      origLen: originalLength,
      interfaceId: 0,
      sourceIndex: this.sourceIndex,
    });
    this.packets++;
    this.bytes += captured;
  }
}

/** Compressed formats a capture is often kept in that are not read directly (gzip is). */
const COMPRESSIONS: readonly { name: string; tool: string; magic: readonly number[] }[] = [
  { name: 'zstd', tool: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd] },
  { name: 'xz', tool: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { name: 'bzip2', tool: 'bzip2', magic: [0x42, 0x5a, 0x68] },
  { name: 'lz4', tool: 'lz4', magic: [0x04, 0x22, 0x4d, 0x18] },
];

function compressionOf(buf: Uint8Array, position: number): { name: string; tool: string } | null {
  return COMPRESSIONS.find((c) => c.magic.every((byte, i) => buf[position + i] === byte)) ?? null;
}
