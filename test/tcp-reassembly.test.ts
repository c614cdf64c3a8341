import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../src/decode/types.js';
import { TcpAssembler, type TcpAssemblerOptions } from '../src/tcp/assembler.js';
import type { Flow, TcpSegment } from '../src/tcp/types.js';
import { Counters } from '../src/util/counters.js';
import { TcpRecorder } from './lib/tcp-recorder.js';

const CLIENT = { ip: '10.0.0.1', port: 40000 };
const SERVER = { ip: '10.0.0.2', port: 80 };
const SEC = 1_000_000;

/** [sender, flags (S A F R P), seq, payload (latin1), ack, ts µs (default: index × 1 ms)] */
type Packet = [from: 'c' | 's', flags: string, seq: number, data?: string, ack?: number, ts?: number];

function flagBits(flags: string): number {
  let bits = 0;
  for (const f of flags) bits |= { S: TCP_SYN, A: TCP_ACK, F: TCP_FIN, R: TCP_RST, P: TCP_PSH }[f] ?? 0;
  return bits;
}

function segment([from, flags, seq, data = '', ack = 0]: Packet, client = CLIENT, server = SERVER): TcpSegment {
  const [src, dst] = from === 'c' ? [client, server] : [server, client];
  return {
    src: src.ip,
    srcPort: src.port,
    dst: dst.ip,
    dstPort: dst.port,
    seq: seq >>> 0,
    ack: ack >>> 0,
    flags: flagBits(flags),
    payload: Buffer.from(data, 'latin1'),
  };
}

interface Run {
  rec: TcpRecorder;
  asm: TcpAssembler;
  counters: Counters;
  closed: Flow[];
}

function run(packets: Packet[], opts: Partial<TcpAssemblerOptions> = {}, finish = true): Run {
  const counters = new Counters();
  const rec = new TcpRecorder();
  const closed: Flow[] = [];
  const asm = new TcpAssembler({ factory: rec, counters, onFlowClosed: (f) => closed.push(f), ...opts });
  let lastTs = 0;
  packets.forEach((p, i) => {
    lastTs = p[5] ?? i * 1000;
    asm.segment(segment(p), lastTs);
  });
  if (finish) asm.finish(lastTs + 1000);
  return { rec, asm, counters, closed };
}

/** Client ISN 100 (offset 0 = seq 101), server ISN 300 (offset 0 = seq 301). */
const HANDSHAKE: Packet[] = [
  ['c', 'S', 100],
  ['s', 'SA', 300, '', 101],
  ['c', 'A', 101, '', 301],
];
const EOF_CLOSE = ['#1 end c eof', '#1 end s eof', '#1 close'];

interface Case {
  name: string;
  packets: Packet[];
  opts?: Partial<TcpAssemblerOptions>;
  expect: string[];
  counters?: Record<string, number>;
  check?: (r: Run) => void;
}

const cases: Case[] = [
  {
    name: 'in order, both directions, FIN both ways, late last ACK',
    packets: [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'GET ', 301],
      ['c', 'PA', 105, '/', 301],
      ['s', 'PA', 301, 'HTTP', 106],
      ['c', 'FA', 106, '', 305],
      ['s', 'FA', 305, '', 107],
      ['c', 'A', 107, '', 306],
    ],
    expect: [
      '#1 data c @0 "GET "',
      '#1 data c @4 "/"',
      '#1 data s @0 "HTTP"',
      '#1 end c fin',
      '#1 end s fin',
      '#1 close',
    ],
    counters: { 'tcp.late-after-close': 1, 'tcp.gaps': 0 },
    check: ({ closed }) => {
      assert.equal(closed.length, 1);
      const f = closed[0];
      assert.deepEqual([f.client, f.server, f.handshake], [CLIENT, SERVER, true]);
      assert.deepEqual(f.baseSeq, [101, 301]);
      assert.deepEqual(f.ended, ['fin', 'fin']);
      assert.deepEqual(f.stats.map((d) => [d.packets, d.payloadBytes]), [[6, 5], [3, 4]], "the late last ACK is counted to its connection");
    },
  },
  {
    name: 'reordered segments are delivered when the hole fills',
    packets: [...HANDSHAKE, ['c', 'PA', 105, '/x'], ['c', 'PA', 101, 'GET ']],
    expect: ['#1 data c @0 "GET "', '#1 data c @4 "/x"', ...EOF_CLOSE],
    check: ({ closed }) => assert.equal(closed[0].stats[0].outOfOrderSegments, 1),
  },
  {
    name: 'duplicate segment is dropped and counted as retransmitted',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'GET '], ['c', 'PA', 101, 'GET ']],
    expect: ['#1 data c @0 "GET "', ...EOF_CLOSE],
    check: ({ closed }) => assert.deepEqual([closed[0].stats[0].retransmittedBytes, closed[0].stats[0].payloadBytes], [4, 4]),
  },
  {
    name: 'partial overlap delivers only the new bytes',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'GET '], ['c', 'PA', 103, 'T /x']],
    expect: ['#1 data c @0 "GET "', '#1 data c @4 "/x"', ...EOF_CLOSE],
    check: ({ closed }) => assert.equal(closed[0].stats[0].retransmittedBytes, 2),
  },
  {
    name: 'segment covering a buffered piece adds new bytes at both ends of it',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef'], ['c', 'PA', 103, 'cdefgh']],
    expect: [
      '#1 data c @0 "ab"',
      '#1 data c @2 "cd"',
      '#1 data c @4 "ef"',
      '#1 data c @6 "gh"',
      ...EOF_CLOSE,
    ],
    counters: { 'tcp.overlap-conflicts': 0 },
  },
  {
    name: 'conflicting overlap: the buffered (first) copy wins and is counted',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef'], ['c', 'PA', 103, 'cdXYgh']],
    expect: [
      '#1 data c @0 "ab"',
      '#1 data c @2 "cd"',
      '#1 data c @4 "ef"',
      '#1 data c @6 "gh"',
      ...EOF_CLOSE,
    ],
    counters: { 'tcp.overlap-conflicts': 1 },
  },
  {
    name: 'segment fully inside a buffered piece adds nothing',
    packets: [...HANDSHAKE, ['c', 'PA', 103, 'cdef'], ['c', 'PA', 104, 'de'], ['c', 'PA', 101, 'ab']],
    expect: ['#1 data c @0 "ab"', '#1 data c @2 "cdef"', ...EOF_CLOSE],
    check: ({ closed }) => assert.equal(closed[0].stats[0].retransmittedBytes, 2),
  },
  {
    name: 'per-direction buffer cap forces a gap before the oldest buffered byte',
    opts: { maxBufferedBytesPerConnection: 4 },
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef'], ['c', 'PA', 107, 'gh'], ['c', 'PA', 109, 'ij']],
    expect: [
      '#1 data c @0 "ab"',
      '#1 gap c @2 +2',
      '#1 data c @4 "ef"',
      '#1 data c @6 "gh"',
      '#1 data c @8 "ij"',
      ...EOF_CLOSE,
    ],
    counters: { 'tcp.buffer-cap-per-connection': 1, 'tcp.gaps': 1, 'tcp.gap-bytes': 2 },
    check: ({ closed }) => assert.deepEqual([closed[0].stats[0].gaps, closed[0].stats[0].gapBytes], [1, 2]),
  },
  {
    name: 'hole before a FIN becomes a gap once the peer acknowledged the FIN',
    packets: [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'ab', 301],
      ['c', 'PA', 105, 'ef', 301],
      ['c', 'FA', 107, '', 301],
      ['s', 'A', 301, '', 108],
      ['c', 'A', 108, '', 301],
    ],
    expect: [
      '#1 data c @0 "ab"',
      '#1 gap c @2 +2',
      '#1 data c @4 "ef"',
      '#1 end c fin',
      '#1 end s eof',
      '#1 close',
    ],
  },
  {
    name: 'hole acknowledged by the peer becomes a gap when the next segment arrives',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef'], ['s', 'A', 301, '', 107], ['c', 'PA', 107, 'gh']],
    expect: ['#1 data c @0 "ab"', '#1 gap c @2 +2', '#1 data c @4 "ef"', '#1 data c @6 "gh"', ...EOF_CLOSE],
  },
  {
    name: 'an ACK that does not cover the hole proves nothing (gap only at end of capture)',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef'], ['s', 'A', 301, '', 103], ['c', 'PA', 107, 'gh']],
    expect: ['#1 data c @0 "ab"', '#1 gap c @2 +2', '#1 data c @4 "ef"', '#1 data c @6 "gh"', ...EOF_CLOSE],
    check: ({ rec }) => assert.equal(rec.events.find((e) => e.kind === 'gap')?.ts, 7000, 'gap delivered at finish'),
  },
  {
    name: 'bytes the peer acknowledges in its answer were lost: a gap before the answer is delivered',
    packets: [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'ab', 301],
      // ['c', 'PA', 103, 'cd', 301] is not in the capture; the server's answer acknowledges it.
      ['s', 'PA', 301, 'xy', 105],
      ['c', 'PA', 105, 'ef', 303],
    ],
    expect: ['#1 data c @0 "ab"', '#1 gap c @2 +2', '#1 data s @0 "xy"', '#1 data c @4 "ef"', ...EOF_CLOSE],
    counters: { 'tcp.gaps': 1, 'tcp.gap-bytes': 2 },
    check: ({ rec }) => assert.equal(rec.events.find((e) => e.kind === 'gap')?.ts, 4000, 'declared with the answer'),
  },
  {
    name: 'a pure ACK of unseen bytes declares nothing until data of either side comes',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab', 301], ['s', 'A', 301, '', 105]],
    expect: ['#1 data c @0 "ab"', ...EOF_CLOSE],
    counters: { 'tcp.gaps': 0 },
  },
  {
    name: 'an answer acknowledging one unseen byte (as likely a lost FIN or a keep-alive) declares no gap',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab', 301], ['s', 'PA', 301, 'xy', 104]],
    expect: ['#1 data c @0 "ab"', '#1 data s @0 "xy"', ...EOF_CLOSE],
    counters: { 'tcp.gaps': 0 },
  },
  {
    name: 'an acknowledgment beyond any plausible window is not believed',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab', 301], ['s', 'PA', 301, 'xy', 101 + 2 + 64 * 1024 * 1024]],
    expect: ['#1 data c @0 "ab"', '#1 data s @0 "xy"', ...EOF_CLOSE],
    counters: { 'tcp.gaps': 0 },
  },
  {
    name: 'gap at end of capture, then the buffered data',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef']],
    expect: ['#1 data c @0 "ab"', '#1 gap c @2 +2', '#1 data c @4 "ef"', ...EOF_CLOSE],
  },
  {
    name: 'first data segment lost after the handshake: gap from offset 0',
    packets: [...HANDSHAKE, ['c', 'PA', 104, 'def']],
    expect: ['#1 gap c @0 +3', '#1 data c @3 "def"', ...EOF_CLOSE],
  },
  {
    name: 'sequence numbers wrap around 2^32',
    packets: [
      ['c', 'S', 0xfffffffd],
      ['s', 'SA', 0xfffffff0, '', 0xfffffffe],
      ['c', 'PA', 2, 'efgh', 0xfffffff1],
      ['c', 'PA', 0xfffffffe, 'abcd', 0xfffffff1],
      ['s', 'PA', 0xfffffff1, '0123456789abcdef', 6],
      ['s', 'PA', 1, 'XY', 6],
      ['c', 'FA', 6, '', 3],
    ],
    expect: [
      '#1 data c @0 "abcd"',
      '#1 data c @4 "efgh"',
      '#1 data s @0 "0123456789abcdef"',
      '#1 data s @16 "XY"',
      '#1 end c fin',
      '#1 end s eof',
      '#1 close',
    ],
    check: ({ closed }) => assert.deepEqual(closed[0].baseSeq, [0xfffffffe, 0xfffffff1]),
  },
  {
    name: 'mid-stream start: first data defines offset 0, earlier bytes are counted, not gaps',
    packets: [
      ['c', 'PA', 5000, 'hello', 9000],
      ['s', 'PA', 9000, 'HTTP', 5005],
      ['c', 'PA', 5005, 'world', 9004],
      ['c', 'PA', 4995, '01234', 9004],
      ['c', 'PA', 4998, '34hel', 9004],
    ],
    expect: ['#1 data c @0 "hello"', '#1 data s @0 "HTTP"', '#1 data c @5 "world"', ...EOF_CLOSE],
    counters: { 'tcp.before-start-bytes': 7, 'tcp.gaps': 0 },
    check: ({ closed }) => {
      assert.equal(closed[0].handshake, false);
      assert.deepEqual(closed[0].baseSeq, [5000, 9000]);
      assert.equal(closed[0].stats[0].retransmittedBytes, 3);
    },
  },
  {
    name: 'pure ACKs alone still make a connection',
    packets: [['c', 'A', 5000, '', 9000], ['s', 'A', 9000, '', 5000]],
    expect: EOF_CLOSE,
    check: ({ asm, closed }) => {
      assert.deepEqual(closed[0].baseSeq, [null, null]);
      assert.deepEqual(asm.stats().packets, [1, 1]);
      assert.equal(asm.stats().withoutHandshake, 1);
    },
  },
  {
    name: 'RST delivers buffered data with gaps, ends both directions, late packets are absorbed',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 105, 'ef'], ['s', 'RA', 301, '', 103], ['c', 'PA', 107, 'gh']],
    expect: [
      '#1 data c @0 "ab"',
      '#1 gap c @2 +2',
      '#1 data c @4 "ef"',
      '#1 end c rst',
      '#1 end s rst',
      '#1 close',
    ],
    counters: { 'tcp.late-after-close': 1, 'tcp.late-after-close-bytes': 2 },
    check: ({ asm }) => assert.equal(asm.stats().connections, 1),
  },
  {
    // An injected or stale RST far outside the sender's sequence space: the peers' stacks drop it.
    name: 'RST with a sequence number far outside the stream is ignored and counted; the stream goes on',
    packets: [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'req', 301],
      ['s', 'RA', 301 + 0x40000000, '', 104],
      ['c', 'R', 101 - 0x2000000, ''],
      ['s', 'PA', 301, 'resp', 104],
      ['c', 'RA', 104, '', 305],
    ],
    expect: ['#1 data c @0 "req"', '#1 data s @0 "resp"', '#1 end c rst', '#1 end s rst', '#1 close'],
    counters: { 'tcp.rst-out-of-window': 2 },
  },
  {
    name: 'RST from a side that sent nothing yet, its sequence space unknown, is taken (a refused connection)',
    packets: [['c', 'S', 100], ['s', 'RA', 0, '', 101]],
    expect: ['#1 end c rst', '#1 end s rst', '#1 close'],
  },
  {
    name: 'half-close: the client FINs, the server keeps sending',
    packets: [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'req', 301],
      ['c', 'FA', 104, '', 301],
      ['s', 'A', 301, '', 105],
      ['s', 'PA', 301, 'resp1', 105],
      ['s', 'PA', 306, 'resp2', 105],
      ['s', 'FA', 311, '', 105],
      ['c', 'A', 105, '', 312],
    ],
    expect: [
      '#1 data c @0 "req"',
      '#1 end c fin',
      '#1 data s @0 "resp1"',
      '#1 data s @5 "resp2"',
      '#1 end s fin',
      '#1 close',
    ],
  },
  {
    name: 'FIN arriving before the data it follows',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'FPA', 105, 'ef'], ['c', 'PA', 103, 'cd']],
    expect: [
      '#1 data c @0 "ab"',
      '#1 data c @2 "cd"',
      '#1 data c @4 "ef"',
      '#1 end c fin',
      '#1 end s eof',
      '#1 close',
    ],
  },
  {
    name: 'FIN behind a hole at end of capture: gap up to the FIN, then fin',
    packets: [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'FA', 105, '']],
    expect: ['#1 data c @0 "ab"', '#1 gap c @2 +2', '#1 end c fin', '#1 end s eof', '#1 close'],
  },
  {
    name: 'data beyond the FIN is dropped and counted',
    packets: [...HANDSHAKE, ['c', 'PA', 105, 'efgh'], ['c', 'FA', 103, 'cd'], ['c', 'PA', 101, 'ab']],
    expect: ['#1 data c @0 "ab"', '#1 data c @2 "cd"', '#1 end c fin', '#1 end s eof', '#1 close'],
    counters: { 'tcp.data-after-fin-bytes': 4 },
  },
  {
    name: '4-tuple reuse: a new SYN after FIN/FIN starts connection #2',
    packets: [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'one', 301],
      ['c', 'FA', 104, '', 301],
      ['s', 'FA', 301, '', 105],
      ['c', 'A', 105, '', 302],
      ['c', 'S', 5000],
      ['s', 'SA', 7000, '', 5001],
      ['c', 'A', 5001, '', 7001],
      ['c', 'PA', 5001, 'two', 7001],
    ],
    expect: [
      '#1 data c @0 "one"',
      '#1 end c fin',
      '#1 end s fin',
      '#1 close',
      '#2 data c @0 "two"',
      '#2 end c eof',
      '#2 end s eof',
      '#2 close',
    ],
    counters: { 'tcp.late-after-close': 1 },
    check: ({ closed }) => {
      assert.deepEqual(closed.map((f) => [f.id, f.handshake, f.baseSeq[0]]), [[1, true, 101], [2, true, 5001]]);
    },
  },
  {
    name: 'a SYN with a new ISN supersedes an open connection',
    packets: [['c', 'PA', 5000, 'old', 9000], ['c', 'S', 100], ['s', 'SA', 300, '', 101], ['c', 'PA', 101, 'new', 301]],
    expect: [
      '#1 data c @0 "old"',
      '#1 end c idle',
      '#1 end s idle',
      '#1 close',
      '#2 data c @0 "new"',
      '#2 end c eof',
      '#2 end s eof',
      '#2 close',
    ],
    counters: { 'tcp.superseded-by-syn': 1 },
  },
  {
    name: 'SYN and SYN-ACK retransmissions are harmless',
    packets: [
      ['c', 'S', 100],
      ['c', 'S', 100],
      ['s', 'SA', 300, '', 101],
      ['s', 'SA', 300, '', 101],
      ['c', 'A', 101, '', 301],
      ['c', 'PA', 101, 'hi', 301],
    ],
    expect: ['#1 data c @0 "hi"', ...EOF_CLOSE],
    check: ({ asm, closed }) => {
      assert.equal(asm.stats().connections, 1);
      assert.deepEqual(closed[0].stats.map((d) => d.packets), [4, 2]);
    },
  },
  {
    name: 'stray ACKs before a handshake: the flow adopts the handshake',
    packets: [['s', 'A', 300, '', 101], ...HANDSHAKE, ['c', 'PA', 101, 'x', 301]],
    expect: ['#1 data c @0 "x"', ...EOF_CLOSE],
    check: ({ closed }) => assert.deepEqual([closed.length, closed[0].handshake, closed[0].client], [1, true, CLIENT]),
  },
  {
    name: 'a handshake after stray packets corrects roles guessed from ports',
    packets: [['s', 'A', 300, '', 101], ['c', 'S', 100], ['s', 'SA', 300, '', 101], ['c', 'PA', 101, 'x', 301]],
    opts: { serverPorts: new Set([40000]) },
    expect: ['#1 data c @0 "x"', ...EOF_CLOSE],
    check: ({ closed }) => assert.deepEqual([closed.length, closed[0].client, closed[0].server], [1, CLIENT, SERVER]),
  },
  {
    name: 'idle flows are flushed by packet time, with the time of their last packet',
    packets: [['c', 'PA', 5000, 'ab', 0, 0], ['c', 'PA', 5004, 'ef', 0, 5 * SEC], ['c', 'PA', 5006, 'gh', 0, 606 * SEC]],
    expect: [
      '#1 data c @0 "ab"',
      '#1 gap c @2 +2',
      '#1 data c @4 "ef"',
      '#1 end c idle',
      '#1 end s idle',
      '#1 close',
      '#2 data c @0 "gh"',
      '#2 end c eof',
      '#2 end s eof',
      '#2 close',
    ],
    check: ({ rec }) => assert.deepEqual(rec.events.slice(1, 6).map((e) => e.ts), [5 * SEC, 5 * SEC, 5 * SEC, 5 * SEC, 5 * SEC]),
  },
];

describe('tcp reassembly (segments in, events out)', () => {
  for (const c of cases) {
    test(c.name, () => {
      const r = run(c.packets, c.opts);
      assert.deepEqual(r.rec.lines(), c.expect);
      for (const [name, value] of Object.entries(c.counters ?? {})) assert.equal(r.counters.get(name), value, name);
      c.check?.(r);
    });
  }
});

describe('tcp reassembly: timing and caps', () => {
  test('the periodic sweep flushes an idle flow when another flow advances packet time', () => {
    const counters = new Counters();
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({ factory: rec, counters, idleTimeoutUs: 10 * SEC });
    asm.segment(segment(['c', 'PA', 1, 'a']), 0);
    const other = { ip: '10.0.0.3', port: 40001 };
    asm.segment(segment(['c', 'PA', 1, 'b'], other, SERVER), 11 * SEC);
    assert.deepEqual(rec.lines(), ['#1 data c @0 "a"', '#1 end c idle', '#1 end s idle', '#1 close', '#2 data c @0 "b"']);
    assert.equal(asm.stats().openFlows, 1);
  });

  test('flushOlderThan closes only flows whose last packet is older', () => {
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({ factory: rec, counters: new Counters() });
    asm.segment(segment(['c', 'PA', 1, 'a']), 1000);
    asm.segment(segment(['c', 'PA', 1, 'b'], { ip: '10.0.0.3', port: 40001 }, SERVER), 3000);
    asm.flushOlderThan(2000);
    assert.deepEqual(rec.lines(), ['#1 data c @0 "a"', '#2 data c @0 "b"', '#1 end c idle', '#1 end s idle', '#1 close']);
  });

  test('the total cap forces out the flow that started buffering first', () => {
    const counters = new Counters();
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({ factory: rec, counters, maxBufferedBytesTotal: 6 });
    const other = { ip: '10.0.0.3', port: 40001 };
    asm.segment(segment(['c', 'PA', 1, 'a']), 0);
    asm.segment(segment(['c', 'PA', 1, 'a'], other, SERVER), 1);
    asm.segment(segment(['c', 'PA', 3, 'cdef']), 2);
    assert.equal(asm.stats().bufferedBytes, 4);
    asm.segment(segment(['c', 'PA', 3, 'CDEF'], other, SERVER), 3);
    assert.deepEqual(rec.lines(), ['#1 data c @0 "a"', '#2 data c @0 "a"', '#1 gap c @1 +1', '#1 data c @2 "cdef"']);
    assert.equal(counters.get('tcp.buffer-cap-total'), 1);
    const stats = asm.stats();
    assert.deepEqual([stats.bufferedBytes, stats.peakBufferedBytes], [4, 8]);
  });

  test('a flood of tiny out-of-order pieces hits the per-direction cap by piece count', () => {
    const counters = new Counters();
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({ factory: rec, counters });
    asm.segment(segment(['c', 'PA', 1, 'a']), 0);
    const pieces = 16384; // 4 MiB default cap / 256 bytes per piece
    for (let i = 0; i <= pieces; i++) asm.segment(segment(['c', 'PA', 3 + i, 'x']), 1);
    assert.equal(counters.get('tcp.buffer-cap-per-connection'), 1);
    const events = rec.stream(1, 0);
    assert.deepEqual(events.slice(0, 2).map((e) => [e.kind, e.offset]), [['data', 0], ['gap', 1]]);
    assert.equal(events.length, 2 + pieces + 1);
    assert.equal(asm.stats().bufferedBytes, 0);
  });

  test('stats() sums open and closed flows', () => {
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({ factory: rec, counters: new Counters() });
    const packets: Packet[] = [
      ...HANDSHAKE,
      ['c', 'PA', 101, 'abc', 301],
      ['c', 'PA', 101, 'abc', 301],
      ['s', 'PA', 304, 'de', 104],
      ['c', 'RA', 104, '', 301],
    ];
    packets.forEach((p, i) => asm.segment(segment(p), i));
    asm.segment(segment(['c', 'PA', 7, 'xyz'], { ip: '10.0.0.9', port: 40001 }, SERVER), 10);
    assert.deepEqual(asm.stats(), {
      connections: 2,
      withHandshake: 1,
      withoutHandshake: 1,
      openFlows: 1,
      packets: [6, 2],
      payloadBytes: [6, 2],
      retransmittedBytes: 3,
      outOfOrderSegments: 1,
      gaps: 1,
      gapBytes: 3,
      bufferedBytes: 0,
      peakBufferedBytes: 2,
    });
  });

  test('a handler that throws is counted, later calls still arrive', () => {
    const counters = new Counters();
    const seen: string[] = [];
    const asm = new TcpAssembler({
      counters,
      factory: {
        open: () => ({
          data: (_dir, bytes) => {
            seen.push(Buffer.from(bytes).toString('latin1'));
            throw new Error('parser bug');
          },
          gap: () => {},
          end: () => {},
          close: () => seen.push('close'),
        }),
      },
    });
    for (const p of [...HANDSHAKE, ['c', 'PA', 101, 'ab'], ['c', 'PA', 103, 'cd']] as Packet[]) asm.segment(segment(p), 0);
    asm.finish(1);
    assert.deepEqual(seen, ['ab', 'cd', 'close']);
    assert.equal(counters.get('tcp.handler-errors'), 2);
  });
});

describe('tcp roles', () => {
  const table: Array<[flags: string, src: number, dst: number, serverPorts: number[], clientPort: number]> = [
    ['S', 5000, 6000, [], 5000],
    ['S', 80, 40000, [], 80],
    ['SA', 80, 40000, [], 40000],
    ['SA', 40000, 80, [], 80],
    ['A', 40000, 80, [], 40000],
    ['PA', 80, 40000, [], 40000],
    ['PA', 8080, 50000, [8080], 50000],
    ['PA', 3306, 8080, [8080], 3306],
    ['PA', 3306, 8080, [8080, 3306], 3306],
    ['PA', 443, 1025, [], 1025],
    ['PA', 80, 1024, [], 1024],
    ['PA', 40000, 50000, [], 50000],
    ['PA', 5000, 6000, [], 5000],
    ['PA', 6000, 5000, [], 6000],
    ['PA', 5000, 5000, [], 5000],
  ];
  for (const [flags, src, dst, serverPorts, clientPort] of table) {
    const listed = serverPorts.length > 0 ? ` (server ports ${serverPorts})` : '';
    test(`${flags} ${src} → ${dst}${listed}: client port ${clientPort}`, () => {
      const rec = new TcpRecorder();
      const asm = new TcpAssembler({ factory: rec, counters: new Counters(), serverPorts: new Set(serverPorts) });
      const a = { ip: '192.0.2.1', port: src };
      const b = { ip: '192.0.2.2', port: dst };
      asm.segment(segment(['c', flags, 1], a, b), 0);
      assert.equal(rec.flows[0].client.port, clientPort);
      assert.equal(rec.flows[0].handshake, flags.includes('S'));
    });
  }

  test('swapRoles at open: later deliveries use the new roles', () => {
    const rec = new TcpRecorder((flow) => flow.swapRoles());
    const asm = new TcpAssembler({ factory: rec, counters: new Counters() });
    asm.segment(segment(['c', 'PA', 1, 'req']), 0);
    asm.segment(segment(['s', 'PA', 9, 'resp']), 1);
    const flow = rec.flows[0];
    assert.deepEqual([flow.client, flow.server], [SERVER, CLIENT]);
    assert.deepEqual(rec.lines().slice(0, 2), ['#1 data s @0 "req"', '#1 data c @0 "resp"']);
    assert.deepEqual(flow.stats.map((d) => d.payloadBytes), [4, 3]);
  });

  test('swapRoles swaps every per-direction state, and is refused once data was consumed', () => {
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({ factory: rec, counters: new Counters() });
    for (const p of [...HANDSHAKE, ['c', 'FA', 101, '', 301]] as Packet[]) asm.segment(segment(p), 0);
    const flow = rec.flows[0];
    assert.deepEqual([flow.ended, flow.baseSeq], [['fin', null], [101, 301]]);
    flow.swapRoles();
    assert.deepEqual([flow.client, flow.server], [SERVER, CLIENT]);
    assert.deepEqual([flow.ended, flow.baseSeq], [[null, 'fin'], [301, 101]]);
    assert.deepEqual(flow.stats.map((d) => d.packets), [1, 3]);
    asm.segment(segment(['s', 'PA', 301, 'late', 102]), 1);
    assert.deepEqual(rec.lines(), ['#1 end c fin', '#1 data c @0 "late"']);
    assert.throws(() => flow.swapRoles(), /after data was consumed/);
  });

  test('swapRoles inside the first data call applies to the rest of the stream', () => {
    const rec = new TcpRecorder();
    const asm = new TcpAssembler({
      counters: new Counters(),
      factory: {
        open(flow) {
          const inner = rec.open(flow);
          let first = true;
          return {
            ...inner,
            data(dir, bytes, ts, offset) {
              if (first) flow.swapRoles();
              first = false;
              inner.data(dir, bytes, ts, offset);
            },
          };
        },
      },
    });
    for (const p of [...HANDSHAKE, ['c', 'PA', 103, 'cd'], ['c', 'PA', 101, 'ab']] as Packet[]) asm.segment(segment(p), 0);
    // 'ab' and 'cd' are delivered by one packet; the swap during 'ab' applies to 'cd'.
    assert.deepEqual(rec.lines(), ['#1 data c @0 "ab"', '#1 data s @2 "cd"']);
  });
});

describe('open connections are bounded', () => {
  test('a SYN scan past maxOpenFlows evicts the least recently active, counted; a busy connection goes on', () => {
    const counters = new Counters();
    const rec = new TcpRecorder();
    const closed: Flow[] = [];
    const asm = new TcpAssembler({ factory: rec, counters, maxOpenFlows: 1000, onFlowClosed: (f) => closed.push(f) });
    let ts = 0;
    asm.segment(segment(['c', 'S', 100]), (ts += 10));
    asm.segment(segment(['s', 'SA', 300, '', 101]), (ts += 10));
    for (let i = 0; i < 5000; i++) {
      asm.segment(segment(['c', 'S', 7], { ip: '10.9.0.1', port: 10000 + i }, { ip: '10.9.0.2', port: 80 }), (ts += 10));
      // The real connection stays active throughout.
      if (i % 100 === 0) asm.segment(segment(['c', 'PA', 101 + i / 100, 'x', 301]), (ts += 10));
    }
    assert.ok(asm.stats().openFlows <= 1000, `open flows: ${asm.stats().openFlows}`);
    assert.equal(counters.get('tcp.flows-evicted'), 5001 - asm.stats().openFlows, 'every connection not open any more was evicted, and counted');
    assert.equal(closed.length, counters.get('tcp.flows-evicted'), 'evicted connections are reported like idle ones');
    asm.finish(ts + 10);
    const real = rec.stream(1, 0).filter((e) => e.kind === 'data');
    assert.equal(Buffer.concat(real.map((e) => (e.kind === 'data' ? e.bytes : new Uint8Array(0)))).toString(), 'x'.repeat(50), 'the active connection was never evicted');
  });
});
