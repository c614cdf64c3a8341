/**
 * Benchmark captures with real protocol bytes, written into bench/out/ (git-ignored):
 * - http: HTTP/1.1 keep-alive connections (handshake, GET/POST with X-Request-ID and traceparent,
 *   Content-Length responses split over segments, FIN teardown), ~1100-byte average packets;
 * - grpc: h2c connections (preface, SETTINGS, HPACK literal headers, length-prefixed messages,
 *   trailers, WINDOW_UPDATEs);
 * - mysql: greeting, login, COM_QUERY with result sets (and some UPDATEs answered by OK), COM_QUIT.
 * A file is reused when its .meta.json says it was written by this generator version with the
 * same seed and target size. `node bench/generate.mjs [--quick]` writes them without benchmarking.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Clock, PcapWriter, TcpConnection, ipv4, rng } from './pcap-writer.mjs';

const GENERATOR_VERSION = 4;
export const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'out');
export const PORTS = { http: 8080, grpc: 50051, mysql: 3306 };

/** Target sizes in bytes: full mode meets the benchmark's minimums, quick mode is a tenth. */
export function targetSizes(quick) {
  const MB = 1e6;
  return quick ? { http: 42 * MB, grpc: 11 * MB, mysql: 11 * MB } : { http: 420 * MB, grpc: 105 * MB, mysql: 105 * MB };
}

const GENERATORS = { http: writeHttp, grpc: writeGrpc, mysql: writeMysql };

/** Writes (or reuses) one capture; returns its path and meta (packets, requests, bytes). */
export function ensureCapture(kind, targetBytes, seed = 1) {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = join(OUT_DIR, `${kind}-${Math.round(targetBytes / 1e6)}mb.pcap`);
  const metaPath = `${path}.meta.json`;
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
    if (meta.version === GENERATOR_VERSION && meta.seed === seed && meta.targetBytes === targetBytes && statSync(path).size === meta.bytes) {
      return { path, meta, reused: true };
    }
  }
  const started = performance.now();
  const meta = { version: GENERATOR_VERSION, kind, seed, targetBytes, ...GENERATORS[kind](path, targetBytes, seed) };
  meta.seconds = +((performance.now() - started) / 1000).toFixed(1);
  writeFileSync(metaPath, JSON.stringify(meta, null, 2));
  return { path, meta, reused: false };
}

/**
 * Drives `concurrent` connections at once, interleaved an exchange at a time, each living for a
 * random number of exchanges, until the file reaches `targetBytes`.
 */
function runConnections(path, targetBytes, seed, serverPort, concurrent, lifetime, open, exchange) {
  const w = new PcapWriter(path);
  const clock = new Clock();
  const random = rng(seed);
  const server = { ip: ipv4(10, 20, 0, 1), port: serverPort };
  let nextClient = 0;
  let requests = 0;
  const start = () => {
    const n = nextClient++;
    const client = { ip: ipv4(10, 10, (n >>> 14) & 0xff, 1 + ((n >>> 7) & 0x7f)), port: 20000 + (n % 40000) };
    const conn = new TcpConnection(w, clock, client, server);
    conn.handshake();
    const state = { conn, left: lifetime(random), index: 0, ctx: null };
    state.ctx = open(state, random);
    return state;
  };
  const pool = Array.from({ length: concurrent }, start);
  while (w.bytes < targetBytes) {
    const slot = Math.floor(random() * pool.length);
    const state = pool[slot];
    exchange(state, random, requests++);
    state.index++;
    if (--state.left === 0) {
      state.ctx?.close?.();
      state.conn.close();
      pool[slot] = start();
    }
  }
  for (const state of pool) {
    state.ctx?.close?.();
    state.conn.close();
  }
  w.close();
  return { bytes: w.bytes, packets: w.packets, requests, connections: nextClient };
}

const hex = (random, digits) => {
  let s = '';
  while (s.length < digits) s += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
  return s.slice(0, digits);
};

/** Printable, JSON-looking filler that bodies are cut from. */
function filler(size, random) {
  const words = ['"id"', '"name"', '"price"', '"sku"', '"stock"', '"tags"', 'true', 'null', '"warehouse-7"', '12.50'];
  let s = '';
  while (s.length < size) s += `{${words[Math.floor(random() * words.length)]}:${Math.floor(random() * 1e6)}},`;
  return Buffer.from(s.slice(0, size), 'latin1');
}

function writeHttp(path, targetBytes, seed) {
  const random0 = rng(seed ^ 0x5eed);
  const body = filler(64 * 1024, random0);
  const scratch = Buffer.allocUnsafe(96 * 1024);
  const paths = ['/api/items', '/api/cart', '/api/users', '/api/orders', '/api/search'];
  return runConnections(
    path,
    targetBytes,
    seed,
    PORTS.http,
    256,
    (random) => 5 + Math.floor(random() * 60),
    () => null,
    ({ conn }, random, n) => {
      const id = hex(random, 32);
      const post = random() < 0.2;
      const reqBodyLength = post ? 100 + Math.floor(random() * 600) : 0;
      let len = scratch.write(
        `${post ? 'POST' : 'GET'} ${paths[n % paths.length]}/${n}?page=${n % 7} HTTP/1.1\r\n` +
          'Host: shop.internal:8080\r\nUser-Agent: bench-client/1.0\r\nAccept: application/json\r\n' +
          `X-Request-ID: ${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}\r\n` +
          `traceparent: 00-${id}-${hex(random, 16)}-01\r\n` +
          (post ? `Content-Type: application/json\r\nContent-Length: ${reqBodyLength}\r\n` : '') +
          '\r\n',
        0,
        'latin1',
      );
      if (post) len += body.copy(scratch, len, 0, reqBodyLength);
      conn.send('c', scratch, 0, len);
      const status = random() < 0.03 ? '500 Internal Server Error' : '200 OK';
      const bodyLength = 3000 + Math.floor(random() * 26000);
      const offset = Math.floor(random() * (body.length - bodyLength));
      len = scratch.write(
        `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${bodyLength}\r\n` +
          `X-Request-ID: ${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}\r\n` +
          'Server: bench-server\r\n\r\n',
        0,
        'latin1',
      );
      len += body.copy(scratch, len, offset, offset + bodyLength);
      conn.send('s', scratch, 0, len);
      conn.ack('c');
    },
  );
}

// --- HTTP/2 + gRPC ---------------------------------------------------------------------------

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0;
const HEADERS = 1;
const SETTINGS = 4;
const WINDOW_UPDATE = 8;
const END_STREAM = 1;
const END_HEADERS = 4;

class Bytes {
  constructor(size) {
    this.buf = Buffer.allocUnsafe(size);
    this.len = 0;
  }
  u8(v) {
    this.buf[this.len++] = v;
    return this;
  }
  u16(v) {
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
    return this;
  }
  u24(v) {
    this.buf.writeUIntBE(v, this.len, 3);
    this.len += 3;
    return this;
  }
  u32(v) {
    this.buf.writeUInt32BE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }
  u32le(v) {
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
    return this;
  }
  text(s) {
    this.len += this.buf.write(s, this.len, 'latin1');
    return this;
  }
  copy(src, from = 0, to = src.length) {
    this.len += src.copy(this.buf, this.len, from, to);
    return this;
  }
  reset() {
    this.len = 0;
    return this;
  }
}

/** An HTTP/2 frame whose payload `write` appends; the length is patched in afterwards. */
function frame(out, type, flags, streamId, write) {
  const at = out.len;
  out.u24(0).u8(type).u8(flags).u32(streamId);
  write?.(out);
  out.buf.writeUIntBE(out.len - at - 9, at, 3);
}

/** HPACK integer with an n-bit prefix (RFC 7541 §5.1), first byte's high bits `high`. */
function hpackInt(out, value, prefixBits, high) {
  const max = (1 << prefixBits) - 1;
  if (value < max) return out.u8(high | value);
  out.u8(high | max);
  value -= max;
  while (value >= 128) {
    out.u8((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  return out.u8(value);
}

/** Literal header field without indexing, new name, no Huffman (RFC 7541 §6.2.2). */
function hpackLiteral(out, name, value) {
  out.u8(0x00);
  hpackInt(out, name.length, 7, 0).text(name);
  hpackInt(out, Buffer.byteLength(value, 'latin1'), 7, 0).text(value);
}

function writeGrpc(path, targetBytes, seed) {
  const random0 = rng(seed ^ 0x9e3779b9);
  const payload = filler(32 * 1024, random0);
  const c = new Bytes(64 * 1024);
  const s = new Bytes(64 * 1024);
  const methods = ['/shop.Inventory/GetItem', '/shop.Cart/AddItem', '/shop.Pricing/Quote', '/shop.Users/Lookup'];
  return runConnections(
    path,
    targetBytes,
    seed,
    PORTS.grpc,
    128,
    (random) => 10 + Math.floor(random() * 100),
    ({ conn }) => {
      c.reset().copy(H2_PREFACE);
      frame(c, SETTINGS, 0, 0, (o) => o.u16(4).u32(1 << 20)); // INITIAL_WINDOW_SIZE
      conn.send('c', c.buf, 0, c.len);
      s.reset();
      frame(s, SETTINGS, 0, 0, (o) => o.u16(3).u32(100)); // MAX_CONCURRENT_STREAMS
      frame(s, SETTINGS, 1, 0); // ACK
      conn.send('s', s.buf, 0, s.len);
      c.reset();
      frame(c, SETTINGS, 1, 0);
      conn.send('c', c.buf, 0, c.len);
      return null;
    },
    ({ conn, index }, random) => {
      const stream = 1 + 2 * index;
      const method = methods[index % methods.length];
      const requestLength = 40 + Math.floor(random() * 400);
      c.reset();
      frame(c, HEADERS, END_HEADERS, stream, (o) => {
        hpackLiteral(o, ':method', 'POST');
        hpackLiteral(o, ':scheme', 'http');
        hpackLiteral(o, ':path', method);
        hpackLiteral(o, ':authority', 'inventory.internal:50051');
        hpackLiteral(o, 'content-type', 'application/grpc');
        hpackLiteral(o, 'te', 'trailers');
        hpackLiteral(o, 'grpc-timeout', '5S');
        hpackLiteral(o, 'traceparent', `00-${hex(random, 32)}-${hex(random, 16)}-01`);
      });
      frame(c, DATA, END_STREAM, stream, (o) => o.u8(0).u32(requestLength).copy(payload, 0, requestLength));
      conn.send('c', c.buf, 0, c.len);
      const responseLength = 500 + Math.floor(random() * 11000);
      const offset = Math.floor(random() * (payload.length - responseLength));
      const failed = random() < 0.02;
      s.reset();
      frame(s, HEADERS, END_HEADERS, stream, (o) => {
        hpackLiteral(o, ':status', '200');
        hpackLiteral(o, 'content-type', 'application/grpc');
      });
      if (!failed) frame(s, DATA, 0, stream, (o) => o.u8(0).u32(responseLength).copy(payload, offset, offset + responseLength));
      frame(s, HEADERS, END_HEADERS | END_STREAM, stream, (o) => {
        hpackLiteral(o, 'grpc-status', failed ? '14' : '0');
        if (failed) hpackLiteral(o, 'grpc-message', 'upstream unavailable');
      });
      conn.send('s', s.buf, 0, s.len);
      c.reset();
      frame(c, WINDOW_UPDATE, 0, 0, (o) => o.u32(failed ? 1 : responseLength + 5));
      conn.send('c', c.buf, 0, c.len);
    },
  );
}

// --- MySQL -------------------------------------------------------------------------------------

const CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000;

/** A MySQL packet: 3-byte length, sequence id, then what `write` appends. */
function mysqlPacket(out, seq, write) {
  const at = out.len;
  out.u24(0).u8(seq);
  write(out);
  out.buf.writeUIntLE(out.len - at - 4, at, 3);
}

function lenenc(out, n) {
  if (n < 251) return out.u8(n);
  if (n < 0x10000) {
    out.u8(0xfc);
    out.buf.writeUInt16LE(n, out.len);
    out.len += 2;
    return out;
  }
  out.u8(0xfd);
  out.buf.writeUIntLE(n, out.len, 3);
  out.len += 3;
  return out;
}

function lenencText(out, s) {
  return lenenc(out, Buffer.byteLength(s, 'latin1')).text(s);
}

const COLUMNS = [
  ['id', 8, 20],
  ['name', 253, 255],
  ['email', 253, 255],
  ['notes', 252, 65535],
];

function writeMysql(path, targetBytes, seed) {
  const random0 = rng(seed ^ 0x3306);
  const notes = filler(16 * 1024, random0).toString('latin1').replace(/[{}"]/g, ' ');
  const c = new Bytes(64 * 1024);
  const s = new Bytes(1 << 20);
  return runConnections(
    path,
    targetBytes,
    seed,
    PORTS.mysql,
    64,
    (random) => 10 + Math.floor(random() * 80),
    ({ conn }, random) => {
      s.reset();
      mysqlPacket(s, 0, (o) => {
        o.u8(10).text('8.0.36\0').u32le(Math.floor(random() * 1e6)).text('abcdefgh').u8(0);
        o.u8(CAPABILITIES & 0xff).u8((CAPABILITIES >>> 8) & 0xff).u8(0xff).u8(2).u8(0);
        o.u8((CAPABILITIES >>> 16) & 0xff).u8((CAPABILITIES >>> 24) & 0xff).u8(21);
        o.copy(Buffer.alloc(10)).text('ijklmnopqrst\0').text('mysql_native_password\0');
      });
      conn.send('s', s.buf, 0, s.len);
      c.reset();
      mysqlPacket(c, 1, (o) => {
        o.u32le(CAPABILITIES).u32le(1 << 24).u8(0xff).copy(Buffer.alloc(23));
        o.text('shop\0').u8(20).copy(Buffer.alloc(20, 7)).text('shopdb\0').text('mysql_native_password\0');
      });
      conn.send('c', c.buf, 0, c.len);
      s.reset();
      mysqlPacket(s, 2, (o) => o.u8(0).u8(0).u8(0).u8(2).u8(0).u8(0).u8(0));
      conn.send('s', s.buf, 0, s.len);
      return {
        close() {
          c.reset();
          mysqlPacket(c, 0, (o) => o.u8(0x01)); // COM_QUIT
          conn.send('c', c.buf, 0, c.len);
        },
      };
    },
    ({ conn }, random, n) => {
      const update = random() < 0.15;
      const trace = `/* traceparent='00-${hex(random, 32)}-${hex(random, 16)}-01' */ `;
      const sql = update
        ? `${trace}UPDATE items SET stock = stock - 1 WHERE id = ${n}`
        : `${trace}SELECT id, name, email, notes FROM customers WHERE region = ${n % 50} LIMIT ${n % 200}`;
      c.reset();
      mysqlPacket(c, 0, (o) => o.u8(0x03).text(sql));
      conn.send('c', c.buf, 0, c.len);
      s.reset();
      if (update) {
        mysqlPacket(s, 1, (o) => o.u8(0).u8(1).u8(0).u8(2).u8(0).u8(0).u8(0));
      } else {
        let seq = 1;
        mysqlPacket(s, seq++, (o) => lenenc(o, COLUMNS.length));
        for (const [name, type, length] of COLUMNS) {
          mysqlPacket(s, seq++, (o) => {
            lenencText(o, 'def');
            lenencText(o, 'shopdb');
            lenencText(o, 'customers');
            lenencText(o, 'customers');
            lenencText(o, name);
            lenencText(o, name);
            o.u8(0x0c).u8(0x21).u8(0).u32le(length).u8(type).u8(0).u8(0).u8(0).u8(0).u8(0);
          });
        }
        const eof = (o) => o.u8(0xfe).u8(0).u8(0).u8(0x22).u8(0);
        mysqlPacket(s, seq++, eof);
        const rows = 5 + Math.floor(random() * 150);
        for (let r = 0; r < rows && s.len < s.buf.length - 4096; r++) {
          mysqlPacket(s, seq++ & 0xff, (o) => {
            lenencText(o, String(n * 1000 + r));
            lenencText(o, `customer-${r}`);
            lenencText(o, `c${r}@example.com`);
            const at = Math.floor(random() * 8000);
            lenencText(o, notes.slice(at, at + 20 + Math.floor(random() * 120)));
          });
        }
        mysqlPacket(s, seq++ & 0xff, eof);
      }
      conn.send('s', s.buf, 0, s.len);
      conn.ack('c');
    },
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = targetSizes(process.argv.includes('--quick'));
  for (const kind of Object.keys(GENERATORS)) {
    const { path, meta, reused } = ensureCapture(kind, sizes[kind]);
    console.log(`${reused ? 'reused ' : 'wrote  '} ${path}: ${(meta.bytes / 1e6).toFixed(1)} MB, ${meta.packets} packets ` +
      `(avg ${(meta.bytes / meta.packets - 16).toFixed(0)} B), ${meta.requests} requests, ${meta.connections} connections`);
  }
}
