// analyze() with an AbortSignal must not keep what it read: every batch's read buffer is collectable
// once processed (racing each read against one long-lived abort promise once kept them all).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { CapturedPacket, PacketSource } from '../src/capture/types.js';
import { analyze } from '../src/pipeline.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { captured, tcpPacket } from './lib/frames.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

it('batches read under an AbortSignal are not kept after they are processed', async () => {
  const refs: WeakRef<ArrayBuffer>[] = [];
  const source: PacketSource = {
    async *batches(): AsyncGenerator<CapturedPacket[]> {
      for (let i = 0; i < 50; i++) {
        const chunk = Buffer.allocUnsafeSlow(1 << 20);
        refs.push(new WeakRef(chunk.buffer));
        const p = tcpPacket({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000 + i, dport: 80, seq: 1, flags: 0x02 });
        chunk.set(p.data);
        yield [captured(chunk.subarray(0, p.data.length), p.linkType, 1_700_000_000_000_000 + i)];
      }
    },
    info: () => [],
  };
  const stop = new AbortController();
  const result = await analyze(source, { analyzers: createAnalyzers({}) }, undefined, stop.signal);
  assert.equal(result.packetsRead, 50);
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  // The controller (and its signal) is still alive here, as the CLI's is.
  assert.equal(stop.signal.aborted, false);
  assert.equal(refs.filter((r) => r.deref() !== undefined).length, 0);
});
