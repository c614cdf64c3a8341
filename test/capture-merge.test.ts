// mergeByTime opens a source when the merge reaches its first packet and closes it when it runs out:
// the hundreds of files of a rotating capture (tcpdump -C / -G) are read one or two at a time.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openCaptureSource } from '../src/capture/file-source.js';
import { mergeByTime, type TimedSource } from '../src/capture/merge.js';
import type { CapturedPacket } from '../src/capture/types.js';
import { Counters } from '../src/util/counters.js';
import { missingTools } from './lib/tshark.js';

const packet = (ts: number, sourceIndex: number): CapturedPacket => ({ ts, data: new Uint8Array(1), origLen: 1, linkType: 1, interfaceId: 0, sourceIndex });

/** Sources of batches of timestamps; records how many are open at once. */
function sources(batchesPerSource: number[][][], firstTs?: number[]): { sources: TimedSource[]; maxOpen: () => number; opened: number[] } {
  let open = 0;
  let most = 0;
  const opened: number[] = [];
  const list = batchesPerSource.map((batches, index) => ({
    firstTs: firstTs?.[index] ?? batches[0]?.[0] ?? Infinity,
    open: (): AsyncIterable<CapturedPacket[]> => ({
      async *[Symbol.asyncIterator]() {
        opened.push(index);
        most = Math.max(most, ++open);
        try {
          for (const batch of batches) yield batch.map((ts) => packet(ts, index));
        } finally {
          open--;
        }
      },
    }),
  }));
  return { sources: list, maxOpen: () => most, opened };
}

async function merged(list: TimedSource[], openAheadUs = 0): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for await (const batch of mergeByTime(list, { openAheadUs })) for (const p of batch) out.push([p.ts, p.sourceIndex]);
  return out;
}

describe('mergeByTime', () => {
  it('files that follow each other in time are opened one after the other', async () => {
    const rotation = Array.from({ length: 50 }, (_, i) => [[i * 100, i * 100 + 10], [i * 100 + 20, i * 100 + 90]]);
    const s = sources(rotation.slice().reverse());
    const out = await merged(s.sources);
    assert.deepEqual(out.map(([ts]) => ts), rotation.flat(2));
    assert.equal(s.maxOpen(), 1);
  });

  it('overlapping files interleave; equal timestamps go to the file listed first', async () => {
    const s = sources([[[10, 20, 30], [40, 70]], [[5, 20, 35], [36, 80]], [[20]]]);
    assert.deepEqual(await merged(s.sources), [[5, 1], [10, 0], [20, 0], [20, 1], [20, 2], [30, 0], [35, 1], [36, 1], [40, 0], [70, 0], [80, 1]]);
  });

  it('a file is opened early by the window its packets are reordered within; one of unknown start at once; an empty one last', async () => {
    const s = sources([[[100, 200]], [[150, 300]], [], [[50]]], [100, 160, Infinity, -Infinity]);
    const out = await merged(s.sources, 20);
    assert.deepEqual(out, [[50, 3], [100, 0], [150, 1], [200, 0], [300, 1]]);
    assert.deepEqual(s.opened, [3, 0, 1, 2]);
  });
});

describe('a rotating capture read whole', { skip: missingTools('editcap') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-rotation-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the packets of the single file, in order, holding a couple of files at a time', async () => {
    execFileSync('editcap', ['-c', '20', '../shared/corpus/shop-concurrent.pcap', join(dir, 'ring.pcap')], { stdio: 'ignore' });
    const files = readdirSync(dir).sort().map((f) => join(dir, f));
    assert.ok(files.length > 50, `${files.length} files`);
    const read = async (paths: string[]): Promise<string[]> => {
      const out: string[] = [];
      for await (const batch of openCaptureSource(paths, { counters: new Counters() }).batches()) for (const p of batch) out.push(`${p.ts} ${Buffer.from(p.data).toString('hex')}`);
      return out;
    };
    const [whole, rotated] = await Promise.all([read(['../shared/corpus/shop-concurrent.pcap']), read(files.slice().reverse())]);
    assert.deepEqual(rotated, whole);
  });
});
