import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { CaptureFormatError, openCaptureSource, readCaptureFile } from '../src/capture/file-source.js';
import type { CapturedPacket, PacketSource } from '../src/capture/types.js';
import { Counters } from '../src/util/counters.js';
import { type FixturePacket, gzip, writePcap, writePcapng } from './lib/capture-writer.js';

const skipCapinfos = spawnSync('capinfos', ['-v'], { stdio: 'ignore' }).status === 0 ? false : 'capinfos not installed';
const dir = mkdtempSync(join(tmpdir(), 'wirespan-capture-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function fixture(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function packetsAt(times: number[], tag: number): FixturePacket[] {
  return times.map((ts, i) => ({ ts, data: Uint8Array.of(tag, i, 0xee, 0xff, ...new Uint8Array(i * 50)) }));
}

async function drain(source: PacketSource): Promise<{ packets: CapturedPacket[]; batches: number }> {
  const packets: CapturedPacket[] = [];
  let batches = 0;
  for await (const batch of source.batches()) {
    assert.ok(batch.length > 0, 'no empty batches');
    batches++;
    packets.push(...batch);
  }
  return { packets, batches };
}

const summary = (packets: CapturedPacket[]) =>
  packets.map((p) => ({ ts: p.ts, source: p.sourceIndex, bytes: Buffer.from(p.data).toString('hex'), linkType: p.linkType }));

test('a file streams in many small reads and yields the same packets as one read', async () => {
  // 1 ms apart: 200 ms of packet time streams through the 10 ms reorder window in many batches.
  const packets = packetsAt(Array.from({ length: 200 }, (_, i) => 1.7e15 + i * 1000), 1);
  const path = fixture('many.pcapng', writePcapng(packets, { interfaces: [{ linkType: 1, tsresol: 9 }] }));
  const whole = await drain(openCaptureSource([path], { counters: new Counters() }));
  const small = await drain(openCaptureSource([path], { counters: new Counters(), chunkSize: 333 }));
  assert.equal(whole.packets.length, 200);
  assert.deepEqual(summary(small.packets), summary(whole.packets));
  assert.ok(small.batches > 50, `reads of 333 bytes give many batches (${small.batches})`);
});

test('gzip-compressed captures are decompressed on the fly', async () => {
  const packets = packetsAt(Array.from({ length: 50 }, (_, i) => 1.7e15 + i * 1000), 2);
  const plain = writePcap(packets, { linkType: 1, nanosecond: true });
  const plainPath = fixture('plain.pcap', plain);
  const gzPath = fixture('compressed.pcap.gz', gzip(plain));
  const ngPath = fixture('compressed.pcapng.gz', gzip(writePcapng(packets, { interfaces: [{ linkType: 1, tsresol: 9 }] })));
  const expected = summary((await readCaptureFile(plainPath, { counters: new Counters() })).packets);
  for (const [path, format] of [
    [gzPath, 'pcap-nsec+gzip'],
    [ngPath, 'pcapng+gzip'],
  ] as const) {
    for (const chunkSize of [1 << 20, 100]) {
      const source = openCaptureSource([path], { counters: new Counters(), chunkSize });
      const { packets: read } = await drain(source);
      assert.deepEqual(summary(read), expected, `${path} chunk ${chunkSize}`);
      assert.equal(source.info()[0]!.format, format);
      assert.equal(source.info()[0]!.packets, 50);
    }
  }
});

test('a cut-short gzip file ends like a cut-short capture; corrupt gzip data is a CaptureFormatError', async () => {
  const packets = Array.from({ length: 40 }, (_, i) => ({
    ts: 1.7e15 + i,
    data: Uint8Array.from({ length: 1000 }, (_, j) => (i * 7919 + j * j * 31) & 0xff), // poorly compressible
  }));
  const compressed = gzip(writePcap(packets, { linkType: 1 }));
  const cut = fixture('cut.pcap.gz', compressed.subarray(0, Math.floor(compressed.length / 2)));
  const counters = new Counters();
  const source = openCaptureSource([cut], { counters });
  const { packets: read } = await drain(source);
  assert.ok(read.length > 5 && read.length < 40, `some packets (${read.length})`);
  const warnings = source.info()[0]!.warnings;
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^gzip stream ends early \(unexpected end of file\)$/);
  assert.match(warnings[1]!, /^truncated last record: \d+ of \d+ bytes$/);
  assert.equal(counters.get('capture.gzip-truncated'), 1);

  const damaged = Buffer.from(compressed);
  for (let i = 100; i < 140; i++) damaged[i] ^= 0x5a;
  const corrupt = fixture('corrupt.pcap.gz', damaged);
  await assert.rejects(drain(openCaptureSource([corrupt], { counters: new Counters() })), {
    name: 'CaptureFormatError',
    code: 'ERR_CORRUPT_GZIP',
  });
});

test("'-' reads stdin, gzip or not, even when the magic arrives in pieces", async () => {
  const packets = packetsAt([1.7e15, 1.7e15 + 5], 3);
  const file = writePcap(packets, { linkType: 101 });
  for (const bytes of [file, gzip(file)]) {
    const pieces = [bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)];
    const source = openCaptureSource(['-'], { counters: new Counters(), stdin: Readable.from(pieces) });
    const { packets: read } = await drain(source);
    assert.deepEqual(
      read.map((p) => Buffer.from(p.data)),
      packets.map((p) => Buffer.from(p.data)),
    );
    assert.equal(source.info()[0]!.name, 'stdin');
    assert.equal(source.info()[0]!.linkTypes[0], 101);
  }
});

test('several files merge by time; ties keep the input order; sourceIndex tells the file', async () => {
  const a = fixture('a.pcap', writePcap(packetsAt([10, 20, 30, 40, 70], 0xa), { linkType: 1 }));
  const b = fixture('b.pcapng', writePcapng(packetsAt([5, 20, 35, 36, 37, 80, 90], 0xb), { interfaces: [{ linkType: 113 }] }));
  const c = fixture('c.pcap', writePcap(packetsAt([20], 0xc), { linkType: 1, nanosecond: true }));
  for (const chunkSize of [1 << 20, 60]) {
    const source = openCaptureSource([a, b, c], { counters: new Counters(), chunkSize });
    const { packets } = await drain(source);
    assert.deepEqual(
      packets.map((p) => [p.ts, p.sourceIndex, p.data[0], p.linkType]),
      [
        [5, 1, 0xb, 113],
        [10, 0, 0xa, 1],
        [20, 0, 0xa, 1],
        [20, 1, 0xb, 113],
        [20, 2, 0xc, 1],
        [30, 0, 0xa, 1],
        [35, 1, 0xb, 113],
        [36, 1, 0xb, 113],
        [37, 1, 0xb, 113],
        [40, 0, 0xa, 1],
        [70, 0, 0xa, 1],
        [80, 1, 0xb, 113],
        [90, 1, 0xb, 113],
      ],
    );
    assert.deepEqual(
      source.info().map((info) => [info.name, info.format, info.packets]),
      [
        [a, 'pcap', 5],
        [b, 'pcapng', 7],
        [c, 'pcap-nsec', 1],
      ],
    );
  }
});

test('a corrupt file fails with CaptureFormatError after the packets before the damage', async () => {
  const file = Buffer.from(writePcap(packetsAt([1, 2, 3], 4), { linkType: 1 }));
  const third = 24 + (16 + 4) + (16 + 54);
  file.writeUInt32LE(0xfffffff0, third + 8);
  const path = fixture('corrupt.pcap', file);
  const seen: CapturedPacket[] = [];
  await assert.rejects(
    async () => {
      for await (const batch of openCaptureSource([path], { counters: new Counters() }).batches()) seen.push(...batch);
    },
    (error: unknown) => error instanceof CaptureFormatError && error.code === 'ERR_CORRUPT_RECORD' && error.offset === third,
  );
  assert.equal(seen.length, 2);
});

test('not a capture, and missing files, are reported by name', async () => {
  const text = fixture('x.txt', new TextEncoder().encode('HTTP/1.1 200 OK\r\n'));
  await assert.rejects(drain(openCaptureSource([text], { counters: new Counters() })), {
    name: 'CaptureFormatError',
    code: 'ERR_NOT_A_CAPTURE',
    message: `${text}: not a pcap or pcapng file (magic 0x48545450)`,
  });
  await assert.rejects(drain(openCaptureSource([join(dir, 'absent.pcap')], { counters: new Counters() })), {
    code: 'ENOENT',
  });
});

test('a capture in a compression read only as gzip says which, and how to read it', async () => {
  const pcap = writePcap(packetsAt([1, 2], 7), { linkType: 1 });
  // The real tools when the machine has them, else each format's magic bytes before the capture.
  const tools: [string, string, number[]][] = [
    ['xz', '.xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
    ['bzip2', '.bz2', [0x42, 0x5a, 0x68, 0x39]],
    ['zstd', '.zst', [0x28, 0xb5, 0x2f, 0xfd]],
    ['lz4', '.lz4', [0x04, 0x22, 0x4d, 0x18]],
  ];
  for (const [tool, extension, magic] of tools) {
    const packed = spawnSync(tool, ['-c'], { input: pcap });
    const bytes = packed.status === 0 ? packed.stdout : Buffer.concat([Buffer.from(magic), pcap]);
    const path = fixture(`packed${extension}`, bytes);
    await assert.rejects(drain(openCaptureSource([path], { counters: new Counters() })), (error: unknown) => {
      assert.ok(error instanceof CaptureFormatError && error.code === 'ERR_NOT_A_CAPTURE');
      assert.ok(error.message.endsWith(`: ${tool}-compressed; pipe \`${tool} -dc ${path}\` into \`-\``), error.message);
      return true;
    });
  }
});

test('a directory stands for the captures in it, in name order; other files are skipped and counted', async () => {
  const ring = join(dir, 'ring');
  mkdirSync(join(ring, 'sub'), { recursive: true });
  writeFileSync(join(ring, 'cap.pcap1'), writePcap(packetsAt([30, 40], 0xb), { linkType: 1 }));
  writeFileSync(join(ring, 'cap.pcap'), writePcap(packetsAt([10, 20], 0xa), { linkType: 1 }));
  writeFileSync(join(ring, 'cap.pcap2.gz'), gzip(writePcapng(packetsAt([50], 0xc), { interfaces: [{ linkType: 1 }] })));
  writeFileSync(join(ring, 'notes.txt'), 'not a capture');
  writeFileSync(join(ring, '.hidden.pcap'), writePcap(packetsAt([1], 0xd), { linkType: 1 }));
  const counters = new Counters();
  const source = openCaptureSource([ring], { counters });
  const { packets } = await drain(source);
  assert.deepEqual(packets.map((p) => [p.ts, p.data[0]]), [[10, 0xa], [20, 0xa], [30, 0xb], [40, 0xb], [50, 0xc]]);
  assert.deepEqual(source.info().map((info) => basename(info.name)), ['cap.pcap', 'cap.pcap1', 'cap.pcap2.gz']);
  assert.equal(counters.get('capture.files-skipped'), 1);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  assert.throws(() => openCaptureSource([empty], { counters }), { code: 'ERR_NO_CAPTURES', message: `${empty}: a directory without capture files` });
});

test('a capture cut short warns and keeps what came before', async () => {
  const file = writePcapng(packetsAt([1, 2, 3], 5), { interfaces: [{ linkType: 1 }] });
  const path = fixture('cut.pcapng', file.subarray(0, file.length - 7));
  const counters = new Counters();
  const source = openCaptureSource([path], { counters });
  const { packets } = await drain(source);
  assert.equal(packets.length, 2);
  assert.match(source.info()[0]!.warnings[0]!, /^truncated last record: \d+ of \d+ bytes$/);
  assert.equal(counters.get('capture.truncated-last-record'), 1);
});

const shared = join(process.cwd(), '..', 'shared');
const realCaptures = [
  ...['http-ether.pcap', 'http-nsec.pcap', 'http-editcap.pcapng', 'http-dumpcap.pcapng', 'http-sll2.pcap'].map((f) => join(shared, 'formats', f)),
  ...['corpus', 'conformance'].flatMap((folder) =>
    readdirSync(join(shared, folder))
      .filter((f) => f.endsWith('.pcap') || f.endsWith('.pcapng'))
      .sort()
      .map((f) => join(shared, folder, f)),
  ),
];

test('real captures: packet counts equal capinfos', { skip: skipCapinfos }, async () => {
  const out = execFileSync('capinfos', ['-c', '-M', ...realCaptures], { encoding: 'utf8' });
  // One paragraph per file; some carry extra lines (e.g. an inferred snaplen) before the count.
  const expected = new Map(
    out
      .split(/\n(?=File name:)/)
      .map((paragraph) => [/File name:\s+(.+)/.exec(paragraph)![1]!.trim(), Number(/Number of packets:\s+(\d+)/.exec(paragraph)![1])]),
  );
  assert.equal(expected.size, realCaptures.length);
  for (const path of realCaptures) {
    const counters = new Counters();
    const { packets, info } = await readCaptureFile(path, { counters, chunkSize: 4096 });
    assert.equal(packets.length, expected.get(path), path);
    assert.equal(info.packets, packets.length);
    assert.deepEqual(info.warnings, [], path);
    assert.deepEqual(counters.toJSON(), {}, path);
  }
});

test('real captures: the µs and ns copies give the same packets and times', async () => {
  const micros = await readCaptureFile(join(shared, 'formats', 'http-ether.pcap'), { counters: new Counters() });
  const nanos = await readCaptureFile(join(shared, 'formats', 'http-nsec.pcap'), { counters: new Counters() });
  const editcap = await readCaptureFile(join(shared, 'formats', 'http-editcap.pcapng'), { counters: new Counters() });
  assert.deepEqual(
    [micros.info.format, nanos.info.format, editcap.info.format],
    ['pcap', 'pcap-nsec', 'pcapng'],
  );
  assert.equal(micros.packets.length, 92);
  for (const other of [nanos.packets, editcap.packets]) {
    assert.deepEqual(
      other.map((p) => [p.ts, p.origLen, p.linkType, Buffer.from(p.data).toString('hex')]),
      micros.packets.map((p) => [p.ts, p.origLen, p.linkType, Buffer.from(p.data).toString('hex')]),
    );
  }
  assert.ok(micros.packets.every((p) => Number.isInteger(p.ts) && p.ts > 1.6e15));
});
