import type { CaptureFileInfo } from '../capture/types.js';
import { linkTypeName } from '../capture/linktypes.js';
import type { Counters } from '../util/counters.js';

/** A figure per direction of a connection (client = the client → server direction). */
export type PerDirection = { client: number; server: number };

/** One TCP connection as `stats --flows` lists it (Zeek conn.log style; docs/formats.md). */
export interface FlowRecord {
  id: number;
  client: { ip: string; port: number };
  server: { ip: string; port: number };
  handshake: boolean;
  startUs: number;
  endUs: number;
  packets: PerDirection;
  payloadBytes: PerDirection;
  retransmittedBytes: PerDirection;
  /** Packets seen a second time (another interface of the host, a SPAN session): not retransmissions. */
  copies: PerDirection;
  gapBytes: PerDirection;
  ended: { client: string | null; server: string | null };
}

export interface CaptureTotals {
  packets: number;
  bytes: number;
  firstPacketUs: number | null;
  lastPacketUs: number | null;
  linkTypes: Record<string, number>;
  network: Record<string, number>;
  transport: Record<string, number>;
  malformed: Record<string, number>;
  truncatedPackets: number;
  tunnelled: Record<string, number>;
}

/** TCP totals over every connection (client = the client → server direction). */
export interface TcpTotals {
  connections: number;
  withHandshake: number;
  withoutHandshake: number;
  packets: PerDirection;
  payloadBytes: PerDirection;
  retransmittedBytes: PerDirection;
  copies: PerDirection;
  outOfOrderSegments: PerDirection;
  gaps: PerDirection;
  gapBytes: PerDirection;
  /** How connections ended: fin, rst, idle, eof (still open at the end of the capture). */
  endings: Record<string, number>;
}

/** What a run of the pipeline counted: the input of the stats document. */
export interface StatsInput {
  totals: CaptureTotals;
  tcp: TcpTotals;
  counters: Counters;
  flows: FlowRecord[];
}

/** The `stats --json` document (field names are stable; docs/formats.md). */
export interface StatsDocument {
  schema: 'wirespan-stats/1';
  files: {
    name: string;
    format: string;
    byteOrder: string;
    linkTypes: { dlt: number; name: string }[];
    snaplen: number;
    packets: number;
    bytes: number;
    warnings: string[];
  }[];
  packets: number;
  bytes: number;
  firstPacketUs: number | null;
  lastPacketUs: number | null;
  durationSeconds: number;
  linkTypes: Record<string, number>;
  network: Record<string, number>;
  transport: Record<string, number>;
  tunnelled: Record<string, number>;
  malformed: Record<string, number>;
  truncatedPackets: number;
  tcp: TcpTotals;
  counters: Record<string, number>;
  flows?: FlowRecord[];
}

export function buildStatsDocument(result: StatsInput, files: CaptureFileInfo[], withFlows: boolean): StatsDocument {
  const t = result.totals;
  const doc: StatsDocument = {
    schema: 'wirespan-stats/1',
    files: files.map((f) => ({
      name: f.name,
      format: f.format,
      byteOrder: f.byteOrder,
      linkTypes: f.linkTypes.map((dlt) => ({ dlt, name: linkTypeName(dlt) })),
      snaplen: f.snaplen,
      packets: f.packets,
      bytes: f.bytes,
      warnings: f.warnings,
    })),
    packets: t.packets,
    bytes: t.bytes,
    firstPacketUs: t.firstPacketUs,
    lastPacketUs: t.lastPacketUs,
    durationSeconds: t.firstPacketUs === null || t.lastPacketUs === null ? 0 : (t.lastPacketUs - t.firstPacketUs) / 1e6,
    linkTypes: t.linkTypes,
    network: t.network,
    transport: t.transport,
    tunnelled: t.tunnelled,
    malformed: t.malformed,
    truncatedPackets: t.truncatedPackets,
    tcp: result.tcp,
    counters: result.counters.toJSON(),
  };
  if (withFlows) doc.flows = result.flows;
  return doc;
}

/** Files listed one by one in the human-readable output; beyond, they are summed up. */
const MAX_FILES_LISTED = 5;

/** The human-readable `stats` output. */
export function renderStats(doc: StatsDocument): string {
  const out: string[] = [];
  const kv = (k: string, v: string | number): void => {
    out.push(`${(k + ':').padEnd(26)}${v}`);
  };
  // A rotating capture's hundreds of files: the first few in full, then the rest summed up (and
  // any of them with a warning in full); --json lists every one.
  const shown = doc.files.length > MAX_FILES_LISTED ? doc.files.slice(0, MAX_FILES_LISTED - 1) : doc.files;
  const rest = doc.files.slice(shown.length);
  for (const f of [...shown, ...rest.filter((r) => r.warnings.length > 0)]) {
    kv('file', `${f.name} (${f.format}, ${f.byteOrder}-endian, snaplen ${f.snaplen})`);
    kv('  link types', f.linkTypes.map((l) => `${l.name} (${l.dlt})`).join(', ') || 'none');
    for (const w of f.warnings) kv('  warning', w);
  }
  if (rest.length > 0) {
    const formats = new Map<string, number>();
    for (const f of rest) {
      const key = `${f.format}, ${f.linkTypes.map((l) => l.name).join('+') || 'no link type'}`;
      formats.set(key, (formats.get(key) ?? 0) + 1);
    }
    kv('more files', `${rest.length} (${[...formats].map(([key, n]) => `${n} ${key}`).join('; ')}), ${rest[rest.length - 1]!.name} the last`);
  }
  kv('packets', doc.packets);
  kv('bytes', doc.bytes);
  kv('first packet', iso(doc.firstPacketUs));
  kv('last packet', iso(doc.lastPacketUs));
  kv('duration', `${doc.durationSeconds.toFixed(6)} s`);
  kv('network', counts(doc.network));
  kv('transport', counts(doc.transport));
  if (Object.keys(doc.tunnelled).length > 0) kv('tunnelled', counts(doc.tunnelled));
  kv('malformed', counts(doc.malformed));
  kv('truncated (snaplen)', doc.truncatedPackets);
  const tcp = doc.tcp;
  kv('tcp connections', `${tcp.connections} (${tcp.withHandshake} with handshake, ${tcp.withoutHandshake} without)`);
  kv('  ended', counts(tcp.endings));
  kv('  payload bytes', `client→server ${tcp.payloadBytes.client}, server→client ${tcp.payloadBytes.server}`);
  kv('  retransmitted bytes', `${tcp.retransmittedBytes.client} / ${tcp.retransmittedBytes.server}`);
  if (tcp.copies.client + tcp.copies.server > 0) {
    kv('  packets seen twice', `${tcp.copies.client} / ${tcp.copies.server} (copies: another interface of the host, a SPAN session; not retransmissions)`);
  }
  kv('  out-of-order segments', `${tcp.outOfOrderSegments.client} / ${tcp.outOfOrderSegments.server}`);
  kv('  gaps', `${tcp.gaps.client + tcp.gaps.server} (${tcp.gapBytes.client + tcp.gapBytes.server} bytes lost)`);
  const twins = doc.counters['tcp.nat-twins'] ?? 0;
  if (twins > 0) kv('  seen twice (NAT)', `${twins} (before and after address translation; analysed once)`);
  if (doc.flows) {
    out.push('');
    out.push(
      ['id', 'client', 'server', 'start', 'duration s', 'pkts c/s', 'bytes c/s', 'gap bytes', 'ended c/s'].join('\t'),
    );
    for (const f of doc.flows) {
      out.push(
        [
          f.id,
          ep(f.client),
          ep(f.server),
          iso(f.startUs),
          ((f.endUs - f.startUs) / 1e6).toFixed(6),
          `${f.packets.client}/${f.packets.server}`,
          `${f.payloadBytes.client}/${f.payloadBytes.server}`,
          f.gapBytes.client + f.gapBytes.server,
          `${f.ended.client ?? '-'}/${f.ended.server ?? '-'}`,
        ].join('\t'),
      );
    }
  }
  return out.join('\n') + '\n';
}

function counts(r: Record<string, number>): string {
  const entries = Object.entries(r);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

function ep(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

function iso(us: number | null): string {
  if (us === null) return '-';
  const whole = Math.floor(us / 1e6);
  const frac = Math.round(us - whole * 1e6);
  return new Date(whole * 1000).toISOString().replace(/\.\d{3}Z$/, `.${String(frac).padStart(6, '0')}Z`);
}
