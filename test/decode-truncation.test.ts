import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PacketDecoder } from '../src/decode/decoder.js';
import type { DecodeFailure } from '../src/decode/types.js';
import { TCP_ACK } from '../src/decode/types.js';
import { Counters } from '../src/util/counters.js';
import * as f from './lib/frames.js';

const payload = f.bytes('0123456789abcdef');
const tcpOptions = Uint8Array.from([2, 4, 5, 0xb4, 1, 1, 4, 2]); // MSS, NOP, NOP, SACK permitted
const segment = f.tcp({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_ACK, options: tcpOptions, payload });
const datagram = f.udp({ srcPort: 1, dstPort: 2, payload });
const ipOptions = new Uint8Array(8).fill(1);
const v4Tcp = f.ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 6, payload: segment, options: ipOptions });
const hopByHop = { type: 0, data: new Uint8Array(14) };
const v6Udp = f.ipv6({ src: '::1', dst: '::2', nextHeader: 17, payload: datagram, extHeaders: [hopByHop] });
const innerFrame = f.ethernet({ type: 0x0800, payload: f.ipv4({ src: '10.9.9.1', dst: '10.9.9.2', proto: 6, payload: segment }) });
const vxlanFrame = f.ethernet({ type: 0x0800, payload: f.ipv4({ src: '10.0.0.1', dst: '10.0.0.2', proto: 17, payload: f.udp({ srcPort: 9, dstPort: 4789, payload: f.vxlan(innerFrame, 1) }) }) });

interface Row {
  name: string;
  frame: Uint8Array;
  linkType: number;
  /** Cut below each boundary → that failure; from the last boundary on → ok, truncated until whole. */
  boundaries: [number, DecodeFailure][];
}

const ETH = 14;
const rows: Row[] = [
  { name: 'ether/IPv4+options/TCP+options', frame: f.ethernet({ type: 0x0800, payload: v4Tcp }), linkType: 1, boundaries: [[ETH, 'truncated-link-header'], [ETH + 28, 'truncated-ip-header'], [ETH + 28 + 28, 'truncated-transport-header']] },
  { name: 'QinQ/IPv6+hop-by-hop/UDP', frame: f.ethernet({ type: 0x86dd, vlans: [1, 2], qinq: true, payload: v6Udp }), linkType: 1, boundaries: [[ETH + 8, 'truncated-link-header'], [ETH + 8 + 56, 'truncated-ip-header'], [ETH + 8 + 56 + 8, 'truncated-transport-header']] },
  { name: 'SLL/IPv4/TCP', frame: f.sll({ protocol: 0x0800, payload: v4Tcp }), linkType: 113, boundaries: [[16, 'truncated-link-header'], [16 + 28, 'truncated-ip-header'], [16 + 56, 'truncated-transport-header']] },
  { name: 'SLL2/IPv6/UDP', frame: f.sll2({ protocol: 0x86dd, payload: v6Udp }), linkType: 276, boundaries: [[20, 'truncated-link-header'], [20 + 56, 'truncated-ip-header'], [20 + 64, 'truncated-transport-header']] },
  { name: 'NULL/IPv4/TCP', frame: f.nullLoop(2, v4Tcp), linkType: 0, boundaries: [[4, 'truncated-link-header'], [4 + 28, 'truncated-ip-header'], [4 + 56, 'truncated-transport-header']] },
  { name: 'raw IPv6/UDP', frame: v6Udp, linkType: 101, boundaries: [[56, 'truncated-ip-header'], [64, 'truncated-transport-header']] },
  {
    name: 'VXLAN/ether/IPv4/TCP',
    frame: vxlanFrame,
    linkType: 1,
    boundaries: [[ETH, 'truncated-link-header'], [ETH + 20, 'truncated-ip-header'], [ETH + 28, 'truncated-transport-header'], [ETH + 36 + ETH + 20 + 28, 'tunnel-decode-failed']],
  },
];

for (const row of rows) {
  test(`truncation: ${row.name} cut at every length`, () => {
    const counters = new Counters();
    const decoder = new PacketDecoder({ counters });
    const full = row.frame.length;
    const headersEnd = row.boundaries.at(-1)![0];
    let truncatedCount = 0;
    for (let cut = 0; cut <= full; cut++) {
      const p = decoder.decode(f.captured(row.frame.subarray(0, cut), row.linkType, 0, full));
      const expectedFailure = row.boundaries.find(([end]) => cut < end)?.[1] ?? null;
      assert.equal(p.failure, expectedFailure, `cut at ${cut}`);
      assert.equal(p.ok, expectedFailure === null, `cut at ${cut}`);
      if (expectedFailure !== null) continue;
      assert.equal(p.truncated, cut < full, `cut at ${cut}`);
      if (p.truncated) truncatedCount++;
      assert.deepEqual(p.payload, payload.subarray(0, cut - headersEnd), `cut at ${cut}`);
      assert.equal(p.payloadWireLength, payload.length, `cut at ${cut}`);
      assert.deepEqual([p.srcPort, p.dstPort], [1, 2]);
    }
    assert.equal(counters.get('decode.truncated'), truncatedCount);
    assert.equal(truncatedCount, payload.length);
  });
}

const linkTypes = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

test('property: random bytes on any link type never throw', () => {
  const decoder = new PacketDecoder({ counters: new Counters() });
  fc.assert(
    fc.property(fc.constantFrom(...linkTypes), fc.uint8Array({ maxLength: 200 }), (linkType, data) => {
      const p = decoder.decode(f.captured(data, linkType));
      assert.equal(p.ok, p.failure === null);
    }),
    { numRuns: 5000 },
  );
});

test('property: valid frames with random bytes overwritten never throw and keep the invariants', () => {
  const samples = rows.map((row) => ({ frame: row.frame, linkType: row.linkType }));
  samples.push(...f.ipv4Fragments({ src: '1.1.1.1', dst: '2.2.2.2', proto: 6, payload: segment, id: 9 }, 16).map((ip) => ({ frame: ip, linkType: 101 })));
  samples.push(...f.ipv6Fragments({ src: '::1', dst: '::2', nextHeader: 6, payload: segment, id: 9 }, 16).map((ip) => ({ frame: ip, linkType: 101 })));
  const counters = new Counters();
  const decoder = new PacketDecoder({ counters, maxFragmentBytes: 256 });
  fc.assert(
    fc.property(
      fc.constantFrom(...samples),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(),
      fc.integer({ min: 0, max: 60_000_000 }),
      ({ frame, linkType }, edits, cut, ts) => {
        const data = frame.slice(0, frame.length - (cut % 8));
        for (const [position, value] of edits) data[position % data.length] = value;
        const p = decoder.decode(f.captured(data, linkType, ts, frame.length));
        assert.equal(p.ok, p.failure === null);
        if (p.ok && (p.transport === 'tcp' || p.transport === 'udp')) {
          assert.ok(p.payload.length <= p.payloadWireLength, 'payload never longer than announced');
          assert.equal(p.truncated || p.payload.length === p.payloadWireLength, true, 'short payload is flagged truncated');
        }
      },
    ),
    { numRuns: 5000 },
  );
  const failures = Object.values(counters.withPrefix('decode.')).reduce((a, b) => a + b, 0);
  assert.ok(failures > 0, 'the edits did hit failure paths');
});
