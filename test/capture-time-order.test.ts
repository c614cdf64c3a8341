// Captures of several queues or interfaces (`tcpdump -i any`, multi-queue NICs) are written in the
// order the kernel handed packets over, not in timestamp order: a response can come before its
// request in the file. The file source puts packets back in time order within a window.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { inTimeOrder } from '../src/capture/time-order.js';
import type { CapturedPacket } from '../src/capture/types.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';

function packet(ts: number, tag: number): CapturedPacket {
  return { ts, linkType: 1, data: new Uint8Array([tag]), origLen: 1, interfaceId: 0, sourceIndex: 0 };
}

async function reorder(batches: CapturedPacket[][], windowUs: number): Promise<{ tags: number[]; counters: Record<string, number> }> {
  const counters = new Counters();
  async function* source(): AsyncGenerator<CapturedPacket[]> {
    yield* batches;
  }
  const tags: number[] = [];
  for await (const batch of inTimeOrder(source(), { windowUs, counters })) for (const p of batch) tags.push(p.data[0]!);
  return { tags, counters: counters.toJSON() };
}

describe('time order within a window', () => {
  it('sorted input passes through unchanged, across batches', async () => {
    const r = await reorder([[packet(0, 0), packet(5, 1)], [packet(5, 2), packet(30_000, 3)], [packet(30_001, 4)]], 10_000);
    assert.deepEqual(r, { tags: [0, 1, 2, 3, 4], counters: {} });
  });

  it('a packet older than the newest moves back among the held ones; equal times keep file order', async () => {
    const r = await reorder([[packet(100, 0), packet(300, 1), packet(200, 2)], [packet(100, 3), packet(250, 4)]], 10_000);
    assert.deepEqual(r, { tags: [0, 3, 2, 4, 1], counters: { 'capture.reordered': 3 } });
  });

  it('a packet older than one already passed on goes on as it comes, counted', async () => {
    const late = await reorder([[packet(0, 0), packet(5_000, 1), packet(20_000, 2), packet(2_000, 3)]], 10_000);
    // 20 000 released 0 and 5 000; 2 000 is older than 5 000, already passed on.
    assert.deepEqual(late, { tags: [0, 1, 3, 2], counters: { 'capture.reorder-too-late': 1 } });
  });

  it('window 0 keeps file order', async () => {
    const r = await reorder([[packet(300, 0), packet(100, 1)]], 0);
    assert.deepEqual(r, { tags: [0, 1], counters: {} });
  });

  it('any order whose displacements stay inside the window comes out sorted (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 50 }),
        async (times, swaps, batchSize) => {
          const sorted = [...times].sort((a, b) => a - b).map((ts, tag) => packet(ts, tag % 256));
          const shuffled = [...sorted];
          const window = 10_000;
          // Swap neighbours whose times are less than the window apart: displacement stays inside it.
          for (const s of swaps) {
            const i = s % shuffled.length;
            const j = i + 1;
            if (j < shuffled.length && Math.abs(shuffled[i]!.ts - shuffled[j]!.ts) < window / 4) {
              [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
            }
          }
          const batches: CapturedPacket[][] = [];
          for (let i = 0; i < shuffled.length; i += batchSize) batches.push(shuffled.slice(i, i + batchSize));
          const counters = new Counters();
          async function* source(): AsyncGenerator<CapturedPacket[]> {
            yield* batches;
          }
          const out: number[] = [];
          for await (const batch of inTimeOrder(source(), { windowUs: window, counters })) for (const p of batch) out.push(p.ts);
          assert.deepEqual(out, sorted.map((p) => p.ts));
          assert.equal(counters.get('capture.reorder-too-late'), 0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('a real capture written out of time order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-time-order-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const CAPTURE = '../shared/corpus/shop-concurrent.pcap';

  const spanKey = (s: SpanRecord): string =>
    JSON.stringify([s.spanId, s.parentSpanId, s.traceId, s.link, s.startUs, s.endUs, s.response, s.notes]);

  it('gives exactly the spans of the sorted capture when every fifth pair of neighbours is swapped', async () => {
    const packets = [...readPcapSimple(CAPTURE)];
    const swapped = packets.map((p) => ({ ts: p.ts, data: p.data }));
    let swaps = 0;
    for (let i = 0; i + 1 < swapped.length; i += 5) {
      [swapped[i], swapped[i + 1]] = [swapped[i + 1]!, swapped[i]!];
      swaps++;
    }
    const file = join(dir, 'swapped.pcap');
    writeFileSync(file, writePcap(swapped, { linkType: packets[0]!.linkType }));
    const [reference, reordered, asWritten] = await Promise.all([
      analyzeFiles([CAPTURE]),
      analyzeFiles([file]),
      analyzeFiles([file], {}, { reorderWindowUs: 0 }),
    ]);
    assert.ok(reference.spans.length > 700);
    assert.deepEqual(reordered.spans.map(spanKey).sort(), reference.spans.map(spanKey).sort());
    assert.equal(reordered.result.counters.get('capture.reordered'), swaps);
    // Taken in file order, the same capture loses answers: what the window is for.
    assert.notDeepEqual(asWritten.spans.map(spanKey).sort(), reference.spans.map(spanKey).sort());
  });
});
