import type { Counters } from '../util/counters.js';
import type { Exchange, GrpcResponseInfo, MysqlRequestInfo } from '../protocols/types.js';
import { CallerEvidence, type CallerVerdict } from './linking-callers.js';
import { HostGroups, isLoopback } from './linking-hosts.js';
import { IntervalIndex } from './linking-intervals.js';
import { assignInArrivalOrder } from './linking-matching.js';
import { CallPatterns, calleeOf, operationOf } from './linking-patterns.js';
import { IdRewriters } from './linking-rewriters.js';
import { callValues, requestValues } from './linking-values.js';
import type { LinkRule, TraceContext } from './types.js';

/** An exchange held by the correlator: what parent linking reads and writes. */
export interface LinkNode {
  x: Exchange;
  ctx: TraceContext;
  /** End of the exchange, or of its request when no response was seen. */
  end: number;
  wireTraceId: string | null;
  /** Trace id from the wire, else from the request id: what the id rules compare. */
  idTraceId: string | null;
  spanId: string;
  clientSpanId: string;
  parent: LinkNode | null;
  children: LinkNode[];
  link: LinkRule | null;
  decided: boolean;
  emitted: boolean;
}

export interface ParentLinkerOptions {
  counters: Counters;
  /** Slack when no exchange strictly contains a call (clock steps, merged files). */
  toleranceUs: number;
  /** Most calls decided together in one timing batch. Default 128. */
  maxBatch?: number;
  /** Most distinct operations remembered for call patterns. Default 4096. */
  maxOperations?: number;
}

/** A call decided by timing: one exchange, or a prepared statement and the commands that continue it. */
interface TimingCall {
  head: LinkNode;
  members: LinkNode[];
  op: string;
  callee: string;
  /** Possible parents, earliest-arrived first, as found in decision round `round`. */
  parents: LinkNode[];
  round: number;
  /** The same after the learned preferences (null until ranked in this round). */
  pool: LinkNode[] | null;
  /** The learned patterns narrowed the pool. */
  narrowed: boolean;
  observed: boolean;
  /** Its possible parents have told which endpoint on the caller's ip makes its connection's calls. */
  evidenced: boolean;
  /** The windows containing it (see containing), as found at `epoch`; dropped when its members change. */
  contained: Containing | null;
}

/** The exchanges into the caller containing a call, found with tolerance `tol`; the call's span. */
interface Containing {
  found: LinkNode[];
  /** For a call carrying ids that matched none: the exchanges around it that carried other ids. */
  withOtherIds: LinkNode[];
  tol: number;
  start: number;
  end: number;
  epoch: number;
}

/** A MySQL connection's transaction: the call its commands join until COMMIT / ROLLBACK. */
interface Session {
  open: TimingCall | null;
  autocommit: boolean;
}

/** MySQL connections whose transaction state is kept at once. */
const MAX_SESSIONS = 65_536;

/** An exchange in the index of possible parents: its whole window. */
interface Held {
  start: number;
  end: number;
  node: LinkNode;
}

/** Hosts asked whether one of theirs makes a loopback caller's calls. */
const MAX_HOSTS_ABROAD = 64;

/** Share of the calls of one operation at which a parent operation must have been in flight to be preferred. */
const CONSISTENT_PRESENCE = 0.95;

/**
 * Finds each exchange's parent (docs/ids.md, "Parent links"): by trace id, else request id, else by
 * timing. Timing decisions are made in batches: the calls from one service to one callee that
 * compete for the same possible parents are assigned together, one call per parent, in arrival order.
 */
export class ParentLinker {
  private readonly maxBatch: number;
  private readonly patterns: CallPatterns;
  private readonly callers: CallerEvidence;
  private readonly rewriters = new IdRewriters();
  /** Exchanges into each host (HostGroups key), still able to be parents. */
  private readonly intoHost = new Map<string, IntervalIndex<Held>>();
  private readonly hosts = new HostGroups();
  /** Server endpoints seen per host. */
  private readonly endpointsOf = new Map<string, Set<string>>();
  /** Undecided timing calls per caller host, by start. */
  private readonly waiting = new Map<string, TimingCall[]>();
  private readonly timingCall = new Map<LinkNode, TimingCall>();
  /** Last MySQL exchange per connection, for statement continuity. */
  private readonly lastOnConnection = new Map<number, LinkNode>();
  /** MySQL connections in a transaction or out of autocommit, for transaction continuity. */
  private readonly sessions = new Map<number, Session>();
  private readonly operations = new Map<LinkNode, string>();
  /** Values named in the targets of possible parents (linking-values.ts), computed when first asked. */
  private readonly targetValues = new Map<LinkNode, ReadonlySet<string>>();
  private round = 0;
  /** Changes with every round and every joining of hosts: what was found containing a call is stale. */
  private epoch = 0;

  constructor(private readonly opts: ParentLinkerOptions) {
    this.maxBatch = opts.maxBatch ?? 128;
    this.patterns = new CallPatterns({ counters: opts.counters, maxOperations: opts.maxOperations });
    this.callers = new CallerEvidence(
      (ip) => this.endpointsOf.get(this.hosts.keyOf(ip))?.size ?? 0,
      (ip) => this.hosts.keyOf(ip),
    );
  }

  /** The key of ip's host: addresses found to be one host share it (linking-hosts.ts). */
  hostOf(ip: string): string {
    return this.hosts.keyOf(ip);
  }

  /** The addresses of ip's host. */
  addressesOf(ip: string): readonly string[] {
    return this.hosts.addressesOf(ip);
  }

  /** Which endpoint on a shared address makes the calls of this exchange's connection, when known. */
  callerOf(x: Exchange): CallerVerdict {
    return this.callers.verdict(x);
  }

  add(node: LinkNode): void {
    this.patterns.count(this.op(node));
    const host = this.hosts.keyOf(node.x.server.ip);
    let into = this.intoHost.get(host);
    if (!into) this.intoHost.set(host, (into = new IntervalIndex<Held>()));
    into.add({ start: node.x.startUs, end: node.x.endUs ?? Infinity, node });
    let endpoints = this.endpointsOf.get(host);
    if (!endpoints) this.endpointsOf.set(host, (endpoints = new Set()));
    endpoints.add(calleeOf(node.x));
    const previous = node.x.protocol === 'mysql' ? this.lastOnConnection.get(node.x.connectionId) : undefined;
    if (node.x.protocol === 'mysql') this.lastOnConnection.set(node.x.connectionId, node);
    if (isConnectionLifecycle(node.x)) return;
    const continued = previous ? this.timingCall.get(previous) : undefined;
    const continues = previous && continued && (continuesStatement(previous.x, node.x) || checksOut(previous, continued));
    if (node.x.protocol !== 'mysql') {
      this.wait(node);
      return;
    }
    const step = transactionStep(node.x);
    const session = this.sessions.get(node.x.connectionId) ?? { open: null, autocommit: true };
    let call: TimingCall;
    if (continues) this.join((call = continued), node);
    else if (session.open && step !== 'begin' && !carriesIds(node)) this.join((call = session.open), node);
    else call = this.wait(node); // a statement with its own ids is linked by them, the transaction stays open
    if (step === 'begin') session.open = call;
    else if (step === 'end') session.open = null;
    else if (step === 'autocommit-on') session.autocommit = true;
    else if (step === 'autocommit-off') (session.autocommit = false), (session.open ??= call);
    else if (!session.autocommit) session.open ??= call;
    this.remember(node.x.connectionId, session);
  }

  /** A command that is one call with those before it (a statement, a transaction). */
  private join(call: TimingCall, node: LinkNode): void {
    this.timingCall.set(node, call);
    if (!call.head.decided) call.members.push(node);
    else this.inherit(call, node);
  }

  /** Keeps a connection's transaction state while it says something (bounded: the oldest goes first). */
  private remember(connectionId: number, session: Session): void {
    this.sessions.delete(connectionId);
    if (session.open === null && session.autocommit) return;
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    this.sessions.set(connectionId, session);
  }

  /** Decides the parent of every node in `due` (their parents have been added by now). */
  decide(due: readonly LinkNode[]): void {
    this.round++;
    this.epoch++;
    const timing: TimingCall[] = [];
    for (const node of due) {
      if (node.decided) continue;
      const call = this.timingCall.get(node);
      // A call waiting for timing may still carry a request id under a header name not read (byId).
      const found = !call || (call.head === node && call.members.length === 0) ? this.byId(node) : null;
      if (call && !found) {
        if (!call.head.decided) timing.push(call);
        else this.inherit(call, node);
        continue;
      }
      node.decided = true;
      if (!found) continue;
      this.rewriters.passesOn(found.parent.x.server);
      this.callers.observeId(node.x, found.parent.x);
      this.attach(node, found.parent, found.rule);
    }
    const dueNodes = new Set(due);
    for (const call of new Set(timing)) {
      if (call.members.length === 0 || this.possibleParents(call).length > 0) continue;
      // The statement was prepared outside any request (at connection setup): each piece alone.
      for (const member of call.members) {
        const own = this.wait(member);
        if (dueNodes.has(member)) timing.push(own);
      }
      call.members = [];
      call.contained = null; // it spanned the members too
    }
    const calls = [...new Set(timing)].sort(byStart);
    // Every call due is observed before any is ranked: what was in flight at each informs them all.
    // What every due call tells of who calls on its connection is known before any is narrowed by it.
    for (const call of calls) this.witness(call);
    for (const call of calls) this.prepare(call);
    const dueCalls = new Set(calls);
    for (const call of calls) if (!call.head.decided) this.decideBatch(this.batchAround(call), dueCalls);
  }

  /** Exchanges indexed as possible parents (held until they are emitted and forgotten). */
  get indexed(): number {
    let n = 0;
    for (const into of this.intoHost.values()) n += into.size;
    return n;
  }

  /** Drops what can no longer be anyone's parent or continue a statement. */
  forget(before: number): void {
    for (const [ip, into] of this.intoHost) {
      into.trim((held) => held.node.emitted && held.node.end < before);
      if (into.size === 0) this.intoHost.delete(ip);
    }
    for (const [ip, list] of this.waiting) {
      let done = 0;
      while (done < list.length && list[done]!.head.decided) done++;
      if (done > 0) list.splice(0, done);
      if (list.length === 0) this.waiting.delete(ip);
    }
  }

  /** The node was emitted: it can no longer be a parent nor continue a statement. */
  release(node: LinkNode): void {
    this.timingCall.delete(node);
    this.operations.delete(node);
    this.targetValues.delete(node);
    if (this.lastOnConnection.get(node.x.connectionId) === node) this.lastOnConnection.delete(node.x.connectionId);
  }

  clear(): void {
    this.intoHost.clear();
    this.hosts.clear();
    this.endpointsOf.clear();
    this.waiting.clear();
    this.timingCall.clear();
    this.lastOnConnection.clear();
    this.sessions.clear();
    this.operations.clear();
    this.targetValues.clear();
    this.callers.clear();
    this.rewriters.clear();
  }

  /**
   * The parent by trace id, else by request id. A request id may also sit under a header name the
   * capture could not read (HPACK): when one of the call's unnamed values is the request id of an
   * exchange into the caller that contains it, that is the call's request id too (an id of eight
   * characters or more does not recur by chance).
   */
  private byId(node: LinkNode): { parent: LinkNode; rule: LinkRule } | null {
    const unnamed = node.idTraceId === null && node.ctx.requestId === null ? node.ctx.unnamedValues : [];
    if (isConnectionLifecycle(node.x) || (!node.wireTraceId && !node.ctx.requestId && unnamed.length === 0)) return null;
    const candidates = this.candidates(node, [node], node.x.startUs, node.end, true);
    const found = this.byWireIds(node, candidates) ?? this.byIdAbroad(node);
    if (found) return found;
    const byUnnamed = candidates.filter((p) => p.ctx.requestId !== null && unnamed.includes(p.ctx.requestId));
    if (byUnnamed.length === 0) return null;
    const parent = this.latest(byUnnamed, 'request-id');
    const from = node.ctx.unnamedFrom[unnamed.indexOf(parent.ctx.requestId!)] ?? null;
    node.ctx.requestId = parent.ctx.requestId;
    node.ctx.requestIdSource = from ?? 'header name unknown';
    node.x.notes.push(from === null ? 'request id found under a header name the capture could not read' : `request id found in ${from}`);
    this.opts.counters.add('correlate.unnamed-request-ids');
    return { parent, rule: 'request-id' };
  }

  /**
   * A loopback call whose ids match an exchange into another, not loopback, address that contains it:
   * a server on the host's own address made it (nginx passing X-Request-ID to its upstream on
   * 127.0.0.1), so that address is the same host.
   */
  private byIdAbroad(node: LinkNode): { parent: LinkNode; rule: LinkRule } | null {
    if (!isLoopback(node.x.client.ip) || (!node.wireTraceId && !node.ctx.requestId)) return null;
    const found = this.byWireIds(node, this.abroad(node, node.x.startUs, node.end));
    if (found) this.sameHost(node.x.client.ip, found.parent.x.server.ip);
    return found;
  }

  /** Among `pool`, the exchange with the call's trace id, else with its request id. */
  private byWireIds(node: LinkNode, pool: LinkNode[]): { parent: LinkNode; rule: LinkRule } | null {
    if (node.wireTraceId) {
      const byTrace = pool.filter((p) => p.idTraceId === node.wireTraceId);
      if (byTrace.length > 0) return { parent: this.latest(holdingStrictly(byTrace, node), 'trace'), rule: 'traceparent' };
    }
    if (node.ctx.requestId) {
      const byId = pool.filter((p) => p.ctx.requestId === node.ctx.requestId);
      if (byId.length > 0) return { parent: this.latest(holdingStrictly(byId, node), 'request-id'), rule: 'request-id' };
    }
    return null;
  }

  /** Same ids on several exchanges in flight (retries, fan-out): the most recently started one. */
  private latest(pool: LinkNode[], rule: string): LinkNode {
    if (pool.length > 1) this.opts.counters.add(`correlate.${rule}-ambiguous`);
    return pool.reduce((best, p) => (p.x.startUs > best.x.startUs ? p : best));
  }

  /**
   * Exchanges into the caller, not yet emitted, whose window contains [start, end] and that last at
   * least as long. An exchange into
   * the very endpoint the call goes to is not its parent: on one host (loopback, or clients and
   * servers sharing an address) concurrent requests to one server would otherwise parent each other.
   */
  private candidates(node: LinkNode, exclude: LinkNode[], start: number, end: number, tolerant: boolean): LinkNode[] {
    const into = this.intoHost.get(this.hosts.keyOf(node.x.client.ip));
    if (!into) return [];
    const found: LinkNode[] = [];
    const { ip, port } = node.x.server;
    const duration = end - start;
    for (const held of into.containing(start, end, tolerant ? this.opts.toleranceUs : 0)) {
      const p = held.node;
      if (p.emitted || (p.x.server.port === port && p.x.server.ip === ip) || exclude.includes(p)) continue;
      // Within the tolerance, a shorter exchange could "contain" a longer one; a parent never lasts less.
      if (p.end - p.x.startUs < duration) continue;
      found.push(p);
    }
    return found;
  }

  /**
   * The possible parents of a timing call, earliest-arrived first: exchanges containing the whole call
   * (strictly, else within the tolerance), into the endpoint that makes the calls of its connection
   * when the caller's host serves on several (linking-callers.ts); those serving when the call began
   * (request received, response not started) when there are any.
   */
  private possibleParents(call: TimingCall): LinkNode[] {
    const { found: withoutIds, withOtherIds, tol, start } = this.containing(call);
    const found = withOtherIds.length === 0 ? withoutIds : [...withoutIds, ...withOtherIds.filter((p) => this.rewriters.rewrites(p.x.server))];
    const mine = this.byCaller(call, found);
    const serving = mine.filter((p) => p.x.requestEndUs - tol <= start && start <= servingUntil(p) + tol);
    return (serving.length > 0 ? serving : mine).sort(byArrival);
  }

  /**
   * The exchanges into the caller containing the whole call, strictly, else within the tolerance
   * (`tol`); for a call carrying ids that matched none, only those that carried none (the others
   * apart, `withOtherIds`: their server may make up ids of its own, linking-rewriters.ts).
   */
  private containing(call: TimingCall): Containing {
    if (call.contained?.epoch === this.epoch) return call.contained;
    const nodes = [call.head, ...call.members];
    const start = call.head.x.startUs;
    const end = Math.max(...nodes.map((n) => n.end));
    let tol = 0;
    let found = this.candidates(call.head, nodes, start, end, false);
    if (found.length === 0) {
      tol = this.opts.toleranceUs;
      found = this.candidates(call.head, nodes, start, end, true);
    }
    let withOtherIds: LinkNode[] = [];
    if (carriesIds(call.head)) {
      withOtherIds = found.filter(carriesIds);
      found = found.filter((p) => !carriesIds(p));
    }
    return (call.contained = { found, withOtherIds, tol, start, end, epoch: this.epoch });
  }

  /** Once per call, when it is due: what its possible parents tell of who calls on its connection. */
  private witness(call: TimingCall): void {
    if (call.evidenced) return;
    call.evidenced = true;
    const { found, withOtherIds, start, end } = this.containing(call);
    if (withOtherIds.length > 0) this.rewriters.sawForeign(withOtherIds.map((p) => p.x.server));
    const x = call.head.x;
    // Who makes the calls of a connection does not depend on ids: every window around the call tells.
    const around = withOtherIds.length > 0 ? [...found, ...withOtherIds] : found;
    this.callers.observeTiming(x, around, isLoopback(x.client.ip) ? this.abroad(call.head, start, end) : []);
    const verdict = this.callers.verdict(x);
    if (verdict === null || verdict === 'none') return;
    for (const server of verdict.servers) this.sameHost(x.client.ip, server.ip);
  }

  /**
   * For a loopback caller: the exchanges into other, not loopback, hosts containing the call (at most
   * MAX_HOSTS_ABROAD hosts asked), which may be its caller's (see CallerEvidence.judge).
   */
  private abroad(call: LinkNode, start: number, end: number): LinkNode[] {
    const home = this.hosts.keyOf(call.x.client.ip);
    const out: LinkNode[] = [];
    let asked = 0;
    for (const [host, into] of this.intoHost) {
      if (host === home || isLoopback(host)) continue;
      if (++asked > MAX_HOSTS_ABROAD) break;
      for (const held of into.containing(start, end, 0)) {
        const p = held.node;
        // Not the call itself, nor another request to the endpoint it calls (see candidates).
        if (p.emitted || p.x.server.port === call.x.server.port && p.x.server.ip === call.x.server.ip) continue;
        if (p.end - p.x.startUs >= end - start) out.push(p);
      }
    }
    return out;
  }

  /** `a` and `b` are found to be one host: their exchanges and waiting calls are indexed together. */
  private sameHost(a: string, b: string): void {
    const joined = this.hosts.join(a, b);
    if (joined === null) return;
    this.epoch++;
    this.opts.counters.add('correlate.hosts-joined');
    const { from, into } = joined;
    const moved = this.intoHost.get(from);
    if (moved) {
      let target = this.intoHost.get(into);
      if (!target) this.intoHost.set(into, (target = new IntervalIndex<Held>()));
      for (const held of moved.items()) target.add(held);
      this.intoHost.delete(from);
    }
    const endpoints = this.endpointsOf.get(from);
    if (endpoints) {
      let target = this.endpointsOf.get(into);
      if (!target) this.endpointsOf.set(into, (target = new Set()));
      for (const e of endpoints) target.add(e);
      this.endpointsOf.delete(from);
    }
    const waiting = this.waiting.get(from);
    if (waiting) {
      const merged = [...(this.waiting.get(into) ?? []), ...waiting].sort(byStart);
      this.waiting.set(into, merged);
      this.waiting.delete(from);
    }
  }

  /** The possible parents into the endpoint that makes the calls of the call's connection (linking-callers.ts). */
  private byCaller(call: TimingCall, found: LinkNode[]): LinkNode[] {
    if (found.length === 0) return found;
    const narrowed = this.callers.narrow(call.head.x, found);
    if (narrowed.length === 0) this.opts.counters.add('correlate.timing-no-caller');
    else if (narrowed.length < found.length) this.opts.counters.add('correlate.timing-by-caller');
    return narrowed;
  }

  /** Records which operations were in flight at this call, and learns from it when they all agree. */
  private observe(call: TimingCall, parents: LinkNode[]): void {
    if (call.observed) return;
    call.observed = true;
    const ops = new Set(parents.map((p) => this.op(p)));
    if (ops.size === 0) return;
    this.patterns.observe(call.op, call.callee, ops);
    if (ops.size === 1) this.patterns.learn([...ops][0]!, call.op, call.callee);
  }

  /**
   * Narrows the possible parents: to those whose request names a value the call carries, when some
   * do (byValue); then by what has been learned: operations known to make this call, else
   * operations not known to call this callee at all (before those known to call it for other
   * things); then, among those, operations in flight at (nearly) every call of this kind so far.
   */
  private preferred(call: TimingCall, candidates: LinkNode[]): LinkNode[] {
    const all = this.byValue(call, candidates);
    const tiers = { makes: [] as LinkNode[], unknown: [] as LinkNode[], other: [] as LinkNode[] };
    for (const p of all) tiers[this.patterns.tier(this.op(p), call.op, call.callee)].push(p);
    const pool = tiers.makes.length > 0 ? tiers.makes : tiers.unknown.length > 0 ? tiers.unknown : tiers.other;
    const consistent = pool.filter((p) => (this.patterns.presenceShare(this.op(p), call.op, call.callee) ?? 0) >= CONSISTENT_PRESENCE);
    call.narrowed = pool.length < all.length || (consistent.length > 0 && consistent.length < pool.length);
    return consistent.length > 0 ? consistent : pool;
  }

  /**
   * Among several possible parents, those whose request names the most values the call carries (the
   * id in `GET /orders/16` and in `WHERE id = 16`; the body a proxy passes on), counting only values
   * some of them name and others do not; all of them when no value tells them apart.
   */
  private byValue(call: TimingCall, pool: LinkNode[]): LinkNode[] {
    if (pool.length < 2) return pool;
    const values = new Set([call.head, ...call.members].flatMap((n) => callValues(n.x)));
    if (values.size === 0) return pool;
    const named = pool.map((p) => {
      let names = this.targetValues.get(p);
      if (names === undefined) this.targetValues.set(p, (names = requestValues(p.x)));
      return names;
    });
    const telling = [...values].filter((v) => !named.every((names) => names.has(v)));
    const shared = named.map((names) => telling.filter((v) => names.has(v)).length);
    const most = Math.max(...shared);
    const sharing = pool.filter((_, i) => shared[i] === most);
    if (most === 0 || sharing.length === pool.length) return pool;
    this.opts.counters.add('correlate.timing-by-value');
    return sharing;
  }

  /** Finds the call's possible parents once per round, and observes them. */
  private prepare(call: TimingCall): void {
    if (call.round === this.round) return;
    call.round = this.round;
    call.parents = this.possibleParents(call);
    call.pool = null;
    this.observe(call, call.parents);
  }

  private rank(call: TimingCall): LinkNode[] {
    this.prepare(call);
    return (call.pool ??= this.preferred(call, call.parents));
  }

  /**
   * The undecided calls from the same caller to the same callee that compete with `first` for its
   * possible parents, transitively, by start (at most maxBatch).
   */
  private batchAround(first: TimingCall): TimingCall[] {
    const waiting = this.waiting.get(this.hosts.keyOf(first.head.x.client.ip)) ?? [];
    const batch = [first];
    const inBatch = new Set(batch);
    const parentsSeen = new Set<LinkNode>();
    this.rank(first);
    for (let i = 0; i < batch.length && batch.length < this.maxBatch; i++) {
      for (const parent of batch[i]!.pool!) {
        if (parentsSeen.has(parent)) continue;
        parentsSeen.add(parent);
        const tol = this.opts.toleranceUs;
        for (let w = lowerBound(waiting, parent.x.startUs - tol); w < waiting.length; w++) {
          const other = waiting[w]!;
          if (other.head.x.startUs > (parent.x.endUs ?? Infinity) + tol) break;
          if (inBatch.has(other) || other.head.decided || other.callee !== first.callee) continue;
          if (!this.rank(other).includes(parent)) continue;
          batch.push(other);
          inBatch.add(other);
          if (batch.length >= this.maxBatch) break;
        }
        if (batch.length >= this.maxBatch) break;
      }
    }
    return batch.sort(byStart);
  }

  /**
   * One call per parent, in arrival order, among parents without a call to this callee yet. Calls due
   * now that get none share a parent (the tightest fit); others wait for their own turn.
   */
  private decideBatch(batch: TimingCall[], due: Set<TimingCall>): void {
    // A parent once per call it can still take: one per callee, or as many as its operation makes.
    const parents: LinkNode[] = [];
    const slotsOf = new Map<LinkNode, number[]>();
    const slot = (p: LinkNode, k: number): number => {
      let slots = slotsOf.get(p);
      if (!slots) slotsOf.set(p, (slots = []));
      while (slots.length <= k) slots.push(parents.push(p) - 1);
      return slots[k]!;
    };
    const options = batch.map((call) =>
      call.pool!.flatMap((p) => {
        const room = this.patterns.callsPer(this.op(p), call.op, call.callee) - p.children.filter((c) => calleeOf(c.x) === call.callee).length;
        return Array.from({ length: Math.max(0, room) }, (_, k) => slot(p, k));
      }),
    );
    const assigned = assignInArrivalOrder(options, parents.length);
    batch.forEach((call, i) => {
      const pool = call.pool!;
      if (assigned[i]! >= 0) {
        const parent = parents[assigned[i]!]!;
        // Beyond one call to this callee: taken on the calls its operation was seen to make (callsPer).
        if (parent.children.some((c) => calleeOf(c.x) === call.callee)) this.opts.counters.add('correlate.timing-calls-per-parent');
        return this.commit(call, parent);
      }
      if (!due.has(call)) return;
      if (pool.length === 0) return this.commit(call, null);
      this.opts.counters.add('correlate.timing-shared');
      this.commit(call, tightest(pool, call));
    });
  }

  private commit(call: TimingCall, parent: LinkNode | null): void {
    if (call.pool!.length > 1) this.opts.counters.add('correlate.timing-ambiguous');
    if (call.narrowed) this.opts.counters.add('correlate.timing-by-pattern');
    for (const node of [call.head, ...call.members]) {
      node.decided = true;
      if (parent) this.attach(node, parent, 'timing');
    }
    if (call.members.length > 0 && parent) this.opts.counters.add('correlate.timing-continued', call.members.length);
  }

  /** A command continuing a statement whose call is decided: the same parent when it contains it. */
  private inherit(call: TimingCall, node: LinkNode): void {
    node.decided = true;
    const parent = call.head.parent;
    if (parent && !parent.emitted && parent.x.startUs <= node.x.startUs && node.end <= (parent.x.endUs ?? Infinity) + this.opts.toleranceUs) {
      this.attach(node, parent, 'timing');
      this.opts.counters.add('correlate.timing-continued');
    }
  }

  /** A new timing call headed by `node`, waiting for its turn. */
  private wait(node: LinkNode): TimingCall {
    const call: TimingCall = { head: node, members: [], op: this.op(node), callee: calleeOf(node.x), parents: [], round: 0, pool: null, narrowed: false, observed: false, evidenced: false, contained: null };
    this.timingCall.set(node, call);
    const host = this.hosts.keyOf(node.x.client.ip);
    let waiting = this.waiting.get(host);
    if (!waiting) this.waiting.set(host, (waiting = []));
    waiting.splice(upperBound(waiting, node.x.startUs), 0, call);
    return call;
  }

  private attach(node: LinkNode, parent: LinkNode, rule: LinkRule): void {
    // Windows that contain each other within the tolerance could otherwise make a cycle, which no
    // root would ever emit.
    for (let up: LinkNode | null = parent; up !== null; up = up.parent) {
      if (up === node) {
        this.opts.counters.add('correlate.cycle-refused');
        return;
      }
    }
    node.parent = parent;
    node.link = rule;
    parent.children.push(node);
    this.opts.counters.add(`correlate.links.${rule}`);
    if (rule !== 'timing') this.patterns.learn(this.op(parent), this.op(node), calleeOf(node.x));
  }

  private op(node: LinkNode): string {
    let op = this.operations.get(node);
    if (op === undefined) this.operations.set(node, (op = operationOf(node.x)));
    return op;
  }
}

/**
 * Timing alone: the candidate whose handling fits the call most tightly (the least time between its
 * request arriving and the call, plus between the call's end and its response).
 */
function tightest(pool: LinkNode[], call: TimingCall): LinkNode {
  const end = Math.max(call.head.end, ...call.members.map((m) => m.end));
  const slack = (p: LinkNode): number =>
    Math.max(0, call.head.x.startUs - p.x.requestEndUs) + Math.max(0, Math.min(servingUntil(p), p.end) - end);
  return pool.reduce((best, p) => (slack(p) < slack(best) ? p : best));
}

/**
 * A command that continues the statement of the previous command on the same connection belongs to
 * the same operation: EXECUTE right after the PREPARE of its statement (or after its long data), and
 * FETCH / RESET / CLOSE / SEND_LONG_DATA right after a command on the same statement.
 */
export function continuesStatement(previous: Exchange, next: Exchange): boolean {
  if (previous.protocol !== 'mysql' || next.protocol !== 'mysql') return false;
  if (previous.connectionId !== next.connectionId || next.index !== previous.index + 1) return false;
  const a = previous.request as MysqlRequestInfo;
  const b = next.request as MysqlRequestInfo;
  if (b.statementId === null || a.statementId !== b.statementId) return false;
  return STATEMENT_OPENERS.has(a.command) || STATEMENT_FOLLOWERS.has(b.command);
}

/**
 * How a MySQL command moves its connection's transaction: BEGIN / START TRANSACTION opens one, COMMIT
 * / ROLLBACK (not to a savepoint) ends it, `SET autocommit = 0` opens one and makes every statement
 * after a COMMIT open the next.
 */
export function transactionStep(x: Exchange): 'begin' | 'end' | 'autocommit-off' | 'autocommit-on' | null {
  const r = x.request as MysqlRequestInfo;
  if (r.command !== 'QUERY' || !r.normalizedSql || !r.sql) return null;
  const sql = r.normalizedSql.trim().replace(/;$/, '').toUpperCase();
  if (/^(BEGIN( WORK)?|START TRANSACTION\b.*)$/.test(sql)) return 'begin';
  if (/^(COMMIT|ROLLBACK)( WORK)?( AND (NO )?CHAIN)?( (NO )?RELEASE)?$/.test(sql)) return 'end';
  if (!/^SET (@@)?(SESSION |LOCAL |SESSION\.|LOCAL\.)?AUTOCOMMIT\s*=/.test(sql)) return null;
  // The value from the text as sent: normalising made it `?`.
  const value = /AUTOCOMMIT\s*=\s*'?(\w+)'?\s*;?\s*$/i.exec(r.sql.trim())?.[1]?.toUpperCase();
  if (value === undefined) return null;
  return value === '0' || value === 'OFF' || value === 'FALSE' ? 'autocommit-off' : 'autocommit-on';
}

const STATEMENT_OPENERS = new Set(['STMT_PREPARE', 'STMT_SEND_LONG_DATA']);
const STATEMENT_FOLLOWERS = new Set(['STMT_SEND_LONG_DATA', 'STMT_FETCH', 'STMT_RESET', 'STMT_CLOSE']);

/**
 * Until when an exchange's server was still working on it: its response's start, but a server
 * streaming several gRPC messages goes on (and makes calls) until the stream ends.
 */
function servingUntil(p: LinkNode): number {
  const response = p.x.response;
  if (p.x.protocol === 'grpc' && response !== null && (response as GrpcResponseInfo).messages > 1) return p.end;
  return p.x.responseStartUs ?? Infinity;
}

/**
 * A call whose ids matched no exchange in flight may still be linked by timing, to an exchange that
 * carried none: the caller began the trace or the request id there (a gateway adding X-Request-ID).
 */
function carriesIds(node: LinkNode): boolean {
  return node.idTraceId !== null || node.ctx.requestId !== null;
}

/**
 * A PING (or `SELECT 1`) alone, just before the next command on its connection: a pool checking the
 * connection as it hands it out, for the request that command is made for.
 */
function checksOut(previous: LinkNode, call: TimingCall): boolean {
  if (previous.x.protocol !== 'mysql' || call.head !== previous || call.members.length > 0) return false;
  const { command, normalizedSql } = previous.x.request as MysqlRequestInfo;
  return command === 'PING' || (command === 'QUERY' && normalizedSql?.trim().toUpperCase() === 'SELECT ?');
}

/** MySQL login and quit belong to a pooled connection, not to the request that happened to be running. */
function isConnectionLifecycle(x: Exchange): boolean {
  return x.protocol === 'mysql' && ['LOGIN', 'QUIT'].includes((x.request as MysqlRequestInfo).command);
}

/** Arrival order into a service: first request byte, then connection and position on it. */
function byArrival(a: LinkNode, b: LinkNode): number {
  return a.x.startUs - b.x.startUs || a.x.connectionId - b.x.connectionId || (a.x.streamId ?? a.x.index) - (b.x.streamId ?? b.x.index);
}

function byStart(a: TimingCall, b: TimingCall): number {
  return byArrival(a.head, b.head);
}

function lowerBound(calls: TimingCall[], start: number): number {
  let lo = 0;
  let hi = calls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (calls[mid]!.head.x.startUs < start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(calls: TimingCall[], start: number): number {
  let lo = 0;
  let hi = calls.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (calls[mid]!.head.x.startUs <= start) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Of the exchanges with the call's ids, those whose window holds it without the clock tolerance, when
 * there are any: a client that sends one id on consecutive requests (a retry, a static header) has the
 * next one start within the tolerance of a call made in the one before.
 */
function holdingStrictly(pool: LinkNode[], node: LinkNode): LinkNode[] {
  if (pool.length < 2) return pool;
  const strict = pool.filter((p) => p.x.startUs <= node.x.startUs && p.end >= node.end);
  return strict.length > 0 ? strict : pool;
}
