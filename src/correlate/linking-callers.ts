import type { Exchange } from '../protocols/types.js';
import type { Endpoint } from '../tcp/types.js';
import { isLoopback } from './linking-hosts.js';

/**
 * Which server endpoint on a shared address makes the calls of a connection (docs/ids.md, "Callers
 * on a shared address").
 *
 * On one host (loopback, `tcpdump -i any`, a node running several services) the caller's ip is the
 * address of several servers, so "an exchange into the caller" is an exchange into any of them, and a
 * load generator on that host looks like every one of them. A TCP connection belongs to one process,
 * though, and a service makes its calls while serving its own requests: nearly all of them fall inside
 * the windows of its endpoint (or of its few endpoints: an HTTP and a gRPC port of one process), most
 * often as the tightest window around them. What a connection's calls showed (for a connection with
 * too few calls yet, what the calls from its ip to its callee showed) gives its caller, or says that
 * no endpoint seen explains them. A loopback caller may also be a server on another, not loopback,
 * address of the host (linking-hosts.ts).
 */
export type CallerVerdict = { servers: Endpoint[] } | 'none' | null;

export interface CallerWindow {
  x: Exchange;
  /** End of the window (of the request, when no response was seen). */
  end: number;
}

/** Calls seen before a verdict from timing is given. */
const MIN_CALLS = 5;
/**
 * A server on another address of the host is taken to make a loopback caller's calls on more
 * evidence: its address then joins the loopback host for good (linking-hosts.ts).
 */
const MIN_CALLS_ABROAD = 20;
const TIGHTEST_SHARE_ABROAD = 0.8;
/** How near a call must begin to its request's end, or end to its response, to be "as it arrived". */
const ADJACENT_US = 2_000;
/** Most endpoints one process is taken to serve on (an HTTP port, a gRPC port, an admin port). */
const MAX_CALLER_ENDPOINTS = 3;
/** Share of the calls the caller's windows must contain... */
const CONTAINED_SHARE = 0.9;
/** ...and hold most tightly. */
const TIGHTEST_SHARE = 0.6;
/** The strength of a verdict by ids: above any from timing (see Tally.strength). */
const ID_STRENGTH = 2;
/** Calls that showed nothing, added to every tally's when its strength is weighed (see Tally.strength). */
const STRENGTH_PRIOR = 2;
/** Tightest windows remembered per tally to tell a window holding several calls (see Tally.spread). */
const RECENT_WINDOWS = 8;
/** Connections (and ip → callee pairs) remembered; the oldest is forgotten first. */
const MAX_TALLIES = 65_536;

interface Tally {
  /** The calling address and the endpoint called. */
  caller: string;
  callee: string;
  /** Calls seen by timing, with a possible parent or without. */
  calls: number;
  /** Per endpoint: calls inside one of its windows; calls where its window was the tightest. */
  contained: Map<string, number>;
  tightest: Map<string, number>;
  /** Per endpoint: calls whose tightest window it held as a handler holds its calls (see fits). */
  snug: Map<string, number>;
  /** Per endpoint: calls whose tightest window was not that of one of the RECENT_WINDOWS calls before. */
  spread: Map<string, number>;
  /** Start times of the latest tightest windows (newest last). */
  recent: number[];
  /** Calls per set of endpoints containing them (keys: endpoints joined by '|', sorted). */
  together: Map<string, number>;
  /** Per endpoint: calls linked to it by an id. */
  byId: Map<string, number>;
  /** The endpoints behind the keys above. */
  servers: Map<string, Endpoint>;
  verdict: CallerVerdict;
  /**
   * How well the verdict explains the calls (2 for an id): the share of them its endpoints held most
   * tightly plus the share whose tightest window held no other call of the tally, each counted as if
   * STRENGTH_PRIOR more calls had shown neither (a few calls prove less than many). When two
   * endpoints each contain the other's calls (a burst of requests inside a few slow ones: a cold
   * start), the calls of the one really called sit one per window of its caller, the others many
   * to a window.
   */
  strength: number;
}

export class CallerEvidence {
  private readonly byConnection = new Map<number, Tally>();
  private readonly byCallee = new Map<string, Tally>();
  /** Calls proven by ids: caller endpoint → endpoints it called. */
  private readonly provenCalls = new Map<string, Set<string>>();

  /**
   * `endpointsAt(ip)`: server endpoints seen on ip's host (with several, which one calls is a
   * question); `hostOf(ip)`: the key of ip's host (linking-hosts.ts).
   */
  constructor(
    private readonly endpointsAt: (ip: string) => number,
    private readonly hostOf: (ip: string) => string = (ip) => ip,
  ) {}

  /**
   * Whether the calls from `ip` are weighed: when its host serves on several endpoints, or when it
   * is a loopback address (whose calls may be made by a server on another address of the host).
   */
  weighs(ip: string): boolean {
    return this.endpointsAt(ip) >= 2 || isLoopback(ip);
  }

  /**
   * A call decided by timing, with every exchange into its caller's host that contains it, and for a
   * loopback caller also those into other, not loopback, addresses (`abroad`).
   */
  observeTiming(call: Exchange, containing: readonly CallerWindow[], abroad: readonly CallerWindow[] = []): void {
    if (!this.weighs(call.client.ip)) return;
    const all = abroad.length > 0 ? [...containing, ...abroad] : containing;
    // Many windows, few endpoints (every request in flight into the same few servers).
    const endpoints = new Map<string, Endpoint>();
    let last: Endpoint | null = null;
    for (const p of all) {
      if (p.x.server === last) continue;
      last = p.x.server;
      const key = endpointOf(last);
      if (!endpoints.has(key)) endpoints.set(key, last);
    }
    const together = endpoints.size > 0 ? [...endpoints.keys()].sort().join('|') : null;
    const tightest = tightestOf(all);
    const tightestKey = tightest ? endpointOf(tightest.x.server) : null;
    const snug = tightest !== null && fits(call, tightest);
    for (const tally of this.tallies(call)) {
      tally.calls++;
      for (const [key, server] of endpoints) {
        bump(tally.contained, key);
        if (!tally.servers.has(key)) tally.servers.set(key, server);
      }
      if (together !== null) bump(tally.together, together);
      if (tightest !== null && tightestKey !== null) {
        bump(tally.tightest, tightestKey);
        if (snug) bump(tally.snug, tightestKey);
        if (!tally.recent.includes(tightest.x.startUs)) bump(tally.spread, tightestKey);
        tally.recent.push(tightest.x.startUs);
        if (tally.recent.length > RECENT_WINDOWS) tally.recent.shift();
      }
      this.judge(tally);
    }
  }

  /** A call linked by an id to an exchange into `parent`'s endpoint. */
  observeId(call: Exchange, parent: Exchange): void {
    if (!this.weighs(call.client.ip)) return;
    const caller = endpointOf(parent.server);
    let called = this.provenCalls.get(caller);
    if (!called) this.provenCalls.set(caller, (called = new Set()));
    called.add(endpointOf(call.server));
    for (const tally of this.tallies(call)) {
      bump(tally.byId, caller);
      tally.servers.set(caller, parent.server);
      this.judge(tally);
    }
  }

  /** What the connection's calls showed, else what the calls from its ip to its callee showed. */
  verdict(call: Exchange): CallerVerdict {
    if (!this.weighs(call.client.ip)) return null;
    return this.byConnection.get(call.connectionId)?.verdict ?? this.byCallee.get(calleeKey(call))?.verdict ?? null;
  }

  /**
   * Possible parents narrowed to the caller's endpoint; none when no endpoint seen explains the calls.
   * Before any verdict: among the endpoints the callee is not known to call, those not known to call
   * another of them (on one host services call each other nested: the innermost is the one calling),
   * then the one with the tightest window around the call.
   */
  narrow<T extends CallerWindow>(call: Exchange, parents: T[]): T[] {
    if (parents.length === 0) return parents;
    const verdict = this.verdict(call);
    if (verdict === null && this.endpointsAt(call.client.ip) < 2) return parents;
    if (verdict === 'none') return [];
    let servers = verdict?.servers;
    if (!servers) {
      const graph = this.callGraph({ strength: -1, calls: 0 }, null);
      const callee = endpointOf(call.server);
      const possible = parents.filter((p) => !reaches(graph, callee, endpointOf(p.x.server)));
      if (possible.length === 0) return [];
      const endpoints = new Set(possible.map((p) => endpointOf(p.x.server)));
      const calling = (e: string): boolean => [...endpoints].some((other) => other !== e && reaches(graph, e, other));
      const innermost = possible.filter((p) => !calling(endpointOf(p.x.server)));
      servers = [tightestOf(innermost.length > 0 ? innermost : possible)!.x.server];
    }
    return parents.filter((p) => servers.some((s) => p.x.server.port === s.port && p.x.server.ip === s.ip));
  }

  clear(): void {
    this.byConnection.clear();
    this.byCallee.clear();
    this.provenCalls.clear();
  }

  /**
   * An id names the caller. Else, after MIN_CALLS, the endpoint whose windows contained ≥ 90 % of
   * the calls and were the tightest around ≥ 60 %, unless that would make the callee a caller of
   * itself through calls proven by ids or by stronger verdicts (a client on the host calling the
   * gateway while an inner service happens to be busy); else no endpoint. A verdict by ids counts
   * as holding every call tightly.
   */
  private judge(t: Tally): void {
    let best: string | null = null;
    let most = 0;
    for (const [endpoint, n] of t.byId) {
      if (n > most) [best, most] = [endpoint, n];
      else if (n === most) best = null;
    }
    if (best !== null || t.byId.size > 0) {
      [t.verdict, t.strength] = best === null ? [null, 0] : [{ servers: [t.servers.get(best)!] }, ID_STRENGTH];
      return;
    }
    [t.verdict, t.strength] = [null, 0];
    if (t.calls < MIN_CALLS) return;
    const shared = this.endpointsAt(t.caller) >= 2;
    const own = (e: string): boolean => this.hostOf(t.servers.get(e)!.ip) === this.hostOf(t.caller);
    if (shared && (this.judgeAmong(t, own) || this.judgeTogether(t, own))) return;
    // A loopback caller's calls made by a server on another address of the host (nginx on the
    // host's address calling its upstream on 127.0.0.1): only one such address, holding them tightly.
    const abroad = (e: string): boolean => !own(e) && !isLoopback(t.servers.get(e)!.ip);
    // Held as a handler holds its calls (fits): calls merely inside another host's long requests (a
    // host that forwards others' traffic) do not make that host this one.
    const snug = (e: string): boolean => abroad(e) && (t.snug.get(e) ?? 0) >= TIGHTEST_SHARE_ABROAD * t.calls;
    if (isLoopback(t.caller) && t.calls >= MIN_CALLS_ABROAD && this.judgeAmong(t, snug, TIGHTEST_SHARE_ABROAD)) return;
    if (shared) t.verdict = 'none';
  }

  /** One endpoint among those `allowed` that explains the calls (see judge); true when found. */
  private judgeAmong(t: Tally, allowed: (e: string) => boolean, minTight = TIGHTEST_SHARE): boolean {
    const tightShare = (e: string): number => (t.tightest.get(e) ?? 0) / t.calls;
    const strength = (e: string, tight: number): number => strengthOf(t, tight * t.calls, t.spread.get(e) ?? 0);
    const containing = [...t.contained].filter(([e, n]) => allowed(e) && n >= CONTAINED_SHARE * t.calls).map(([e]) => e);
    const open = containing.filter((e) => !reaches(this.callGraph({ strength: strength(e, tightShare(e)), calls: t.calls }, t), t.callee, e));
    // Nested services all contain a call; the outer ones' tightest windows around it were others'.
    const graph = this.callGraph({ strength: -1, calls: 0 }, t);
    for (const e of open) {
      const outer = open.filter((o) => o !== e && reaches(graph, o, e));
      if (open.some((o) => o !== e && !outer.includes(o) && reaches(graph, e, o))) continue;
      const tight = tightShare(e) + outer.reduce((sum, o) => sum + tightShare(o), 0);
      if (tight < minTight) continue;
      [t.verdict, t.strength] = [{ servers: [t.servers.get(e)!] }, strength(e, tight)];
      return true;
    }
    return false;
  }

  /**
   * No one endpoint explains the calls; a few together may (one process serving HTTP and gRPC, sharing
   * a pool): those holding the calls most tightly, added one by one, none the callee is known to call.
   */
  private judgeTogether(t: Tally, allowed: (e: string) => boolean): boolean {
    const graph = this.callGraph({ strength: -1, calls: 0 }, t);
    const ranked = [...t.tightest].filter(([e]) => allowed(e) && !reaches(graph, t.callee, e)).sort((a, b) => b[1] - a[1]);
    const chosen: string[] = [];
    let tight = 0;
    for (const [endpoint, n] of ranked.slice(0, MAX_CALLER_ENDPOINTS)) {
      chosen.push(endpoint);
      tight += n;
      let contained = 0;
      for (const [set, count] of t.together) if (set.split('|').some((e) => chosen.includes(e))) contained += count;
      if (chosen.length > 1 && contained >= CONTAINED_SHARE * t.calls && tight >= TIGHTEST_SHARE * t.calls) {
        const spread = chosen.reduce((sum, e) => sum + (t.spread.get(e) ?? 0), 0);
        [t.verdict, t.strength] = [{ servers: chosen.map((e) => t.servers.get(e)!) }, strengthOf(t, tight, spread)];
        return true;
      }
    }
    return false;
  }

  /**
   * Who calls whom: calls proven by ids, and the verdicts of ip → callee pairs stronger than `than`
   * (a larger strength, see Tally.strength, then more calls).
   */
  private callGraph(than: { strength: number; calls: number }, except: Tally | null): CallGraph {
    const edges: CallGraph = new Map();
    for (const [caller, called] of this.provenCalls) edges.set(caller, new Set(called));
    for (const g of this.byCallee.values()) {
      if (g === except || g.verdict === null || g.verdict === 'none') continue;
      if (g.strength < than.strength || (g.strength === than.strength && g.calls <= than.calls)) continue;
      for (const server of g.verdict.servers) {
        const caller = endpointOf(server);
        let called = edges.get(caller);
        if (!called) edges.set(caller, (called = new Set()));
        called.add(g.callee);
      }
    }
    return edges;
  }

  private tallies(call: Exchange): Tally[] {
    const callee = endpointOf(call.server);
    const caller = call.client.ip;
    return [remember(this.byConnection, call.connectionId, caller, callee), remember(this.byCallee, calleeKey(call), caller, callee)];
  }
}

/** Caller endpoint → endpoints it calls. */
type CallGraph = Map<string, Set<string>>;

/** Whether `from` calls `to`, directly or through others. */
function reaches(graph: CallGraph, from: string, to: string): boolean {
  const seen = new Set([from]);
  const queue = [from];
  while (queue.length > 0) {
    for (const next of graph.get(queue.pop()!) ?? []) {
      if (next === to) return true;
      if (!seen.has(next)) queue.push(next), seen.add(next);
    }
  }
  return false;
}

/** See Tally.strength: `tight` and `spread` are numbers of calls. */
function strengthOf(t: Tally, tight: number, spread: number): number {
  return (tight + spread) / (t.calls + STRENGTH_PRIOR);
}

function tightestOf<T extends CallerWindow>(windows: readonly T[]): T | null {
  let tightest: T | null = null;
  for (const p of windows) if (tightest === null || p.end - p.x.startUs < tightest.end - tightest.x.startUs) tightest = p;
  return tightest;
}

function remember<K>(tallies: Map<K, Tally>, key: K, caller: string, callee: string): Tally {
  let tally = tallies.get(key);
  if (!tally) {
    if (tallies.size >= MAX_TALLIES) tallies.delete(tallies.keys().next().value!);
    const counts = (): Map<string, number> => new Map();
    tallies.set(key, (tally = { caller, callee, calls: 0, contained: counts(), tightest: counts(), snug: counts(), spread: counts(), recent: [], together: counts(), byId: counts(), servers: new Map(), verdict: null, strength: 0 }));
  }
  return tally;
}

/**
 * Whether a window holds a call as a handler holds its calls: a proxy's upstream call fills most of
 * it (at least half), an application's first call begins as its request has arrived and its last
 * ends as its response begins (within 2 ms, or a tenth of the window). A call merely falling inside
 * a long request of someone else's seldom does either.
 */
function fits(call: Exchange, window: CallerWindow): boolean {
  const length = window.end - window.x.startUs;
  const duration = callEnd(call) - call.startUs;
  if (2 * duration >= length) return true;
  const near = Math.max(ADJACENT_US, length / 10);
  const answered = window.x.responseStartUs ?? window.end;
  return call.startUs - window.x.requestEndUs <= near || answered - callEnd(call) <= near;
}

/** End of a call: of its response, else of its request. */
function callEnd(x: Exchange): number {
  return x.endUs ?? x.requestEndUs;
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function endpointOf(server: Endpoint): string {
  return `${server.ip} ${server.port}`;
}

function calleeKey(call: Exchange): string {
  return `${call.client.ip} ${endpointOf(call.server)}`;
}
