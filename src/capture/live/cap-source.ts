import { LinkType } from '../linktypes.js';
import type { CaptureFileInfo, CapturedPacket } from '../types.js';
import { BatchQueue, wallClockUs } from './batch-queue.js';
import { classifyCaptureError, LiveCaptureError } from './errors.js';
import { listInterfaces, readInterfaceRxDropped } from './interfaces.js';
import { PcapFileWriter } from './pcap-writer.js';
import { DEFAULT_CAPTURE_BUFFER_MIB, type LiveCaptureOptions, type LiveCaptureStats, type LivePacketSource } from './types.js';

/**
 * Cap handles whose open failed once libpcap had the device (a filter it cannot compile). cap's
 * close(), also run by its destructor when the handle is collected, then stops a libuv poll handle
 * it never started: the process died with SIGSEGV about one run in twenty, after printing its error.
 * Kept reachable they are never collected, so never closed; the process exits right after.
 */
const NEVER_CLOSED: unknown[] = [];

/** The part of the `cap` module wirespan uses (cap 0.2.x). */
interface CapHandle {
  open(device: string, filter: string, bufferSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', listener: (bytes: number, truncated: boolean) => void): void;
}
interface CapModule {
  Cap: new () => CapHandle;
}

/** cap's fixed snaplen (it calls pcap_set_snaplen(65535) whatever it is asked). */
const CAP_SNAPLEN = 65535;
/** Copied packets waiting for analysis above which new packets are dropped (and counted). */
const HIGH_WATER_BYTES = 256 * 1024 * 1024;

const CAP_LINK_TYPES: Record<string, number> = {
  NULL: LinkType.NULL,
  ETHERNET: LinkType.ETHERNET,
  RAW: LinkType.RAW,
  LINKTYPE_LINUX_SLL: LinkType.LINUX_SLL,
  IEEE802_11_RADIO: 127,
};

export const CAP_FIX = 'apt-get install libpcap-dev && npm rebuild cap';

/** Loads the optional `cap` module, or says how to get it. `specifier` exists for tests. */
export async function loadCap(specifier = 'cap'): Promise<CapModule> {
  let loaded: unknown;
  try {
    loaded = await import(specifier);
  } catch (error) {
    const reason = ((error as Error).message ?? String(error)).split('\n')[0];
    throw new LiveCaptureError('ERR_BACKEND_MISSING', `the cap backend cannot load (${reason}); it needs libpcap: ${CAP_FIX} (or install tcpdump or dumpcap)`);
  }
  const mod = ((loaded as { default?: unknown }).default ?? loaded) as Partial<CapModule>;
  if (typeof mod.Cap !== 'function') {
    throw new LiveCaptureError('ERR_BACKEND_MISSING', `the cap backend cannot load (${specifier} has no Cap class); ${CAP_FIX}`);
  }
  return mod as CapModule;
}

/**
 * In-process capture through the `cap` native module, for machines without tcpdump or dumpcap.
 * cap hands no packet timestamps: each packet is stamped with the time JavaScript received it
 * (`js-receive`), so durations carry the event loop's delay. cap exposes no pcap_stats either:
 * kernel drops are unknown; interface rx_dropped and wirespan's own drops are still counted.
 */
export class CapCaptureSource implements LivePacketSource {
  readonly backend = 'cap' as const;
  readonly timestamps = 'js-receive' as const;
  readonly warnings: string[] = [];
  private readonly queue = new BatchQueue({ highWaterBytes: HIGH_WATER_BYTES });
  private handle: CapHandle | null = null;
  private linkType: number = LinkType.ETHERNET;
  private batch: CapturedPacket[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private writer: PcapFileWriter | null = null;
  private captured = 0;
  private dropped = 0;
  private stopped = false;
  private rxDroppedAtStart: number | null = null;

  constructor(
    private readonly cap: CapModule,
    private readonly opts: LiveCaptureOptions,
  ) {
    if (!opts.promiscuous) this.warnings.push('cap always opens the interface in promiscuous mode: --no-promisc is ignored');
    if (opts.snaplen > 0 && opts.snaplen !== CAP_SNAPLEN) this.warnings.push(`cap always uses snaplen ${CAP_SNAPLEN}: -s ${opts.snaplen} is ignored`);
  }

  async start(): Promise<void> {
    const known = this.opts.interface === 'any' || listInterfaces().some((i) => i.name === this.opts.interface);
    // Checked first: cap prints libpcap's SIOCGIFADDR warning straight to stderr for a missing device.
    if (!known) throw classifyCaptureError('No such device exists', this.opts.interface, null);
    const handle = new this.cap.Cap();
    const buffer = Buffer.alloc(CAP_SNAPLEN);
    let linkName: string;
    try {
      linkName = handle.open(this.opts.interface, this.opts.filter ?? '', (this.opts.bufferMiB ?? DEFAULT_CAPTURE_BUFFER_MIB) * 1024 * 1024, buffer);
    } catch (error) {
      NEVER_CLOSED.push(handle);
      throw classifyCaptureError(`cap: ${(error as Error).message}`, this.opts.interface, null, this.opts.filter || undefined);
    }
    const linkType = CAP_LINK_TYPES[linkName];
    if (linkType === undefined) {
      handle.close();
      throw new LiveCaptureError('ERR_CAPTURE_FAILED', `cap on ${this.opts.interface}: ${linkName}`);
    }
    this.linkType = linkType;
    this.handle = handle;
    this.rxDroppedAtStart = readInterfaceRxDropped(this.opts.interface);
    if (this.opts.savePath !== undefined) {
      try {
        this.writer = new PcapFileWriter(this.opts.savePath, linkType, CAP_SNAPLEN);
      } catch (error) {
        this.stop();
        throw new LiveCaptureError('ERR_CAPTURE_FAILED', `cannot write ${this.opts.savePath}: ${(error as Error).message}`);
      }
    }
    handle.on('packet', (bytes) => this.packet(buffer, bytes));
  }

  batches(): AsyncIterable<CapturedPacket[]> {
    return this.queue.drain();
  }

  info(): CaptureFileInfo[] {
    return [
      {
        name: `cap on ${this.opts.interface}`,
        format: 'live (cap)',
        byteOrder: 'little',
        linkTypes: [this.linkType],
        snaplen: CAP_SNAPLEN,
        packets: this.captured,
        bytes: this.queue.bytes,
        warnings: [...this.warnings],
      },
    ];
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.handle?.close();
    this.flushBatch();
    this.writer?.close();
    this.queue.end();
  }

  requestStats(): void {}

  stats(): LiveCaptureStats {
    const q = this.queue;
    const rx = readInterfaceRxDropped(this.opts.interface);
    return {
      backend: this.backend,
      timestamps: this.timestamps,
      packets: q.packets,
      bytes: q.bytes,
      kernelReceived: null,
      kernelDropped: null,
      interfaceDroppedByPcap: null,
      helperDropped: null,
      kernelStatsSource: 'unavailable (cap exposes no pcap_stats)',
      interfaceRxDropped: rx !== null && this.rxDroppedAtStart !== null ? rx - this.rxDroppedAtStart : null,
      wirespanDropped: this.dropped,
      queuedBytes: q.queuedBytes,
      maxQueuedBytes: q.maxQueuedBytes,
      readPauses: q.fullCount,
      lagMs: q.lagUs === null ? null : q.lagUs / 1000,
      maxLagMs: q.maxLagUs === null ? null : q.maxLagUs / 1000,
    };
  }

  /** cap reuses one buffer for every packet: the bytes are copied before the callback returns. */
  private packet(buffer: Buffer, bytes: number): void {
    if (this.stopped) return;
    // Whole µs: the pcap written with -w holds µs, and finer digits of a JS clock would be noise anyway.
    const ts = Math.floor(wallClockUs());
    const data = Uint8Array.prototype.slice.call(buffer, 0, bytes);
    const packet: CapturedPacket = { ts, linkType: this.linkType, data, origLen: bytes, interfaceId: 0, sourceIndex: 0 };
    this.captured++;
    this.writer?.write(packet);
    if (this.queue.isFull) this.dropped++;
    else {
      this.batch.push(packet);
      this.batchBytes += bytes;
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushBatch());
      }
    }
    if (this.opts.count !== undefined && this.captured >= this.opts.count) this.stop();
  }

  private flushBatch(): void {
    this.flushScheduled = false;
    if (this.batch.length === 0) return;
    this.queue.push(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
  }
}
