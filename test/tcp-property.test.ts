import assert from 'node:assert/strict';
import { test } from 'node:test';

import fc from 'fast-check';

import { TCP_ACK, TCP_FIN, TCP_SYN } from '../src/decode/types.js';
import { TcpAssembler } from '../src/tcp/assembler.js';
import type { Direction, TcpSegment } from '../src/tcp/types.js';
import { Counters } from '../src/util/counters.js';
import { TcpRecorder } from './lib/tcp-recorder.js';

const ENDPOINTS = [
  { ip: '10.0.0.1', port: 40000 },
  { ip: '10.0.0.2', port: 80 },
] as const;

/** Deterministic PRNG (mulberry32) so fast-check can replay a failing seed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** A piece of one direction on the wire: stream offsets [offset, offset + length), maybe a FIN after. */
interface WireSegment {
  dir: Direction;
  offset: number;
  length: number;
  fin: boolean;
  /** Sent but missed by the capture: it still moves the receiver's ACKs. */
  lost: boolean;
  order: number;
}

interface Scenario {
  streams: [Uint8Array, Uint8Array];
  isn: [number, number];
  handshake: boolean;
  fin: [boolean, boolean];
  seed: number;
}

const isn = fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0xfffff000, max: 0xffffffff }));
/** Stream contents come from the seed (fast-check keeps arrays short by default; lengths matter here). */
const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    lengths: fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 3000 })),
    isn: fc.tuple(isn, isn),
    handshake: fc.boolean(),
    fin: fc.tuple(fc.boolean(), fc.boolean()),
    seed: fc.integer(),
  })
  // Without a handshake, a byte or a FIN, nothing on the wire makes a connection: not a scenario.
  .filter(({ lengths, handshake, fin }) => handshake || lengths[0] + lengths[1] > 0 || fin[0] || fin[1])
  .map(({ lengths, ...rest }) => {
    const rand = prng(~rest.seed);
    const fill = (n: number) => Uint8Array.from({ length: n }, () => rand(256));
    return { ...rest, streams: [fill(lengths[0]), fill(lengths[1])] as [Uint8Array, Uint8Array] };
  });

/**
 * Cut both streams into random segments, add duplicates and overlapping retransmissions, shuffle
 * within a window and (with `lossRate`) mark some segments lost. The first segment of each direction
 * stays in front so that a capture without handshake still starts at offset 0.
 */
function wire(s: Scenario, lossRate: number): WireSegment[] {
  const rand = prng(s.seed);
  const maxSegment = 1 + rand(400);
  const window = rand(12);
  const retransmitRate = rand(30);
  const segments: WireSegment[] = [];
  const firsts: WireSegment[] = [];
  for (const dir of [0, 1] as const) {
    const length = s.streams[dir].length;
    const own: WireSegment[] = [];
    for (let offset = 0; offset < length; ) {
      const n = Math.min(length - offset, 1 + rand(maxSegment));
      own.push({ dir, offset, length: n, fin: false, lost: false, order: 0 });
      if (rand(100) < retransmitRate) {
        const from = rand(offset + n);
        const resent = 1 + rand(Math.min(length - from, 2 * maxSegment));
        own.push({ dir, offset: from, length: resent, fin: false, lost: false, order: 0 });
      }
      offset += n;
    }
    if (s.fin[dir]) own.push({ dir, offset: length, length: 0, fin: true, lost: false, order: 0 });
    if (own.length > 0) firsts.push(own.shift() as WireSegment);
    own.forEach((w, i) => (w.order = i + rand(window + 1) + rand(3) * 0.1));
    segments.push(...own);
  }
  for (const w of segments) w.lost = !w.fin && rand(1000) < lossRate * 1000;
  segments.sort((a, b) => a.order - b.order);
  return [...firsts, ...segments];
}

/** Feed the scenario; ACKs acknowledge what the receiver got so far (lost segments included). */
function feed(s: Scenario, segments: WireSegment[]): { rec: TcpRecorder; counters: Counters } {
  const counters = new Counters();
  const rec = new TcpRecorder();
  const asm = new TcpAssembler({ factory: rec, counters });
  const base = [(s.isn[0] + 1) >>> 0, (s.isn[1] + 1) >>> 0];
  const received = [new Uint8Array(s.streams[0].length + 1), new Uint8Array(s.streams[1].length + 1)];
  const acked = [0, 0];
  let ts = 0;
  const send = (dir: Direction, seq: number, flags: number, payload: Uint8Array) => {
    const peer = dir === 0 ? 1 : 0;
    const [src, dst] = dir === 0 ? ENDPOINTS : [ENDPOINTS[1], ENDPOINTS[0]];
    const segment: TcpSegment = {
      src: src.ip,
      srcPort: src.port,
      dst: dst.ip,
      dstPort: dst.port,
      seq: seq >>> 0,
      ack: (base[peer] + acked[peer]) >>> 0,
      flags,
      payload,
    };
    asm.segment(segment, ts++);
  };
  if (s.handshake) {
    send(0, s.isn[0], TCP_SYN, new Uint8Array(0));
    send(1, s.isn[1], TCP_SYN | TCP_ACK, new Uint8Array(0));
  }
  for (const w of segments) {
    const got = received[w.dir];
    got.fill(1, w.offset, w.offset + w.length + (w.fin ? 1 : 0));
    while (acked[w.dir] < got.length && got[acked[w.dir]] === 1) acked[w.dir]++;
    if (w.lost) continue;
    const payload = s.streams[w.dir].subarray(w.offset, w.offset + w.length);
    send(w.dir, base[w.dir] + w.offset, TCP_ACK | (w.fin ? TCP_FIN : 0), payload);
  }
  asm.finish(ts);
  return { rec, counters };
}

test('reordered, duplicated and overlapping segments reassemble to the original streams, without gaps', () => {
  fc.assert(
    fc.property(scenario, (s) => {
      const { rec } = feed(s, wire(s, 0));
      assert.equal(rec.flows.length, 1);
      for (const dir of [0, 1] as const) {
        const events = rec.stream(1, dir);
        assert.deepEqual(events.filter((e) => e.kind === 'gap'), []);
        const delivered = Buffer.concat(events.map((e) => (e.kind === 'data' ? e.bytes : new Uint8Array(0))));
        assert.deepEqual(delivered, Buffer.from(s.streams[dir]));
        const expectedEnd = s.fin[dir] ? 'fin' : 'eof';
        const ends = rec.events.filter((e) => e.kind === 'end' && e.dir === dir);
        assert.deepEqual(ends.map((e) => e.kind === 'end' && e.reason), [expectedEnd]);
      }
    }),
    { numRuns: 300 },
  );
});

test('with segments lost, delivered bytes match the original at their offsets and gaps account for the rest', () => {
  fc.assert(
    fc.property(scenario, fc.double({ min: 0.05, max: 0.5, noNaN: true }), (raw, lossRate) => {
      const s: Scenario = { ...raw, fin: [true, true] };
      const { rec, counters } = feed(s, wire(s, lossRate));
      let gapBytes = 0;
      for (const dir of [0, 1] as const) {
        const original = s.streams[dir];
        let position = 0;
        for (const e of rec.stream(1, dir)) {
          assert.equal(e.offset, position, 'events are contiguous');
          if (e.kind === 'data') {
            assert.deepEqual(Buffer.from(e.bytes), Buffer.from(original.subarray(e.offset, e.offset + e.bytes.length)));
            position += e.bytes.length;
          } else {
            assert.ok(e.lost > 0);
            position += e.lost;
            gapBytes += e.lost;
          }
        }
        assert.equal(position, original.length, `dir ${dir}: delivered + gap bytes == stream length`);
        assert.equal(rec.flows[0].stats[dir].payloadBytes + rec.flows[0].stats[dir].gapBytes, original.length);
      }
      assert.equal(counters.get('tcp.gap-bytes'), gapBytes);
    }),
    { numRuns: 300 },
  );
});
