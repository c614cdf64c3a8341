import type { ServiceMap } from '../correlate/service-map.js';
import { expectsResponse, isSubscription, statusText } from '../correlate/outcome.js';
import type { SpanNode, SpanRecord, TraceTree } from '../correlate/types.js';
import type { GrpcRequestInfo, Http2RequestInfo, HttpRequestInfo, MysqlRequestInfo } from '../protocols/types.js';
import type { UnanalysedGroup } from '../protocols/unanalysed.js';

/** Keeps the N slowest traces seen, in bounded memory. */
export class SlowestTraces {
  private readonly kept: TraceTree[] = [];

  constructor(private readonly limit = 5) {}

  add(tree: TraceTree): void {
    if (this.limit <= 0 || isSubscription(tree.root.span)) return;
    const d = duration(tree);
    if (this.kept.length >= this.limit && d <= duration(this.kept[this.kept.length - 1]!)) return;
    this.kept.push(tree);
    this.kept.sort((a, b) => duration(b) - duration(a));
    if (this.kept.length > this.limit) this.kept.pop();
  }

  list(): readonly TraceTree[] {
    return this.kept;
  }
}

/** One kind of failing call: who called whom for what, and the answer. */
export interface FailingCall {
  caller: string;
  callee: string;
  call: string;
  status: string;
  /** Calls of this kind that failed. */
  failed: number;
  /** Of those, the ones where the failure started: no call they made failed. */
  started: number;
}

/** Distinct kinds of failing calls kept; more are counted together. */
const MAX_FAILURE_KINDS = 10_000;

/**
 * Failing calls by kind, told apart by where a failure starts (a failing call none of whose own calls
 * failed) and where it is only passed on: in an incident, the first is the place to look.
 */
export class FailureSummary {
  private readonly kinds = new Map<string, FailingCall>();
  /** Failing calls of kinds beyond the bound. */
  other = 0;

  add(tree: TraceTree): void {
    this.visit(tree.root);
  }

  /**
   * The `limit` kinds with most failures started, then most failed; `others`: the failing calls of
   * every other kind (those past the bound included).
   */
  top(limit = 10): { kinds: FailingCall[]; others: number } {
    const sorted = [...this.kinds.values()].sort((a, b) => b.started - a.started || b.failed - a.failed);
    const others = sorted.slice(limit).reduce((n, kind) => n + kind.failed, this.other);
    return { kinds: sorted.slice(0, limit), others };
  }

  private visit(node: SpanNode): void {
    for (const child of node.children) this.visit(child);
    const s = node.span;
    if (!s.error) return;
    const call = spanLabel(s);
    const status = statusText(s);
    const key = `${s.peerService}\u0000${s.service}\u0000${call}\u0000${status}`;
    let kind = this.kinds.get(key);
    if (!kind) {
      if (this.kinds.size >= MAX_FAILURE_KINDS) {
        this.other++;
        return;
      }
      this.kinds.set(key, (kind = { caller: s.peerService, callee: s.service, call: truncate(call, 60), status, failed: 0, started: 0 }));
    }
    kind.failed++;
    if (!node.children.some((c) => c.span.error)) kind.started++;
  }
}

export interface ReportInput {
  exchangesByProtocol: Record<string, { exchanges: number; errors: number; incomplete: number }>;
  traces: number;
  serviceMap: ServiceMap;
  slowest: readonly TraceTree[];
  /** Failing calls by kind (FailureSummary.top); optional. */
  failing?: readonly FailingCall[];
  /** Failing calls not in `failing` (FailureSummary.top's `others`). */
  failingOther?: number;
  /** Connections no analyzer took; optional for callers that do not track them. */
  unanalysed?: readonly UnanalysedGroup[];
  /** TLS sessions decrypted with logged secrets. */
  tlsDecrypted?: number;
  warnings: string[];
}

/** Rows of the "Not analysed" section before the rest is summed up. */
const UNANALYSED_ROWS = 10;

/** The terminal report printed by `read` and `capture`. */
export function renderReport(r: ReportInput, color = false): string {
  const bold = (s: string): string => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const red = (s: string): string => (color ? `\x1b[31m${s}\x1b[0m` : s);
  const out: string[] = [];
  out.push(bold('Exchanges'));
  const protoRows = Object.entries(r.exchangesByProtocol).sort(([a], [b]) => (a < b ? -1 : 1));
  if (protoRows.length === 0) out.push('  none found');
  out.push(
    ...table(
      ['protocol', 'exchanges', 'errors', 'no response'],
      protoRows.map(([p, c]) => [p, String(c.exchanges), String(c.errors), String(c.incomplete)]),
    ).map((l) => '  ' + l),
  );
  out.push(`  traces: ${r.traces}`);
  if (r.tlsDecrypted) out.push(`  TLS sessions decrypted with their secrets: ${r.tlsDecrypted}`);
  out.push('');
  out.push(bold('Service map'));
  if (r.serviceMap.edges.length === 0) out.push('  no calls');
  out.push(
    ...table(
      ['caller', 'callee', 'proto', 'calls', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'],
      r.serviceMap.edges.map((e) => [
        e.source,
        e.target,
        e.protocol,
        String(e.calls),
        e.errors ? red(String(e.errors)) : '0',
        ms(e.latencyMs.p50),
        ms(e.latencyMs.p95),
        ms(e.latencyMs.p99),
        ms(e.latencyMs.max),
      ]),
    ).map((l) => '  ' + l),
  );
  const failing = r.failing ?? [];
  if (failing.length > 0) {
    out.push('');
    out.push(bold('Failing calls') + '  (started: failed while none of its own calls did, where failures begin)');
    out.push(
      ...table(
        ['caller', 'callee', 'call', 'status', 'failed', 'started'],
        failing.map((f) => [f.caller, f.callee, f.call, red(f.status), String(f.failed), String(f.started)]),
        4,
      ).map((l) => '  ' + l),
    );
    if (r.failingOther) out.push(`  ... and ${r.failingOther} failing calls of other kinds`);
  }
  if (r.slowest.length > 0) {
    out.push('');
    out.push(bold(`Slowest traces`));
    for (const t of r.slowest) {
      out.push(`  trace ${t.traceId}  ${t.spans} span${t.spans === 1 ? '' : 's'}`);
      drawTree(t.root, '    ', out, red);
    }
  }
  const unanalysed = r.unanalysed ?? [];
  if (unanalysed.length > 0) {
    out.push('');
    out.push(bold('Not analysed'));
    const shown = unanalysed.slice(0, UNANALYSED_ROWS);
    out.push(
      ...table(
        ['what', 'server', 'server name (TLS SNI)', 'connections', 'hello ms', 'failed handshakes'],
        shown.map((g) => [
          g.kind !== 'tls' ? 'not recognised' : g.reason ? `TLS, not decrypted: ${g.reason}` : 'TLS (encrypted)',
          `${g.server.ip.includes(':') ? `[${g.server.ip}]` : g.server.ip}:${g.server.port}`,
          g.serverName ?? '',
          String(g.connections),
          g.helloMs ? ms(g.helloMs.p50) : '',
          failedText(g.failures),
        ]),
        3,
      ).map((l) => '  ' + l.trimEnd()),
    );
    const rest = unanalysed.slice(UNANALYSED_ROWS);
    if (rest.length > 0) {
      const connections = rest.reduce((n, g) => n + g.connections, 0);
      out.push(`  ... and ${connections} more connection${connections === 1 ? '' : 's'} to ${rest.length} other server${rest.length === 1 ? '' : 's'}`);
    }
    if (unanalysed.some((g) => g.kind === 'tls' && !g.reason)) {
      out.push('  TLS is analysed given its session secrets: --tls-keylog FILE (SSLKEYLOGFILE), or a pcapng that carries them (editcap --inject-secrets tls,FILE)');
    }
  }
  if (r.warnings.length > 0) {
    out.push('');
    out.push(bold('Warnings'));
    for (const w of r.warnings) out.push(`  ${w}`);
  }
  return out.join('\n') + '\n';
}

function drawTree(node: SpanNode, indent: string, out: string[], red: (s: string) => string): void {
  const s = node.span;
  const status = statusText(s);
  const dur = s.durationUs !== null ? `${ms(s.durationUs / 1000).padStart(9)} ms` : expectsResponse(s) ? '   (open)' : '  (one-way)';
  const link = s.link ? `  [${s.link}]` : '';
  const self = selfTimeUs(node);
  const own = self === null ? '' : `  (self ${ms(self / 1000)} ms)`;
  out.push(`${indent}${dur}  ${s.peerService} → ${s.service}  ${spanLabel(s)}  ${s.error ? red(status) : status}${link}${own}`);
  for (const c of node.children) drawTree(c, indent + '  ', out, red);
}

/**
 * Time the exchange spent outside its calls: its duration less the union of its children's windows
 * (calls made in parallel count once). Null for an exchange without calls or without an end.
 */
export function selfTimeUs(node: SpanNode): number | null {
  const s = node.span;
  if (node.children.length === 0 || s.endUs === null) return null;
  const windows = node.children
    .map((c) => [Math.max(c.span.startUs, s.startUs), Math.min(c.span.endUs ?? s.endUs!, s.endUs!)] as const)
    .filter(([from, to]) => to > from)
    .sort((a, b) => a[0] - b[0]);
  let busy = 0;
  let reached = -Infinity;
  for (const [from, to] of windows) {
    if (to <= reached) continue;
    busy += to - Math.max(from, reached);
    reached = to;
  }
  return s.endUs - s.startUs - busy;
}

/** A one-line description of what was asked: `GET /orders/7`, `/shop.Inventory/Reserve`, `QUERY SELECT ...`. */
export function spanLabel(s: Pick<SpanRecord, 'protocol' | 'request'>): string {
  switch (s.protocol) {
    case 'http':
    case 'http2': {
      const r = s.request as HttpRequestInfo | Http2RequestInfo;
      return `${r.method} ${r.path}`;
    }
    case 'grpc':
      return (s.request as GrpcRequestInfo).path ?? '<unknown path>';
    case 'mysql': {
      const r = s.request as MysqlRequestInfo;
      const sql = r.normalizedSql ?? r.sql;
      return sql ? `${r.command} ${truncate(sql, 60)}` : r.command;
    }
  }
}

/** Columns after the first `leftColumns` are right-aligned (numbers). */
function table(header: string[], rows: string[][], leftColumns = 2): string[] {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string): number => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < leftColumns ? c + ' '.repeat(widths[i]! - visible(c)) : ' '.repeat(widths[i]! - visible(c)) + c))
      .join('  ')
      .trimEnd();
  return rows.length === 0 ? [] : [line(header), ...rows.map(line)];
}

function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + '…';
}

function duration(t: TraceTree): number {
  return t.endUs === null ? 0 : t.endUs - t.startUs;
}

/** "3 unknown_ca from the client" (one reason), "5 (most: 3 unknown_ca from the client)"; '' when none failed. */
function failedText(failures: Record<string, number> | undefined): string {
  const entries = Object.entries(failures ?? {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '';
  const total = entries.reduce((n, [, c]) => n + c, 0);
  return entries.length === 1 ? `${total} ${entries[0]![0]}` : `${total} (most: ${entries[0]![1]} ${entries[0]![0]})`;
}
