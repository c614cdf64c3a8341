import type { Counters } from '../util/counters.js';
import { MinHeap } from '../util/heap.js';
import type { Exchange } from '../protocols/types.js';
import type { TraceContextExtractor } from './context.js';
import { spanIdFrom, traceIdFromRequestId } from './ids.js';
import type { ServiceNamer } from './naming.js';
import { isErrorExchange } from './outcome.js';
import type { LinkRule, SpanNode, SpanRecord, TraceContext, TraceTree } from './types.js';

export interface CorrelatorOptions {
  counters: Counters;
  extractor: TraceContextExtractor;
  namer: ServiceNamer;
  /**
   * Packet time an exchange waits after its end for the exchange that caused it (its parent ends
   * later and is only reported then). Longer catches slower parents; shorter emits sooner and holds
   * less. Default 30 s.
   */
  lingerUs?: number;
  /** Slack when testing that a call lies inside its parent's window (clock steps, merged files). Default 1 ms. */
  toleranceUs?: number;
  /** A finished trace: every span in it, as a tree. */
  onTrace(tree: TraceTree): void;
}

/** An exchange waiting for its parent and for its trace to complete. */
interface Node {
  x: Exchange;
  ctx: TraceContext;
  /** End of the exchange, or of its request when no response was seen. */
  end: number;
  wireTraceId: string | null;
  /** Trace id from the wire, else from the request id: what rule 1 compares. */
  idTraceId: string | null;
  spanId: string;
  clientSpanId: string;
  parent: Node | null;
  children: Node[];
  link: LinkRule | null;
  decided: boolean;
  emitted: boolean;
}

/**
 * Stitches exchanges into traces.
 *
 * Parent linking (each link records the rule that made it): a call made by service S (its client ip is
 * S's address) is a child of an exchange into S whose window contains it and that (1) carries the same
 * trace id, else (2) the same request id, else (3) by timing alone: among the exchanges into S in
 * flight, those whose request had been fully received and whose response had not started yet are
 * preferred; if several remain, the most recently started one is chosen and the choice counted as
 * `correlate.timing-ambiguous`.
 *
 * Exchanges are held in packet time: an exchange is decided `linger` after its end (its parent, which
 * ends later, has been reported by then), or at once when an id rule finds its parent. A trace is
 * emitted when its root is decided. Memory is bounded by what happens within the linger window.
 */
export class Correlator {
  private readonly lingerUs: number;
  private readonly toleranceUs: number;
  private readonly pending = new MinHeap<Node>();
  /** Exchanges into each server ip, in arrival order, still able to be parents. */
  private readonly intoIp = new Map<string, Node[]>();
  private watermark = -Infinity;

  constructor(private readonly opts: CorrelatorOptions) {
    this.lingerUs = opts.lingerUs ?? 30_000_000;
    this.toleranceUs = opts.toleranceUs ?? 1000;
  }

  add(x: Exchange): void {
    const ctx = x.protocol === 'mysql'
      ? this.opts.extractor.fromSql(x.contextText ?? '')
      : this.opts.extractor.fromHeaders(x.requestHeaders, x.responseHeaders);
    const hostHint = 'host' in x.request ? x.request.host : 'authority' in x.request ? x.request.authority : null;
    this.opts.namer.observe(x.server, x.protocol, hostHint ?? null);
    const wireTraceId = ctx.traceId;
    const node: Node = {
      x,
      ctx,
      end: x.endUs ?? x.requestEndUs ?? x.startUs,
      wireTraceId,
      idTraceId: wireTraceId ?? (ctx.requestId ? traceIdFromRequestId(ctx.requestId) : null),
      spanId: wireSpanId(x, 'server'),
      clientSpanId: wireSpanId(x, 'client'),
      parent: null,
      children: [],
      link: null,
      decided: false,
      emitted: false,
    };
    let list = this.intoIp.get(x.server.ip);
    if (!list) this.intoIp.set(x.server.ip, (list = []));
    list.push(node);
    this.pending.push(node.end, node);
    this.opts.counters.add(`correlate.exchanges.${x.protocol}`);
  }

  /** Packet time has reached `ts`: decide and emit what can no longer change. */
  advance(ts: number): void {
    if (ts <= this.watermark) return;
    this.watermark = ts;
    this.drain(ts - this.lingerUs);
  }

  /** End of input: decide and emit everything. */
  finish(): void {
    this.drain(Infinity);
    this.intoIp.clear();
  }

  private drain(upTo: number): void {
    while (this.pending.size > 0 && this.pending.peekKey()! <= upTo) {
      const node = this.pending.pop()!;
      if (!node.decided) this.decide(node);
    }
    this.forget(upTo - this.lingerUs);
  }

  private decide(node: Node): void {
    node.decided = true;
    const found = this.findParent(node);
    if (found) {
      node.parent = found.parent;
      node.link = found.rule;
      found.parent.children.push(node);
      this.opts.counters.add(`correlate.links.${found.rule}`);
      return;
    }
    this.emitTree(node);
  }

  private findParent(node: Node): { parent: Node; rule: LinkRule } | null {
    const candidates = (this.intoIp.get(node.x.client.ip) ?? []).filter((p) => p !== node && !p.emitted && this.contains(p, node));
    if (candidates.length === 0) return null;
    if (node.wireTraceId) {
      const byTrace = candidates.filter((p) => p.idTraceId === node.wireTraceId);
      if (byTrace.length > 0) return { parent: this.latest(byTrace, 'trace'), rule: 'traceparent' };
    }
    if (node.ctx.requestId) {
      const byId = candidates.filter((p) => p.ctx.requestId === node.ctx.requestId);
      if (byId.length > 0) return { parent: this.latest(byId, 'request-id'), rule: 'request-id' };
    }
    // A call that carries ids but matches no exchange in flight is not guessed onto another one;
    // nor is connection setup/teardown (a pooled connection serves many requests).
    if (node.idTraceId || isConnectionLifecycle(node.x)) return null;
    const serving = candidates.filter((p) => this.whileServing(p, node));
    return { parent: this.tightest(serving.length > 0 ? serving : candidates, node), rule: 'timing' };
  }

  /**
   * Timing alone: the candidate whose handling fits the call most tightly (the least time between its
   * request arriving and the call, plus between the call's end and its response). A service usually
   * calls out right after reading a request and answers right after the call returns; a longer
   * request that merely overlaps leaves more slack.
   */
  private tightest(pool: Node[], child: Node): Node {
    if (pool.length > 1) this.opts.counters.add('correlate.timing-ambiguous');
    const slack = (p: Node): number =>
      Math.max(0, child.x.startUs - p.x.requestEndUs) + Math.max(0, (p.x.responseStartUs ?? p.end) - child.end);
    return pool.reduce((best, p) => (slack(p) < slack(best) ? p : best));
  }

  /** Same ids on several exchanges in flight (retries, fan-out): the most recently started one. */
  private latest(pool: Node[], rule: string): Node {
    if (pool.length > 1) this.opts.counters.add(`correlate.${rule}-ambiguous`);
    return pool.reduce((best, p) => (p.x.startUs > best.x.startUs ? p : best));
  }

  private contains(parent: Node, child: Node): boolean {
    const tol = this.toleranceUs;
    const parentEnd = parent.x.endUs ?? Infinity;
    return parent.x.startUs - tol <= child.x.startUs && child.end <= parentEnd + tol;
  }

  /** The call happened after the parent's request was received and before its response began. */
  private whileServing(parent: Node, child: Node): boolean {
    const tol = this.toleranceUs;
    const responseStart = parent.x.responseStartUs ?? Infinity;
    return parent.x.requestEndUs - tol <= child.x.startUs && child.end <= responseStart + tol;
  }

  private emitTree(root: Node): void {
    const rootTraceId = root.idTraceId ?? root.spanId.padStart(32, '0');
    const build = (node: Node, inherited: string): SpanNode => {
      node.emitted = true;
      const traceId = node.idTraceId ?? inherited;
      node.children.sort((a, b) => a.x.startUs - b.x.startUs);
      return { span: this.toRecord(node, traceId), children: node.children.map((c) => build(c, traceId)) };
    };
    const tree = build(root, rootTraceId);
    const spans = countSpans(tree);
    this.opts.counters.add('correlate.traces');
    this.opts.onTrace({ traceId: rootTraceId, startUs: root.x.startUs, endUs: root.x.endUs, spans, root: tree });
  }

  private toRecord(node: Node, traceId: string): SpanRecord {
    const { x, ctx } = node;
    const namer = this.opts.namer;
    const notes = [...x.notes];
    if (ctx.invalid.length > 0) notes.push(`invalid trace context ignored: ${ctx.invalid.join(', ')}`);
    if (node.parent && node.parent.idTraceId === null && node.wireTraceId && node.wireTraceId !== traceId) {
      notes.push('trace id on the wire differs from the parent');
    }
    return {
      protocol: x.protocol,
      client: x.client,
      server: x.server,
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
      peerService: namer.clientName(x.client),
      serviceKind: namer.serverKind(x.server),
      peerServiceKind: namer.clientKind(x.client),
      link: node.link,
      traceContextSource: ctx.source,
      error: isErrorExchange(x),
      bytes: x.bytes,
      notes,
    };
  }

  /** Drop emitted exchanges that can no longer be anyone's parent. */
  private forget(before: number): void {
    for (const [ip, list] of this.intoIp) {
      let keep = 0;
      while (keep < list.length && list[keep]!.emitted && list[keep]!.end < before) keep++;
      if (keep > 0) list.splice(0, keep);
      if (list.length === 0) this.intoIp.delete(ip);
    }
  }
}

/**
 * Span ids come from what both ends of a connection see: the 4-tuple, the request's position on it
 * (TCP sequence number of its first byte, or the HTTP/2 stream id) and the span kind. Two capture
 * hosts on the same connection therefore compute the same ids (docs/ids.md).
 */
function wireSpanId(x: Exchange, kind: 'client' | 'server'): string {
  const position = x.streamId !== null ? `s${x.streamId}` : x.requestSeq !== null ? `q${x.requestSeq}` : `c${x.connectionId}i${x.index}`;
  return spanIdFrom([x.client.ip, x.client.port, x.server.ip, x.server.port, position, kind]);
}

/** MySQL login and quit belong to a pooled connection, not to the request that happened to be running. */
function isConnectionLifecycle(x: Exchange): boolean {
  return x.protocol === 'mysql' && ['LOGIN', 'QUIT'].includes((x.request as { command: string }).command);
}

function countSpans(node: SpanNode): number {
  return node.children.reduce((n, c) => n + countSpans(c), 1);
}
