import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../decode/types.js';
import type { Counters } from '../util/counters.js';
import type { FlowKey } from './flow-table.js';
import { HalfStream, type HalfStreamSink } from './half-stream.js';
import { seqAdd } from './sequence.js';
import type {
  Direction,
  DirectionStats,
  EndReason,
  Endpoint,
  Flow,
  StreamFactory,
  StreamHandler,
  TcpSegment,
} from './types.js';

/** What a flow needs from its assembler. */
export interface FlowContext {
  readonly counters: Counters;
  readonly factory: StreamFactory;
  readonly maxBufferedBytesPerDirection: number;
  /** Out-of-order bytes of `flow` grew (delta > 0) or shrank. */
  bufferedChanged(flow: TcpFlow, delta: number): void;
  /** The flow closed (handler.close was called); `tornDown`: both ends closed it (FIN/RST). */
  closed(flow: TcpFlow, tornDown: boolean): void;
}

const IGNORED_STREAM: StreamHandler = {
  data() {},
  gap() {},
  end() {},
  close() {},
};

/**
 * One TCP connection: roles, the two half streams and the handler they feed. Handler exceptions
 * are counted (`tcp.handler-errors`) and do not interrupt reassembly.
 */
export class TcpFlow implements Flow, HalfStreamSink {
  private clientEndpoint: Endpoint;
  private serverEndpoint: Endpoint;
  private handshakeSeen = false;
  private latestTs: number;
  /** Indexed by Direction; swapped together with the roles. */
  private readonly halves: [HalfStream, HalfStream];
  private handler: StreamHandler;
  /** When a NAT twin was found: the addresses of both ends as they really are (see pairTwins). */
  private translated: { client: Endpoint; server: Endpoint } | null = null;
  private translatedFrom: Endpoint | null = null;
  /** First SYN and first SYN-ACK seen. */
  private synTs: number | null = null;
  private synAckTs: number | null = null;
  /** The handler returned from a data call: roles can no longer change. */
  private dataConsumed = false;
  bufferedBytes = 0;
  isClosed = false;

  constructor(
    readonly id: number,
    readonly key: FlowKey,
    client: Endpoint,
    server: Endpoint,
    readonly startTs: number,
    private readonly ctx: FlowContext,
  ) {
    this.clientEndpoint = client;
    this.serverEndpoint = server;
    this.latestTs = startTs;
    const max = ctx.maxBufferedBytesPerDirection;
    this.halves = [new HalfStream(0, this, ctx.counters, max), new HalfStream(1, this, ctx.counters, max)];
    this.handler = this.openHandler();
  }

  get client(): Endpoint {
    return this.translated?.client ?? this.clientEndpoint;
  }
  get server(): Endpoint {
    return this.translated?.server ?? this.serverEndpoint;
  }

  /** The server address the client dialed, when a NAT twin showed it differs from `server`. */
  get dialedServer(): Endpoint | null {
    return this.translatedFrom;
  }

  /** Both initial sequence numbers, once the handshake showed them: what NAT does not change. */
  get isnPair(): string | null {
    const [client, server] = this.halves;
    return client.isn === null || server.isn === null ? null : `${client.isn} ${server.isn}`;
  }

  /**
   * `twin` is this same connection seen on another interface before or after address translation
   * (same initial sequence numbers both ways). The one whose SYN was seen first shows the client as
   * it is (before SNAT), the one whose SYN-ACK was seen first the server as it is (after DNAT): this
   * flow reports those, and `twin` stops feeding its handler. False when either already delivered
   * data (then both stay as they are).
   */
  pairTwins(twin: TcpFlow, ts: number): boolean {
    if (this.dataConsumed || twin.dataConsumed || this.translated || twin.translated) return false;
    const first = (a: number | null, b: number | null): boolean => (a ?? Infinity) <= (b ?? Infinity);
    const client = first(this.synTs, twin.synTs) ? this.clientEndpoint : twin.clientEndpoint;
    const server = first(this.synAckTs, twin.synAckTs) ? this.serverEndpoint : twin.serverEndpoint;
    const dialed = first(this.synTs, twin.synTs) ? this.serverEndpoint : twin.serverEndpoint;
    this.translated = { client, server };
    if (dialed.ip !== server.ip || dialed.port !== server.port) this.translatedFrom = dialed;
    twin.mute(ts);
    return true;
  }
  get handshake(): boolean {
    return this.handshakeSeen;
  }
  get lastTs(): number {
    return this.latestTs;
  }
  get baseSeq(): [number | null, number | null] {
    return [this.halves[0].base, this.halves[1].base];
  }
  get stats(): [DirectionStats, DirectionStats] {
    return [this.halves[0].stats, this.halves[1].stats];
  }
  get ended(): [EndReason | null, EndReason | null] {
    return [this.halves[0].ended, this.halves[1].ended];
  }

  get canSwapRoles(): boolean {
    return !this.dataConsumed;
  }

  /** Allowed until the handler has returned from its first data call (detectors may call it there). */
  swapRoles(): void {
    if (this.dataConsumed) throw new Error(`flow ${this.id}: swapRoles() after data was consumed`);
    this.swapInternal();
  }

  acknowledgedOffset(dir: Direction): number | null {
    return this.halves[dir].acknowledged;
  }

  directionOf(s: TcpSegment): Direction {
    return s.srcPort === this.clientEndpoint.port && s.src === this.clientEndpoint.ip ? 0 : 1;
  }

  /**
   * Whether a SYN or SYN-ACK belongs to a new connection on this 4-tuple rather than to this one:
   * a retransmitted SYN (same ISN) and the peer's SYN-ACK belong here, and so does a first SYN on a
   * flow that has seen no sequence numbers yet (stray ACKs just before a handshake).
   */
  startsNewConnection(s: TcpSegment, dir: Direction): boolean {
    const own = this.halves[dir];
    if (own.isn !== null) return own.isn !== s.seq;
    const peer = this.halves[dir === 0 ? 1 : 0];
    if (peer.isn !== null) return false;
    return own.base !== null || peer.base !== null;
  }

  /** A packet after teardown (the final ACK, a retransmitted FIN): counted, never delivered. */
  lateSegment(s: TcpSegment, ts: number): void {
    if (ts > this.latestTs) this.latestTs = ts;
    const own = this.halves[this.directionOf(s)];
    if (!this.dropCopy(own, s, ts)) own.stats.packets++;
  }

  /** A copy of a packet this direction just had (copies.ts): counted and dropped. */
  private dropCopy(own: HalfStream, s: TcpSegment, ts: number): boolean {
    if (!own.recent.repeats(s, ts)) return false;
    own.stats.copies++;
    this.ctx.counters.add('tcp.copies');
    return true;
  }

  segment(s: TcpSegment, dir: Direction, ts: number): void {
    const flags = s.flags;
    if (ts > this.latestTs) this.latestTs = ts;
    let own = this.halves[dir];
    if (this.dropCopy(own, s, ts)) return;
    own.stats.packets++;
    let dataSeq = s.seq;
    if (flags & TCP_SYN) {
      if (flags & TCP_ACK) this.synAckTs ??= ts;
      else this.synTs ??= ts;
      if (!this.handshakeSeen) {
        this.handshakeSeen = true;
        const senderRole: Direction = flags & TCP_ACK ? 1 : 0;
        if (dir !== senderRole) {
          this.swapInternal();
          dir = senderRole;
          own = this.halves[dir];
        }
      }
      own.syn(s.seq);
      dataSeq = seqAdd(s.seq, 1);
    }
    const peer = this.halves[dir === 0 ? 1 : 0];
    if (flags & TCP_ACK) {
      peer.peerAck(s.ack);
      if (s.payload.length > 0) peer.resolveAcknowledgedTail(ts);
    }
    if (flags & TCP_RST) {
      if (own.acceptsReset(s.seq)) this.terminate('rst', ts);
      else this.ctx.counters.add('tcp.rst-out-of-window');
      return;
    }
    own.accept(dataSeq, s.payload, (flags & TCP_FIN) !== 0, ts);
    if (!this.isClosed) own.resolveAcknowledgedHoles(ts);
  }

  /** Deliver everything buffered (gaps first), end the open directions with `reason`, close. */
  terminate(reason: EndReason, ts: number): void {
    if (this.isClosed) return;
    const [first, second] = this.halves;
    for (const half of [first, second]) {
      if (half.ended !== null) continue;
      half.flushAll(ts);
      if (half.ended === null) this.endDirection(half, reason, ts);
    }
  }

  /** The total buffer cap: give up waiting for every hole of this flow. */
  forceOutBuffers(ts: number): void {
    for (const half of [this.halves[0], this.halves[1]]) while (half.forceOldest(ts));
  }

  // HalfStreamSink

  data(stream: HalfStream, bytes: Uint8Array, ts: number, offset: number): void {
    try {
      this.handler.data(stream.dir, bytes, ts, offset);
    } catch {
      this.ctx.counters.add('tcp.handler-errors');
    }
    this.dataConsumed = true;
  }

  gap(stream: HalfStream, lostBytes: number, ts: number, offset: number): void {
    this.ctx.counters.add('tcp.gaps');
    this.ctx.counters.add('tcp.gap-bytes', lostBytes);
    try {
      this.handler.gap(stream.dir, lostBytes, ts, offset);
    } catch {
      this.ctx.counters.add('tcp.handler-errors');
    }
  }

  finReached(stream: HalfStream, ts: number): void {
    this.endDirection(stream, 'fin', ts);
  }

  bufferedChanged(delta: number): void {
    this.bufferedBytes += delta;
    this.ctx.bufferedChanged(this, delta);
  }

  private endDirection(half: HalfStream, reason: EndReason, ts: number): void {
    half.ended = reason;
    try {
      this.handler.end(half.dir, reason, ts);
    } catch {
      this.ctx.counters.add('tcp.handler-errors');
    }
    if (this.halves[0].ended !== null && this.halves[1].ended !== null) this.close(ts);
  }

  private close(ts: number): void {
    this.isClosed = true;
    try {
      this.handler.close(ts);
    } catch {
      this.ctx.counters.add('tcp.handler-errors');
    }
    const tornDown = this.halves.every((h) => h.ended === 'fin' || h.ended === 'rst');
    this.ctx.closed(this, tornDown);
  }

  /** The handler hears nothing more (a twin analyses this connection); it is closed now. */
  private mute(ts: number): void {
    const handler = this.handler;
    this.handler = IGNORED_STREAM;
    try {
      handler.close(ts);
    } catch {
      this.ctx.counters.add('tcp.handler-errors');
    }
  }

  private swapInternal(): void {
    if (this.translated) this.translated = { client: this.translated.server, server: this.translated.client };
    const [a, b] = this.halves;
    this.halves[0] = b;
    this.halves[1] = a;
    b.dir = 0;
    a.dir = 1;
    const client = this.clientEndpoint;
    this.clientEndpoint = this.serverEndpoint;
    this.serverEndpoint = client;
  }

  private openHandler(): StreamHandler {
    try {
      return this.ctx.factory.open(this);
    } catch {
      this.ctx.counters.add('tcp.handler-errors');
      return IGNORED_STREAM;
    }
  }
}
