import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CaptureFormatError } from '../src/capture/errors.js';
import { linkTypeName } from '../src/capture/linktypes.js';
import { CaptureParser } from '../src/capture/parser.js';
import { ticksToMicros } from '../src/capture/timestamps.js';
import type { CapturedPacket, CaptureFileInfo } from '../src/capture/types.js';
import { Counters } from '../src/util/counters.js';
import {
  type FixtureInterface,
  type FixturePacket,
  gzip,
  representable,
  ticksToMicrosReference,
  unitsPerSecond,
  writePcap,
  writePcapng,
} from './lib/capture-writer.js';

const T0 = 1_700_000_000_123_456.25;

/** Deterministic packets: varied lengths (incl. 0 and unaligned), distinct bytes, sub-µs fractions. */
function samplePackets(count: number, interfaces = 1): FixturePacket[] {
  const packets: FixturePacket[] = [];
  for (let i = 0; i < count; i++) {
    const length = [60, 0, 1514, 61, 3, 127][i % 6]!;
    const data = new Uint8Array(length);
    for (let j = 0; j < length; j++) data[j] = (i * 31 + j * 7) & 0xff;
    packets.push({ ts: T0 + i * 1_000_250.75, data, interfaceId: i % interfaces });
  }
  return packets;
}

function parseAll(file: Uint8Array, chunkSizes: number[] = [file.length], counters = new Counters()) {
  const parser = new CaptureParser({ name: 'mem', sourceIndex: 0, counters });
  const packets: CapturedPacket[] = [];
  let offset = 0;
  let index = 0;
  while (offset < file.length) {
    const size = Math.max(1, chunkSizes[index++ % chunkSizes.length]!);
    packets.push(...parser.push(file.subarray(offset, offset + size)));
    offset += size;
  }
  packets.push(...parser.end());
  return { packets, info: parser.info(), counters };
}

interface Expected {
  ts: number;
  linkType: number;
  data: Uint8Array;
  origLen: number;
  interfaceId: number;
}

function assertPackets(actual: CapturedPacket[], expected: Expected[]): void {
  assert.equal(actual.length, expected.length, 'packet count');
  actual.forEach((packet, i) => {
    const want = expected[i]!;
    assert.equal(packet.ts, want.ts, `ts of packet ${i}`);
    assert.equal(packet.linkType, want.linkType, `linkType of packet ${i}`);
    assert.equal(packet.origLen, want.origLen, `origLen of packet ${i}`);
    assert.equal(packet.interfaceId, want.interfaceId, `interfaceId of packet ${i}`);
    assert.equal(packet.sourceIndex, 0);
    assert.deepEqual(Buffer.from(packet.data), Buffer.from(want.data), `data of packet ${i}`);
  });
}

/** What a pcapng reader must return for packets written with these interfaces. */
function expectedFromInterfaces(packets: FixturePacket[], interfaces: FixtureInterface[]): Expected[] {
  return packets.map((packet) => {
    const description = interfaces[packet.interfaceId ?? 0]!;
    const offsetMicros = (description.tsoffset ?? 0) * 1e6;
    return {
      ts: representable(packet.ts - offsetMicros, unitsPerSecond(description.tsresol ?? 6)) + offsetMicros,
      linkType: description.linkType,
      data: packet.data,
      origLen: packet.origLen ?? packet.data.length,
      interfaceId: packet.interfaceId ?? 0,
    };
  });
}

interface Variant {
  name: string;
  file: Uint8Array;
  expected: Expected[];
  info: Partial<CaptureFileInfo>;
}

function variants(): Variant[] {
  const packets = samplePackets(12);
  const twoInterfaces = samplePackets(12, 2);
  const pcapExpected = (nanosecond: boolean, linkType: number, list = packets): Expected[] =>
    list.map((p) => ({
      ts: representable(p.ts, nanosecond ? 1_000_000_000n : 1_000_000n),
      linkType,
      data: p.data,
      origLen: p.origLen ?? p.data.length,
      interfaceId: 0,
    }));
  const snapped = packets.map((p) => ({ ...p, data: p.data.subarray(0, 40), origLen: p.data.length }));
  const nsAndBinary: FixtureInterface[] = [
    { linkType: 1, tsresol: 9, name: 'eth0' },
    { linkType: 101, tsresol: 0x80 | 20, tsoffset: -3600 },
  ];
  const unusual: FixtureInterface[] = [
    { linkType: 276, tsresol: 3 },
    { linkType: 113, tsresol: 10 }, // 1e10 ticks/s: beyond the limb division, still 64 bits today
  ];
  const spbInterface: FixtureInterface[] = [{ linkType: 1, snaplen: 100 }];
  const spbPackets = packets.map((p) => ({ ...p, data: p.data.subarray(0, 100), origLen: p.data.length }));
  return [
    {
      name: 'pcap µs little-endian',
      file: writePcap(packets, { linkType: 1 }),
      expected: pcapExpected(false, 1),
      info: { format: 'pcap', byteOrder: 'little', linkTypes: [1], snaplen: 262144 },
    },
    {
      name: 'pcap µs big-endian, raw IP',
      file: writePcap(packets, { linkType: 101, bigEndian: true }),
      expected: pcapExpected(false, 101),
      info: { format: 'pcap', byteOrder: 'big', linkTypes: [101] },
    },
    {
      name: 'pcap ns little-endian',
      file: writePcap(packets, { linkType: 1, nanosecond: true }),
      expected: pcapExpected(true, 1),
      info: { format: 'pcap-nsec', byteOrder: 'little' },
    },
    {
      name: 'pcap ns big-endian, SLL2',
      file: writePcap(packets, { linkType: 276, nanosecond: true, bigEndian: true }),
      expected: pcapExpected(true, 276),
      info: { format: 'pcap-nsec', byteOrder: 'big', linkTypes: [276] },
    },
    {
      name: 'modified pcap (a1b2cd34)',
      file: writePcap(packets, { linkType: 1, modified: true }),
      expected: pcapExpected(false, 1),
      info: { format: 'pcap-modified' },
    },
    {
      name: 'pcap with snaplen 40 (origLen > captured)',
      file: writePcap(snapped, { linkType: 1, snaplen: 40 }),
      expected: pcapExpected(false, 1, snapped),
      info: { snaplen: 40 },
    },
    {
      name: 'pcapng EPB, one µs interface',
      file: writePcapng(packets, { interfaces: [{ linkType: 1 }] }),
      expected: expectedFromInterfaces(packets, [{ linkType: 1 }]),
      info: { format: 'pcapng', byteOrder: 'little', linkTypes: [1] },
    },
    {
      name: 'pcapng EPB big-endian, ns + 2^-20 with if_tsoffset, packet options',
      file: writePcapng(twoInterfaces, { interfaces: nsAndBinary, bigEndian: true, packetOptions: true }),
      expected: expectedFromInterfaces(twoInterfaces, nsAndBinary),
      info: { format: 'pcapng', byteOrder: 'big', linkTypes: [1, 101] },
    },
    {
      name: 'pcapng 3 sections alternating byte order, extra blocks',
      file: writePcapng(twoInterfaces, {
        interfaces: nsAndBinary,
        sections: 3,
        alternateByteOrder: true,
        unknownBlocks: true,
      }),
      expected: expectedFromInterfaces(twoInterfaces, nsAndBinary),
      info: { byteOrder: 'little', linkTypes: [1, 101, 1, 101, 1, 101] },
    },
    {
      name: 'pcapng OPB (obsolete packet block)',
      file: writePcapng(twoInterfaces, { interfaces: nsAndBinary, blockType: 'opb' }),
      expected: expectedFromInterfaces(twoInterfaces, nsAndBinary),
      info: { linkTypes: [1, 101] },
    },
    {
      name: 'pcapng ms and 100 ps resolutions',
      file: writePcapng(twoInterfaces, { interfaces: unusual, bigEndian: true }),
      expected: expectedFromInterfaces(twoInterfaces, unusual),
      info: { linkTypes: [276, 113] },
    },
    {
      name: 'pcapng SPB with snaplen 100 (no timestamps)',
      file: writePcapng(spbPackets, { interfaces: spbInterface, blockType: 'spb' }),
      expected: spbPackets.map((p) => ({ ts: 0, linkType: 1, data: p.data, origLen: p.origLen, interfaceId: 0 })),
      info: {
        snaplen: 100,
        warnings: ['simple packet blocks carry no timestamp: each takes the previous packet time'],
      },
    },
  ];
}

test('every format variant reads back the packets written', async (t) => {
  for (const variant of variants()) {
    await t.test(variant.name, () => {
      const { packets, info, counters } = parseAll(variant.file);
      assertPackets(packets, variant.expected);
      assert.equal(info.packets, variant.expected.length);
      assert.equal(
        info.bytes,
        variant.expected.reduce((sum, p) => sum + p.data.length, 0),
      );
      for (const [key, value] of Object.entries(variant.info)) {
        assert.deepEqual(info[key as keyof CaptureFileInfo], value, key);
      }
      if (!('warnings' in variant.info)) assert.deepEqual(info.warnings, []);
      assert.deepEqual(counters.toJSON(), {});
    });
  }
});

test('µs and ns files keep the written times exactly where the resolution allows', () => {
  const packets = samplePackets(6);
  const micros = parseAll(writePcap(packets, { linkType: 1 })).packets;
  const nanos = parseAll(writePcap(packets, { linkType: 1, nanosecond: true })).packets;
  packets.forEach((packet, i) => {
    // T0 + i·1_000_250.75 carries quarter µs (the double's own resolution at this magnitude).
    assert.equal(nanos[i]!.ts, packet.ts);
    assert.equal(micros[i]!.ts, Math.round(packet.ts));
  });
});

test('splitting the input into any chunks changes nothing, and pushed bytes are never written', () => {
  const files = variants();
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: files.length - 1 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 20 }),
      (which, chunkSizes) => {
        const variant = files[which]!;
        const before = createHash('sha256').update(variant.file).digest('hex');
        const { packets } = parseAll(variant.file, chunkSizes);
        assertPackets(packets, variant.expected);
        assert.equal(createHash('sha256').update(variant.file).digest('hex'), before);
      },
    ),
    { numRuns: 300 },
  );
});

test('one byte at a time', () => {
  for (const variant of variants()) assertPackets(parseAll(variant.file, [1]).packets, variant.expected);
});

test('a truncated last record is a warning and the packets before it are kept', async (t) => {
  const packets = samplePackets(5);
  const lastLength = packets[4]!.data.length; // 3 bytes
  const cases = [
    { name: 'pcap, cut in the data', file: writePcap(packets, { linkType: 1 }), cut: 2, message: `${16 + lastLength - 2} of ${16 + lastLength} bytes` },
    { name: 'pcap, cut in the record header', file: writePcap(packets, { linkType: 1 }), cut: lastLength + 6, message: '10 of at least 16 bytes' },
    // EPB of 3 data bytes: 28 + 4 (padded) + 4 = 36 bytes.
    { name: 'pcapng, cut in the block', file: writePcapng(packets, { interfaces: [{ linkType: 1 }] }), cut: 5, message: '31 of 36 bytes' },
    { name: 'pcapng, cut in the block header', file: writePcapng(packets, { interfaces: [{ linkType: 1 }] }), cut: 30, message: '6 of at least 8 bytes' },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      for (const chunkSizes of [[c.file.length], [7]]) {
        const { packets: read, info, counters } = parseAll(c.file.subarray(0, c.file.length - c.cut), chunkSizes);
        assert.equal(read.length, 4);
        assert.deepEqual(Buffer.from(read[3]!.data), Buffer.from(packets[3]!.data));
        assert.deepEqual(info.warnings, [`truncated last record: ${c.message}`]);
        assert.equal(counters.get('capture.truncated-last-record'), 1);
      }
    });
  }
});

test('input that is not a capture is a CaptureFormatError naming the magic', async (t) => {
  const cases: { name: string; bytes: Uint8Array; code: string; message: string }[] = [
    {
      name: 'HTTP text',
      bytes: new TextEncoder().encode('HTTP/1.1 200 OK\r\n\r\n'),
      code: 'ERR_NOT_A_CAPTURE',
      message: 'fixtures/x.txt: not a pcap or pcapng file (magic 0x48545450)',
    },
    {
      name: 'empty',
      bytes: new Uint8Array(0),
      code: 'ERR_NOT_A_CAPTURE',
      message: 'fixtures/x.txt: not a pcap or pcapng file (empty file)',
    },
    {
      name: 'three bytes',
      bytes: Uint8Array.of(0xd4, 0xc3, 0xb2),
      code: 'ERR_NOT_A_CAPTURE',
      message: 'fixtures/x.txt: not a pcap or pcapng file (file too short (3 bytes))',
    },
    {
      name: 'gzip handed to the parser',
      bytes: gzip(writePcap(samplePackets(1), { linkType: 1 })),
      code: 'ERR_GZIP_NOT_DECODED',
      message: 'fixtures/x.txt: gzip-compressed data reached the capture parser undecoded (magic 0x1f8b0800)',
    },
    {
      name: 'pcap header cut short',
      bytes: writePcap([], { linkType: 1 }).subarray(0, 20),
      code: 'ERR_TRUNCATED_HEADER',
      message: 'fixtures/x.txt: truncated pcap file header (20 bytes)',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      const parser = new CaptureParser({ name: 'fixtures/x.txt', sourceIndex: 0, counters: new Counters() });
      assert.throws(
        () => {
          parser.push(c.bytes);
          parser.end();
        },
        (error: unknown) => {
          assert.ok(error instanceof CaptureFormatError);
          assert.equal(error.code, c.code);
          assert.equal(error.message, c.message);
          assert.ok(!error.message.includes('\n'));
          return true;
        },
      );
    });
  }
});

test('a corrupt record length fails at its byte offset after the packets before it', async (t) => {
  const packets = samplePackets(4);
  const pcap = Buffer.from(writePcap(packets, { linkType: 1 }));
  const thirdRecord = 24 + (16 + packets[0]!.data.length) + (16 + packets[1]!.data.length);
  pcap.writeUInt32LE(0x20000000, thirdRecord + 8);

  const pcapng = Buffer.from(writePcapng(packets, { interfaces: [{ linkType: 1 }] }));
  const shbLength = pcapng.readUInt32LE(4);
  const idbLength = pcapng.readUInt32LE(shbLength + 4);
  const firstEpb = shbLength + idbLength;
  const secondEpb = firstEpb + pcapng.readUInt32LE(firstEpb + 4);
  const secondLength = pcapng.readUInt32LE(secondEpb + 4);
  const badTrailer = Buffer.from(pcapng);
  badTrailer.writeUInt32LE(7, secondEpb + secondLength - 4);
  const unaligned = Buffer.from(pcapng);
  unaligned.writeUInt32LE(30, secondEpb + 4);

  const cases = [
    { name: 'pcap record > 256 MiB', file: pcap, before: 2, message: `mem: corrupt record length 536870912 at byte offset ${thirdRecord}`, offset: thirdRecord },
    { name: 'pcapng trailing length differs', file: badTrailer, before: 1, message: `mem: corrupt pcapng block (trailing length differs from ${secondLength}) at byte offset ${secondEpb}`, offset: secondEpb },
    { name: 'pcapng length not a multiple of 4', file: unaligned, before: 1, message: `mem: corrupt pcapng block length 30 at byte offset ${secondEpb}`, offset: secondEpb },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      for (const chunkSize of [c.file.length, 13]) {
        const parser = new CaptureParser({ name: 'mem', sourceIndex: 0, counters: new Counters() });
        const read: CapturedPacket[] = [];
        let failure: unknown;
        try {
          for (let offset = 0; offset < c.file.length; offset += chunkSize) {
            read.push(...parser.push(c.file.subarray(offset, offset + chunkSize)));
          }
          parser.end();
        } catch (error) {
          failure = error;
        }
        assert.ok(failure instanceof CaptureFormatError, 'throws a CaptureFormatError');
        assert.equal(failure.code, 'ERR_CORRUPT_RECORD');
        assert.equal(failure.message, c.message);
        assert.equal(failure.offset, c.offset);
        assert.equal(read.length, c.before);
      }
    });
  }
});

test('packets of undeclared interfaces and impossible packet lengths are counted and skipped', () => {
  const packets = samplePackets(4).map((p, i) => ({ ...p, interfaceId: i === 1 ? 5 : 0 }));
  const file = Buffer.from(writePcapng(packets, { interfaces: [{ linkType: 1 }] }));
  const shbLength = file.readUInt32LE(4);
  const firstEpb = shbLength + file.readUInt32LE(shbLength + 4);
  file.writeUInt32LE(0xffff, firstEpb + 20); // captured length beyond the block
  const { packets: read, counters } = parseAll(file);
  assert.deepEqual(
    read.map((p) => p.data.length),
    [packets[2]!.data.length, packets[3]!.data.length],
  );
  assert.equal(counters.get('capture.pcapng-unknown-interface'), 1);
  assert.equal(counters.get('capture.pcapng-bad-packet-block'), 1);
});

test('tick conversion equals exact BigInt arithmetic for any tick count and resolution', () => {
  const tsresols = [0, 1, 3, 6, 7, 9, 10, 12, 15, 0x80, 0x80 | 10, 0x80 | 20, 0x80 | 30, 0x80 | 31, 0x80 | 40];
  fc.assert(
    fc.property(
      fc.constantFrom(...tsresols),
      fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0x17a2b3c4, max: 0x18000000 })),
      fc.integer({ min: 0, max: 0xffffffff }),
      (tsresol, high, low) => {
        const units = unitsPerSecond(tsresol);
        const expected = ticksToMicrosReference((BigInt(high) << 32n) | BigInt(low), units);
        assert.equal(ticksToMicros(high, low, Number(units)), expected);
      },
    ),
    { numRuns: 5000 },
  );
});

test('link type names', () => {
  const table: [number, string][] = [
    [0, 'NULL'],
    [1, 'EN10MB'],
    [12, 'RAW'],
    [14, 'RAW'],
    [101, 'RAW'],
    [108, 'LOOP'],
    [113, 'LINUX_SLL'],
    [228, 'IPV4'],
    [229, 'IPV6'],
    [276, 'LINUX_SLL2'],
    [65000, 'LINKTYPE_65000'],
  ];
  for (const [linkType, name] of table) assert.equal(linkTypeName(linkType), name);
});
