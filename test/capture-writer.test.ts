// The fixture writer is only worth trusting if Wireshark's tools read its files the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingTools } from './lib/tshark.js';
import {
  type FixtureInterface,
  type FixturePacket,
  toTicks,
  unitsPerSecond,
  writePcap,
  writePcapng,
} from './lib/capture-writer.js';

const skipTshark = missingTools('tshark');
const skipCapinfos = missingTools('capinfos');

function packets(count: number, interfaces: number): FixturePacket[] {
  return Array.from({ length: count }, (_, i) => {
    const data = new Uint8Array(54 + ((i * 37) % 200));
    data[12] = 0x08; // an IPv4 ethertype, so the frames look ordinary
    return { ts: 1_700_000_000_123_456.25 + i * 2_000_123.5, data, interfaceId: i % interfaces, origLen: data.length + (i % 3) * 10 };
  });
}

/** "seconds.nanoseconds" as tshark prints frame.time_epoch. */
function epochText(tsMicros: number, tsresol: number, offsetSeconds: number): string {
  const units = unitsPerSecond(tsresol);
  const ticks = toTicks(tsMicros - offsetSeconds * 1e6, units);
  const nanos = (ticks * 1_000_000_000n) / units + BigInt(offsetSeconds) * 1_000_000_000n;
  return `${nanos / 1_000_000_000n}.${(nanos % 1_000_000_000n).toString().padStart(9, '0')}`;
}

interface Case {
  name: string;
  file: Buffer;
  /** tshark rows: time_epoch, len, cap_len, interface_id */
  rows: string[][];
}

function cases(): Case[] {
  const one = packets(9, 1);
  const two = packets(9, 2);
  const pcapRows = (tsresol: number) =>
    one.map((p) => [epochText(p.ts, tsresol, 0), String(p.origLen), String(p.data.length), '']);
  const interfaces: FixtureInterface[] = [
    { linkType: 1, tsresol: 9, name: 'eth0' },
    { linkType: 1, tsoffset: 3600, snaplen: 65535 },
  ];
  const pcapngRows = two.map((p) => {
    const description = interfaces[p.interfaceId ?? 0]!;
    return [
      epochText(p.ts, description.tsresol ?? 6, description.tsoffset ?? 0),
      String(p.origLen),
      String(p.data.length),
      String(p.interfaceId),
    ];
  });
  // Captured = min(original length, snaplen 60) for every simple packet.
  const spb = one.map((p) => ({ ...p, data: new Uint8Array(60), origLen: p.data.length + 100 }));
  return [
    { name: 'pcap µs little-endian', file: writePcap(one, { linkType: 1 }), rows: pcapRows(6) },
    { name: 'pcap ns big-endian', file: writePcap(one, { linkType: 1, nanosecond: true, bigEndian: true }), rows: pcapRows(9) },
    { name: 'pcapng EPB big-endian, ns + if_tsoffset', file: writePcapng(two, { interfaces, bigEndian: true, packetOptions: true }), rows: pcapngRows },
    {
      name: 'pcapng 3 sections, alternating byte order, extra blocks',
      file: writePcapng(two, { interfaces, sections: 3, alternateByteOrder: true, unknownBlocks: true }),
      rows: pcapngRows,
    },
    { name: 'pcapng OPB', file: writePcapng(two, { interfaces, blockType: 'opb' }), rows: pcapngRows },
    {
      name: 'pcapng SPB, snaplen 60',
      file: writePcapng(spb, { interfaces: [{ linkType: 1, snaplen: 60 }], blockType: 'spb' }),
      rows: spb.map((p) => ['', String(p.origLen), '60', '0']),
    },
  ];
}

async function withFiles(list: Case[], body: (paths: string[]) => void | Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-writer-'));
  try {
    const paths = list.map((c, i) => {
      const path = join(dir, `case${i}.${c.name.startsWith('pcapng') ? 'pcapng' : 'pcap'}`);
      writeFileSync(path, c.file);
      return path;
    });
    await body(paths);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('capinfos counts every packet the writer wrote', { skip: skipCapinfos }, async () => {
  const list = cases();
  await withFiles(list, (paths) => {
    const out = execFileSync('capinfos', ['-c', '-M', ...paths], { encoding: 'utf8' });
    const counts = [...out.matchAll(/Number of packets:\s+(\d+)/g)].map((m) => Number(m[1]));
    assert.deepEqual(
      counts,
      list.map((c) => c.rows.length),
    );
  });
});

test('tshark reads the written times, lengths and interfaces', { skip: skipTshark }, async (t) => {
  const list = cases();
  await withFiles(list, async (paths) => {
    for (const [i, c] of list.entries()) {
      await t.test(c.name, () => {
        const out = execFileSync(
          'tshark',
          ['-r', paths[i]!, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'frame.interface_id'],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
        );
        let rows = out.replace(/\n$/, '').split('\n').map((line) => line.split('\t'));
        // tshark lists custom blocks as records too; packets are the rows with an interface.
        if (c.name.includes('extra blocks')) rows = rows.filter((row) => row[3] !== '');
        assert.deepEqual(rows, c.rows);
      });
    }
  });
});
