import type { Counters } from '../util/counters.js';
import { MinHeap } from '../util/heap.js';
import type { Exchange, HeaderField } from '../protocols/types.js';
import type { Endpoint } from '../tcp/types.js';
import type { TraceContextExtractor } from './context.js';
import { spanIdFromText, traceIdFromRequestId } from './ids.js';
import type { ServiceNamer } from './naming.js';
import { isErrorExchange } from './outcome.js';
import { ParentLinker, type LinkNode } from './linking.js';
import type { SpanNode, SpanRecord, TraceTree } from './types.js';

export interface CorrelatorOptions {
  counters: Counters;
  extractor: TraceContextExtractor;
  namer: ServiceNamer;
  /**
   * Most packet time an exchange waits after its end for the exchange that caused it (its parent ends
   * later and is only reported then). Longer catches slower parents; shorter emits sooner and holds
   * less. Default 30 s.
   */
  lingerUs?: number;
  /**
   * Least packet time an exchange waits after its end, even when `advance` says nothing that could
   * be its parent is in flight: room for what no stage reports yet (a protocol frame or packet
   * read in part). Default 1 s.
   */
  settleUs?: number;
  /** Slack when testing that a call lies inside its parent's window (clock steps, merged files). Default 1 ms. */
  toleranceUs?: number;
  /** A finished trace: every span in it, as a tree. */
  onTrace(tree: TraceTree): void;
}

/**
 * Stitches exchanges into traces.
 *
 * Parent linking (ParentLinker, docs/ids.md "Parent links"): a call made by service S (its client ip
 * is S's address) is a child of an exchange into S whose window contains it and that carries the same
 * trace id, else the same request id; a call without ids is linked by timing, the calls competing for
 * the same possible parents being assigned together in arrival order.
 *
 * Exchanges are held in packet time. An exchange is decided at least `settle` after its end, once
 * nothing that could change its decision is still in flight, as the stages say through `advance`:
 * no exchange into its client's address (a possible parent) nor into its server's (a call competing
 * with it for the same parents) that began before it ended; at the latest `linger` after its end.
 * Exchanges decided together are decided in the order they ended. A trace is emitted once its root is
 * decided and no call still undecided could join its tree (a call made by one of its servers during
 * that server's exchange). So a request that runs long holds back only the calls around its own
 * services, and memory follows what is in flight there, at most the linger window.
 */
export class Correlator {
  private readonly lingerUs: number;
  private readonly settleUs: number;
  private readonly toleranceUs: number;
  private readonly linker: ParentLinker;
  /** Exchanges added and not yet past their settle time, by end. */
  private readonly pending = new MinHeap<LinkNode>();
  /** Past their settle time, still waiting for what is in flight around them (end order). */
  private blocked: LinkNode[] = [];
  /** Decided roots whose trees an undecided call could still join. */
  private deferredRoots: LinkNode[] = [];
  /** Every exchange added and not yet emitted. */
  private readonly unemitted = new Set<LinkNode>();

  constructor(private readonly opts: CorrelatorOptions) {
    this.lingerUs = opts.lingerUs ?? 30_000_000;
    this.settleUs = Math.min(opts.settleUs ?? 1_000_000, this.lingerUs);
    this.toleranceUs = opts.toleranceUs ?? 1000;
    this.linker = new ParentLinker({ counters: opts.counters, toleranceUs: this.toleranceUs });
  }

  add(x: Exchange): void {
    const ctx = x.protocol === 'mysql'
      ? this.opts.extractor.fromSql(x.contextText ?? '')
      : this.opts.extractor.fromHeaders(x.requestHeaders, x.responseHeaders);
    const hostHint = 'host' in x.request ? x.request.host : 'authority' in x.request ? x.request.authority : null;
    this.opts.namer.observe(x.server, x.protocol, hostHint ?? null);
    const wireTraceId = ctx.traceId;
    const wire = wireSpanIdPrefix(x);
    const node: LinkNode = {
      x: withoutContextCarriers(x),
      ctx,
      end: x.endUs ?? x.requestEndUs ?? x.startUs,
      wireTraceId,
      idTraceId: wireTraceId ?? (ctx.requestId ? traceIdFromRequestId(ctx.requestId) : null),
      spanId: spanIdFromText(wire + 'server'),
      clientSpanId: spanIdFromText(wire + 'client'),
      parent: null,
      children: [],
      link: null,
      decided: false,
      emitted: false,
    };
    this.linker.add(node);
    this.pending.push(node.end, node);
    this.unemitted.add(node);
    this.opts.counters.add(`correlate.exchanges.${x.protocol}`);
  }

  /**
   * Packet time has reached `ts`; `inFlight` tells what began and was not reported yet: the start of
   * the oldest such exchange per server address (absent: none), or one start for every address
   * (-Infinity: unknown, so only the linger decides). Decides and emits what can no longer change.
   */
  advance(ts: number, inFlight: ReadonlyMap<string, number> | number = -Infinity): void {
    const settleEdge = ts - this.settleUs;
    while (this.pending.size > 0 && this.pending.peekKey()! <= settleEdge + this.toleranceUs) this.blocked.push(this.pending.pop()!);
    const into = typeof inFlight === 'number' ? (): number => inFlight : (ip: string): number => inFlight.get(ip) ?? Infinity;
    this.step(ts - this.lingerUs, settleEdge, into);
  }

  /** What the correlator holds now: exchanges not emitted yet, and exchanges indexed as possible parents. */
  get held(): { exchanges: number; indexed: number } {
    return { exchanges: this.unemitted.size, indexed: this.linker.indexed };
  }

  /** End of input: decide and emit everything. */
  finish(): void {
    while (this.pending.size > 0) this.blocked.push(this.pending.pop()!);
    this.step(Infinity, Infinity, () => Infinity);
    // Whatever a parent link left behind (a parent emitted before its child was decided) is emitted
    // on its own rather than lost.
    for (const node of this.unemitted) {
      if (node.emitted) continue;
      let top = node;
      while (top.parent && !top.parent.emitted) top = top.parent;
      if (top.parent) {
        top.parent = null;
        top.link = null;
        top.x.notes.push('parent emitted before this call was decided');
      }
      this.opts.counters.add('correlate.orphans-emitted');
      this.emitTree(top);
    }
    this.unemitted.clear();
    this.linker.clear();
  }

  /**
   * Decides the blocked exchanges nothing holds back any more (all of those that ended before
   * `lingerEdge`), then emits the decided roots whose trees are complete.
   */
  private step(lingerEdge: number, settleEdge: number, into: (ip: string) => number): void {
    if (this.blocked.length === 0 && this.deferredRoots.length === 0) return;
    const tol = this.toleranceUs;
    const due: LinkNode[] = [];
    const still: LinkNode[] = [];
    // Addresses found to be one host hold back each other's calls.
    const intoHost = (ip: string): number => {
      const ips = this.linker.addressesOf(ip);
      return ips.length === 1 ? into(ip) : Math.min(...ips.map(into));
    };
    for (const node of this.blocked) {
      const free = node.end <= settleEdge && node.end + tol < Math.min(intoHost(node.x.client.ip), intoHost(node.x.server.ip));
      (free || node.end <= lingerEdge ? due : still).push(node);
    }
    this.blocked = still;
    if (due.length > 0) {
      due.sort((a, b) => a.end - b.end);
      this.linker.decide(due);
    }
    const roots = this.deferredRoots;
    this.deferredRoots = [];
    for (const node of due) if (node.parent === null && !node.emitted) roots.push(node);
    if (roots.length === 0) return;
    const undecided = undecidedByCaller(still, (ip) => this.linker.hostOf(ip));
    for (const root of roots) {
      if (root.emitted) continue;
      if (root.end <= lingerEdge || !this.couldStillJoin(root, undecided)) this.emitTree(root);
      else this.deferredRoots.push(root);
    }
    // Emitted exchanges are never parents again: the index keeps only what is still undecided.
    this.linker.forget(Infinity);
  }

  /** Whether an undecided call was made by a server of this tree while that server was serving it. */
  private couldStillJoin(node: LinkNode, undecided: ReadonlyMap<string, LinkNode[]>): boolean {
    if (undecided.size === 0) return false;
    const tol = this.toleranceUs;
    for (const call of undecided.get(this.linker.hostOf(node.x.server.ip)) ?? []) {
      if (call.x.startUs <= node.end + tol && call.end >= node.x.startUs - tol) return true;
    }
    return node.children.some((child) => this.couldStillJoin(child, undecided));
  }

  private emitTree(root: LinkNode): void {
    const rootTraceId = root.idTraceId ?? idTraceIdBelow(root) ?? root.spanId.padStart(32, '0');
    // A trace is a tree: a call keeps the trace id its wire context gave, else takes its parent's
    // (one derived from its own request id would cut the tree where a gateway made up a new id).
    const build = (node: LinkNode, traceId: string, parentTraceId: string | null): SpanNode => {
      node.emitted = true;
      this.unemitted.delete(node);
      this.linker.release(node);
      node.children.sort((a, b) => a.x.startUs - b.x.startUs);
      return {
        span: this.toRecord(node, traceId, parentTraceId),
        children: node.children.map((c) => build(c, c.wireTraceId ?? traceId, traceId)),
      };
    };
    const tree = build(root, rootTraceId, null);
    const spans = countSpans(tree);
    this.opts.counters.add('correlate.traces');
    this.opts.onTrace({ traceId: rootTraceId, startUs: root.x.startUs, endUs: root.x.endUs, spans, root: tree });
  }

  /** The server endpoint that made this call: its parent's, else its connection's caller (linking-callers.ts). */
  private callerOf(node: LinkNode): Endpoint | null {
    if (node.parent) return node.parent.x.server;
    const verdict = this.linker.callerOf(node.x);
    return verdict === null || verdict === 'none' || verdict.servers.length > 1 ? null : verdict.servers[0]!;
  }

  private toRecord(node: LinkNode, traceId: string, parentTraceId: string | null): SpanRecord {
    const { x, ctx } = node;
    const namer = this.opts.namer;
    const notes = [...x.notes];
    if (ctx.invalid.length > 0) notes.push(`invalid trace context ignored: ${ctx.invalid.join(', ')}`);
    if (parentTraceId !== null && traceId !== parentTraceId) notes.push('trace id on the wire differs from the parent');
    return {
      protocol: x.protocol,
      client: x.client,
      server: x.server,
      originalClient: x.originalClient ?? null,
      dialedServer: x.dialedServer ?? null,
      tls: x.tls ?? null,
      connectionId: x.connectionId,
      index: x.index,
      streamId: x.streamId,
      requestSeq: x.requestSeq,
      startUs: x.startUs,
      endUs: x.endUs,
      durationUs: x.endUs === null ? null : x.endUs - x.startUs,
      request: x.request,
      response: x.response,
      requestId: ctx.requestId,
      traceId,
      spanId: node.spanId,
      clientSpanId: node.clientSpanId,
      parentSpanId: node.parent?.spanId ?? ctx.parentSpanId,
      service: namer.serverName(x.server),
      peerService: namer.clientName(x.client, x.server, this.callerOf(node)),
      serviceKind: namer.serverKind(x.server),
      peerServiceKind: namer.clientKind(x.client),
      link: node.link,
      traceContextSource: ctx.source,
      sampled: ctx.sampled,
      tracestate: ctx.tracestate,
      error: isErrorExchange(x),
      bytes: x.bytes,
      notes,
    };
  }
}

/**
 * The trace id of the shallowest, then earliest, exchange under `root` that has one of its own. A
 * root without ids whose calls carry one (a gateway that makes up the request id it sends
 * upstream) belongs to that trace, so the caller's request and everything below it are one trace.
 */
function idTraceIdBelow(root: LinkNode): string | null {
  for (let level = root.children; level.length > 0; level = level.flatMap((node) => node.children)) {
    let first: LinkNode | null = null;
    for (const node of level) if (node.idTraceId !== null && (first === null || node.x.startUs < first.x.startUs)) first = node;
    if (first) return first.idTraceId;
  }
  return null;
}

/** Undecided exchanges by the host of their caller. */
function undecidedByCaller(nodes: readonly LinkNode[], hostOf: (ip: string) => string): Map<string, LinkNode[]> {
  const byHost = new Map<string, LinkNode[]>();
  for (const node of nodes) {
    if (node.decided) continue;
    const host = hostOf(node.x.client.ip);
    let list = byHost.get(host);
    if (!list) byHost.set(host, (list = []));
    list.push(node);
  }
  return byHost;
}

/**
 * Span ids come from what both ends of a connection see: the 4-tuple, the request's position on it
 * (TCP sequence number of its first byte, or the HTTP/2 stream id) and the span kind. Two capture
 * hosts on the same connection therefore compute the same ids (docs/ids.md). This is the id's text up
 * to the kind, which the caller appends (`server` or `client`).
 */
function wireSpanIdPrefix(x: Exchange): string {
  const position = x.streamId !== null ? `s${x.streamId}` : x.requestSeq !== null ? `q${x.requestSeq}` : `c${x.connectionId}i${x.index}`;
  // spanIdFrom([client ip, client port, server ip, server port, position, kind]) without the kind.
  return `${x.client.ip}:${x.client.port}:${x.server.ip}:${x.server.port}:${position}:`;
}

/**
 * The exchange as the correlator holds it for the linger: the header arrays and the SQL text have
 * been read for trace context and nothing after needs them, yet they are most of an exchange's
 * memory (~1.4 KiB of a bench HTTP exchange), and every young-generation GC copies what is held.
 */
function withoutContextCarriers(x: Exchange): Exchange {
  return { ...x, requestHeaders: NO_HEADERS, responseHeaders: NO_HEADERS, contextText: null };
}

/** Shared and frozen: nothing adds to the headers of a held exchange. */
const NO_HEADERS = Object.freeze([]) as unknown as HeaderField[];

function countSpans(node: SpanNode): number {
  return node.children.reduce((n, c) => n + countSpans(c), 1);
}
