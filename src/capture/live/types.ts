import type { Counters } from '../../util/counters.js';
import type { PacketSource } from '../types.js';

export type LiveBackendName = 'dumpcap' | 'tcpdump' | 'cap';

/** Where packet times come from: the kernel (µs or ns), or the moment JavaScript received the packet. */
export type TimestampSource = 'kernel-ns' | 'kernel-us' | 'js-receive';

/**
 * 64 MiB: with tcpdump's 2 MiB, an immediate-mode capture of a busy loopback (64 KiB segments) lost
 * ~20 % of a shop's packets in its first second; 16 MiB still lost some, 32 MiB none.
 */
export const DEFAULT_CAPTURE_BUFFER_MIB = 64;

export interface LiveCaptureOptions {
  /** Interface name, or `any` (Linux cooked capture). */
  interface: string;
  /** cBPF filter in libpcap syntax. */
  filter?: string;
  /** Bytes kept of each packet; 0 = the backend's maximum. */
  snaplen: number;
  promiscuous: boolean;
  /** Kernel capture buffer, MiB; DEFAULT_CAPTURE_BUFFER_MIB when absent. */
  bufferMiB?: number;
  /** Stop after this many packets. */
  count?: number;
  /** Also write every captured packet to this pcap/pcapng file. */
  savePath?: string;
  counters: Counters;
}

/**
 * Drop and back-pressure figures of a running capture. A figure the backend cannot give is null,
 * never 0: "unknown" and "none" are different answers.
 */
export interface LiveCaptureStats {
  backend: LiveBackendName;
  timestamps: TimestampSource;
  /** Packets handed on to the consumer. */
  packets: number;
  bytes: number;
  /** Packets the kernel handed to libpcap's filter (ps_recv), when the backend reports it. */
  kernelReceived: number | null;
  /** Packets the kernel dropped because the capture buffer was full (ps_drop). */
  kernelDropped: number | null;
  /** Packets the interface/driver dropped (ps_ifdrop), when the backend reports it. */
  interfaceDroppedByPcap: number | null;
  /** Packets the helper process itself dropped (dumpcap's own counter). */
  helperDropped: number | null;
  /** Where the kernel figures come from and how fresh they are. */
  kernelStatsSource: string;
  /** rx_dropped of the interface(s) since the capture started (/sys/class/net/IFACE/statistics). */
  interfaceRxDropped: number | null;
  /** Packets wirespan discarded because analysis fell too far behind (cap backend only). */
  wirespanDropped: number;
  /** Bytes waiting between capture and analysis now, and at most. */
  queuedBytes: number;
  maxQueuedBytes: number;
  /** Times reading from the helper was paused because analysis fell behind. */
  readPauses: number;
  /** Wall-clock time minus packet time of the last packet handed on, and its maximum (ms). */
  lagMs: number | null;
  maxLagMs: number | null;
}

/** A capture from a network interface: packets until stop(), then the iteration ends. */
export interface LivePacketSource extends PacketSource {
  readonly backend: LiveBackendName;
  readonly timestamps: TimestampSource;
  /** What this backend cannot do as asked (e.g. cap ignores --no-promisc), one line each. */
  readonly warnings: readonly string[];
  /** Resolves once the interface is open and capturing; rejects with a LiveCaptureError otherwise. */
  start(): Promise<void>;
  /** Stop capturing; batches() delivers what was captured so far, then ends. Safe to call twice. */
  stop(): void;
  stats(): LiveCaptureStats;
  /** Ask the backend for fresh kernel counters (tcpdump: SIGUSR1); no-op where impossible. */
  requestStats(): void;
}
