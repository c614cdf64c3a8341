import type { Writable } from 'node:stream';
import type { SpanRecord } from '../correlate/types.js';

/**
 * Writes one exchange record per line (docs/exchange-record.md). Lines are written as they come so
 * that a live capture's file can be tailed; the stream's own buffering applies.
 */
export class NdjsonExchangeWriter {
  constructor(private readonly out: Writable) {}

  write(span: SpanRecord): void {
    this.out.write(JSON.stringify(span) + '\n');
  }
}
