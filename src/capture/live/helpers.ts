import { DEFAULT_CAPTURE_BUFFER_MIB, type LiveCaptureOptions, type TimestampSource } from './types.js';

/** Kernel figures a helper process reports on stderr (null until it has reported them). */
export interface HelperKernelStats {
  received: number | null;
  dropped: number | null;
  interfaceDropped: number | null;
  helperDropped: number | null;
  /** How the figures were obtained, for the report. */
  source: string;
}

/** What wirespan needs to know to run one capture helper program. */
export interface HelperSpec {
  readonly backend: 'tcpdump' | 'dumpcap';
  /** Absolute path of the program. */
  readonly program: string;
  readonly timestamps: TimestampSource;
  /**
   * How long to keep capturing after a stop is asked for, so that packets still in the kernel ring
   * reach the helper before it is signalled (dumpcap 4.0 has no immediate mode: the ring hands
   * packets over in blocks retired by a 250 ms timeout, and SIGINT loses an unretired block).
   */
  readonly stopDelayMs: number;
  /** A signal that makes the running helper print its kernel counters, when it has one. */
  readonly statsSignal: NodeJS.Signals | null;
  /** Arguments for a capture writing pcap/pcapng to stdout. */
  captureArgs(opts: LiveCaptureOptions): string[];
  /** Arguments that open the interface and compile the filter, then exit (errors are immediate). */
  checkArgs(opts: LiveCaptureOptions): string[];
  /** The check's stderr and exit code say it failed. */
  checkFailed(stderr: string, exitCode: number | null): boolean;
  /** The helper is set up (its stats signal is safe to send) once this stderr line appears. */
  isReadyLine(line: string): boolean;
  /** Reads the counters out of one stderr line; false when the line holds none. */
  parseStatsLine(line: string, into: HelperKernelStats): boolean;
}

export function tcpdumpSpec(program: string): HelperSpec {
  return {
    backend: 'tcpdump',
    program,
    timestamps: 'kernel-ns',
    stopDelayMs: 0,
    // Linux has no SIGINFO; tcpdump prints "N packets captured, N received by filter, N dropped by kernel" on SIGUSR1.
    statsSignal: 'SIGUSR1',
    captureArgs: (o) => [
      '-i', o.interface,
      '--immediate-mode', '-U', '-w', '-',
      '--time-stamp-precision=nano',
      ...(o.snaplen > 0 ? ['-s', String(o.snaplen)] : []),
      ...(o.promiscuous ? [] : ['-p']),
      '-B', String(Math.round((o.bufferMiB ?? DEFAULT_CAPTURE_BUFFER_MIB) * 1024)),
      ...(o.count !== undefined ? ['-c', String(o.count)] : []),
      ...(o.filter ? [o.filter] : []),
    ],
    checkArgs: (o) => ['-d', '-i', o.interface, ...(o.promiscuous ? [] : ['-p']), ...(o.filter ? [o.filter] : [])],
    checkFailed: (_stderr, exitCode) => exitCode !== 0,
    isReadyLine: (line) => line.includes('listening on'),
    parseStatsLine: (line, into) => {
      let found = false;
      const received = /(\d+) packets? received by filter/.exec(line);
      const dropped = /(\d+) packets? dropped by kernel/.exec(line);
      const ifDropped = /(\d+) packets? dropped by interface/.exec(line);
      if (received) (into.received = Number(received[1])), (found = true);
      if (dropped) (into.dropped = Number(dropped[1])), (found = true);
      if (ifDropped) (into.interfaceDropped = Number(ifDropped[1])), (found = true);
      if (found) into.source = 'tcpdump (pcap_stats on SIGUSR1 and at exit)';
      return found;
    },
  };
}

export function dumpcapSpec(program: string): HelperSpec {
  return {
    backend: 'dumpcap',
    program,
    // dumpcap writes pcapng with if_tsresol = 9 when libpcap gives nanosecond timestamps.
    timestamps: 'kernel-ns',
    stopDelayMs: 600,
    statsSignal: null,
    captureArgs: (o) => [
      '-i', o.interface,
      '-w', '-', '-q',
      ...(o.snaplen > 0 ? ['-s', String(o.snaplen)] : []),
      ...(o.promiscuous ? [] : ['-p']),
      '-B', String(Math.max(1, Math.round(o.bufferMiB ?? DEFAULT_CAPTURE_BUFFER_MIB))),
      ...(o.count !== undefined ? ['-c', String(o.count)] : []),
      ...(o.filter ? ['-f', o.filter] : []),
    ],
    checkArgs: (o) => ['-i', o.interface, '-d', ...(o.promiscuous ? [] : ['-p']), ...(o.filter ? ['-f', o.filter] : [])],
    // dumpcap -d exits 0 even when it could not open the interface or compile the filter.
    checkFailed: (stderr, exitCode) => exitCode !== 0 || /^dumpcap: /m.test(stderr),
    isReadyLine: (line) => line.startsWith('File:'),
    parseStatsLine: (line, into) => {
      // Packets received/dropped on interface 'lo': 2/0 (pcap:0/dumpcap:0/flushed:0/ps_ifdrop:0) (100.0%)
      const m = /received\/dropped on interface .*: (\d+)\/(\d+) \(pcap:(\d+)\/dumpcap:(\d+)\/flushed:(\d+)\/ps_ifdrop:(\d+)\)/.exec(line);
      if (!m) return false;
      into.received = Number(m[1]);
      into.dropped = Number(m[3]);
      into.helperDropped = Number(m[4]) + Number(m[5]);
      into.interfaceDropped = Number(m[6]);
      into.source = 'dumpcap (at exit only)';
      return true;
    },
  };
}
