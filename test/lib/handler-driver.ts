/**
 * Drives any protocol analyzer's StreamHandler the way the TCP assembler would, without packets.
 *
 *   const d = new HandlerDriver(new Http1Analyzer());
 *   d.data(0, 'GET / HTTP/1.1\r\nHost: a\r\n\r\n', 10);   // dir, bytes or latin1 text, ts (µs)
 *   d.data(1, responseBytes, 20);
 *   d.close(30);
 *   d.exchanges   // what ctx.emit received (deep copies), in order
 *   d.counters    // the Counters given to the analyzer
 *
 * - Stream offsets per direction are kept as the assembler keeps them (gap bytes count), and
 *   `flow.baseSeq[dir]` is set on the first event of that direction (from `options.baseSeq`).
 * - Each delivery is copied into a scratch buffer that is poisoned (0xEE) after the call, so a handler
 *   that keeps lent bytes instead of copying them fails tests.
 * - `switchProtocol(name)` is recorded in `switches`; it returns `options.switchTo(name)` (default: a
 *   RecordingHandler, whose received events tests can read back in `switched`).
 * - `feed` delivers a whole script in chunks (see `Delivery`), for "split anywhere" properties.
 */
import type { AnalyzerContext, Exchange, ProtocolAnalyzer, ProtocolHandler, ProtocolName } from '../../src/protocols/types.js';
import type { Direction, DirectionStats, EndReason, Endpoint, Flow, StreamHandler } from '../../src/tcp/types.js';
import { Counters } from '../../src/util/counters.js';

export interface DriverOptions {
  client?: Endpoint;
  server?: Endpoint;
  /** Whether the fake flow saw the handshake (analyzers may trust offset 0 then). Default true. */
  handshake?: boolean;
  /** Sequence number of stream offset 0 per direction. Default [1000, 4294967000] (wraps). */
  baseSeq?: [number, number];
  connectionId?: number;
  /** What switchProtocol returns; default: a new RecordingHandler. */
  switchTo?: (name: ProtocolName) => ProtocolHandler | null;
  /** Poison lent buffers after each call (default true). */
  poison?: boolean;
}

export type RecordedEvent =
  | { kind: 'data'; dir: Direction; bytes: Uint8Array; ts: number; offset: number }
  | { kind: 'gap'; dir: Direction; lost: number; ts: number; offset: number }
  | { kind: 'end'; dir: Direction; reason: EndReason; ts: number }
  | { kind: 'close'; ts: number };

/** A StreamHandler that records what it is given (bytes copied). */
export class RecordingHandler implements ProtocolHandler {
  readonly events: RecordedEvent[] = [];

  oldestInFlightUs(): number | null {
    return null;
  }

  data(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    this.events.push({ kind: 'data', dir, bytes: Uint8Array.from(bytes), ts, offset });
  }
  gap(dir: Direction, lost: number, ts: number, offset: number): void {
    this.events.push({ kind: 'gap', dir, lost, ts, offset });
  }
  end(dir: Direction, reason: EndReason, ts: number): void {
    this.events.push({ kind: 'end', dir, reason, ts });
  }
  close(ts: number): void {
    this.events.push({ kind: 'close', ts });
  }

  /** All bytes received for `dir`, concatenated. */
  bytes(dir: Direction): Buffer {
    return Buffer.concat(this.events.flatMap((e) => (e.kind === 'data' && e.dir === dir ? [e.bytes] : [])));
  }
}

/** A mutable stand-in for the assembler's Flow. */
export class FakeFlow implements Flow {
  readonly id: number;
  client: Endpoint;
  server: Endpoint;
  readonly handshake: boolean;
  startTs = 0;
  lastTs = 0;
  readonly baseSeq: [number | null, number | null] = [null, null];
  readonly stats: [DirectionStats, DirectionStats] = [emptyStats(), emptyStats()];
  readonly ended: [EndReason | null, EndReason | null] = [null, null];
  swaps = 0;

  constructor(options: DriverOptions) {
    this.id = options.connectionId ?? 1;
    this.client = options.client ?? { ip: '10.0.0.1', port: 40000 };
    this.server = options.server ?? { ip: '10.0.0.2', port: 80 };
    this.handshake = options.handshake ?? true;
  }

  readonly canSwapRoles = true;

  swapRoles(): void {
    [this.client, this.server] = [this.server, this.client];
    this.swaps++;
  }
}

function emptyStats(): DirectionStats {
  return { packets: 0, payloadBytes: 0, retransmittedBytes: 0, copies: 0, outOfOrderSegments: 0, gaps: 0, gapBytes: 0 };
}

/** One step of a script: bytes (Uint8Array or latin1 text), a gap, or an end, each at a ts. */
export type Delivery =
  | { dir: Direction; bytes: Uint8Array | string; ts: number }
  | { dir: Direction; gap: number; ts: number }
  | { dir: Direction; end: EndReason; ts: number };

export class HandlerDriver {
  readonly flow: FakeFlow;
  readonly counters = new Counters();
  readonly exchanges: Exchange[] = [];
  readonly switches: ProtocolName[] = [];
  /** Handlers returned by the default switchTo, in order. */
  readonly switched: RecordingHandler[] = [];
  readonly ctx: AnalyzerContext;
  readonly handler: ProtocolHandler;
  private readonly offsets: [number, number] = [0, 0];
  private readonly baseSeq: [number, number];
  private readonly poison: boolean;

  constructor(analyzer: ProtocolAnalyzer, options: DriverOptions = {}) {
    this.flow = new FakeFlow(options);
    this.baseSeq = options.baseSeq ?? [1000, 4294967000];
    this.poison = options.poison ?? true;
    const switchTo =
      options.switchTo ??
      ((): ProtocolHandler => {
        const h = new RecordingHandler();
        this.switched.push(h);
        return h;
      });
    this.ctx = {
      flow: this.flow,
      counters: this.counters,
      emit: (x) => this.exchanges.push(structuredClone(x)),
      switchProtocol: (name) => {
        this.switches.push(name);
        return switchTo(name);
      },
    };
    this.handler = analyzer.open(this.ctx);
  }

  /** Stream offset the next delivery of `dir` starts at. */
  offset(dir: Direction): number {
    return this.offsets[dir];
  }

  data(dir: Direction, bytes: Uint8Array | string, ts: number): this {
    const source = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.touch(dir, ts);
    const lent = Buffer.allocUnsafe(source.length);
    lent.set(source);
    this.flow.stats[dir].packets++;
    this.flow.stats[dir].payloadBytes += lent.length;
    this.handler.data(dir, lent, ts, this.offsets[dir]);
    if (this.poison) lent.fill(0xee);
    this.offsets[dir] += source.length;
    return this;
  }

  /** `lost` bytes never captured (-1: unknown amount, the offset then stays where it was). */
  gap(dir: Direction, lost: number, ts: number): this {
    this.touch(dir, ts);
    this.flow.stats[dir].gaps++;
    if (lost > 0) this.flow.stats[dir].gapBytes += lost;
    this.handler.gap(dir, lost, ts, this.offsets[dir]);
    if (lost > 0) this.offsets[dir] += lost;
    return this;
  }

  end(dir: Direction, reason: EndReason, ts: number): this {
    this.flow.ended[dir] = reason;
    this.flow.lastTs = ts;
    this.handler.end(dir, reason, ts);
    return this;
  }

  close(ts: number): this {
    this.flow.lastTs = ts;
    this.handler.close(ts);
    return this;
  }

  run(script: readonly Delivery[]): this {
    for (const step of script) {
      if ('bytes' in step) this.data(step.dir, step.bytes, step.ts);
      else if ('gap' in step) this.gap(step.dir, step.gap, step.ts);
      else this.end(step.dir, step.end, step.ts);
    }
    return this;
  }

  private touch(dir: Direction, ts: number): void {
    this.flow.baseSeq[dir] ??= this.baseSeq[dir];
    if (this.flow.startTs === 0) this.flow.startTs = ts;
    this.flow.lastTs = ts;
  }
}

/** Cut `bytes` at the given positions (sorted, deduplicated, out-of-range ignored); empty pieces dropped. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    if (p > from) out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

/** latin1 text → bytes (one byte per char), for writing wire bytes in tests; use utf8() for UTF-8. */
export function bytesOf(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

export function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
