import type { Endpoint } from '../tcp/types.js';
import type { Counters } from '../util/counters.js';
import { LogHistogram } from '../util/histogram.js';
import type { UnanalysedConnection } from './registry.js';

/** Connections left unanalysed, grouped by kind, server and TLS server name. */
export interface UnanalysedGroup {
  kind: 'tls' | 'unknown';
  server: Endpoint;
  serverName: string | null;
  /** TLS whose keys were logged but could not be used: why. */
  reason?: string;
  connections: number;
  /** TLS: handshakes that failed in the clear (a fatal alert, no ServerHello), by what was seen. */
  failures?: Record<string, number>;
  /** TLS: time from ClientHello to ServerHello (ms), over the handshakes that had both. */
  helloMs?: { p50: number; max: number } | null;
  /** TLS: versions the servers chose, with their connections. */
  versions?: Record<string, number>;
}

interface GroupAcc {
  group: UnanalysedGroup;
  hello: LogHistogram;
}

/** Distinct groups kept; connections beyond them are only counted (`protocols.unanalysed-ungrouped`). */
const MAX_GROUPS = 1000;

/** Tallies what the dispatcher could not analyse, in bounded memory, for the report. */
export class UnanalysedSummary {
  private readonly groups = new Map<string, GroupAcc>();

  constructor(private readonly counters: Counters) {}

  add(c: UnanalysedConnection): void {
    const key = `${c.kind} ${c.server.ip} ${c.server.port} ${c.serverName ?? ''} ${c.reason ?? ''}`;
    let acc = this.groups.get(key);
    if (!acc) {
      if (this.groups.size >= MAX_GROUPS) return this.counters.add('protocols.unanalysed-ungrouped');
      const { handshake: _handshake, client: _client, ...rest } = c;
      const group: UnanalysedGroup = { ...rest, server: { ...c.server }, connections: 0 };
      if (c.kind === 'tls') Object.assign(group, { failures: {}, versions: {}, helloMs: null });
      this.groups.set(key, (acc = { group, hello: new LogHistogram() }));
    }
    acc.group.connections++;
    const h = c.handshake;
    if (!h) return;
    const g = acc.group;
    if (h.failure !== null) g.failures![h.failure] = (g.failures![h.failure] ?? 0) + 1;
    if (h.version !== null) g.versions![h.version] = (g.versions![h.version] ?? 0) + 1;
    if (h.helloUs !== null) acc.hello.record(h.helloUs / 1000);
  }

  /** Most connections first. */
  list(): UnanalysedGroup[] {
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    return [...this.groups.values()]
      .map(({ group, hello }) => (hello.count > 0 ? { ...group, helloMs: { p50: round(hello.quantile(0.5)), max: round(hello.max) } } : group))
      .sort((a, b) => b.connections - a.connections || compare(a.server.ip, b.server.ip) || a.server.port - b.server.port || compare(a.serverName ?? '', b.serverName ?? ''));
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
