/**
 * Builds HTTP/2 wire bytes for tests: an HPACK encoder (static/dynamic indexing, Huffman, evictions,
 * size updates, never-indexed fields) and frame builders. Written from RFC 7541 / RFC 9113 alone.
 */
import { HUFFMAN_CODE } from '../../src/protocols/http2/huffman.js';
import { STATIC_TABLE } from '../../src/protocols/http2/static-table.js';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type Field = [name: string, value: string];
export type Representation = 'incremental' | 'without' | 'never';

export interface EncoderOptions {
  /** Initial (and maximum) dynamic table size. Default 4096. */
  maxSize?: number;
  /** Huffman-code strings: always, never, or when shorter (default). */
  huffman?: 'always' | 'never' | 'auto';
  /** How literals are represented; default 'incremental'. */
  representation?: (name: string, value: string) => Representation;
  /** Use the dynamic table for indexed fields (default true). */
  useDynamic?: boolean;
}

export function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const { codes, lengths } = HUFFMAN_CODE;
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    const len = lengths[b]!;
    const code = codes[b]!;
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      if (++bits === 8) {
        out.push(acc);
        acc = 0;
        bits = 0;
      }
    }
  }
  if (bits > 0) out.push(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xff);
  return Uint8Array.from(out);
}

export function encodeInteger(out: number[], firstByteBits: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstByteBits | value);
    return;
  }
  out.push(firstByteBits | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

export class HpackEncoder {
  /** Newest first. */
  readonly table: Field[] = [];
  size = 0;
  maxSize: number;
  private pendingSizeUpdates: number[] = [];
  private readonly opts: EncoderOptions;

  constructor(opts: EncoderOptions = {}) {
    this.opts = opts;
    this.maxSize = opts.maxSize ?? 4096;
  }

  /** Emit a dynamic table size update at the start of the next block. */
  setMaxSize(size: number): void {
    this.pendingSizeUpdates.push(size);
  }

  encode(fields: readonly Field[]): Uint8Array {
    const out: number[] = [];
    for (const size of this.pendingSizeUpdates) {
      encodeInteger(out, 0x20, 5, size);
      this.maxSize = size;
      this.evict(size);
    }
    this.pendingSizeUpdates = [];
    for (const [name, value] of fields) this.encodeField(out, name, value);
    return Uint8Array.from(out);
  }

  private encodeField(out: number[], name: string, value: string): void {
    const representation = this.opts.representation?.(name, value) ?? 'incremental';
    let nameIndex = 0;
    if (representation !== 'never') {
      const exact = this.find(name, value);
      if (exact > 0) return encodeInteger(out, 0x80, 7, exact);
    }
    nameIndex = this.find(name, null);
    if (representation === 'incremental') encodeInteger(out, 0x40, 6, nameIndex);
    else encodeInteger(out, representation === 'never' ? 0x10 : 0x00, 4, nameIndex);
    if (nameIndex === 0) this.encodeString(out, name);
    this.encodeString(out, value);
    if (representation === 'incremental') this.insert(name, value);
  }

  /** 1-based index of (name, value), or of name when value is null; 0 when absent. */
  private find(name: string, value: string | null): number {
    for (let i = 0; i < STATIC_TABLE.length; i++) {
      const [n, v] = STATIC_TABLE[i]!;
      if (n === name && (value === null || v === value)) return i + 1;
    }
    if (this.opts.useDynamic === false) return 0;
    for (let i = 0; i < this.table.length; i++) {
      const [n, v] = this.table[i]!;
      if (n === name && (value === null || v === value)) return STATIC_TABLE.length + i + 1;
    }
    return 0;
  }

  private encodeString(out: number[], s: string): void {
    const raw = Buffer.from(s, 'latin1');
    const huff = huffmanEncode(raw);
    const mode = this.opts.huffman ?? 'auto';
    const useHuffman = mode === 'always' || (mode === 'auto' && huff.length < raw.length);
    const bytes = useHuffman ? huff : raw;
    encodeInteger(out, useHuffman ? 0x80 : 0, 7, bytes.length);
    for (const b of bytes) out.push(b);
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + 32;
    this.evict(Math.max(0, this.maxSize - entrySize));
    if (entrySize > this.maxSize) {
      this.evict(0);
      return;
    }
    this.table.unshift([name, value]);
    this.size += entrySize;
  }

  private evict(until: number): void {
    while (this.size > until && this.table.length > 0) {
      const [n, v] = this.table.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }
}

// ---- frames ----

export const DATA = 0, HEADERS = 1, PRIORITY = 2, RST_STREAM = 3, SETTINGS = 4, PUSH_PROMISE = 5, PING = 6, GOAWAY = 7,
  WINDOW_UPDATE = 8, CONTINUATION = 9;
export const END_STREAM = 0x1, ACK = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY_FLAG = 0x20;

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId, 5);
  out.set(payload, 9);
  return out;
}

export interface HeadersOptions {
  endStream?: boolean;
  /** Pad with this many bytes (PADDED flag). */
  pad?: number;
  /** Add a PRIORITY section (PRIORITY flag). */
  priority?: boolean;
  /** Split the block: HEADERS carries this many bytes, the rest goes in CONTINUATION frames of this size. */
  fragment?: number;
}

export function headersFrames(streamId: number, block: Uint8Array, o: HeadersOptions = {}): Buffer {
  const size = o.fragment ?? block.length;
  const first = block.subarray(0, size);
  const parts: Buffer[] = [];
  let flags = (o.endStream ? END_STREAM : 0) | (size >= block.length ? END_HEADERS : 0);
  const prefix: number[] = [];
  if (o.pad !== undefined) {
    flags |= PADDED;
    prefix.push(o.pad);
  }
  if (o.priority) {
    flags |= PRIORITY_FLAG;
    prefix.push(0x80, 0, 0, 3, 200); // exclusive, depends on stream 3, weight 201
  }
  parts.push(frame(HEADERS, flags, streamId, Buffer.concat([Uint8Array.from(prefix), first, Buffer.alloc(o.pad ?? 0)])));
  for (let at = size; at < block.length; at += size) {
    const end = Math.min(block.length, at + size);
    parts.push(frame(CONTINUATION, end >= block.length ? END_HEADERS : 0, streamId, block.subarray(at, end)));
  }
  return Buffer.concat(parts);
}

export function dataFrame(streamId: number, data: Uint8Array, o: { endStream?: boolean; pad?: number } = {}): Buffer {
  if (o.pad === undefined) return frame(DATA, o.endStream ? END_STREAM : 0, streamId, data);
  const payload = Buffer.concat([Uint8Array.of(o.pad), data, Buffer.alloc(o.pad)]);
  return frame(DATA, PADDED | (o.endStream ? END_STREAM : 0), streamId, payload);
}

export function settingsFrame(entries: [id: number, value: number][] = [], ack = false): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value, i * 6 + 2);
  });
  return frame(SETTINGS, ack ? ACK : 0, 0, payload);
}

export function rstStreamFrame(streamId: number, code: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(RST_STREAM, 0, streamId, p);
}

export function goawayFrame(lastStreamId: number, code: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId, 0);
  p.writeUInt32BE(code, 4);
  return frame(GOAWAY, 0, 0, p);
}

export function windowUpdateFrame(streamId: number, increment: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(increment);
  return frame(WINDOW_UPDATE, 0, streamId, p);
}

export function pingFrame(ack = false): Buffer {
  return frame(PING, ack ? ACK : 0, 0, Buffer.alloc(8, 7));
}

export function pushPromiseFrame(streamId: number, promisedId: number, block: Uint8Array): Buffer {
  const p = Buffer.alloc(4 + block.length);
  p.writeUInt32BE(promisedId, 0);
  p.set(block, 4);
  return frame(PUSH_PROMISE, END_HEADERS, streamId, p);
}

/** One gRPC length-prefixed message. */
export function grpcMessage(body: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}
