import type { CapturedPacket, PacketSource } from './capture/types.js';
import { PacketDecoder } from './decode/decoder.js';
import { TcpAssembler } from './tcp/assembler.js';
import type { Flow, StreamFactory, StreamHandler } from './tcp/types.js';
import { ProtocolDispatcher, type UnanalysedConnection } from './protocols/registry.js';
import type { TlsKeyLog } from './protocols/tls/keylog.js';
import { UnanalysedSummary, type UnanalysedGroup } from './protocols/unanalysed.js';
import { readDnsAnswer } from './protocols/dns/answers.js';
import type { Exchange, ProtocolAnalyzer, ProtocolName } from './protocols/types.js';
import { TraceContextExtractor } from './correlate/context.js';
import { Correlator } from './correlate/correlator.js';
import { ServiceNamer, endpointKey } from './correlate/naming.js';
import { ServiceMapBuilder, type ServiceMap } from './correlate/service-map.js';
import { StartOrderBuffer, byStart } from './correlate/start-order.js';
import type { SpanRecord, TraceTree } from './correlate/types.js';
import { Counters } from './util/counters.js';
import { linkTypeName } from './capture/linktypes.js';
import type { CaptureTotals, FlowRecord, TcpTotals } from './export/stats.js';

export type { CaptureTotals, FlowRecord, TcpTotals } from './export/stats.js';

export interface PipelineOptions {
  /** Protocol analyzers; an empty list tracks TCP only (what `stats` needs). */
  analyzers: readonly ProtocolAnalyzer[];
  counters?: Counters;
  /** `--port http=8080`: server ports whose protocol is known without detection. */
  portHints?: ReadonlyMap<number, ProtocolName>;
  /** `--tls-keylog`: secrets of TLS sessions to decrypt and analyse. */
  tlsKeys?: TlsKeyLog;
  /** Live capture: TLS secrets may be written after the capture saw the session begin (DispatcherOptions). */
  waitForTlsSecrets?: boolean;
  /** Request-id header names, in order of preference (default X-Request-ID, X-Correlation-ID, Request-Id). */
  requestIdHeaders?: string[];
  /** `--names`: ip, ip:port or CIDR → service name. */
  names?: Record<string, string>;
  /** Most packet time (µs) an exchange waits for its parent to be reported. Default 30 s. */
  lingerUs?: number;
  /** Least packet time (µs) an exchange waits after its end before it is decided. Default 1 s. */
  settleUs?: number;
  /**
   * Slack (µs) when testing that a call lies within its parent: captures from several hosts whose
   * clocks differ need as much as the difference. Default 1 ms.
   */
  toleranceUs?: number;
  idleTimeoutUs?: number;
  maxBufferedBytesPerConnection?: number;
  maxBufferedBytesTotal?: number;
  /** Open TCP connections tracked at most (default 250 000); beyond, the least recently active are flushed. */
  maxOpenFlows?: number;
  /** Keep a record of every TCP connection (conn.log style) for `stats --flows`. */
  keepFlows?: boolean;
  /** Every exchange as an analyzer completes it, before correlation. */
  onExchange?(exchange: Exchange): void;
  /** Every span, in start order once packet time is `settleUs` + 0.5 s past its start (StartOrderBuffer). */
  onSpan?(span: SpanRecord): void;
  /** Every trace as the correlator completes it. */
  onTrace?(tree: TraceTree): void;
}

const DNS_PORT = 53;
const NOTHING_IN_FLIGHT: ReadonlyMap<string, number> = new Map();

/** How often (packet time) the correlator is told that time has passed. */
const ADVANCE_EVERY_US = 100_000;
/**
 * A span is decided at least `settle` after its end; held this much longer past its start, the
 * spans of calls started together come out in start order even when their traces completed some
 * correlator steps apart. It costs holding this much packet time of short calls.
 */
const SPAN_ORDER_SLACK_US = 500_000;

/**
 * The whole analysis without the CLI: packets in; exchanges, spans, traces and the service map out.
 * source → decode → tcp → protocols → correlate, driven one packet at a time, all time from packets.
 */
export class Pipeline {
  readonly counters: Counters;
  readonly serviceMap = new ServiceMapBuilder();
  private readonly decoder: PacketDecoder;
  private readonly assembler: TcpAssembler;
  private readonly correlator: Correlator;
  private readonly dispatcher: ProtocolDispatcher | null;
  private readonly unanalysed: UnanalysedSummary;
  private readonly namer: ServiceNamer;
  private readonly flows: FlowRecord[] = [];
  private readonly totals: CaptureTotals = {
    packets: 0,
    bytes: 0,
    firstPacketUs: null,
    lastPacketUs: null,
    linkTypes: {},
    network: {},
    transport: {},
    malformed: {},
    truncatedPackets: 0,
    tunnelled: {},
  };
  private readonly tcp: TcpTotals = {
    connections: 0,
    withHandshake: 0,
    withoutHandshake: 0,
    packets: { client: 0, server: 0 },
    payloadBytes: { client: 0, server: 0 },
    retransmittedBytes: { client: 0, server: 0 },
    copies: { client: 0, server: 0 },
    outOfOrderSegments: { client: 0, server: 0 },
    gaps: { client: 0, server: 0 },
    gapBytes: { client: 0, server: 0 },
    endings: {},
  };
  private readonly linkTypeCounts = new Map<number, number>();
  private readonly linkTypeRuns = new RunCounter<number>((dlt, n) => this.linkTypeCounts.set(dlt, (this.linkTypeCounts.get(dlt) ?? 0) + n));
  private readonly networkRuns = new RunCounter<string>((key, n) => bump(this.totals.network, key, n));
  private readonly transportRuns = new RunCounter<string>((key, n) => bump(this.totals.transport, key, n));
  private lastAdvance = -Infinity;
  private lastTs = 0;
  /** Traces completed by the correlator step running now (see decide). */
  private completed: TraceTree[] | null = null;
  private readonly spansInOrder: StartOrderBuffer;

  constructor(private readonly opts: PipelineOptions) {
    const counters = (this.counters = opts.counters ?? new Counters());
    this.decoder = new PacketDecoder({ counters });
    this.spansInOrder = new StartOrderBuffer((opts.settleUs ?? 1_000_000) + SPAN_ORDER_SLACK_US);
    this.unanalysed = new UnanalysedSummary(counters);
    const namer = (this.namer = new ServiceNamer(opts.names ?? {}));
    this.correlator = new Correlator({
      counters,
      namer,
      extractor: new TraceContextExtractor({ counters, requestIdHeaders: opts.requestIdHeaders }),
      lingerUs: opts.lingerUs,
      settleUs: opts.settleUs,
      toleranceUs: opts.toleranceUs,
      onTrace: (tree) => this.traceDone(tree),
    });
    this.dispatcher =
      opts.analyzers.length > 0
        ? new ProtocolDispatcher({
            analyzers: opts.analyzers,
            counters,
            portHints: opts.portHints,
            tlsKeys: opts.tlsKeys,
            waitForTlsSecrets: opts.waitForTlsSecrets,
            emit: (x) => {
              opts.onExchange?.(x);
              this.correlator.add(x);
            },
            onUnanalysed: (c) => this.connectionUnanalysed(c),
          })
        : null;
    const factory: StreamFactory = this.dispatcher ?? { open: () => IGNORE_STREAM };
    const serverPorts = new Set<number>();
    for (const a of opts.analyzers) for (const p of a.defaultPorts) serverPorts.add(p);
    for (const p of opts.portHints?.keys() ?? []) serverPorts.add(p);
    this.assembler = new TcpAssembler({
      factory,
      counters,
      serverPorts,
      idleTimeoutUs: opts.idleTimeoutUs,
      maxBufferedBytesPerConnection: opts.maxBufferedBytesPerConnection,
      maxBufferedBytesTotal: opts.maxBufferedBytesTotal,
      maxOpenFlows: opts.maxOpenFlows,
      onFlowClosed: (flow) => this.flowClosed(flow),
    });
  }

  packet(p: CapturedPacket): void {
    const t = this.totals;
    t.packets++;
    t.bytes += p.data.length;
    if (t.firstPacketUs === null || p.ts < t.firstPacketUs) t.firstPacketUs = p.ts;
    if (t.lastPacketUs === null || p.ts > t.lastPacketUs) t.lastPacketUs = p.ts;
    this.linkTypeRuns.add(p.linkType);
    const d = this.decoder.decode(p);
    if (!d.ok) {
      if (d.failure !== 'ip-fragment-pending') bump(t.malformed, d.failure ?? 'unknown');
      else this.networkRuns.add('fragments-held');
      return;
    }
    if (d.truncated) t.truncatedPackets++;
    if (d.tunnel) bump(t.tunnelled, d.tunnel);
    this.networkRuns.add(d.network);
    if (d.transport) this.transportRuns.add(d.transport);
    if (d.transport === 'tcp') this.assembler.segment(d, p.ts);
    else if (d.transport === 'udp' && d.srcPort === DNS_PORT && this.dispatcher) this.learnNames(d.payload);
    if (p.ts > this.lastTs) this.lastTs = p.ts;
    if (p.ts - this.lastAdvance >= ADVANCE_EVERY_US) {
      this.lastAdvance = p.ts;
      this.decide(p.ts, () => this.correlator.advance(p.ts, this.inFlight()));
    }
  }

  /**
   * Live capture: no packet has come for a while and the clock (same epoch as packet times) reads
   * `nowUs`; the correlator may decide what has lingered long enough, so output does not stall.
   */
  tick(nowUs: number): void {
    if (nowUs > this.lastTs) this.decide(nowUs, () => this.correlator.advance(nowUs, this.inFlight()));
  }

  /** A DNS answer names the addresses it gives after the name that was asked. */
  private learnNames(payload: Uint8Array): void {
    const answer = readDnsAnswer(payload);
    if (!answer) return;
    this.counters.add('dns.answers');
    for (const ip of answer.addresses) {
      if (!this.namer.learnDnsName(ip, answer.name)) this.counters.add('dns.names-not-kept');
    }
  }

  /**
   * Per server address, the start of the oldest exchange begun and not reported yet. Bytes still
   * waiting behind a TCP hole need no watch: what they begin starts when they are delivered
   * (docs/formats.md), after now.
   */
  private inFlight(): ReadonlyMap<string, number> {
    return this.dispatcher === null ? NOTHING_IN_FLIGHT : this.dispatcher.inFlightByServerIp();
  }

  /** End of input: flush connections, decide every pending exchange, emit the last traces. */
  finish(): AnalysisResult {
    this.decoder.flush();
    this.assembler.finish(this.lastTs);
    this.decide(Infinity, () => this.correlator.finish());
    this.linkTypeRuns.flush();
    this.networkRuns.flush();
    this.transportRuns.flush();
    for (const [dlt, n] of this.linkTypeCounts) this.totals.linkTypes[linkTypeName(dlt)] = n;
    return {
      totals: this.totals,
      tcp: this.tcp,
      counters: this.counters,
      serviceMap: this.serviceMap.build(),
      flows: this.flows.sort((a, b) => a.id - b.id),
      unanalysed: this.unanalysed.list(),
    };
  }

  private flowClosed(flow: Flow): void {
    const t = this.tcp;
    t.connections++;
    if (flow.handshake) t.withHandshake++;
    else t.withoutHandshake++;
    const sides = ['client', 'server'] as const;
    for (const dir of [0, 1] as const) {
      const st = flow.stats[dir];
      const side = sides[dir];
      t.packets[side] += st.packets;
      t.payloadBytes[side] += st.payloadBytes;
      t.retransmittedBytes[side] += st.retransmittedBytes;
      t.copies[side] += st.copies;
      t.outOfOrderSegments[side] += st.outOfOrderSegments;
      t.gaps[side] += st.gaps;
      t.gapBytes[side] += st.gapBytes;
    }
    bump(t.endings, flow.ended[0] === 'rst' || flow.ended[1] === 'rst' ? 'rst' : (flow.ended[0] ?? flow.ended[1] ?? 'open'));
    if (this.opts.keepFlows) this.flows.push(flowRecord(flow));
  }

  /**
   * Runs a correlator step at packet time `ts` (Infinity: the end), hands on the traces it completed
   * (in the order of their roots' starts) and the spans that are due, in start order (StartOrderBuffer).
   */
  private decide(ts: number, step: () => void): void {
    const trees: TraceTree[] = [];
    this.completed = trees;
    try {
      step();
    } finally {
      this.completed = null;
    }
    const visit = (node: TraceTree['root']): void => {
      this.spansInOrder.add(node.span);
      for (const child of node.children) visit(child);
    };
    for (const tree of trees) visit(tree.root);
    this.spansInOrder.release(ts, (span) => {
      this.serviceMap.add(span);
      this.opts.onSpan?.(span);
    });
    if (this.opts.onTrace) for (const tree of trees.sort((a, b) => byStart(a.root.span, b.root.span))) this.opts.onTrace(tree);
  }

  /** Not analysed: tallied for the report; a TLS connection also goes on the map (who calls whom over TLS). */
  private connectionUnanalysed(c: UnanalysedConnection): void {
    this.unanalysed.add(c);
    const h = c.handshake;
    if (c.kind !== 'tls' || !h || !c.client) return;
    if (c.serverName) this.namer.observeServerName(c.server, c.serverName);
    this.serviceMap.addTlsConnection({
      source: { name: this.namer.clientName(c.client, c.server), address: c.client.ip, kind: this.namer.clientKind(c.client) },
      target: { name: this.namer.serverName(c.server), address: endpointKey(c.server), kind: this.namer.serverKind(c.server) },
      failed: h.failure !== null,
      helloMs: h.helloUs === null ? null : h.helloUs / 1000,
      bytes: h.bytes,
    });
  }

  private traceDone(tree: TraceTree): void {
    if (this.completed === null) throw new Error('a trace completed outside a correlator step');
    this.completed.push(tree);
  }
}

export interface AnalysisResult {
  totals: CaptureTotals;
  tcp: TcpTotals;
  counters: Counters;
  serviceMap: ServiceMap;
  flows: FlowRecord[];
  /** Connections no analyzer took (TLS, unknown protocols), most connections first. */
  unanalysed: UnanalysedGroup[];
}

/**
 * Runs a packet source through a pipeline to the end, or until `signal` aborts: then what was read so
 * far is finished as if the input ended there (`interrupted` says so). `onProgress` gets the packet
 * count per batch.
 */
export async function analyze(
  source: PacketSource,
  opts: PipelineOptions,
  onProgress?: (packets: number, bytesRead: number) => void | Promise<void>,
  signal?: AbortSignal,
): Promise<AnalysisResult & { files: ReturnType<PacketSource['info']>; packetsRead: number; interrupted: boolean }> {
  const pipeline = new Pipeline(opts);
  let packets = 0;
  let bytes = 0;
  const iterator = source.batches()[Symbol.asyncIterator]();
  let interrupted = false;
  for (;;) {
    const next = signal ? await untilAborted(iterator.next(), signal) : await iterator.next();
    if (next === ABORTED) {
      interrupted = true;
      // A read may still be pending (stdin that sends nothing): the source closes when it settles.
      void iterator.return?.(undefined)?.catch(() => undefined);
      break;
    }
    if (next.done) break;
    const batch = next.value;
    for (const p of batch) {
      pipeline.packet(p);
      bytes += p.data.length + 16;
    }
    packets += batch.length;
    await onProgress?.(packets, bytes);
  }
  return { ...pipeline.finish(), files: source.info(), packetsRead: packets, interrupted };
}

const ABORTED = Symbol('aborted');

/**
 * `next`, or ABORTED if the signal fires first. A fresh listener per call, removed when `next`
 * settles: racing every read against one long-lived abort promise would keep every batch read
 * reachable from that promise's reactions (the whole capture in memory).
 */
function untilAborted<T>(next: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    next.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

const IGNORE_STREAM: StreamHandler = { data() {}, gap() {}, end() {}, close() {} };

function bump(record: Record<string, number>, key: string, n = 1): void {
  record[key] = (record[key] ?? 0) + n;
}

/**
 * Counts keys as `addTo(key, 1)` per key would, in the same first-seen order, but a run of one key
 * (most packets are like the one before) costs a comparison: the run is added when another key comes
 * or on flush.
 */
class RunCounter<K> {
  private key: K | undefined;
  private run = 0;

  constructor(private readonly addTo: (key: K, n: number) => void) {}

  add(key: K): void {
    if (this.run > 0 && key === this.key) {
      this.run++;
      return;
    }
    this.flush();
    this.key = key;
    this.run = 1;
  }

  flush(): void {
    if (this.run > 0) this.addTo(this.key as K, this.run);
    this.run = 0;
  }
}

function flowRecord(flow: Flow): FlowRecord {
  const [c, s] = flow.stats;
  return {
    id: flow.id,
    client: { ...flow.client },
    server: { ...flow.server },
    handshake: flow.handshake,
    startUs: flow.startTs,
    endUs: flow.lastTs,
    packets: { client: c.packets, server: s.packets },
    payloadBytes: { client: c.payloadBytes, server: s.payloadBytes },
    retransmittedBytes: { client: c.retransmittedBytes, server: s.retransmittedBytes },
    copies: { client: c.copies, server: s.copies },
    gapBytes: { client: c.gapBytes, server: s.gapBytes },
    ended: { client: flow.ended[0], server: flow.ended[1] },
  };
}
