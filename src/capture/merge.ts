import type { CapturedPacket } from './types.js';

/** A source for mergeByTime: its batches, opened only when asked, and the time of its first packet. */
export interface TimedSource {
  open(): AsyncIterable<CapturedPacket[]>;
  /** µs of its first packet (-Infinity when unknown: the source is opened at once; +Infinity: none, opened last). */
  firstTs: number;
}

/**
 * k-way merge of packet batches by timestamp. Each source is taken in its own order (a source
 * that is not sorted stays as it is); equal timestamps go to the source listed first. A merged batch
 * ends whenever one source's current batch runs out, so at most one batch per open source is held.
 * A source is opened only when the merge reaches its first packet and closed when it runs out, so
 * the hundreds of files of a rotating capture (`tcpdump -C`/`-G`), which follow each other in time,
 * hold one or two open files and their buffers, not all of them. `openAheadUs`: how long before its
 * first packet a source is opened (the window its packets are put back in order within).
 */
export async function* mergeByTime(sources: readonly TimedSource[], opts: { openAheadUs?: number } = {}): AsyncGenerator<CapturedPacket[]> {
  // Each source's packets may be put back in order within a window: its first in order may be earlier.
  const openAheadUs = opts.openAheadUs ?? 0;
  const pending = sources.map((source, index) => ({ source, index })).sort((a, b) => a.source.firstTs - b.source.firstTs || a.index - b.index);
  const open: OpenSource[] = [];
  try {
    for (;;) {
      for (let i = 0; i < open.length; i++) {
        const s = open[i]!;
        if (s.position < s.batch.length) continue;
        const next = await nextNonEmpty(s.iterator);
        if (next === null) {
          await s.iterator.return?.();
          open.splice(i--, 1);
        } else [s.batch, s.position] = [next, 0];
      }
      // Open what is due: everything starting before the earliest packet in hand (one source at least).
      while (pending.length > 0 && (open.length === 0 || pending[0]!.source.firstTs - openAheadUs <= earliestHead(open))) {
        const { source, index } = pending.shift()!;
        const iterator = source.open()[Symbol.asyncIterator]();
        const batch = await nextNonEmpty(iterator);
        if (batch === null) await iterator.return?.();
        else insertByIndex(open, { index, iterator, batch, position: 0 });
      }
      if (open.length === 0) {
        if (pending.length === 0) return;
        continue;
      }
      // Nothing may pass a source not opened yet: packets go out only while earlier than its first.
      const limit = pending.length > 0 ? pending[0]!.source.firstTs - openAheadUs : Infinity;
      const merged = takeUntil(open, limit);
      if (merged.length > 0) yield merged;
    }
  } finally {
    await Promise.all(open.map((s) => s.iterator.return?.()));
  }
}

interface OpenSource {
  /** Position in the caller's list: ties go to the lower. */
  index: number;
  iterator: AsyncIterator<CapturedPacket[]>;
  batch: CapturedPacket[];
  position: number;
}

function earliestHead(open: readonly OpenSource[]): number {
  let earliest = Infinity;
  for (const s of open) earliest = Math.min(earliest, s.batch[s.position]!.ts);
  return earliest;
}

function insertByIndex(open: OpenSource[], source: OpenSource): void {
  let at = open.length;
  while (at > 0 && open[at - 1]!.index > source.index) at--;
  open.splice(at, 0, source);
}

async function nextNonEmpty(iterator: AsyncIterator<CapturedPacket[]>): Promise<CapturedPacket[] | null> {
  for (;;) {
    const next = await iterator.next();
    if (next.done) return null;
    if (next.value.length > 0) return next.value;
  }
}

/**
 * Packets in time order until one open source's batch runs out, or the next would not be earlier
 * than `limit`. Heads are compared by a linear scan.
 */
function takeUntil(open: OpenSource[], limit: number): CapturedPacket[] {
  const merged: CapturedPacket[] = [];
  for (;;) {
    let best: OpenSource | null = null;
    let bestTs = Infinity;
    for (const s of open) {
      const ts = s.batch[s.position]!.ts;
      if (best === null || ts < bestTs) {
        best = s;
        bestTs = ts;
      }
    }
    if (bestTs >= limit) return merged;
    merged.push(best!.batch[best!.position++]!);
    if (best!.position >= best!.batch.length) return merged;
  }
}
