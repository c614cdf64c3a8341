import { readFileSync } from 'node:fs';

/** Records of a little-endian classic pcap (µs or ns), for tests only; the real reader is src/capture. */
export function* readPcapSimple(path: string): Generator<{ ts: number; linkType: number; data: Uint8Array; origLen: number }> {
  const file = readFileSync(path);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`${path}: not a little-endian classic pcap`);
  const fractionUs = magic === 0xa1b23c4d ? 1e-3 : 1;
  const linkType = view.getUint32(20, true) & 0x0fffffff;
  for (let offset = 24; offset + 16 <= file.length; ) {
    const capturedLength = view.getUint32(offset + 8, true);
    const ts = view.getUint32(offset, true) * 1e6 + view.getUint32(offset + 4, true) * fractionUs;
    const data = new Uint8Array(file.buffer, file.byteOffset + offset + 16, capturedLength);
    yield { ts, linkType, data, origLen: view.getUint32(offset + 12, true) };
    offset += 16 + capturedLength;
  }
}
