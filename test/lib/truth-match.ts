import { readFileSync } from 'node:fs';
import type { SpanRecord } from '../../src/correlate/types.js';
import type { GrpcRequestInfo, HttpRequestInfo, MysqlRequestInfo } from '../../src/protocols/types.js';
import type { Truth, TruthExchange } from './analyze-file.js';

export function loadTruth(path: string): Truth {
  return JSON.parse(readFileSync(path, 'utf8')) as Truth;
}

/** Service names as the truth uses them, keyed by address, for `names`. */
export function truthNames(truth: Truth): Record<string, string> {
  const names: Record<string, string> = {};
  for (const x of truth.exchanges) {
    names[`${x.server_ip}:${x.server_port}`] = x.server_service;
    names[x.client_ip] ??= x.client_service;
  }
  return names;
}

export function truthKey(x: TruthExchange): string {
  const ends = `${x.client_ip}:${x.client_port}>${x.server_ip}:${x.server_port}`;
  if (x.protocol === 'http') return `http ${ends} ${x.method} ${x.path}`;
  if (x.protocol === 'grpc') return `grpc ${ends} ${x.grpc_method}`;
  return `mysql ${ends} ${normCommand(x.mysql_command)} ${x.sql}`;
}

export function spanKey(s: SpanRecord): string {
  const ends = `${s.client.ip}:${s.client.port}>${s.server.ip}:${s.server.port}`;
  if (s.protocol === 'http') {
    const r = s.request as HttpRequestInfo;
    return `http ${ends} ${r.method} ${r.path}`;
  }
  if (s.protocol === 'grpc') return `grpc ${ends} ${(s.request as GrpcRequestInfo).path}`;
  if (s.protocol === 'mysql') {
    const r = s.request as MysqlRequestInfo;
    return `mysql ${ends} ${normCommand(r.command)} ${r.sql}`;
  }
  return `${s.protocol} ${ends}`;
}

function normCommand(c: string | undefined): string {
  const up = (c ?? '').toUpperCase().replace(/ /g, '_');
  return up.startsWith('COM_') ? up.slice(4) : up;
}

export interface Pairing {
  /** truth id → span */
  pairs: Map<string, SpanRecord>;
  missing: TruthExchange[];
  extra: SpanRecord[];
}

/** Pairs truth exchanges fully inside the capture with spans by identity, in start order (like score.py). */
export function pairWithTruth(truth: Truth, spans: SpanRecord[], protocol: string): Pairing {
  const byKey = new Map<string, { t: TruthExchange[]; s: SpanRecord[] }>();
  const slot = (k: string): { t: TruthExchange[]; s: SpanRecord[] } => {
    let v = byKey.get(k);
    if (!v) byKey.set(k, (v = { t: [], s: [] }));
    return v;
  };
  for (const x of truth.exchanges) {
    if (x.protocol === protocol && (x.in_capture ?? 'full') === 'full') slot(truthKey(x)).t.push(x);
  }
  for (const s of spans) if (s.protocol === protocol) slot(spanKey(s)).s.push(s);
  const pairs = new Map<string, SpanRecord>();
  const missing: TruthExchange[] = [];
  const extra: SpanRecord[] = [];
  for (const { t, s } of byKey.values()) {
    // Calls with the same identity can start within microseconds of each other, and the truth's
    // clock (the caller's) is not the wire's: pair by the request id on the wire first, then by order.
    const unpairedSpans = new Set(s);
    const unpairedTruth: TruthExchange[] = [];
    for (const x of t.sort((a, b) => a.start_us - b.start_us)) {
      const same = x.request_id === null ? undefined : s.find((c) => unpairedSpans.has(c) && c.requestId === x.request_id);
      if (same && protocol !== 'mysql') {
        pairs.set(x.id, same);
        unpairedSpans.delete(same);
      } else unpairedTruth.push(x);
    }
    const rest = [...unpairedSpans].sort((a, b) => a.startUs - b.startUs);
    unpairedTruth.forEach((x, i) => (rest[i] ? pairs.set(x.id, rest[i]!) : missing.push(x)));
    extra.push(...rest.slice(unpairedTruth.length));
  }
  return { pairs, missing, extra };
}
