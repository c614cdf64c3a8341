/**
 * tshark and capinfos as oracles: run them (execFile, never a shell) and parse what they print.
 * Tests skip with `missingTools(...)` as the reason when a tool is not installed.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const MAX_OUTPUT = 256 * 1024 * 1024;

/** A skip reason naming the tools that are not installed, or false when all are. */
export function missingTools(...tools: string[]): string | false {
  const missing = tools.filter((tool) => spawnSync(tool, ['-v'], { stdio: 'ignore' }).status !== 0);
  return missing.length === 0 ? false : `not installed: ${missing.join(', ')}`;
}

/** `capinfos -c -M FILE`: the exact packet count. */
export function capinfosPacketCount(file: string): number {
  return parseCapinfosPackets(execFileSync('capinfos', ['-c', '-M', file], { encoding: 'utf8', maxBuffer: MAX_OUTPUT }));
}

export function parseCapinfosPackets(text: string): number {
  const match = /^Number of packets:\s*(\d+)\s*$/m.exec(text);
  if (!match) throw new Error(`capinfos printed no packet count:\n${text}`);
  return Number(match[1]);
}

export interface FieldsOptions {
  /** A display filter (`-Y`). */
  filter?: string;
  /** Further arguments, e.g. `['-d', 'tcp.port==50051,http2']`. */
  args?: string[];
}

function fieldsArgs(file: string, fields: readonly string[], opts: FieldsOptions): string[] {
  const args = ['-r', file, '-n', ...(opts.args ?? [])];
  if (opts.filter) args.push('-Y', opts.filter);
  args.push('-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f');
  for (const field of fields) args.push('-e', field);
  return args;
}

function parseRows(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => line.split('\t'));
}

/** `tshark -T fields`: one row per packet, one cell per field (first occurrence; '' when absent). */
export function tsharkFields(file: string, fields: readonly string[], opts: FieldsOptions = {}): string[][] {
  return parseRows(execFileSync('tshark', fieldsArgs(file, fields, opts), { encoding: 'utf8', maxBuffer: MAX_OUTPUT, stdio: ['ignore', 'pipe', 'ignore'] }));
}

export async function tsharkFieldsAsync(file: string, fields: readonly string[], opts: FieldsOptions = {}): Promise<string[][]> {
  const { stdout } = await execFileAsync('tshark', fieldsArgs(file, fields, opts), { encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  return parseRows(stdout);
}

/** One TCP packet as tshark analysed it. Flags are tshark's expert analysis (tcp.analysis.*). */
export interface TsharkTcpPacket {
  frame: number;
  stream: number;
  /** `ip:port`, IPv6 addresses in canonical (RFC 5952) text. */
  src: string;
  dst: string;
  /** Raw (absolute) sequence number. */
  seq: number;
  /** Raw acknowledgment number; null without the ACK flag. */
  ack: number | null;
  len: number;
  syn: boolean;
  fin: boolean;
  /** retransmission, fast_retransmission or spurious_retransmission. */
  retransmission: boolean;
  /** "previous segment not captured": a hole before this segment, in this direction. */
  lostSegment: boolean;
  /** "ACKed unseen segment": the other direction sent bytes the capture does not hold. */
  ackLostSegment: boolean;
}

const TCP_PACKET_FIELDS = [
  'frame.number',
  'tcp.stream',
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.flags.ack',
  'tcp.len',
  'tcp.flags.syn',
  'tcp.flags.fin',
  'tcp.analysis.retransmission',
  'tcp.analysis.fast_retransmission',
  'tcp.analysis.spurious_retransmission',
  'tcp.analysis.lost_segment',
  'tcp.analysis.ack_lost_segment',
] as const;

/**
 * Every TCP packet of a file with tshark's stream index and analysis flags, in one tshark pass.
 * Tunnelled packets report the innermost addresses (`occurrence=f` takes the first, so those are
 * the outer ones: the files this is meant for carry TCP directly over IP).
 */
export async function tsharkTcpPackets(file: string): Promise<TsharkTcpPacket[]> {
  const rows = await tsharkFieldsAsync(file, TCP_PACKET_FIELDS, { filter: 'tcp' });
  return rows.map((cells) => {
    const cell = (name: (typeof TCP_PACKET_FIELDS)[number]): string => cells[TCP_PACKET_FIELDS.indexOf(name)] ?? '';
    const flag = (name: (typeof TCP_PACKET_FIELDS)[number]): boolean => cell(name) !== '' && cell(name) !== '0';
    return {
      frame: Number(cell('frame.number')),
      stream: Number(cell('tcp.stream')),
      src: endpoint(cell('ip.src') || cell('ipv6.src'), cell('tcp.srcport')),
      dst: endpoint(cell('ip.dst') || cell('ipv6.dst'), cell('tcp.dstport')),
      seq: Number(cell('tcp.seq_raw')),
      ack: isSet(cell('tcp.flags.ack')) ? Number(cell('tcp.ack_raw')) : null,
      len: Number(cell('tcp.len') || 0),
      syn: isSet(cell('tcp.flags.syn')),
      fin: isSet(cell('tcp.flags.fin')),
      retransmission:
        flag('tcp.analysis.retransmission') || flag('tcp.analysis.fast_retransmission') || flag('tcp.analysis.spurious_retransmission'),
      lostSegment: flag('tcp.analysis.lost_segment'),
      ackLostSegment: flag('tcp.analysis.ack_lost_segment'),
    };
  });
}

function isSet(cell: string): boolean {
  return cell === '1' || cell === 'True';
}

/** `ip:port` with the address in canonical text, so tshark's and wirespan's spellings compare equal. */
export function endpoint(ip: string, port: string | number): string {
  return `${canonicalIp(ip)}:${port}`;
}

export function canonicalIp(ip: string): string {
  return ip.includes(':') ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

/** One tshark TCP stream (`tcp.stream`): its endpoints and, per sending endpoint, what it sent. */
export interface TsharkStream {
  id: number;
  /** The two endpoints, sorted, so a stream's 4-tuple compares without regard to direction. */
  tuple: string;
  /** Payload bytes per sending endpoint, retransmissions excluded. */
  bytes: Map<string, number>;
  /** Senders with tshark's "previous segment not captured" (lost_segment) on their packets. */
  holeFrom: Set<string>;
  /**
   * Per sender, the sequence space between its first and last captured byte (SYN and FIN count as
   * one) that no captured segment covers, extended to the furthest byte the peer acknowledged in a
   * packet carrying payload (more than one byte past what was captured: one is as likely a lost FIN
   * or a keep-alive): what the capture really lost, whatever order segments came in. tshark's lost_segment flag is a per-packet guess that a later segment may disprove
   * (reordering) or that misfires (a keep-alive at next − 1 as the first packet seen).
   */
  holeBytes: Map<string, number>;
  /** Senders whose peer acknowledged bytes the capture does not hold (ack_lost_segment on the peer's packets). */
  unseenFrom: Set<string>;
}

/** Whether tshark saw loss in what `sender` sent on this stream, and which kind. */
export function lossFlags(stream: TsharkStream, sender: string): string[] {
  const flags: string[] = [];
  if (stream.holeFrom.has(sender)) flags.push('lost_segment');
  if (stream.unseenFrom.has(sender)) flags.push('ack_lost_segment');
  return flags;
}

/** Groups packets into tshark's streams, in stream-index order. */
export function tsharkStreams(packets: readonly TsharkTcpPacket[]): TsharkStream[] {
  const streams = new Map<number, TsharkStream>();
  const ranges = new Map<string, SequenceRanges>();
  for (const p of packets) {
    let stream = streams.get(p.stream);
    if (!stream) {
      stream = { id: p.stream, tuple: tupleKey(p.src, p.dst), bytes: new Map(), holeFrom: new Set(), unseenFrom: new Set(), holeBytes: new Map() };
      streams.set(p.stream, stream);
    }
    const occupies = p.len + (p.syn ? 1 : 0) + (p.fin ? 1 : 0);
    if (occupies > 0) {
      const key = `${p.stream} ${p.src}`;
      let r = ranges.get(key);
      if (!r) ranges.set(key, (r = new SequenceRanges(p.seq)));
      r.add(p.seq, occupies);
    }
    if (p.len > 0 && p.ack !== null) ranges.get(`${p.stream} ${p.dst}`)?.acknowledged(p.ack);
    if (!p.retransmission) stream.bytes.set(p.src, (stream.bytes.get(p.src) ?? 0) + p.len);
    if (p.lostSegment) stream.holeFrom.add(p.src);
    if (p.ackLostSegment) stream.unseenFrom.add(p.dst);
  }
  for (const [key, r] of ranges) {
    const [id, sender] = key.split(' ') as [string, string];
    streams.get(Number(id))!.holeBytes.set(sender, r.holes());
  }
  return [...streams.values()].sort((a, b) => a.id - b.id);
}

/** The 4-tuple of a connection as one string, the same whichever endpoint comes first. */
export function tupleKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** Sequence ranges of one direction, relative to its first sequence number (wrapping modulo 2^32). */
class SequenceRanges {
  private readonly ranges: [number, number][] = [];
  /** Furthest acknowledged offset seen so far that lies more than one byte past every range. */
  private ackedTail = -Infinity;

  constructor(private readonly base: number) {}

  acknowledged(ack: number): void {
    const at = (ack - this.base) | 0;
    const covered = Math.max(...this.ranges.map((r) => r[1]));
    if (at - covered > 1 && at - covered <= 16 * 1024 * 1024) this.ackedTail = Math.max(this.ackedTail, at);
  }

  add(seq: number, length: number): void {
    const start = (seq - this.base) | 0; // signed distance: segments before the first one are negative
    this.ranges.push([start, start + length]);
  }

  /** Bytes between the lowest and the highest covered sequence number that no range covers. */
  holes(): number {
    const sorted = [...this.ranges].sort((a, b) => a[0] - b[0]);
    let missing = 0;
    let end = sorted[0]?.[1] ?? 0;
    for (const [start, stop] of sorted) {
      if (start > end) missing += start - end;
      end = Math.max(end, stop);
    }
    if (this.ackedTail > end) missing += this.ackedTail - end;
    return missing;
  }
}
