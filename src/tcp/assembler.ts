/**
 * TCP connection tracking and stream reassembly (after gopacket's reassembly package: a handler per
 * connection, explicit gaps, flushing by packet time, memory caps as options).
 *
 * Policies:
 * - Connections are keyed by the 4-tuple in either direction. Roles: the sender of a SYN is the
 *   client, the sender of a lone SYN-ACK the server; without a handshake a port in `serverPorts`,
 *   then the lower port when the other looks ephemeral (≥ 32768, or ≥ 1024 against < 1024), then the
 *   destination of the first packet is the server. A flow created by stray packets before any
 *   sequence number was fixed adopts a handshake that follows.
 * - Offset 0 of a direction is ISN+1 after a SYN, else the first sequence number carrying data (or
 *   a FIN). Bytes before it that arrive later are dropped and counted (`tcp.before-start-bytes`).
 *   Sequence numbers wrap modulo 2^32.
 * - Delivery is in order; `data` gets views into the packet for in-order segments and owned copies
 *   for buffered ones; `ts` is the time of the packet that made the bytes deliverable, so it never
 *   decreases within a direction. Fully old segments are dropped (`retransmittedBytes`). Overlaps:
 *   the first copy received wins, for delivered and for buffered bytes; a later copy that differs
 *   from buffered bytes counts `tcp.overlap-conflicts` (delivered bytes are not kept to compare).
 * - A hole becomes a gap (exact byte count, then the data after it), never joined silently, when:
 *   the peer acknowledged past the hole and another packet of that direction arrives (so the bytes
 *   were sent and the capture lost them); a direction buffers more than
 *   `maxBufferedBytesPerConnection` bytes, or more pieces than one per 256 bytes of that cap (at
 *   least 1024, so floods of tiny segments cannot make bookkeeping outgrow the cap): oldest hole
 *   first, `tcp.buffer-cap-per-connection`; all flows buffer more than `maxBufferedBytesTotal`: every
 *   hole of the flows that started buffering earliest, `tcp.buffer-cap-total`; or the connection
 *   ends (RST, idle, end of capture, superseding SYN).
 * - FIN ends its direction once every byte before it was delivered or declared lost; data beyond a
 *   FIN is dropped (`tcp.data-after-fin-bytes`). When a connection is torn down while a seen FIN
 *   waits behind a hole, the hole becomes a gap and the direction ends 'fin'. RST ends both open
 *   directions 'rst' when its sequence number is within 16 MiB of its sender's stream position (or
 *   that position is unknown); one further away is ignored, as the peers' stacks ignore it, and
 *   counted (`tcp.rst-out-of-window`). Both directions ended → close, forget the flow.
 * - After a FIN/RST teardown the 4-tuple is remembered for `closedLingerUs` (60 s of packet time,
 *   at most `maxRecentlyClosed` keys): non-SYN packets on it (the final ACK) are counted to that
 *   connection's packets and last time, and in `tcp.late-after-close` (payload, never delivered, in
 *   `tcp.late-after-close-bytes`), instead of opening a phantom connection. `onFlowClosed` reports a
 *   torn-down flow when it leaves that memory (expiry, a new connection on the 4-tuple, finish()), so
 *   its totals are final; the handler's close() is not delayed. Any SYN that is not a
 *   retransmission (same ISN) or the expected SYN-ACK starts a new connection with a new id; an
 *   open flow it supersedes is flushed, its open directions end 'idle' (`tcp.superseded-by-syn`).
 * - Idle: a flow without packets for `idleTimeoutUs` of packet time is flushed and ends 'idle'; its
 *   events carry the time of its last packet. Checked when the flow's next packet arrives and by a
 *   sweep over all flows once per second of packet time. Beyond `maxOpenFlows` open connections (a SYN
 *   flood, a scan), the least recently active tenth is flushed the same way (`tcp.flows-evicted`).
 * - `flow.swapRoles()` is allowed until the handler returns from its first data call (a detector
 *   may decide inside it); it swaps endpoints and all per-direction state.
 * - A handler that throws is counted (`tcp.handler-errors`); reassembly continues.
 */
import { TCP_SYN } from '../decode/types.js';
import { FlowTable, flowKeyText, type FlowKey } from './flow-table.js';
import { TcpFlow, type FlowContext } from './flow.js';
import { destinationIsServer } from './roles.js';
import type { AssemblerOptions, Endpoint, Flow, TcpSegment } from './types.js';

export interface TcpAssemblerOptions extends AssemblerOptions {
  /**
   * Open connections tracked at most; beyond, the least recently active tenth is flushed as idle and
   * counted (`tcp.flows-evicted`): a SYN flood or a scan must not exhaust memory. Default 250 000.
   */
  maxOpenFlows?: number;
  /** How long (µs of packet time) a torn-down 4-tuple absorbs late packets. Default 60 s. */
  closedLingerUs?: number;
  /** Bound on remembered torn-down 4-tuples. Default 65536. */
  maxRecentlyClosed?: number;
}

/** Totals for `wirespan stats`; per-direction arrays are [client→server, server→client]. */
export interface AssemblerStats {
  connections: number;
  withHandshake: number;
  withoutHandshake: number;
  openFlows: number;
  packets: [number, number];
  payloadBytes: [number, number];
  retransmittedBytes: number;
  outOfOrderSegments: number;
  gaps: number;
  gapBytes: number;
  bufferedBytes: number;
  peakBufferedBytes: number;
}

const SECOND_US = 1_000_000;
/**
 * Ten minutes: pooled database connections and gRPC channels sit quiet for minutes, and a flow
 * flushed while quiet comes back as a new one in mid-stream (an HTTP/2 header table, a MySQL
 * connection's prepared statements lost). Zeek waits 5 minutes.
 */
export const DEFAULT_IDLE_TIMEOUT_US = 600 * SECOND_US;
const SWEEP_EVERY_US = SECOND_US;

export class TcpAssembler {
  private readonly flows = new FlowTable<TcpFlow>();
  /** Torn-down 4-tuples (as text) → close time; insertion order is close order. */
  /** Torn-down flows by 4-tuple, kept for late packets (the final ACK); reported when they leave. */
  private readonly recentlyClosed = new Map<string, { closedAt: number; flow: TcpFlow }>();
  /** Flows holding out-of-order bytes, in the order they started buffering. */
  private readonly flowsWithBuffers = new Set<TcpFlow>();
  /** Open flows by their initial sequence numbers (TcpFlow.isnPair), to find NAT twins. */
  private readonly byIsns = new Map<string, TcpFlow>();
  private readonly ctx: FlowContext;
  private readonly maxOpenFlows: number;
  private readonly idleTimeoutUs: number;
  private readonly maxBufferedTotal: number;
  private readonly closedLingerUs: number;
  private readonly maxRecentlyClosed: number;
  private nextId = 1;
  private nextSweepTs = -Infinity;
  private bufferedTotal = 0;
  private peakBuffered = 0;
  private readonly closedTotals: AssemblerStats = emptyStats();

  constructor(private readonly opts: TcpAssemblerOptions) {
    this.idleTimeoutUs = opts.idleTimeoutUs ?? DEFAULT_IDLE_TIMEOUT_US;
    this.maxBufferedTotal = opts.maxBufferedBytesTotal ?? 256 * 1024 * 1024;
    this.closedLingerUs = opts.closedLingerUs ?? 60 * SECOND_US;
    this.maxRecentlyClosed = opts.maxRecentlyClosed ?? 65536;
    this.maxOpenFlows = opts.maxOpenFlows ?? 250_000;
    this.ctx = {
      counters: opts.counters,
      factory: opts.factory,
      maxBufferedBytesPerDirection: opts.maxBufferedBytesPerConnection ?? 4 * 1024 * 1024,
      bufferedChanged: (flow, delta) => this.bufferedChanged(flow, delta),
      closed: (flow, tornDown) => this.flowClosed(flow, tornDown),
    };
  }

  segment(s: TcpSegment, ts: number): void {
    if (ts >= this.nextSweepTs) {
      this.sweep(ts);
      this.nextSweepTs = ts + SWEEP_EVERY_US;
    }
    const forward = s.src < s.dst || (s.src === s.dst && s.srcPort <= s.dstPort);
    let flow = forward
      ? this.flows.get(s.src, s.dst, s.srcPort * 65536 + s.dstPort)
      : this.flows.get(s.dst, s.src, s.dstPort * 65536 + s.srcPort);
    const syn = (s.flags & TCP_SYN) !== 0;
    if (flow !== undefined && ts - flow.lastTs > this.idleTimeoutUs) {
      flow.terminate('idle', flow.lastTs);
      flow = undefined;
    }
    if (flow !== undefined && syn && flow.startsNewConnection(s, flow.directionOf(s))) {
      this.opts.counters.add('tcp.superseded-by-syn');
      flow.terminate('idle', ts);
      flow = undefined;
    }
    if (flow === undefined) {
      const key: FlowKey = forward
        ? { low: s.src, high: s.dst, ports: s.srcPort * 65536 + s.dstPort }
        : { low: s.dst, high: s.src, ports: s.dstPort * 65536 + s.srcPort };
      if (!syn && this.isLateAfterClose(key, s, ts)) return;
      if (this.recentlyClosed.size > 0) this.forgetClosed(flowKeyText(key));
      if (this.flows.size >= this.maxOpenFlows) this.evictLeastRecent();
      flow = this.openFlow(key, s, ts);
    }
    flow.segment(s, flow.directionOf(s), ts);
    if (syn) this.findTwin(flow, ts);
    if (this.bufferedTotal > this.maxBufferedTotal) this.enforceTotalCap(ts);
  }

  /**
   * `tcpdump -i any` on a host that translates addresses (Docker port mappings, Kubernetes services)
   * sees each connection twice, before and after NAT, with the same initial sequence numbers: it is
   * analysed once (`tcp.nat-twins`), with the client and server as they really are.
   */
  private findTwin(flow: TcpFlow, ts: number): void {
    const isns = flow.isnPair;
    if (isns === null) return;
    const twin = this.byIsns.get(isns);
    if (twin === undefined || twin.isClosed) return void this.byIsns.set(isns, flow);
    if (twin === flow) return;
    if (flow.pairTwins(twin, ts)) this.opts.counters.add('tcp.nat-twins');
    this.byIsns.delete(isns);
  }

  /** Flush, as idle, every flow whose latest packet is older than `ts`. */
  flushOlderThan(ts: number): void {
    for (const flow of this.flows.values()) {
      if (flow.lastTs < ts) flow.terminate('idle', flow.lastTs);
    }
  }

  /** End of capture: deliver what is buffered (gaps first), end open directions 'eof', close all. */
  finish(ts: number): void {
    for (const flow of this.flows.values()) flow.terminate('eof', ts);
    for (const key of [...this.recentlyClosed.keys()]) this.forgetClosed(key);
  }

  stats(): AssemblerStats {
    const closed = this.closedTotals;
    const out: AssemblerStats = {
      ...closed,
      packets: [closed.packets[0], closed.packets[1]],
      payloadBytes: [closed.payloadBytes[0], closed.payloadBytes[1]],
    };
    for (const flow of this.flows.values()) addFlow(out, flow);
    for (const { flow } of this.recentlyClosed.values()) addFlow(out, flow);
    out.connections = this.nextId - 1;
    out.openFlows = this.flows.size;
    out.bufferedBytes = this.bufferedTotal;
    out.peakBufferedBytes = this.peakBuffered;
    return out;
  }

  private openFlow(key: FlowKey, s: TcpSegment, ts: number): TcpFlow {
    const source: Endpoint = { ip: s.src, port: s.srcPort };
    const destination: Endpoint = { ip: s.dst, port: s.dstPort };
    const flow = destinationIsServer(s.flags, s.srcPort, s.dstPort, this.opts.serverPorts)
      ? new TcpFlow(this.nextId++, key, source, destination, ts, this.ctx)
      : new TcpFlow(this.nextId++, key, destination, source, ts, this.ctx);
    this.flows.set(key, flow);
    return flow;
  }

  private isLateAfterClose(key: FlowKey, s: TcpSegment, ts: number): boolean {
    if (this.recentlyClosed.size === 0) return false;
    const closed = this.recentlyClosed.get(flowKeyText(key));
    if (closed === undefined || ts - closed.closedAt > this.closedLingerUs) return false;
    closed.flow.lateSegment(s, ts);
    this.opts.counters.add('tcp.late-after-close');
    if (s.payload.length > 0) this.opts.counters.add('tcp.late-after-close-bytes', s.payload.length);
    return true;
  }

  private sweep(now: number): void {
    this.flushOlderThan(now - this.idleTimeoutUs);
    for (const [key, { closedAt }] of this.recentlyClosed) {
      if (now - closedAt <= this.closedLingerUs) break;
      this.forgetClosed(key);
    }
  }

  /** Too many open connections: flush the least recently active tenth as idle. */
  private evictLeastRecent(): void {
    const flows = [...this.flows.values()].sort((a, b) => a.lastTs - b.lastTs);
    const count = Math.max(1, Math.floor(flows.length / 10));
    this.opts.counters.add('tcp.flows-evicted', count);
    for (let i = 0; i < count; i++) flows[i]!.terminate('idle', flows[i]!.lastTs);
  }

  private enforceTotalCap(ts: number): void {
    this.opts.counters.add('tcp.buffer-cap-total');
    for (const flow of this.flowsWithBuffers) {
      if (this.bufferedTotal <= this.maxBufferedTotal) break;
      flow.forceOutBuffers(ts);
    }
  }

  private bufferedChanged(flow: TcpFlow, delta: number): void {
    this.bufferedTotal += delta;
    if (this.bufferedTotal > this.peakBuffered) this.peakBuffered = this.bufferedTotal;
    if (flow.bufferedBytes > 0) this.flowsWithBuffers.add(flow);
    else this.flowsWithBuffers.delete(flow);
  }

  private flowClosed(flow: TcpFlow, tornDown: boolean): void {
    const isns = flow.isnPair;
    if (isns !== null && this.byIsns.get(isns) === flow) this.byIsns.delete(isns);
    const key = flow.key;
    if (this.flows.get(key.low, key.high, key.ports) === flow) this.flows.delete(key);
    this.flowsWithBuffers.delete(flow);
    if (!tornDown) return this.report(flow);
    const text = flowKeyText(key);
    this.forgetClosed(text);
    this.recentlyClosed.set(text, { closedAt: flow.lastTs, flow });
    if (this.recentlyClosed.size > this.maxRecentlyClosed) {
      const oldest = this.recentlyClosed.keys().next();
      if (!oldest.done) this.forgetClosed(oldest.value);
    }
  }

  /** A torn-down flow can take no more late packets: its totals are final. */
  private forgetClosed(key: string): void {
    const closed = this.recentlyClosed.get(key);
    if (!closed) return;
    this.recentlyClosed.delete(key);
    this.report(closed.flow);
  }

  private report(flow: TcpFlow): void {
    addFlow(this.closedTotals, flow);
    this.opts.onFlowClosed?.(flow);
  }
}

function emptyStats(): AssemblerStats {
  return {
    connections: 0,
    withHandshake: 0,
    withoutHandshake: 0,
    openFlows: 0,
    packets: [0, 0],
    payloadBytes: [0, 0],
    retransmittedBytes: 0,
    outOfOrderSegments: 0,
    gaps: 0,
    gapBytes: 0,
    bufferedBytes: 0,
    peakBufferedBytes: 0,
  };
}

function addFlow(out: AssemblerStats, flow: Flow): void {
  if (flow.handshake) out.withHandshake++;
  else out.withoutHandshake++;
  const stats = flow.stats;
  for (const dir of [0, 1] as const) {
    const d = stats[dir];
    out.packets[dir] += d.packets;
    out.payloadBytes[dir] += d.payloadBytes;
    out.retransmittedBytes += d.retransmittedBytes;
    out.outOfOrderSegments += d.outOfOrderSegments;
    out.gaps += d.gaps;
    out.gapBytes += d.gapBytes;
  }
}
