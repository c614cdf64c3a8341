/**
 * Writes synthetic capture files for tests: classic pcap (µs, ns, modified; either byte order) and
 * pcapng (draft-ietf-opsawg-pcapng: SHB, IDB with if_tsresol / if_tsoffset, EPB / SPB / OPB, several
 * sections, optional extra blocks a reader must skip). tshark and capinfos read what it writes
 * (checked in test/capture-writer.test.ts).
 */
import { gzipSync } from 'node:zlib';

export interface FixturePacket {
  /** Microseconds since the epoch; the sub-µs fraction is kept as far as the file's resolution allows. */
  ts: number;
  data: Uint8Array;
  /** Ignored by the writers (the file header or the interface decides); handy for expectations. */
  linkType?: number;
  /** Wire length; defaults to data.length. */
  origLen?: number;
  /** pcapng interface index (0 when absent). */
  interfaceId?: number;
}

export interface PcapWriteOptions {
  linkType: number;
  nanosecond?: boolean;
  bigEndian?: boolean;
  snaplen?: number;
  /** Kuznetzov's modified pcap (magic a1b2cd34, 24-byte record headers). */
  modified?: boolean;
}

export interface FixtureInterface {
  linkType: number;
  /** Raw if_tsresol byte: 6 = µs (the default, then no option is written), 9 = ns, 0x80|n = 2^-n s. */
  tsresol?: number;
  /** if_tsoffset in seconds. */
  tsoffset?: number;
  /** 0 = unlimited (the default). */
  snaplen?: number;
  name?: string;
}

export interface PcapngWriteOptions {
  interfaces: FixtureInterface[];
  bigEndian?: boolean;
  /** Flip the byte order in every other section. */
  alternateByteOrder?: boolean;
  blockType?: 'epb' | 'spb' | 'opb';
  /** Split the packets over this many sections, each repeating the interfaces. */
  sections?: number;
  /** Add a name resolution block, an interface statistics block, a custom block and a local-use block. */
  unknownBlocks?: boolean;
  /** Give packet blocks options (a comment and flags) that a reader must step over. */
  packetOptions?: boolean;
}

const DEFAULT_SNAPLEN = 262144;

export function gzip(buf: Uint8Array): Buffer {
  return gzipSync(buf);
}

/** Units per second of a raw if_tsresol byte. */
export function unitsPerSecond(tsresol: number): bigint {
  return tsresol & 0x80 ? 1n << BigInt(tsresol & 0x7f) : 10n ** BigInt(tsresol);
}

/** A timestamp as whole ticks of 1/units s since the epoch (rounded to the nearest tick). */
export function toTicks(tsMicros: number, units: bigint): bigint {
  const seconds = Math.floor(tsMicros / 1e6);
  const fractionMicros = tsMicros - seconds * 1e6;
  const fractionTicks = BigInt(Math.round((fractionMicros * Number(units)) / 1e6));
  const ticks = BigInt(seconds) * units + fractionTicks;
  if (ticks < 0n || ticks >= 1n << 64n) throw new Error(`${tsMicros} µs does not fit 64 bits of 1/${units} s`);
  return ticks;
}

/** The µs value a reader should produce for a tick count: independent (BigInt) reference arithmetic. */
export function ticksToMicrosReference(ticks: bigint, units: bigint): number {
  const seconds = ticks / units;
  const remainder = ticks % units;
  return Number(seconds) * 1e6 + Number(remainder * 1_000_000n) / Number(units);
}

/** What a file of the given resolution can carry of `tsMicros`. */
export function representable(tsMicros: number, units: bigint): number {
  return ticksToMicrosReference(toTicks(tsMicros, units), units);
}

export function writePcap(packets: readonly FixturePacket[], opts: PcapWriteOptions): Buffer {
  const out = new ByteWriter(!opts.bigEndian);
  const magic = opts.modified ? 0xa1b2cd34 : opts.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4;
  const units = opts.nanosecond ? 1_000_000_000n : 1_000_000n;
  out.u32(magic).u16(2).u16(4).u32(0).u32(0).u32(opts.snaplen ?? DEFAULT_SNAPLEN).u32(opts.linkType);
  for (const packet of packets) {
    const ticks = toTicks(packet.ts, units);
    out.u32(Number(ticks / units)).u32(Number(ticks % units));
    out.u32(packet.data.length).u32(packet.origLen ?? packet.data.length);
    if (opts.modified) out.u32(packet.interfaceId ?? 0).u16(0x0800).u8(0).u8(0);
    out.bytes(packet.data);
  }
  return out.finish();
}

export function writePcapng(packets: readonly FixturePacket[], opts: PcapngWriteOptions): Buffer {
  const sectionCount = Math.max(1, opts.sections ?? 1);
  const perSection = Math.ceil(packets.length / sectionCount);
  const parts: Buffer[] = [];
  for (let section = 0; section < sectionCount; section++) {
    const flip = opts.alternateByteOrder === true && section % 2 === 1;
    const bigEndian = (opts.bigEndian ?? false) !== flip;
    const slice = packets.slice(section * perSection, (section + 1) * perSection);
    parts.push(writeSection(slice, opts, !bigEndian));
  }
  return Buffer.concat(parts);
}

function writeSection(packets: readonly FixturePacket[], opts: PcapngWriteOptions, littleEndian: boolean): Buffer {
  const body = new ByteWriter(littleEndian);
  opts.interfaces.forEach((description) => writeInterfaceDescription(body, description));
  if (opts.unknownBlocks) writeExtraBlocks(body);
  packets.forEach((packet, index) => {
    const interfaceId = packet.interfaceId ?? 0;
    const description = opts.interfaces[interfaceId];
    const units = unitsPerSecond(description?.tsresol ?? 6);
    const offsetMicros = (description?.tsoffset ?? 0) * 1e6;
    const ticks = toTicks(packet.ts - offsetMicros, units);
    const withOptions = opts.packetOptions === true && index % 2 === 1;
    switch (opts.blockType ?? 'epb') {
      case 'epb':
        writePacketBlock(body, 6, packet, ticks, (block) => block.u32(interfaceId), withOptions);
        break;
      case 'opb':
        writePacketBlock(body, 2, packet, ticks, (block) => block.u16(interfaceId).u16(0), withOptions);
        break;
      case 'spb':
        writeSimplePacket(body, packet, description);
        break;
    }
    if (opts.unknownBlocks && index === 0) writeExtraBlocks(body);
  });
  const contents = body.finish();

  const header = new ByteWriter(littleEndian);
  block(header, 0x0a0d0d0a, (b) => {
    b.u32(0x1a2b3c4d).u16(1).u16(0).u64(BigInt(contents.length));
    b.option(4, utf8('wirespan capture-writer')).endOfOptions();
  });
  return Buffer.concat([header.finish(), contents]);
}

function writeInterfaceDescription(out: ByteWriter, description: FixtureInterface): void {
  block(out, 1, (b) => {
    b.u16(description.linkType).u16(0).u32(description.snaplen ?? 0);
    if (description.name !== undefined) b.option(2, utf8(description.name));
    if (description.tsresol !== undefined) b.option(9, Uint8Array.of(description.tsresol));
    if (description.tsoffset !== undefined) {
      const value = new ByteWriter(b.littleEndian).u64(BigInt(description.tsoffset)).finish();
      b.option(14, value);
    }
    b.endOfOptions();
  });
}

function writePacketBlock(
  out: ByteWriter,
  type: number,
  packet: FixturePacket,
  ticks: bigint,
  writeInterfaceFields: (b: ByteWriter) => void,
  withOptions: boolean,
): void {
  block(out, type, (b) => {
    writeInterfaceFields(b);
    b.u32(Number(ticks >> 32n)).u32(Number(ticks & 0xffffffffn));
    b.u32(packet.data.length).u32(packet.origLen ?? packet.data.length);
    b.bytes(packet.data).pad();
    if (withOptions) {
      b.option(1, utf8('a packet comment'));
      b.option(2, new ByteWriter(b.littleEndian).u32(1).finish()); // flags: inbound
      b.endOfOptions();
    }
  });
}

function writeSimplePacket(out: ByteWriter, packet: FixturePacket, description: FixtureInterface | undefined): void {
  if ((packet.interfaceId ?? 0) !== 0 || description === undefined) {
    throw new Error('simple packet blocks belong to interface 0, which must exist');
  }
  const originalLength = packet.origLen ?? packet.data.length;
  const snaplen = description.snaplen ?? 0;
  const expected = snaplen > 0 ? Math.min(originalLength, snaplen) : originalLength;
  if (packet.data.length !== expected) {
    throw new Error(`a simple packet block carries min(origLen, snaplen) = ${expected} bytes, not ${packet.data.length}`);
  }
  block(out, 3, (b) => b.u32(originalLength).bytes(packet.data).pad());
}

/** Blocks a packet reader has no use for and must skip by their length. */
function writeExtraBlocks(out: ByteWriter): void {
  block(out, 4, (b) => {
    // nrb_record_ipv4: 4-byte address + zero-terminated name
    const record = new Uint8Array([127, 0, 0, 1, ...utf8('localhost'), 0]);
    b.u16(1).u16(record.length).bytes(record).pad();
    b.u16(0).u16(0);
  });
  block(out, 5, (b) => b.u32(0).u32(0).u32(0).endOfOptions()); // interface statistics, no options
  block(out, 0x00000bad, (b) => b.u32(32473).bytes(utf8('custom')).pad()); // 32473: PEN for examples
  block(out, 0x80000001, (b) => b.u32(0xdeadbeef)); // local use: meaningless to everyone else
}

function block(out: ByteWriter, type: number, writeBody: (b: ByteWriter) => void): void {
  const body = new ByteWriter(out.littleEndian);
  writeBody(body);
  const contents = body.finish();
  const length = 12 + contents.length;
  out.u32(type).u32(length).bytes(contents).u32(length);
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

class ByteWriter {
  private buffer = Buffer.alloc(256);
  private length = 0;

  constructor(readonly littleEndian: boolean) {}

  u8(value: number): this {
    this.reserve(1);
    this.buffer.writeUInt8(value, this.length);
    this.length += 1;
    return this;
  }

  u16(value: number): this {
    this.reserve(2);
    if (this.littleEndian) this.buffer.writeUInt16LE(value, this.length);
    else this.buffer.writeUInt16BE(value, this.length);
    this.length += 2;
    return this;
  }

  u32(value: number): this {
    this.reserve(4);
    if (this.littleEndian) this.buffer.writeUInt32LE(value >>> 0, this.length);
    else this.buffer.writeUInt32BE(value >>> 0, this.length);
    this.length += 4;
    return this;
  }

  /** Two's complement, so negative values (if_tsoffset) work too. */
  u64(value: bigint): this {
    this.reserve(8);
    if (this.littleEndian) this.buffer.writeBigUInt64LE(BigInt.asUintN(64, value), this.length);
    else this.buffer.writeBigUInt64BE(BigInt.asUintN(64, value), this.length);
    this.length += 8;
    return this;
  }

  bytes(data: Uint8Array): this {
    this.reserve(data.length);
    this.buffer.set(data, this.length);
    this.length += data.length;
    return this;
  }

  /** Zero padding to a 32-bit boundary. */
  pad(): this {
    while (this.length % 4 !== 0) this.u8(0);
    return this;
  }

  option(code: number, value: Uint8Array): this {
    return this.u16(code).u16(value.length).bytes(value).pad();
  }

  endOfOptions(): this {
    return this.u16(0).u16(0);
  }

  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.buffer.length) return;
    const grown = Buffer.alloc(Math.max(this.buffer.length * 2, this.length + extra));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
}
