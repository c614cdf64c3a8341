import type { CapturedPacket } from '../types.js';

export interface BatchQueueOptions {
  /** Above this many queued bytes the producer is told to pause (or to drop, if it cannot pause). */
  highWaterBytes: number;
  /** Called when the queue crosses highWaterBytes upwards / falls below half of it. */
  onFull?(): void;
  onDrained?(): void;
  /** Wall clock in µs; injectable for tests. */
  nowUs?(): number;
}

/** How long the consumer may run batches back to back before letting timers and I/O in. */
const YIELD_EVERY_MS = 50;

/**
 * Hands captured batches from an event-driven producer (a pipe, a libpcap callback) to an async
 * consumer, measuring what waits between them: queued bytes and lag (wall clock − packet time).
 */
export class BatchQueue {
  private readonly batches: { packets: CapturedPacket[]; bytes: number }[] = [];
  private head = 0;
  private wake: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  private full = false;
  private readonly nowUs: () => number;

  queuedBytes = 0;
  maxQueuedBytes = 0;
  fullCount = 0;
  packets = 0;
  bytes = 0;
  lagUs: number | null = null;
  maxLagUs: number | null = null;

  constructor(private readonly opts: BatchQueueOptions) {
    this.nowUs = opts.nowUs ?? wallClockUs;
  }

  /** True when the queue is above its high-water mark (a producer that cannot pause should drop). */
  get isFull(): boolean {
    return this.full;
  }

  push(packets: CapturedPacket[], bytes: number): void {
    if (packets.length === 0 || this.ended) return;
    this.batches.push({ packets, bytes });
    this.queuedBytes += bytes;
    if (this.queuedBytes > this.maxQueuedBytes) this.maxQueuedBytes = this.queuedBytes;
    if (!this.full && this.queuedBytes > this.opts.highWaterBytes) {
      this.full = true;
      this.fullCount++;
      this.opts.onFull?.();
    }
    this.wakeConsumer();
  }

  /** No more batches; the consumer gets what is queued, then the error if there is one. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error ?? null;
    this.wakeConsumer();
  }

  async *drain(): AsyncGenerator<CapturedPacket[]> {
    let lastYield = Date.now();
    for (;;) {
      if (this.head < this.batches.length) {
        const batch = this.batches[this.head]!;
        this.batches[this.head++] = EMPTY_BATCH;
        if (this.head > 1024 && this.head * 2 > this.batches.length) {
          this.batches.splice(0, this.head);
          this.head = 0;
        }
        this.taken(batch);
        yield batch.packets;
        if (Date.now() - lastYield > YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          lastYield = Date.now();
        }
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      lastYield = Date.now();
    }
  }

  private taken(batch: { packets: CapturedPacket[]; bytes: number }): void {
    this.queuedBytes -= batch.bytes;
    this.packets += batch.packets.length;
    this.bytes += batch.bytes;
    const last = batch.packets[batch.packets.length - 1]!;
    const lag = this.nowUs() - last.ts;
    this.lagUs = lag;
    if (this.maxLagUs === null || lag > this.maxLagUs) this.maxLagUs = lag;
    if (this.full && this.queuedBytes <= this.opts.highWaterBytes / 2) {
      this.full = false;
      this.opts.onDrained?.();
    }
  }

  private wakeConsumer(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}

const EMPTY_BATCH = { packets: [] as CapturedPacket[], bytes: 0 };

/** Wall-clock µs since the epoch with sub-ms resolution (performance clock anchored at timeOrigin). */
export function wallClockUs(): number {
  return (performance.timeOrigin + performance.now()) * 1000;
}
