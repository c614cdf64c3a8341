import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PacketDecoder, type PacketDecoderOptions } from '../src/decode/decoder.js';
import { TCP_ACK } from '../src/decode/types.js';
import { Counters } from '../src/util/counters.js';
import * as f from './lib/frames.js';

const SECOND = 1_000_000;

function pattern(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);
}

const udpBody = pattern(300);
const udpDatagram = f.udp({ srcPort: 4000, dstPort: 53, payload: udpBody });
const v4 = { src: '10.1.1.1', dst: '10.2.2.2', proto: f.PROTO_UDP, payload: udpDatagram, id: 0x4242 };
const v6 = { src: '2001:db8::1', dst: '2001:db8::2', nextHeader: f.PROTO_UDP, payload: udpDatagram, id: 0xdeadbeef };

function setup(options: Partial<PacketDecoderOptions> = {}) {
  const counters = new Counters();
  const decoder = new PacketDecoder({ counters, ...options });
  const feed = (ip: Uint8Array, ts = 0, version: 4 | 6 = ip[0]! >> 4 === 6 ? 6 : 4) =>
    decoder.decode(f.captured(f.ethernet({ type: version === 4 ? 0x0800 : 0x86dd, payload: ip }), 1, ts));
  return { counters, decoder, feed };
}

for (const [name, fragments] of [
  ['ipv4', f.ipv4Fragments(v4, 128)],
  ['ipv6', f.ipv6Fragments(v6, 128)],
  ['ipv6 after hop-by-hop', f.ipv6Fragments({ ...v6, extHeaders: [{ type: 0, data: new Uint8Array(6) }] }, 64)],
] as const) {
  test(`fragments ${name}: in order, reversed and shuffled they reassemble to the same datagram`, () => {
    const orders = [fragments.map((_, i) => i), fragments.map((_, i) => fragments.length - 1 - i)];
    fc.assert(
      fc.property(fc.shuffledSubarray(fragments.map((_, i) => i), { minLength: fragments.length }), (order) => {
        orders.push(order);
      }),
      { numRuns: 20 },
    );
    for (const order of orders) {
      const { counters, feed } = setup();
      order.forEach((index, n) => {
        const p = feed(fragments[index]!);
        if (n < order.length - 1) {
          assert.deepEqual([p.ok, p.failure], [false, 'ip-fragment-pending']);
          return;
        }
        assert.deepEqual([p.ok, p.failure, p.truncated, p.transport, p.srcPort, p.dstPort], [true, null, false, 'udp', 4000, 53]);
        assert.deepEqual(p.payload, udpBody);
        assert.equal(p.payloadWireLength, udpBody.length);
      });
      assert.deepEqual(counters.toJSON(), { 'decode.fragments-held': fragments.length - 1, 'decode.fragments-reassembled': 1 });
    }
  });
}

test('fragments: a TCP segment split into fragments decodes as if whole', () => {
  const segment = f.tcp({ srcPort: 80, dstPort: 5000, seq: 99, ack: 1, flags: TCP_ACK, payload: pattern(1000, 3) });
  const { feed } = setup();
  const pieces = f.ipv4Fragments({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: segment, id: 7 }, 504);
  assert.equal(feed(pieces[0]!).failure, 'ip-fragment-pending');
  assert.equal(feed(pieces[1]!).failure, 'ip-fragment-pending');
  const p = feed(pieces[2]!);
  assert.deepEqual([p.ok, p.src, p.dst, p.seq, p.payload.length], [true, '1.1.1.1', '2.2.2.2', 99, 1000]);
  assert.deepEqual(p.payload, pattern(1000, 3));
});

test('fragments: overlapping data, the first copy of a byte wins', () => {
  // Datagram of 24 bytes: A = [0,16) all 0xaa, B = [8,24) all 0xbb (final).
  const build = (offset: number, fill: number, more: boolean) =>
    f.ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: 253, id: 1, payload: new Uint8Array(16).fill(fill), fragOffset: offset, flags: more ? 1 : 0 });
  const a = build(0, 0xaa, true);
  const b = build(8, 0xbb, false);
  const expected = (first: number, second: number, split: number) => Uint8Array.from({ length: 24 }, (_, i) => (i < split ? first : second));
  for (const [order, payload] of [
    [[a, b], expected(0xaa, 0xbb, 16)],
    [[b, a], expected(0xaa, 0xbb, 8)],
  ] as const) {
    const { feed } = setup();
    assert.equal(feed(order[0]).failure, 'ip-fragment-pending');
    const p = feed(order[1]);
    assert.deepEqual([p.ok, p.transport], [true, 'other']);
    assert.deepEqual(p.payload, payload);
  }
  // A duplicate of an already received fragment changes nothing.
  const { feed } = setup();
  feed(a);
  feed(build(0, 0x11, true));
  assert.deepEqual(feed(b).payload, expected(0xaa, 0xbb, 16));
});

test('fragments: interleaved datagrams (different ids, protocols, addresses) do not mix', () => {
  const other = f.ipv4Fragments({ ...v4, id: 0x4243, payload: f.udp({ srcPort: 1, dstPort: 2, payload: pattern(200, 9) }) }, 64);
  const mine = f.ipv4Fragments(v4, 128);
  const { feed } = setup();
  const results: number[] = [];
  for (let i = 0; i < Math.max(other.length, mine.length); i++) {
    for (const list of [mine, other]) {
      if (i >= list.length) continue;
      const p = feed(list[i]!);
      if (p.ok) results.push(p.srcPort);
    }
  }
  assert.deepEqual(results.sort(), [1, 4000]);
});

test('fragments: a datagram not completed within the timeout expires (packet time)', () => {
  const pieces = f.ipv4Fragments(v4, 128);
  const { counters, decoder, feed } = setup({ fragmentTimeoutUs: 5 * SECOND });
  feed(pieces[0]!, 0);
  feed(pieces[1]!, 4 * SECOND);
  assert.equal(decoder.pendingFragments, 1);
  const late = feed(pieces[2]!, 6 * SECOND); // the first fragment is gone: this starts a new datagram
  assert.equal(late.failure, 'ip-fragment-pending');
  assert.equal(counters.get('decode.fragments-expired'), 1);
  decoder.flush();
  assert.equal(decoder.pendingFragments, 0);
  assert.equal(counters.get('decode.fragments-expired'), 2);
  assert.equal(counters.get('decode.fragments-reassembled'), 0);
});

test('fragments: the default timeout is 30 s', () => {
  const pieces = f.ipv4Fragments(v4, 128);
  const { feed } = setup();
  feed(pieces[0]!, 0);
  feed(pieces[1]!, 10 * SECOND);
  assert.equal(feed(pieces[2]!, 29 * SECOND).ok, true);
  const again = setup();
  again.feed(pieces[0]!, 0);
  again.feed(pieces[1]!, 0);
  assert.equal(again.feed(pieces[2]!, 31 * SECOND).failure, 'ip-fragment-pending');
});

test('fragments: the byte cap evicts the oldest datagrams', () => {
  const { counters, decoder, feed } = setup({ maxFragmentBytes: 320 });
  const first = f.ipv4Fragments({ ...v4, id: 1 }, 128);
  const second = f.ipv4Fragments({ ...v4, id: 2 }, 128);
  feed(first[0]!);
  feed(first[1]!); // 256 of 320 bytes held
  feed(second[0]!); // needs room: datagram 1 is evicted
  assert.equal(counters.get('decode.fragments-evicted'), 1);
  assert.equal(decoder.pendingFragments, 1);
  feed(second[1]!);
  const p = feed(second[2]!);
  assert.deepEqual(p.payload, udpBody);
  assert.equal(feed(first[2]!).failure, 'ip-fragment-pending');
});

test('fragments: bad fragments fail the whole datagram, counted per packet', () => {
  const pieces = f.ipv4Fragments(v4, 128);
  const table: [string, Uint8Array[], number][] = [
    ['snaplen-cut fragment', [pieces[0]!.subarray(0, 100), pieces[1]!, pieces[2]!], 3],
    ['non-final fragment not a multiple of 8', [f.ipv4({ ...v4, payload: new Uint8Array(12), flags: 1 }), pieces[2]!], 2],
    ['data past the end', [pieces[2]!, f.ipv4({ ...v4, payload: new Uint8Array(512), fragOffset: 0, flags: 1 })], 1],
    ['two different ends', [pieces[2]!, f.ipv4({ ...v4, payload: new Uint8Array(8), fragOffset: 400 })], 1],
    ['beyond 65535 bytes', [f.ipv4({ ...v4, payload: new Uint8Array(16), fragOffset: 65528, flags: 1 })], 1],
  ];
  for (const [name, packets, failures] of table) {
    const { counters, feed } = setup();
    const results = packets.map((ip) => feed(ip).failure);
    assert.equal(results.filter((r) => r === 'fragment-reassembly-failed').length, failures, name);
    assert.equal(counters.get('decode.fragment-reassembly-failed'), failures, name);
    assert.equal(counters.get('decode.fragments-reassembled'), 0, name);
  }
});

test('fragments: ipv6 reassembly takes the next header from the offset-0 fragment and walks headers inside', () => {
  const inner = f.concat(f.ipv6ExtensionHeader({ type: 60, data: new Uint8Array(6) }, f.PROTO_UDP), udpDatagram);
  const pieces = f.ipv6Fragments({ ...v6, nextHeader: 60, payload: inner }, 104);
  const { feed } = setup();
  for (const piece of pieces.slice(1)) assert.equal(feed(piece).failure, 'ip-fragment-pending');
  const p = feed(pieces[0]!);
  assert.deepEqual([p.ok, p.network, p.transport, p.src, p.dst], [true, 'ipv6', 'udp', '2001:db8::1', '2001:db8::2']);
  assert.deepEqual(p.payload, udpBody);
});
