import { open } from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { Counters } from '../util/counters.js';
import { CaptureFormatError } from './errors.js';
import { mergeByTime } from './merge.js';
import { CaptureParser } from './parser.js';
import { DEFAULT_REORDER_WINDOW_US, inTimeOrder } from './time-order.js';
import type { CaptureFileInfo, CapturedPacket, PacketSource } from './types.js';

export { CaptureFormatError } from './errors.js';

export interface CaptureSourceOptions {
  counters: Counters;
  /** Bytes per read (and per gunzip output chunk). Default 1 MiB. */
  chunkSize?: number;
  /** What '-' reads; process.stdin unless given (tests pass their own stream). */
  stdin?: Readable;
  /**
   * Packet time within which each file's packets are put back in timestamp order (time-order.ts);
   * 0 takes them in file order. Default 10 ms.
   */
  reorderWindowUs?: number;
}

const DEFAULT_CHUNK_SIZE = 1 << 20;

/**
 * Streams capture files (pcap, pcapng, either gzip-compressed; '-' for stdin). Each file's packets
 * are put back in timestamp order within a small window (captures of several queues or interfaces
 * are not quite sorted; stdin is taken as it comes); several files are merged by packet time, ties
 * in input order; `sourceIndex` tells which file a packet came from.
 * Memory stays at about one chunk per file, whatever the file sizes.
 */
export function openCaptureSource(paths: string[], opts: CaptureSourceOptions): PacketSource {
  if (paths.length === 0) throw new Error('openCaptureSource: no capture file given');
  return new FileCaptureSource(paths, opts);
}

/** Reads a whole capture into memory: for tests and small files, not for the pipeline. */
export async function readCaptureFile(
  path: string,
  opts: Partial<CaptureSourceOptions> & { counters: Counters },
): Promise<{ packets: CapturedPacket[]; info: CaptureFileInfo }> {
  const reader = new CaptureFileReader(path, 0, opts);
  const packets: CapturedPacket[] = [];
  for await (const batch of reader.batches()) {
    for (const packet of batch) packets.push(packet);
  }
  return { packets, info: reader.info() };
}

class FileCaptureSource implements PacketSource {
  private readers: CaptureFileReader[];

  constructor(
    private readonly paths: string[],
    private readonly opts: CaptureSourceOptions,
  ) {
    this.readers = this.newReaders();
  }

  /** Every call reads the files again from the start. */
  batches(): AsyncIterable<CapturedPacket[]> {
    this.readers = this.newReaders();
    const order = { windowUs: this.opts.reorderWindowUs ?? DEFAULT_REORDER_WINDOW_US, counters: this.opts.counters };
    // stdin is most often a live pipe (tcpdump -w -): taken as it arrives, like a live capture.
    const sorted = this.readers.map((reader, i) => (this.paths[i] === '-' ? reader.batches() : inTimeOrder(reader.batches(), order)));
    return sorted.length === 1 ? sorted[0]! : mergeByTime(sorted);
  }

  info(): CaptureFileInfo[] {
    return this.readers.map((reader) => reader.info());
  }

  private newReaders(): CaptureFileReader[] {
    return this.paths.map((path, index) => new CaptureFileReader(path, index, this.opts));
  }
}

class CaptureFileReader {
  private parser: CaptureParser;

  constructor(
    private readonly path: string,
    private readonly sourceIndex: number,
    private readonly opts: Partial<CaptureSourceOptions> & { counters: Counters },
  ) {
    this.parser = this.newParser(false);
  }

  async *batches(): AsyncGenerator<CapturedPacket[]> {
    const chunkSize = this.opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const raw: AsyncIterable<Uint8Array> = this.path === '-' ? (this.opts.stdin ?? process.stdin) : readAhead(this.path, chunkSize);
    const { chunks, gzip } = await decompressIfGzip(raw, chunkSize);
    this.parser = this.newParser(gzip);
    try {
      for await (const chunk of chunks) {
        const packets = this.parser.push(chunk);
        if (packets.length > 0) yield packets;
      }
    } catch (error) {
      if (!gzip || !isZlibError(error)) throw error;
      // A cut-short .gz (capture still being written, or killed) ends like a cut-short capture.
      if (error.code !== 'Z_BUF_ERROR') {
        throw new CaptureFormatError('ERR_CORRUPT_GZIP', `${this.displayName()}: corrupt gzip data (${error.message})`);
      }
      this.parser.addWarning(`gzip stream ends early (${error.message})`);
      this.opts.counters.add('capture.gzip-truncated');
    }
    const last = this.parser.end();
    if (last.length > 0) yield last;
  }

  info(): CaptureFileInfo {
    return this.parser.info();
  }

  private newParser(gzip: boolean): CaptureParser {
    return new CaptureParser({ name: this.displayName(), sourceIndex: this.sourceIndex, counters: this.opts.counters, gzip });
  }

  private displayName(): string {
    return this.path === '-' ? 'stdin' : this.path;
  }
}

function isZlibError(error: unknown): error is Error & { code: string } {
  const code: unknown = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('Z_');
}

/**
 * Reads a file in fresh chunks, asking for the next one before handing out the current one, so the
 * disk (or page cache) copy overlaps with parsing. Chunks are never reused: packets stay views.
 */
async function* readAhead(path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  const file = await open(path, 'r');
  const next = (): Promise<{ bytesRead: number; buffer: Buffer }> => file.read(Buffer.allocUnsafe(chunkSize), 0, chunkSize, null);
  let pending = next();
  try {
    for (;;) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) return;
      pending = next();
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await pending.catch(() => undefined); // a consumer that stops early leaves one read in flight
    await file.close();
  }
}

/**
 * Looks at the first two bytes; gzip (1f 8b) goes through a streaming gunzip, anything else is
 * passed on untouched. The bytes read to decide are replayed, not lost.
 */
async function decompressIfGzip(
  input: AsyncIterable<Uint8Array>,
  chunkSize: number,
): Promise<{ chunks: AsyncIterable<Uint8Array>; gzip: boolean }> {
  const iterator: AsyncIterator<Uint8Array> = input[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headLength = 0;
  while (headLength < 2) {
    const next = await iterator.next();
    if (next.done) break;
    head.push(next.value);
    headLength += next.value.length;
  }
  const first = head[0];
  const second = first !== undefined && first.length > 1 ? first[1] : head[1]?.[0];
  const gzip = first?.[0] === 0x1f && second === 0x8b;

  async function* replay(): AsyncGenerator<Uint8Array> {
    try {
      yield* head;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }

  if (!gzip) return { chunks: replay(), gzip: false };
  const gunzip = createGunzip({ chunkSize });
  // Errors on either side destroy the gunzip stream, so they surface in its iteration.
  pipeline(Readable.from(replay(), { objectMode: false }), gunzip, () => {});
  return { chunks: gunzip, gzip: true };
}
