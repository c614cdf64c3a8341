import { createWriteStream, renameSync, writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** An output named on the command line: a file, or stdout for `-`. */
export interface Output {
  stream: Writable;
  close(): Promise<void>;
}

export function openOutput(path: string): Output {
  if (path === '-') return { stream: process.stdout, close: async () => {} };
  const stream = createWriteStream(path);
  return {
    stream,
    close: async () => {
      stream.end();
      await finished(stream);
    },
  };
}

/** Replace a file atomically (write beside it, rename), so readers never see half a document. */
export function writeFileAtomic(path: string, text: string): void {
  if (path === '-') {
    process.stdout.write(text);
    return;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
