import type { Counters } from '../util/counters.js';
import type { Exchange, GrpcRequestInfo, HttpRequestInfo, MysqlRequestInfo } from '../protocols/types.js';

/** Exchanges of an operation seen before its calls per exchange are taken as known. */
const MIN_PARENTS_FOR_RATE = 5;
/** Most calls of one kind one exchange is taken to make. */
const MAX_CALLS_PER_PARENT = 16;
/** Calls of an operation seen before the operations in flight at them say anything. */
const MIN_PRESENCE_CALLS = 20;

/** Longest operation key kept (long SQL texts are cut: the start tells statements apart). */
const MAX_OPERATION_LENGTH = 200;

/**
 * A low-cardinality name for what an exchange asks: `GET /orders/:id`, `/pkg.Svc/Method`,
 * `STMT_EXECUTE SELECT qty FROM stock WHERE sku = ?`. Path segments that look like ids (numbers,
 * long hex, UUIDs) become `:id`, SQL literals are already `?`.
 */
export function operationOf(x: Exchange): string {
  let op: string;
  if (x.protocol === 'mysql') {
    const r = x.request as MysqlRequestInfo;
    op = `${r.command} ${r.normalizedSql ?? ''}`;
  } else if (x.protocol === 'grpc') {
    op = (x.request as GrpcRequestInfo).path;
  } else {
    const r = x.request as HttpRequestInfo;
    op = `${r.method} ${pathTemplate(r.path)}`;
  }
  return op.length > MAX_OPERATION_LENGTH ? op.slice(0, MAX_OPERATION_LENGTH) : op;
}

/** The server a call goes to, as `ip:port`. */
export function calleeOf(x: Exchange): string {
  return `${x.server.ip}:${x.server.port}`;
}

const ID_SEGMENT = /^(?:\d+|[0-9a-fA-F]{8,}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

function pathTemplate(path: string): string {
  const q = path.indexOf('?');
  const bare = q < 0 ? path : path.slice(0, q);
  return bare
    .split('/')
    .map((segment) => (ID_SEGMENT.test(segment) ? ':id' : segment))
    .join('/');
}

function callKey(op: string, callee: string): string {
  return `${callee} ${op}`;
}

export interface CallPatternsOptions {
  counters: Counters;
  /** Most distinct operations remembered per table; beyond, new ones are counted, not learned. Default 4096. */
  maxOperations?: number;
}

/**
 * What parent operations are known to make which calls, learned from links that were not guesses
 * (an id on the wire, or every possible parent doing the same operation), and how consistently each
 * parent operation is in flight when a call of a given operation is made.
 */
export class CallPatterns {
  private readonly maxOperations: number;
  /** parent operation → child operation → links seen. */
  private readonly makes = new Map<string, Map<string, number>>();
  /** parent operation → callees it is known to call. */
  private readonly calls = new Map<string, Set<string>>();
  /** child operation → calls seen with at least one possible parent, and per parent operation how many had it in flight. */
  private readonly presence = new Map<string, { calls: number; present: Map<string, number> }>();
  /** call (callee and operation) → parent operations known to make it. */
  private readonly madeBy = new Map<string, Set<string>>();
  /** operation → exchanges of it seen. */
  private readonly exchanges = new Map<string, number>();

  constructor(private readonly opts: CallPatternsOptions) {
    this.maxOperations = opts.maxOperations ?? 4096;
  }

  /**
   * A parent of `parentOp` made a call of `childOp` to `callee` (a link that was not a guess). A call is
   * known with its callee: `GET /items/:id` to the gateway and to the API behind it are two calls.
   */
  learn(parentOp: string, childOp: string, callee: string): void {
    const made = this.entry(this.makes, parentOp, () => new Map<string, number>());
    const callees = this.entry(this.calls, parentOp, () => new Set<string>());
    if (!made || !callees) return;
    const call = callKey(childOp, callee);
    if (made.has(call) || made.size < this.maxOperations) made.set(call, (made.get(call) ?? 0) + 1);
    if (callees.size < this.maxOperations) callees.add(callee);
    const makers = this.entry(this.madeBy, call, () => new Set<string>());
    if (makers && makers.size < this.maxOperations) makers.add(parentOp);
  }

  /** An exchange of `op` was seen (each once). */
  count(op: string): void {
    if (this.exchanges.has(op) || this.exchanges.size < this.maxOperations) this.exchanges.set(op, (this.exchanges.get(op) ?? 0) + 1);
  }

  /**
   * How many calls of `childOp` to `callee` one exchange of `parentOp` makes: when it is the only
   * operation known to make them, the calls seen per exchange of it (an ORM's N+1 queries, a stream
   * querying once per message); else 1.
   */
  callsPer(parentOp: string, childOp: string, callee: string): number {
    const key = callKey(childOp, callee);
    const makers = this.madeBy.get(key);
    const parents = this.exchanges.get(parentOp) ?? 0;
    if (!makers || makers.size !== 1 || !makers.has(parentOp) || parents < MIN_PARENTS_FOR_RATE) return 1;
    const calls = this.presence.get(key)?.calls ?? 0;
    return Math.min(MAX_CALLS_PER_PARENT, Math.max(1, Math.round(calls / parents)));
  }

  /** A call of `childOp` to `callee` was made while exchanges of `parentOps` (distinct) were possible parents. */
  observe(childOp: string, callee: string, parentOps: Iterable<string>): void {
    const seen = this.entry(this.presence, callKey(childOp, callee), () => ({ calls: 0, present: new Map<string, number>() }));
    if (!seen) return;
    seen.calls++;
    for (const op of parentOps) {
      if (seen.present.has(op) || seen.present.size < this.maxOperations) seen.present.set(op, (seen.present.get(op) ?? 0) + 1);
    }
  }

  /** How a parent operation relates to a call: known to make it, unknown, or known to call the callee for other things. */
  tier(parentOp: string, childOp: string, callee: string): 'makes' | 'unknown' | 'other' {
    if ((this.makes.get(parentOp)?.get(callKey(childOp, callee)) ?? 0) > 0) return 'makes';
    return this.calls.get(parentOp)?.has(callee) ? 'other' : 'unknown';
  }

  /**
   * Share of the calls of `childOp` seen so far during which an exchange of `parentOp` was in flight;
   * null before MIN_PRESENCE_CALLS were seen (one long request in flight during the first calls would
   * be "present every time").
   */
  presenceShare(parentOp: string, childOp: string, callee: string): number | null {
    const seen = this.presence.get(callKey(childOp, callee));
    if (!seen || seen.calls < MIN_PRESENCE_CALLS) return null;
    return (seen.present.get(parentOp) ?? 0) / seen.calls;
  }

  private entry<V>(table: Map<string, V>, key: string, make: () => V): V | null {
    let v = table.get(key);
    if (v === undefined) {
      if (table.size >= this.maxOperations) {
        this.opts.counters.add('correlate.patterns-full');
        return null;
      }
      table.set(key, (v = make()));
    }
    return v;
  }
}
