import type { LiveCaptureStats, TimestampSource } from './types.js';

/** The `--stats-json` document (docs/live-capture.md). Unknown figures are null, never 0. */
export interface CaptureStatsDocument {
  schema: 'wirespan-capture-stats/1';
  interface: string;
  filter: string | null;
  backend: LiveCaptureStats['backend'];
  timestamps: TimestampSource;
  startedAtUs: number;
  stoppedAtUs: number;
  stoppedBy: string;
  packets: { captured: number; bytes: number; written: number | null; savePath: string | null };
  drops: {
    kernel: number | null;
    kernelReceived: number | null;
    kernelStatsSource: string;
    interfacePcap: number | null;
    interfaceRxDropped: number | null;
    helper: number | null;
    wirespan: number;
  };
  backlog: { maxQueuedBytes: number; readPauses: number; maxLagMs: number | null };
}

export function captureStatsDocument(run: {
  interface: string;
  filter: string | undefined;
  savePath: string | undefined;
  startedAtUs: number;
  stoppedAtUs: number;
  stoppedBy: string;
  stats: LiveCaptureStats;
}): CaptureStatsDocument {
  const s = run.stats;
  return {
    schema: 'wirespan-capture-stats/1',
    interface: run.interface,
    filter: run.filter || null,
    backend: s.backend,
    timestamps: s.timestamps,
    startedAtUs: Math.round(run.startedAtUs),
    stoppedAtUs: Math.round(run.stoppedAtUs),
    stoppedBy: run.stoppedBy,
    packets: { captured: s.packets, bytes: s.bytes, written: run.savePath ? s.packets + s.wirespanDropped : null, savePath: run.savePath ?? null },
    drops: {
      kernel: s.kernelDropped,
      kernelReceived: s.kernelReceived,
      kernelStatsSource: s.kernelStatsSource,
      interfacePcap: s.interfaceDroppedByPcap,
      interfaceRxDropped: s.interfaceRxDropped,
      helper: s.helperDropped,
      wirespan: s.wirespanDropped,
    },
    backlog: { maxQueuedBytes: s.maxQueuedBytes, readPauses: s.readPauses, maxLagMs: s.maxLagMs === null ? null : round3(s.maxLagMs) },
  };
}

/** Total of the known drop figures (for "were there any?"). */
export function knownDrops(s: LiveCaptureStats): number {
  return (s.kernelDropped ?? 0) + (s.interfaceDroppedByPcap ?? 0) + (s.interfaceRxDropped ?? 0) + (s.helperDropped ?? 0) + s.wirespanDropped;
}

/** One stderr line about drops, or null when nothing changed since `previous`. */
export function dropChangeLine(previous: LiveCaptureStats | null, current: LiveCaptureStats): string | null {
  const keys = ['kernelDropped', 'interfaceDroppedByPcap', 'interfaceRxDropped', 'helperDropped', 'wirespanDropped'] as const;
  const changed = keys.some((k) => (current[k] ?? 0) !== (previous?.[k] ?? 0));
  if (!changed) return null;
  return `wirespan: drops so far: ${dropParts(current).join(', ')}`;
}

function dropParts(s: LiveCaptureStats): string[] {
  const parts = [`kernel ${figure(s.kernelDropped)}`];
  if (s.interfaceDroppedByPcap !== null) parts.push(`interface (pcap) ${s.interfaceDroppedByPcap}`);
  parts.push(`interface rx_dropped ${figure(s.interfaceRxDropped)}`);
  if (s.helperDropped !== null) parts.push(`${s.backend} ${s.helperDropped}`);
  parts.push(`wirespan ${s.wirespanDropped}`);
  if (s.lagMs !== null) parts.push(`analysis lag ${s.lagMs.toFixed(1)} ms`);
  return parts;
}

export function timestampDescription(t: TimestampSource): string {
  switch (t) {
    case 'kernel-ns':
      return 'kernel timestamps, ns';
    case 'kernel-us':
      return 'kernel timestamps, µs';
    case 'js-receive':
      return 'JavaScript receive time, not kernel timestamps';
  }
}

/** The capture block printed after the analysis report. */
export function renderCaptureSummary(doc: CaptureStatsDocument): string {
  const seconds = (doc.stoppedAtUs - doc.startedAtUs) / 1e6;
  const d = doc.drops;
  const rows: [string, string][] = [
    ['backend', `${doc.backend} (${timestampDescription(doc.timestamps)})`],
    ['interface', `${doc.interface}${doc.filter ? ` filter "${doc.filter}"` : ''}, ${seconds.toFixed(1)} s, stopped by ${doc.stoppedBy}`],
    ['packets', `${doc.packets.captured} (${doc.packets.bytes} bytes)${doc.packets.savePath ? `, written to ${doc.packets.savePath}` : ''}`],
    ['kernel drops', `${figure(d.kernel)}${d.kernelReceived !== null ? ` of ${d.kernelReceived} received` : ''} (${d.kernelStatsSource})`],
    ['interface drops', `${figure(d.interfaceRxDropped)} (rx_dropped)${d.interfacePcap !== null ? `, ${d.interfacePcap} (pcap ps_ifdrop)` : ''}`],
    ['wirespan drops', `${d.wirespan}${d.helper !== null ? `, ${doc.backend} ${d.helper}` : ''}`],
    ['backlog', `max ${formatBytes(doc.backlog.maxQueuedBytes)} queued, ${doc.backlog.readPauses} read pauses, max analysis lag ${doc.backlog.maxLagMs === null ? 'n/a' : `${doc.backlog.maxLagMs.toFixed(1)} ms`}`],
  ];
  return `Capture\n${rows.map(([k, v]) => `  ${k.padEnd(16)}${v}`).join('\n')}\n`;
}

function figure(n: number | null): string {
  return n === null ? 'unknown' : String(n);
}

function formatBytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
