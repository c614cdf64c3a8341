import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Counters } from '../util/counters.js';
import { CaptureFormatError } from './errors.js';
import { detectCaptureFormat, isGzipMagic } from './formats.js';
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
  /** pcapng Decryption Secrets Blocks, as they are read (before the packets that follow them). */
  onDecryptionSecrets?(secretsType: number, data: Uint8Array): void;
}

const DEFAULT_CHUNK_SIZE = 1 << 20;

/**
 * Streams capture files (pcap, pcapng, either gzip-compressed; '-' for stdin). Each file's packets
 * are put back in timestamp order within a small window (captures of several queues or interfaces
 * are not quite sorted; stdin is taken as it comes); several files are merged by packet time, ties
 * in input order; `sourceIndex` tells which file a packet came from. Each file is opened when the
 * merge reaches its first packet and closed when it ends (the files of a rotating capture follow
 * each other): memory stays at about one chunk per file open at once, whatever the files' sizes
 * and number.
 */
export function openCaptureSource(paths: string[], opts: CaptureSourceOptions): PacketSource {
  if (paths.length === 0) throw new Error('openCaptureSource: no capture file given');
  return new FileCaptureSource(paths.flatMap((path) => capturesIn(path, opts.counters)), opts);
}

/**
 * A directory stands for the capture files in it (a rotating capture's ring: `tcpdump -C`, `-G`), in
 * name order; its other files are skipped and counted (`capture.files-skipped`); hidden files and
 * subdirectories are not looked at, as `ls` shows them. Anything else is itself (a missing file
 * fails when read, with its name).
 */
function capturesIn(path: string, counters: Counters): string[] {
  if (path === '-' || kindOf(path) !== 'directory') return [path];
  const files: string[] = [];
  for (const name of readdirSync(path).sort()) {
    const file = join(path, name);
    if (name.startsWith('.') || kindOf(file) !== 'file') continue;
    if (looksLikeCapture(file)) files.push(file);
    else counters.add('capture.files-skipped');
  }
  if (files.length === 0) throw new CaptureFormatError('ERR_NO_CAPTURES', `${path}: a directory without capture files`, 0);
  return files;
}

function kindOf(path: string): 'file' | 'directory' | null {
  try {
    const stat = statSync(path);
    return stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : null;
  } catch {
    return null;
  }
}

/** A pcap or pcapng file by its first bytes (the parser's own test), or a gzip one. */
function looksLikeCapture(file: string): boolean {
  const head = Buffer.alloc(4);
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    if (readSync(fd, head, 0, 4, 0) < 4) return false;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  return isGzipMagic(head[0], head[1]) || detectCaptureFormat(head, 0) !== null;
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
    const inOrder = (i: number): AsyncIterable<CapturedPacket[]> =>
      this.paths[i] === '-' ? this.readers[i]!.batches() : inTimeOrder(this.readers[i]!.batches(), order);
    if (this.paths.length === 1) return inOrder(0);
    return this.merged(inOrder, order.windowUs);
  }

  /** Several files merged by time, each opened when the merge reaches its first packet (merge.ts). */
  private async *merged(inOrder: (i: number) => AsyncIterable<CapturedPacket[]>, windowUs: number): AsyncGenerator<CapturedPacket[]> {
    const firstTs = await firstTimestamps(this.paths, this.opts);
    yield* mergeByTime(this.paths.map((_, i) => ({ firstTs: firstTs[i]!, open: () => inOrder(i) })), { openAheadUs: 2 * windowUs });
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
    return new CaptureParser({
      name: this.displayName(),
      sourceIndex: this.sourceIndex,
      counters: this.opts.counters,
      gzip,
      onDecryptionSecrets: this.opts.onDecryptionSecrets,
    });
  }

  private displayName(): string {
    return this.path === '-' ? 'stdin' : this.path;
  }
}

/** Bytes read to find a file's first packet (more when its first packet lies further in). */
const PROBE_CHUNK_SIZE = 64 * 1024;
/** Files probed at once. */
const PROBE_CONCURRENCY = 8;

/**
 * The time of each file's first packet (the earliest of the first batch), to open the files of a
 * rotating capture one after another; -Infinity for stdin, +Infinity for a file without packets.
 * A file that cannot be read fails here as it would have when read.
 */
async function firstTimestamps(paths: readonly string[], opts: CaptureSourceOptions): Promise<number[]> {
  const out: number[] = new Array(paths.length);
  let next = 0;
  const probe = async (): Promise<void> => {
    for (let i = next++; i < paths.length; i = next++) {
      if (paths[i] === '-') {
        out[i] = -Infinity;
        continue;
      }
      // Counted apart: the file is read again, and counted, when its turn comes.
      const reader = new CaptureFileReader(paths[i]!, i, { ...opts, chunkSize: PROBE_CHUNK_SIZE, counters: new Counters() });
      const iterator = reader.batches()[Symbol.asyncIterator]();
      const first = await iterator.next();
      await iterator.return?.(undefined);
      out[i] = first.done ? Infinity : first.value.reduce((min, p) => Math.min(min, p.ts), Infinity);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, paths.length) }, probe));
  return out;
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
  const gzip = isGzipMagic(first?.[0], second);

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
