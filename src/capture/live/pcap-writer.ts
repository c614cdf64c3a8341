import { closeSync, openSync, writeSync } from 'node:fs';
import { MAGIC_PCAP_MICROS, PCAP_FILE_HEADER_BYTES, PCAP_RECORD_HEADER_BYTES } from '../formats.js';
import type { CapturedPacket } from '../types.js';

/** Records buffered before one write() to the file. */
const FLUSH_BYTES = 1 << 20;

/**
 * Writes classic pcap (µs, little-endian) for a backend that hands packets rather than a pcap
 * stream (cap). Buffered, flushed at FLUSH_BYTES and on flush()/close().
 */
export class PcapFileWriter {
  private readonly fd: number;
  private buffer = Buffer.allocUnsafe(FLUSH_BYTES * 2);
  private used = 0;
  packets = 0;

  constructor(path: string, linkType: number, snaplen: number) {
    this.fd = openSync(path, 'w');
    const header = Buffer.alloc(PCAP_FILE_HEADER_BYTES);
    header.writeUInt32LE(MAGIC_PCAP_MICROS, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeUInt32LE(snaplen, 16);
    header.writeUInt32LE(linkType, 20);
    writeSync(this.fd, header);
  }

  write(p: CapturedPacket): void {
    const need = PCAP_RECORD_HEADER_BYTES + p.data.length;
    if (this.used + need > this.buffer.length) {
      this.flush();
      if (need > this.buffer.length) this.buffer = Buffer.allocUnsafe(need);
    }
    const seconds = Math.floor(p.ts / 1e6);
    const micros = Math.min(999_999, Math.floor(p.ts - seconds * 1e6));
    const b = this.buffer;
    let o = this.used;
    b.writeUInt32LE(seconds, o);
    b.writeUInt32LE(micros, o + 4);
    b.writeUInt32LE(p.data.length, o + 8);
    b.writeUInt32LE(p.origLen, o + 12);
    o += PCAP_RECORD_HEADER_BYTES;
    b.set(p.data, o);
    this.used = o + p.data.length;
    this.packets++;
    if (this.used >= FLUSH_BYTES) this.flush();
  }

  flush(): void {
    let done = 0;
    while (done < this.used) done += writeSync(this.fd, this.buffer, done, this.used - done);
    this.used = 0;
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
