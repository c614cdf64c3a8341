/** What the index needs of an exchange: its window (end Infinity when no response was seen). */
export interface Interval {
  readonly start: number;
  readonly end: number;
}

/** Duration classes are powers of two (µs); exchanges without an end go in a class of their own. */
const CLASSES = 48;

/**
 * Exchanges by time window, to find those containing a given window quickly. Each duration class
 * (durations in [2^k, 2^k+1) µs) keeps its exchanges by start: those containing a window that starts
 * at `s` started in [s - 2^k+1, s], a range that holds about as many exchanges as are in flight, so a
 * query costs the number of overlapping exchanges plus a binary search per class, not the number held.
 */
export class IntervalIndex<T extends Interval> {
  private readonly classes: T[][] = Array.from({ length: CLASSES + 1 }, () => []);

  add(item: T): void {
    const list = this.classes[classOf(item)]!;
    let lo = 0;
    let hi = list.length;
    if (hi === 0 || list[hi - 1]!.start <= item.start) lo = hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]!.start <= item.start) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, item);
  }

  /** Items with start <= `start` + tol and `end` - tol <= end, in class then start order. */
  containing(start: number, end: number, tol: number): T[] {
    const out: T[] = [];
    for (let k = 0; k <= CLASSES; k++) {
      const list = this.classes[k]!;
      if (list.length === 0) continue;
      const longest = k === CLASSES ? Infinity : 2 ** (k + 1);
      for (let i = upperBound(list, start + tol) - 1; i >= 0; i--) {
        const item = list[i]!;
        if (item.start < start - tol - longest) break;
        if (end - tol <= item.end) out.push(item);
      }
    }
    return out;
  }

  /** Drops, from the earliest-started of each class, the items `done` says can go. */
  trim(done: (item: T) => boolean): void {
    for (const list of this.classes) {
      let n = 0;
      while (n < list.length && done(list[n]!)) n++;
      if (n > 0) list.splice(0, n);
    }
  }

  /** Every item held. */
  items(): T[] {
    return this.classes.flat();
  }

  get size(): number {
    return this.classes.reduce((n, list) => n + list.length, 0);
  }
}

function classOf(item: Interval): number {
  if (item.end === Infinity) return CLASSES;
  const duration = Math.max(1, item.end - item.start);
  return Math.min(CLASSES - 1, Math.floor(Math.log2(duration)));
}

function upperBound<T extends Interval>(list: T[], start: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]!.start <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
