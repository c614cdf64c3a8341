import type { Endpoint } from '../tcp/types.js';
import type { Counters } from '../util/counters.js';
import type { UnanalysedConnection } from './registry.js';

/** Connections left unanalysed, grouped by kind, server and TLS server name. */
export interface UnanalysedGroup {
  kind: 'tls' | 'unknown';
  server: Endpoint;
  serverName: string | null;
  /** TLS whose keys were logged but could not be used: why. */
  reason?: string;
  connections: number;
}

/** Distinct groups kept; connections beyond them are only counted (`protocols.unanalysed-ungrouped`). */
const MAX_GROUPS = 1000;

/** Tallies what the dispatcher could not analyse, in bounded memory, for the report. */
export class UnanalysedSummary {
  private readonly groups = new Map<string, UnanalysedGroup>();

  constructor(private readonly counters: Counters) {}

  add(c: UnanalysedConnection): void {
    const key = `${c.kind} ${c.server.ip} ${c.server.port} ${c.serverName ?? ''} ${c.reason ?? ''}`;
    const group = this.groups.get(key);
    if (group) group.connections++;
    else if (this.groups.size < MAX_GROUPS) this.groups.set(key, { ...c, server: { ...c.server }, connections: 1 });
    else this.counters.add('protocols.unanalysed-ungrouped');
  }

  /** Most connections first. */
  list(): UnanalysedGroup[] {
    return [...this.groups.values()].sort((a, b) => b.connections - a.connections || (a.server.ip < b.server.ip ? -1 : 1) || a.server.port - b.server.port);
  }
}
