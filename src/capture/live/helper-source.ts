import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { CaptureParser } from '../parser.js';
import type { CaptureFileInfo, CapturedPacket } from '../types.js';
import { BatchQueue } from './batch-queue.js';
import { classifyCaptureError, LiveCaptureError } from './errors.js';
import type { HelperKernelStats, HelperSpec } from './helpers.js';
import { readInterfaceRxDropped } from './interfaces.js';
import type { LiveCaptureOptions, LiveCaptureStats, LivePacketSource } from './types.js';

const START_TIMEOUT_MS = 15_000;
const CHECK_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
/** Bytes parsed but not yet analysed above which reading from the helper pauses. */
const HIGH_WATER_BYTES = 64 * 1024 * 1024;
const STDERR_LINES_KEPT = 20;

/**
 * A capture run by a privileged helper (tcpdump or dumpcap) writing pcap/pcapng to a pipe, read
 * with wirespan's own CaptureParser: Wireshark's dumpcap design. Packet times are the kernel's.
 * When analysis falls behind, reading pauses: the pipe fills, the helper blocks, and the kernel
 * drops (counted by libpcap and reported), so nothing is lost without a number.
 */
export class HelperCaptureSource implements LivePacketSource {
  readonly backend: HelperSpec['backend'];
  readonly timestamps: HelperSpec['timestamps'];
  readonly warnings: readonly string[] = [];
  private readonly parser: CaptureParser;
  private readonly queue: BatchQueue;
  private readonly kernel: HelperKernelStats = { received: null, dropped: null, interfaceDropped: null, helperDropped: null, source: 'none yet' };
  private readonly stderrLines: string[] = [];
  private child: ChildProcess | null = null;
  private save: WriteStream | null = null;
  private helperReady = false;
  private stopping = false;
  private rxDroppedAtStart: number | null = null;

  constructor(
    private readonly spec: HelperSpec,
    private readonly opts: LiveCaptureOptions,
  ) {
    this.backend = spec.backend;
    this.timestamps = spec.timestamps;
    this.parser = new CaptureParser({ name: `${spec.backend} on ${opts.interface}`, sourceIndex: 0, counters: opts.counters });
    this.queue = new BatchQueue({
      highWaterBytes: HIGH_WATER_BYTES,
      onFull: () => this.child?.stdout?.pause(),
      onDrained: () => this.child?.stdout?.resume(),
    });
  }

  async start(): Promise<void> {
    await this.check();
    if (this.opts.savePath !== undefined) this.save = openSaveFile(this.opts.savePath);
    this.rxDroppedAtStart = readInterfaceRxDropped(this.opts.interface);
    const child = (this.child = spawn(this.spec.program, this.spec.captureArgs(this.opts), { stdio: ['ignore', 'pipe', 'pipe'] }));
    forEachLine(child.stderr!, (line) => this.stderrLine(line));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new LiveCaptureError('ERR_CAPTURE_FAILED', `${this.spec.backend} did not start capturing on ${this.opts.interface} within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      let settled = false;
      const fail = (error: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(error);
      };
      child.once('error', (error) => fail(new LiveCaptureError('ERR_BACKEND_MISSING', `cannot run ${this.spec.program}: ${error.message}`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          resolve();
        }
        this.chunk(chunk);
      });
      child.stdout!.once('end', () => this.endOfStream());
      child.once('close', (code, signal) => {
        if (!settled) fail(classifyCaptureError(this.stderrLines.join('\n'), this.opts.interface, this.spec.program));
        else void this.closed(code, signal);
      });
    });
  }

  batches(): AsyncIterable<CapturedPacket[]> {
    return this.queue.drain();
  }

  info(): CaptureFileInfo[] {
    return [this.parser.info()];
  }

  stop(): void {
    if (this.stopping || this.child === null || this.child.exitCode !== null) return;
    this.stopping = true;
    const child = this.child;
    child.stdout?.resume();
    const signal = (): void => {
      child.kill('SIGINT');
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      child.once('close', () => clearTimeout(force));
    };
    if (this.spec.stopDelayMs > 0) setTimeout(signal, this.spec.stopDelayMs);
    else signal();
  }

  requestStats(): void {
    const signal = this.spec.statsSignal;
    if (signal && this.helperReady && !this.stopping && this.child?.exitCode === null) this.child.kill(signal);
  }

  stats(): LiveCaptureStats {
    const rx = readInterfaceRxDropped(this.opts.interface);
    const q = this.queue;
    return {
      backend: this.backend,
      timestamps: this.timestamps,
      packets: q.packets,
      bytes: q.bytes,
      kernelReceived: this.kernel.received,
      kernelDropped: this.kernel.dropped,
      interfaceDroppedByPcap: this.kernel.interfaceDropped,
      helperDropped: this.kernel.helperDropped,
      kernelStatsSource: this.kernel.source,
      interfaceRxDropped: rx !== null && this.rxDroppedAtStart !== null ? rx - this.rxDroppedAtStart : null,
      wirespanDropped: 0,
      queuedBytes: q.queuedBytes,
      maxQueuedBytes: q.maxQueuedBytes,
      readPauses: q.fullCount,
      lagMs: q.lagUs === null ? null : q.lagUs / 1000,
      maxLagMs: q.maxLagUs === null ? null : q.maxLagUs / 1000,
    };
  }

  /** Runs the helper's check mode so that a bad interface or filter fails at once, with libpcap's words. */
  private async check(): Promise<void> {
    const args = this.spec.checkArgs(this.opts);
    const { stderr, exitCode, spawnError } = await runToEnd(this.spec.program, args, CHECK_TIMEOUT_MS);
    if (spawnError) throw new LiveCaptureError('ERR_BACKEND_MISSING', `cannot run ${this.spec.program}: ${spawnError.message}`);
    if (!this.spec.checkFailed(stderr, exitCode)) return;
    throw classifyCaptureError(stderr, this.opts.interface, this.spec.program, this.opts.filter || undefined);
  }

  private chunk(chunk: Buffer): void {
    this.save?.write(chunk);
    let packets: CapturedPacket[];
    try {
      packets = this.parser.push(chunk);
    } catch (error) {
      this.abort(error as Error);
      return;
    }
    this.queue.push(packets, chunk.length);
  }

  private endOfStream(): void {
    try {
      const last = this.parser.end();
      this.queue.push(last, last.reduce((n, p) => n + p.data.length, 0));
    } catch (error) {
      // A helper that never wrote a header failed; its stderr (read at close) says why.
      if (this.parser.info().packets > 0) this.opts.counters.add('capture.live-stream-error');
    }
  }

  private async closed(code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    if (this.save) {
      this.save.end();
      await finished(this.save).catch(() => undefined);
    }
    const failed = !this.stopping && signal === null && code !== 0;
    const killed = !this.stopping && signal !== null;
    if (failed || killed) {
      const text = this.stderrLines.join('\n') || `${this.spec.backend} exited with ${signal ?? `code ${code}`}`;
      this.queue.end(classifyCaptureError(text, this.opts.interface, this.spec.program));
      return;
    }
    this.queue.end();
  }

  private abort(error: Error): void {
    this.queue.end(error);
    this.child?.kill('SIGKILL');
  }

  private stderrLine(line: string): void {
    if (this.spec.isReadyLine(line)) this.helperReady = true;
    if (this.spec.parseStatsLine(line, this.kernel)) return;
    this.stderrLines.push(line);
    if (this.stderrLines.length > STDERR_LINES_KEPT) this.stderrLines.shift();
  }
}

function openSaveFile(path: string): WriteStream {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (error) {
    throw new LiveCaptureError('ERR_CAPTURE_FAILED', `cannot write ${path}: ${(error as Error).message}`);
  }
  const stream = createWriteStream(path, { fd });
  stream.on('error', () => closeSyncQuietly(fd));
  return stream;
}

function closeSyncQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed by the stream
  }
}

function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    const lines = (rest + text).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) onLine(line.trim());
  });
  stream.on('end', () => {
    if (rest.trim()) onLine(rest.trim());
  });
}

/** Runs a program to completion (bounded), collecting stderr. */
export function runToEnd(
  program: string,
  args: string[],
  timeoutMs: number,
): Promise<{ stdout: string; stderr: string; exitCode: number | null; spawnError: Error | null }> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let spawnError: Error | null = null;
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => (spawnError = error));
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, exitCode: code, spawnError });
    });
  });
}
