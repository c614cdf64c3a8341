import { statSync } from 'node:fs';

/**
 * A progress line on stderr for inputs that take more than a second; silent when stderr is not a TTY.
 * Progress is by packets read, plus the share of the total file size when it is known.
 */
export class Progress {
  private readonly started = Date.now();
  private readonly totalBytes: number | null;
  private shown = false;
  private lastDraw = 0;

  constructor(paths: string[], private readonly enabled = Boolean(process.stderr.isTTY)) {
    this.totalBytes = paths.includes('-') ? null : paths.reduce((sum, p) => sum + fileSize(p), 0);
  }

  update(packets: number, bytesRead: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.started < 1000 || now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.shown = true;
    const share = this.totalBytes ? Math.min(1, bytesRead / this.totalBytes) : null;
    const bar = share === null ? '' : `[${'#'.repeat(Math.round(share * 30)).padEnd(30)}] ${(share * 100).toFixed(0)}% `;
    process.stderr.write(`\r${bar}${packets} packets, ${((now - this.started) / 1000).toFixed(1)} s`);
  }

  done(): void {
    if (this.shown) process.stderr.write('\r\x1b[K');
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0; // the reader reports unreadable files
  }
}
