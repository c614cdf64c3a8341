import { Option, type Command } from 'commander';
import { wallClockUs } from '../../capture/live/batch-queue.js';
import { LIVE_BACKENDS, openLiveCapture } from '../../capture/live/open.js';
import {
  captureStatsDocument,
  dropChangeLine,
  knownDrops,
  renderCaptureSummary,
  timestampDescription,
} from '../../capture/live/summary.js';
import type { LiveBackendName, LiveCaptureStats, LivePacketSource } from '../../capture/live/types.js';
import { ReorderWindow } from '../../capture/time-order.js';
import type { CapturedPacket } from '../../capture/types.js';
import { renderServiceMap } from '../../export/service-map/formats.js';
import { Pipeline } from '../../pipeline.js';
import { Counters } from '../../util/counters.js';
import { CliError } from '../errors.js';
import { writeFileAtomic } from '../output.js';
import { addAnalysisOptions, AnalysisSession, parseReorderWindow, positiveInt, type AnalysisFlags } from './read.js';

interface CaptureFlags extends AnalysisFlags {
  interface: string;
  filter?: string;
  snaplen: string;
  promisc: boolean;
  buffer?: string;
  write?: string;
  count?: string;
  duration?: string;
  backend?: LiveBackendName;
  mapInterval: string;
  statsJson?: string;
  statsInterval: string;
}

/** Wall-clock idle after which the correlator is advanced by the clock rather than by packets. */
const IDLE_TICK_MS = 250;
/** The clock is set back this much when ticking, for packets still on their way through the pipe. */
const TICK_MARGIN_US = 100_000;
/** Live capture holds exchanges less long than `read` does, so output follows the traffic. */
const LIVE_LINGER_SECONDS = '5';

export function registerCapture(program: Command): void {
  const cmd = addAnalysisOptions(
    program
      .command('capture')
      .description('Capture from a network interface and produce exchanges, traces and a service map as they happen')
      .requiredOption('-i, --interface <name>', 'interface to capture on (`any` for all; see `wirespan interfaces`)')
      .option('-f, --filter <bpf>', 'capture filter, libpcap syntax (e.g. "tcp port 8080")')
      .option('-s, --snaplen <bytes>', 'bytes kept of each packet (0 = the backend maximum)', '0')
      .option('--no-promisc', 'do not put the interface in promiscuous mode')
      .option('-B, --buffer <MiB>', 'kernel capture buffer size in MiB')
      .option('-w, --write <file>', 'also write the packets to a capture file (pcap; pcapng with dumpcap)')
      .option('-c, --count <n>', 'stop after n packets')
      .option('--duration <seconds>', 'stop after this many seconds')
      .addOption(new Option('--backend <name>', 'capture backend (default: the first installed of dumpcap, tcpdump, cap)').choices(LIVE_BACKENDS as string[]))
      .option('--map-interval <seconds>', 'rewrite the --service-map file this often', '5')
      .option('--stats-json <file>', 'write capture and drop statistics (JSON) at the end')
      .option('--stats-interval <seconds>', 'how often drop counters are polled', '1'),
  );
  const linger = cmd.options.find((o) => o.long === '--linger');
  linger?.default(LIVE_LINGER_SECONDS);
  cmd.setOptionValueWithSource('linger', LIVE_LINGER_SECONDS, 'default');
  cmd.action(async (flags: CaptureFlags) => runCapture(flags));
}

async function runCapture(flags: CaptureFlags): Promise<void> {
  const settings = parseSettings(flags);
  const counters = new Counters();
  const recorder = flags.write !== undefined && !flags.exchanges && !flags.traces && !flags.serviceMap && !flags.otlp && !flags.zipkin;
  const session = recorder ? null : await AnalysisSession.open(flags, counters, { live: true });
  const pipeline = session ? new Pipeline(session.pipelineOptions()) : null;
  const source = await openLiveCapture({
    interface: flags.interface,
    filter: flags.filter,
    snaplen: settings.snaplen,
    promiscuous: flags.promisc,
    bufferMiB: settings.bufferMiB,
    count: settings.count,
    savePath: flags.write,
    counters,
    backend: flags.backend,
  });
  await source.start();
  const startedAtUs = wallClockUs();
  announce(source, flags, recorder);

  const window = pipeline && settings.reorderWindowUs > 0 ? new ReorderWindow(settings.reorderWindowUs, counters) : null;
  const run = new LiveRun(source, pipeline, window, flags, settings);
  try {
    for await (const batch of source.batches()) run.batch(batch);
  } finally {
    run.dispose();
  }
  run.drain();
  const stats = source.stats();
  const doc = captureStatsDocument({
    interface: flags.interface,
    filter: flags.filter,
    savePath: flags.write,
    startedAtUs,
    stoppedAtUs: wallClockUs(),
    stoppedBy: run.stoppedBy,
    stats,
  });
  const warnings = [...source.warnings, ...dropWarnings(stats)];
  if (pipeline && session) await session.finish(pipeline.finish(), warnings);
  if (flags.statsJson) writeFileAtomic(flags.statsJson, `${JSON.stringify(doc, null, 2)}\n`);
  if (flags.report) {
    const usesStdout = [flags.exchanges, flags.traces, flags.serviceMap, flags.statsJson].includes('-');
    (usesStdout ? process.stderr : process.stdout).write(renderCaptureSummary(doc));
  }
}

interface Settings {
  snaplen: number;
  bufferMiB: number | undefined;
  count: number | undefined;
  durationMs: number | undefined;
  mapIntervalMs: number;
  statsIntervalMs: number;
  reorderWindowUs: number;
}

function parseSettings(flags: CaptureFlags): Settings {
  return {
    snaplen: positiveInt(flags.snaplen, '--snaplen', true),
    bufferMiB: flags.buffer === undefined ? undefined : positiveNumber(flags.buffer, '--buffer'),
    count: flags.count === undefined ? undefined : positiveInt(flags.count, '--count'),
    durationMs: flags.duration === undefined ? undefined : positiveNumber(flags.duration, '--duration') * 1000,
    mapIntervalMs: positiveNumber(flags.mapInterval, '--map-interval') * 1000,
    statsIntervalMs: positiveNumber(flags.statsInterval, '--stats-interval') * 1000,
    reorderWindowUs: parseReorderWindow(flags.reorderWindow),
  };
}

/**
 * The wall-clock plumbing of one capture: signals, --duration, the idle tick that keeps the
 * correlator moving, the periodic service map and drop reports.
 */
class LiveRun {
  stoppedBy = 'end of capture';
  private readonly timers: NodeJS.Timeout[] = [];
  private lastBatchAt = Date.now();
  private lastShown: LiveCaptureStats | null = null;
  private signals = 0;
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.signals++;
    if (this.signals > 1) {
      process.stderr.write(`wirespan: ${signal} again, exiting without flushing\n`);
      process.exit(130);
    }
    this.stop(signal);
  };

  constructor(
    private readonly source: LivePacketSource,
    private readonly pipeline: Pipeline | null,
    /** Puts packets that came out of timestamp order back in order (several queues, -i any). */
    private readonly window: ReorderWindow | null,
    private readonly flags: CaptureFlags,
    settings: Settings,
  ) {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    if (settings.durationMs !== undefined) this.timers.push(setTimeout(() => this.stop('--duration'), settings.durationMs));
    if (settings.count !== undefined) this.stoppedBy = '--count';
    if (pipeline) this.timers.push(setInterval(() => this.idleTick(), IDLE_TICK_MS));
    if (pipeline && flags.serviceMap && flags.serviceMap !== '-') {
      this.timers.push(setInterval(() => this.writeServiceMap(), settings.mapIntervalMs));
    }
    this.timers.push(setInterval(() => this.pollStats(), settings.statsIntervalMs));
  }

  batch(packets: readonly CapturedPacket[]): void {
    this.analyse(this.window ? this.window.push(packets) : packets);
    this.lastBatchAt = Date.now();
  }

  /** The capture ended: what the window holds goes on. */
  drain(): void {
    if (this.window) this.analyse(this.window.drain());
  }

  private analyse(packets: readonly CapturedPacket[]): void {
    const pipeline = this.pipeline;
    if (pipeline) for (const p of packets) pipeline.packet(p);
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.source.stop();
  }

  private stop(reason: string): void {
    this.stoppedBy = reason;
    this.source.stop();
  }

  private idleTick(): void {
    if (Date.now() - this.lastBatchAt < IDLE_TICK_MS) return;
    // Nothing came for a while: nothing older than what the window holds can still come.
    this.drain();
    this.pipeline?.tick(wallClockUs() - TICK_MARGIN_US);
  }

  private writeServiceMap(): void {
    if (!this.pipeline || !this.flags.serviceMap) return;
    writeFileAtomic(this.flags.serviceMap, renderServiceMap(this.pipeline.serviceMap.build(), this.flags.serviceMapFormat));
  }

  private pollStats(): void {
    this.source.requestStats();
    const current = this.source.stats();
    const line = dropChangeLine(this.lastShown, current);
    if (line !== null) process.stderr.write(`${line}\n`);
    this.lastShown = current;
  }
}

function announce(source: LivePacketSource, flags: CaptureFlags, recorder: boolean): void {
  const what = recorder ? `recording to ${flags.write}` : `analysing${flags.write ? `, writing ${flags.write}` : ''}, linger ${flags.linger} s`;
  process.stderr.write(
    `wirespan: capturing on ${flags.interface} with ${source.backend} (${timestampDescription(source.timestamps)}); ${what}; Ctrl-C stops\n`,
  );
  if (source.timestamps === 'js-receive') {
    process.stderr.write(
      'wirespan: warning: the cap backend gives no kernel timestamps: packet times are when JavaScript received them, so durations include event-loop delay and µs precision does not hold\n',
    );
  }
  for (const w of source.warnings) process.stderr.write(`wirespan: warning: ${w}\n`);
}

function dropWarnings(stats: LiveCaptureStats): string[] {
  if (knownDrops(stats) === 0) return [];
  const parts: string[] = [];
  if (stats.kernelDropped) parts.push(`${stats.kernelDropped} by the kernel`);
  if (stats.interfaceDroppedByPcap) parts.push(`${stats.interfaceDroppedByPcap} by the interface (pcap)`);
  if (stats.interfaceRxDropped) parts.push(`${stats.interfaceRxDropped} interface rx_dropped`);
  if (stats.helperDropped) parts.push(`${stats.helperDropped} by ${stats.backend}`);
  if (stats.wirespanDropped) parts.push(`${stats.wirespanDropped} by wirespan (analysis behind)`);
  return [`packets dropped during capture: ${parts.join(', ')}`];
}

function positiveNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new CliError(`${flag} must be a positive number, got ${value}`);
  return n;
}
