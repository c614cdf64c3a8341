import { MinHeap } from '../util/heap.js';
import type { SpanRecord } from './types.js';

/** Start order; ties (calls started in one packet) by connection, then position on it (stream or index). */
export function byStart(a: SpanRecord, b: SpanRecord): number {
  return a.startUs - b.startUs || a.connectionId - b.connectionId || (a.streamId ?? a.index) - (b.streamId ?? b.index);
}

/**
 * Hands spans on in start order. Traces complete in the order their roots end, so the spans of
 * calls made together (HTTP/2 streams opened in one packet by different requests) would come out
 * in whatever order their traces completed. Spans are held until packet time is `horizonUs` past
 * their start: every span whose trace completed within that horizon of its start (calls and the
 * requests around them shorter than the horizon less the correlator's settle time) comes out in
 * start order, ties by connection and position on it. A span decided later than that goes on when
 * it is decided.
 */
export class StartOrderBuffer {
  private readonly heap = new MinHeap<SpanRecord>();

  constructor(private readonly horizonUs: number) {}

  get size(): number {
    return this.heap.size;
  }

  add(span: SpanRecord): void {
    this.heap.push(span.startUs, span);
  }

  /** Packet time has reached `ts` (Infinity: the end): spans started by ts − horizon, in order. */
  release(ts: number, emit: (span: SpanRecord) => void): void {
    const bound = ts - this.horizonUs;
    const ready: SpanRecord[] = [];
    while (this.heap.size > 0 && this.heap.peekKey()! <= bound) ready.push(this.heap.pop()!);
    ready.sort(byStart);
    for (const span of ready) emit(span);
  }
}
