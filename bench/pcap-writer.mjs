/**
 * A minimal streaming pcap writer for benchmark captures (classic pcap, µs, little-endian, Ethernet),
 * and TCP connections on top of it that keep their own sequence numbers. Packets are built straight
 * into one reusable output buffer: no allocation per packet.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const FLUSH_AT = 8 << 20;
const MAX_RECORD = 16 + 14 + 20 + 20 + 65535;

export class PcapWriter {
  /** Packets and bytes (file bytes, headers included) written so far. */
  packets = 0;
  bytes = 0;

  constructor(path) {
    this.fd = openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(FLUSH_AT + MAX_RECORD);
    this.len = 0;
    const b = this.buf;
    b.writeUInt32LE(0xa1b2c3d4, 0);
    b.writeUInt16LE(2, 4);
    b.writeUInt16LE(4, 6);
    b.writeInt32LE(0, 8);
    b.writeUInt32LE(0, 12);
    b.writeUInt32LE(262144, 16);
    b.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
    this.len = 24;
    this.bytes = 24;
  }

  /**
   * One Ethernet/IPv4/TCP packet; `payload` is a Buffer and [from, to) the part to carry.
   * `ep` = { srcMac, dstMac, srcIp, dstIp, srcPort, dstPort } (ip as a 32-bit number).
   */
  tcp(tsUs, ep, seq, ack, flags, payload, from = 0, to = payload ? payload.length : 0) {
    const dataLen = to - from;
    const frameLen = 54 + dataLen;
    const b = this.buf;
    let o = this.len;
    b.writeUInt32LE(Math.floor(tsUs / 1e6), o);
    b.writeUInt32LE(tsUs % 1e6, o + 4);
    b.writeUInt32LE(frameLen, o + 8);
    b.writeUInt32LE(frameLen, o + 12);
    o += 16;
    // Ethernet
    b.writeUInt32BE(0x02000000, o);
    b.writeUInt16BE(ep.dstMacLow, o + 4);
    b.writeUInt32BE(0x02000000, o + 6);
    b.writeUInt16BE(ep.srcMacLow, o + 10);
    b.writeUInt16BE(0x0800, o + 12);
    o += 14;
    // IPv4, no options; checksum left 0 (wirespan does not verify it, tshark does not by default)
    b.writeUInt32BE(0x45000000 | (40 + dataLen), o);
    b.writeUInt32BE(0x00004000, o + 4); // id 0, don't fragment
    b.writeUInt32BE(0x40060000, o + 8); // ttl 64, proto 6, checksum 0
    b.writeUInt32BE(ep.srcIp >>> 0, o + 12);
    b.writeUInt32BE(ep.dstIp >>> 0, o + 16);
    o += 20;
    // TCP, no options
    b.writeUInt16BE(ep.srcPort, o);
    b.writeUInt16BE(ep.dstPort, o + 2);
    b.writeUInt32BE(seq >>> 0, o + 4);
    b.writeUInt32BE(ack >>> 0, o + 8);
    b.writeUInt16BE(0x5000 | flags, o + 12);
    b.writeUInt32BE(0xffff0000, o + 14); // window 65535, checksum 0
    b.writeUInt16BE(0, o + 18);
    o += 20;
    if (dataLen > 0) payload.copy(b, o, from, to);
    o += dataLen;
    this.packets++;
    this.bytes += o - this.len;
    this.len = o;
    if (this.len >= FLUSH_AT) this.flush();
  }

  flush() {
    let off = 0;
    while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    this.len = 0;
  }

  close() {
    this.flush();
    closeSync(this.fd);
  }
}

export const FIN = 0x01;
export const SYN = 0x02;
export const PSH = 0x08;
export const ACK = 0x10;

const MSS = 1448;

/**
 * One TCP connection written to a PcapWriter: handshake, data in MSS-sized segments with the peer
 * acknowledging every few segments, FIN teardown. Time advances by `clock.step` per packet.
 */
export class TcpConnection {
  constructor(writer, clock, client, server) {
    this.w = writer;
    this.clock = clock;
    this.c = { srcIp: client.ip, dstIp: server.ip, srcPort: client.port, dstPort: server.port, srcMacLow: 1, dstMacLow: 2 };
    this.s = { srcIp: server.ip, dstIp: client.ip, srcPort: server.port, dstPort: client.port, srcMacLow: 2, dstMacLow: 1 };
    this.seq = { c: (client.port * 2654435761) >>> 0, s: (server.port * 40503 + client.port * 97) >>> 0 };
  }

  handshake() {
    const { c, s } = this;
    this.w.tcp(this.clock.tick(), c, this.seq.c, 0, SYN);
    this.seq.c = (this.seq.c + 1) >>> 0;
    this.w.tcp(this.clock.tick(), s, this.seq.s, this.seq.c, SYN | ACK);
    this.seq.s = (this.seq.s + 1) >>> 0;
    this.w.tcp(this.clock.tick(), c, this.seq.c, this.seq.s, ACK);
  }

  /** Sends `data` ([from, to)) from 'c' or 's' in MSS segments, the peer ACKing every `ackEvery`. */
  send(side, data, from = 0, to = data.length, ackEvery = 8) {
    const me = side === 'c' ? this.c : this.s;
    const peer = side === 'c' ? this.s : this.c;
    const other = side === 'c' ? 's' : 'c';
    let unacked = 0;
    for (let off = from; off < to; off += MSS) {
      const end = Math.min(to, off + MSS);
      this.w.tcp(this.clock.tick(), me, this.seq[side], this.seq[other], end === to ? PSH | ACK : ACK, data, off, end);
      this.seq[side] = (this.seq[side] + end - off) >>> 0;
      if (++unacked === ackEvery && end !== to) {
        this.w.tcp(this.clock.tick(), peer, this.seq[other], this.seq[side], ACK);
        unacked = 0;
      }
    }
  }

  /** A bare ACK from `side`. */
  ack(side) {
    const other = side === 'c' ? 's' : 'c';
    this.w.tcp(this.clock.tick(), side === 'c' ? this.c : this.s, this.seq[side], this.seq[other], ACK);
  }

  close() {
    const { c, s } = this;
    this.w.tcp(this.clock.tick(), c, this.seq.c, this.seq.s, FIN | ACK);
    this.seq.c = (this.seq.c + 1) >>> 0;
    this.w.tcp(this.clock.tick(), s, this.seq.s, this.seq.c, FIN | ACK);
    this.seq.s = (this.seq.s + 1) >>> 0;
    this.w.tcp(this.clock.tick(), c, this.seq.c, this.seq.s, ACK);
  }
}

/** Packet time: starts at a fixed instant, `step` µs per packet. */
export class Clock {
  constructor(startUs = 1_700_000_000_000_000, step = 7) {
    this.now = startUs;
    this.step = step;
  }

  tick() {
    this.now += this.step;
    return this.now;
  }
}

/** Deterministic PRNG (mulberry32): the same seed writes the same file. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ipv4 = (a, b, c, d) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
