/** The parts of live capture that need no interface: helper arguments and stderr, errors, queue, pcap writer. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CaptureParser } from '../src/capture/parser.js';
import type { CapturedPacket } from '../src/capture/types.js';
import { BatchQueue } from '../src/capture/live/batch-queue.js';
import { classifyCaptureError } from '../src/capture/live/errors.js';
import { dumpcapSpec, tcpdumpSpec, type HelperKernelStats } from '../src/capture/live/helpers.js';
import { PcapFileWriter } from '../src/capture/live/pcap-writer.js';
import { Counters } from '../src/util/counters.js';

const OPTIONS = { interface: 'eth0', filter: 'tcp port 80', snaplen: 512, promiscuous: false, bufferMiB: 8, count: 100, counters: new Counters() };

describe('helper command lines', () => {
  it('tcpdump: immediate mode, unbuffered pcap to stdout, ns timestamps, -B in KiB', () => {
    assert.deepEqual(tcpdumpSpec('/usr/bin/tcpdump').captureArgs(OPTIONS), [
      '-i', 'eth0', '--immediate-mode', '-U', '-w', '-', '--time-stamp-precision=nano', '-s', '512', '-p', '-B', '8192', '-c', '100', 'tcp port 80',
    ]);
    assert.deepEqual(tcpdumpSpec('/usr/bin/tcpdump').checkArgs(OPTIONS), ['-d', '-i', 'eth0', '-p', 'tcp port 80']);
  });
  it('dumpcap: pcapng to stdout, -B in MiB, filter with -f', () => {
    assert.deepEqual(dumpcapSpec('/usr/bin/dumpcap').captureArgs({ ...OPTIONS, snaplen: 0, promiscuous: true, count: undefined }), [
      '-i', 'eth0', '-w', '-', '-q', '-B', '8', '-f', 'tcp port 80',
    ]);
  });
  it('without -B, every backend asks for the same 64 MiB (tcpdump and dumpcap would take 2)', () => {
    const { bufferMiB: _given, ...noBuffer } = OPTIONS;
    assert.deepEqual(tcpdumpSpec('tcpdump').captureArgs(noBuffer).join(' ').match(/-B \d+/)?.[0], '-B 65536');
    assert.deepEqual(dumpcapSpec('dumpcap').captureArgs(noBuffer).join(' ').match(/-B \d+/)?.[0], '-B 64');
  });
});

describe('helper stderr statistics', () => {
  const fresh = (): HelperKernelStats => ({ received: null, dropped: null, interfaceDropped: null, helperDropped: null, source: '' });
  const table: { spec: ReturnType<typeof tcpdumpSpec>; lines: string[]; expect: Partial<HelperKernelStats> }[] = [
    {
      spec: tcpdumpSpec('tcpdump'),
      lines: ['tcpdump: 2 packets captured, 4 packets received by filter, 7 packets dropped by kernel'],
      expect: { received: 4, dropped: 7, interfaceDropped: null },
    },
    {
      spec: tcpdumpSpec('tcpdump'),
      lines: ['2 packets captured', '1 packet received by filter', '0 packets dropped by kernel', '3 packets dropped by interface'],
      expect: { received: 1, dropped: 0, interfaceDropped: 3 },
    },
    {
      spec: dumpcapSpec('dumpcap'),
      lines: ["Packets received/dropped on interface 'Loopback: lo': 20/5 (pcap:3/dumpcap:1/flushed:1/ps_ifdrop:2) (80.0%)"],
      expect: { received: 20, dropped: 3, helperDropped: 2, interfaceDropped: 2 },
    },
  ];
  for (const [i, row] of table.entries()) {
    it(`${row.spec.backend} #${i}`, () => {
      const stats = fresh();
      const parsed = row.lines.filter((line) => row.spec.parseStatsLine(line, stats));
      assert.ok(parsed.length > 0);
      for (const [k, v] of Object.entries(row.expect)) assert.equal(stats[k as keyof HelperKernelStats], v, k);
    });
  }
  it('other lines are not statistics', () => {
    for (const line of ['tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes', "Capturing on 'Loopback: lo'"]) {
      assert.equal(tcpdumpSpec('t').parseStatsLine(line, fresh()), false);
      assert.equal(dumpcapSpec('d').parseStatsLine(line, fresh()), false);
    }
  });
});

describe('capture errors', () => {
  const table: { text: string; filter?: string; code: string; message: string }[] = [
    {
      text: "tcpdump: lo: You don't have permission to perform this capture on that device\n(socket: Operation not permitted)",
      code: 'ERR_NO_PERMISSION',
      message: 'no permission to capture on lo (socket: Operation not permitted): needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode); run as root (sudo) or grant the capture helper the capabilities: setcap cap_net_raw,cap_net_admin=eip /usr/bin/tcpdump',
    },
    {
      text: "Capturing on 'nosuch'\ndumpcap: There is no device named \"nosuch\".\n(No such device exists)",
      code: 'ERR_NO_DEVICE',
      message: 'no such interface: lo (No such device exists); `wirespan interfaces` lists them',
    },
    {
      text: "Capturing on 'Loopback: lo'\ndumpcap: Invalid capture filter \"tcp port\" for interface 'lo'.\n\nThat string isn't a valid capture filter (can't parse filter expression: syntax error).\nSee the User's Guide",
      filter: 'tcp port',
      code: 'ERR_BAD_FILTER',
      message: 'invalid capture filter "tcp port": can\'t parse filter expression: syntax error',
    },
    {
      text: 'tcpdump: illegal port number 99999 > 65535',
      filter: 'port 99999',
      code: 'ERR_BAD_FILTER',
      message: 'invalid capture filter "port 99999": illegal port number 99999 > 65535',
    },
    { text: 'tcpdump: pcap_loop: The interface disappeared', code: 'ERR_CAPTURE_FAILED', message: 'capture on lo failed: pcap_loop: The interface disappeared' },
  ];
  for (const row of table) {
    it(row.code + ': ' + row.text.split('\n')[0], () => {
      const error = classifyCaptureError(row.text, 'lo', '/usr/bin/tcpdump', row.filter);
      assert.equal(error.code, row.code);
      assert.equal(error.message, row.message);
      assert.equal(error.exitCode, 2);
    });
  }
});

const packet = (ts: number, size: number): CapturedPacket => ({ ts, linkType: 1, data: new Uint8Array(size), origLen: size, interfaceId: 0, sourceIndex: 0 });

describe('BatchQueue', () => {
  it('hands batches over in order, pauses above the high-water mark and resumes below half of it', async () => {
    const events: string[] = [];
    const queue = new BatchQueue({ highWaterBytes: 100, onFull: () => events.push('full'), onDrained: () => events.push('drained'), nowUs: () => 5_000 });
    queue.push([packet(1000, 60)], 60);
    queue.push([packet(2000, 60)], 60);
    assert.deepEqual(events, ['full']);
    assert.equal(queue.isFull, true);
    queue.end();
    const seen: number[] = [];
    for await (const batch of queue.drain()) seen.push(...batch.map((p) => p.ts));
    assert.deepEqual(seen, [1000, 2000]);
    assert.deepEqual(events, ['full', 'drained']);
    assert.equal(queue.maxQueuedBytes, 120);
    assert.equal(queue.maxLagUs, 4000);
    assert.equal(queue.lagUs, 3000);
  });
  it('delivers queued batches before the error that ended the stream', async () => {
    const queue = new BatchQueue({ highWaterBytes: 1000 });
    queue.push([packet(1, 10)], 10);
    queue.end(new Error('helper died'));
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const batch of queue.drain()) seen.push(batch.length);
    }, /helper died/);
    assert.deepEqual(seen, [1]);
  });
  it('wakes a waiting consumer', async () => {
    const queue = new BatchQueue({ highWaterBytes: 1000 });
    setTimeout(() => {
      queue.push([packet(7, 1)], 1);
      queue.end();
    }, 10);
    const seen: number[] = [];
    for await (const batch of queue.drain()) seen.push(batch[0]!.ts);
    assert.deepEqual(seen, [7]);
  });
});

describe('PcapFileWriter', () => {
  it('writes pcap that CaptureParser reads back byte for byte (µs times)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wirespan-pcapw-'));
    try {
      const path = join(dir, 'out.pcap');
      const writer = new PcapFileWriter(path, 113, 65535);
      const packets = Array.from({ length: 300 }, (_, i) => {
        const data = new Uint8Array(1 + ((i * 97) % 9000)).map((_, j) => (i + j) & 0xff);
        return { ...packet(1_700_000_000_000_000 + i * 1234, 0), data, origLen: data.length + (i % 3) };
      });
      for (const p of packets) writer.write(p);
      writer.close();
      const parser = new CaptureParser({ name: path, sourceIndex: 0, counters: new Counters() });
      const read = [...parser.push(readFileSync(path)), ...parser.end()];
      assert.equal(read.length, packets.length);
      for (const [i, p] of read.entries()) {
        assert.equal(p.ts, packets[i]!.ts);
        assert.equal(p.linkType, 113);
        assert.equal(p.origLen, packets[i]!.origLen);
        assert.deepEqual(p.data, packets[i]!.data);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
