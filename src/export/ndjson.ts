import type { Writable } from 'node:stream';
import type { SpanRecord } from '../correlate/types.js';

export interface NdjsonWriterOptions {
  /** Write every line at once (live capture, `tail -f`); otherwise lines are written in ~64 KiB blocks. */
  lineBuffered?: boolean;
}

const BLOCK_CHARS = 64 * 1024;

/** Writes one exchange record per line (docs/formats.md). Call `flush()` before closing the stream. */
export class NdjsonExchangeWriter {
  private pending: string[] = [];
  private pendingChars = 0;

  constructor(
    private readonly out: Writable,
    private readonly opts: NdjsonWriterOptions = {},
  ) {}

  write(span: SpanRecord): void {
    const line = JSON.stringify(span) + '\n';
    if (this.opts.lineBuffered) {
      this.out.write(line);
      return;
    }
    this.pending.push(line);
    this.pendingChars += line.length;
    if (this.pendingChars >= BLOCK_CHARS) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.out.write(this.pending.join(''));
    this.pending = [];
    this.pendingChars = 0;
  }
}
