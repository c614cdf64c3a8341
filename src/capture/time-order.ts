import type { Counters } from '../util/counters.js';
import type { CapturedPacket } from './types.js';

/** Default window: multi-queue and `-i any` captures are out of order by microseconds to a few ms. */
export const DEFAULT_REORDER_WINDOW_US = 10_000;
/**
 * Held while no packet has come out of order: enough to put a first disorder right (it only needs
 * to be no older than what was passed on), and small enough that sorted captures pay nothing for
 * the window (holding 10 ms of a busy capture kept thousands of packets alive across young-generation
 * GCs: +30 % for read, decode and TCP on the bench capture).
 */
const QUIET_WINDOW_US = 1_000;

/**
 * Puts the packets of one capture back in timestamp order, within a window of packet time.
 *
 * Captures taken on several queues or interfaces at once (`tcpdump -i any`, multi-queue NICs,
 * AF_PACKET fanout) are written in the order the kernel handed packets over, not in the order of
 * their timestamps, so a response can come before its request in the file. Packets are held until
 * the newest timestamp is `windowUs` past theirs (1 ms until a first packet comes out of order); a
 * packet older than the newest is moved back among the held ones (`capture.reordered`), and one
 * older than a packet already passed on goes on as it comes (`capture.reorder-too-late`). Equal
 * timestamps keep file order. `windowUs` 0 passes everything on in file order.
 */
export async function* inTimeOrder(
  source: AsyncIterable<CapturedPacket[]>,
  opts: { windowUs: number; counters: Counters },
): AsyncGenerator<CapturedPacket[]> {
  if (opts.windowUs <= 0) return yield* source;
  const window = new ReorderWindow(opts.windowUs, opts.counters);
  try {
    for await (const batch of source) {
      const out = window.push(batch);
      if (out.length > 0) yield out;
    }
  } catch (error) {
    // A corrupt or cut-short file: the packets read before the damage still go on, then the error.
    const held = window.drain();
    if (held.length > 0) yield held;
    throw error;
  }
  const rest = window.drain();
  if (rest.length > 0) yield rest;
}

/**
 * The window itself, for sources that are not async iterables of batches (a live capture fed by
 * callbacks): push batches, drain when the input pauses or ends.
 */
export class ReorderWindow {
  /** Held packets in time order from `head` on. */
  private held: CapturedPacket[] = [];
  private head = 0;
  private newestTs = -Infinity;
  private releasedTs = -Infinity;
  /** QUIET_WINDOW_US until a packet comes out of order, then the whole window. */
  private currentWindowUs: number;

  constructor(
    private readonly windowUs: number,
    private readonly counters: Counters,
  ) {
    this.currentWindowUs = Math.min(windowUs, QUIET_WINDOW_US);
  }

  /** Takes a batch; returns the packets now due, in time order. */
  push(batch: readonly CapturedPacket[]): CapturedPacket[] {
    return this.inOrder(batch) ? this.pushSorted(batch) : this.pushEach(batch);
  }

  /** The batch is sorted and starts no earlier than anything held: the usual case. */
  private inOrder(batch: readonly CapturedPacket[]): boolean {
    let previous = this.newestTs;
    for (let i = 0; i < batch.length; i++) {
      const ts = batch[i]!.ts;
      if (ts < previous) return false;
      previous = ts;
    }
    return true;
  }

  /** Whole slices instead of one packet at a time: what is older than the window goes on at once. */
  private pushSorted(batch: readonly CapturedPacket[]): CapturedPacket[] {
    if (batch.length === 0) return [];
    this.newestTs = batch[batch.length - 1]!.ts;
    const bound = this.newestTs - this.currentWindowUs;
    let cut = batch.length;
    while (cut > 0 && batch[cut - 1]!.ts > bound) cut--;
    if (cut === 0) {
      const out: CapturedPacket[] = [];
      this.release(bound, out);
      for (const p of batch) this.held.push(p);
      return out;
    }
    // Everything held is older than batch[cut - 1], itself due: all of it goes on first.
    const out = this.held.length > this.head ? this.held.slice(this.head).concat(batch.slice(0, cut)) : batch.slice(0, cut);
    this.releasedTs = batch[cut - 1]!.ts;
    this.held = batch.slice(cut);
    this.head = 0;
    return out;
  }

  private pushEach(batch: readonly CapturedPacket[]): CapturedPacket[] {
    const out: CapturedPacket[] = [];
    for (const p of batch) {
      if (p.ts >= this.newestTs) {
        this.held.push(p);
        this.newestTs = p.ts;
      } else if (p.ts < this.releasedTs) {
        this.counters.add('capture.reorder-too-late');
        this.currentWindowUs = this.windowUs;
        out.push(p);
        continue;
      } else {
        this.counters.add('capture.reordered');
        this.currentWindowUs = this.windowUs;
        this.held.splice(this.insertionPoint(p.ts), 0, p);
      }
      this.release(this.newestTs - this.currentWindowUs, out);
    }
    if (this.head > 4096 && this.head * 2 > this.held.length) {
      this.held = this.held.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  /** Everything held, in time order (the input ended, or paused long enough that nothing older can come). */
  drain(): CapturedPacket[] {
    const out: CapturedPacket[] = [];
    this.release(Infinity, out);
    return out;
  }

  private release(upTo: number, out: CapturedPacket[]): void {
    const held = this.held;
    while (this.head < held.length && held[this.head]!.ts <= upTo) {
      const p = held[this.head]!;
      held[this.head++] = undefined as unknown as CapturedPacket;
      this.releasedTs = p.ts;
      out.push(p);
    }
  }

  /** After every held packet with a timestamp ≤ ts (file order among equals). */
  private insertionPoint(ts: number): number {
    let lo = this.head;
    let hi = this.held.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.held[mid]!.ts <= ts) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
