import type { CapturedPacket } from './types.js';

/**
 * k-way merge of packet batches by timestamp. Each source is taken in its own order (a source
 * that is not sorted stays as it is); equal timestamps go to the source listed first. A merged batch
 * ends whenever one source's current batch runs out, so at most one batch per source is held.
 * Heads are compared by a linear scan: merges are over a handful of files.
 */
export async function* mergeByTime(
  sources: readonly AsyncIterable<CapturedPacket[]>[],
): AsyncGenerator<CapturedPacket[]> {
  const iterators = sources.map((source) => source[Symbol.asyncIterator]());
  const batches: (CapturedPacket[] | null)[] = iterators.map(() => []);
  const positions = iterators.map(() => 0);
  try {
    for (;;) {
      for (let i = 0; i < iterators.length; i++) {
        if (batches[i] !== null && positions[i]! >= batches[i]!.length) {
          batches[i] = await nextNonEmpty(iterators[i]!);
          positions[i] = 0;
        }
      }
      const merged = takeUntilOneRunsDry(batches, positions);
      if (merged === null) return;
      yield merged;
    }
  } finally {
    await Promise.all(iterators.map((iterator) => iterator.return?.()));
  }
}

async function nextNonEmpty(iterator: AsyncIterator<CapturedPacket[]>): Promise<CapturedPacket[] | null> {
  for (;;) {
    const next = await iterator.next();
    if (next.done) return null;
    if (next.value.length > 0) return next.value;
  }
}

/** null when every source is finished. */
function takeUntilOneRunsDry(batches: (CapturedPacket[] | null)[], positions: number[]): CapturedPacket[] | null {
  const merged: CapturedPacket[] = [];
  for (;;) {
    let best = -1;
    let bestTs = Infinity;
    for (let i = 0; i < batches.length; i++) {
      const batch = batches[i];
      if (batch === null) continue;
      const ts = batch[positions[i]!]!.ts;
      if (best === -1 || ts < bestTs) {
        best = i;
        bestTs = ts;
      }
    }
    if (best === -1) return merged.length > 0 ? merged : null;
    const batch = batches[best]!;
    merged.push(batch[positions[best]!++]!);
    if (positions[best]! >= batch.length) return merged;
  }
}
