import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import type { DecodedPacket } from '../src/decode/types.js';
import { TCP_ACK, TCP_PSH } from '../src/decode/types.js';
import { Counters } from '../src/util/counters.js';
import * as f from './lib/frames.js';

const segment = f.tcp({ srcPort: 40000, dstPort: 80, seq: 0xfffffff0, ack: 7, flags: TCP_PSH | TCP_ACK, window: 512, payload: f.bytes('GET /') });
const ip4 = f.ipv4({ src: '10.0.0.1', dst: '192.168.200.254', proto: f.PROTO_TCP, payload: segment });
const ip6 = f.ipv6({ src: 'fe80::1', dst: '2001:db8::a:0:0:1', nextHeader: f.PROTO_TCP, payload: segment });
const V4 = { network: 'ipv4', src: '10.0.0.1', dst: '192.168.200.254' };
const V6 = { network: 'ipv6', src: 'fe80::1', dst: '2001:db8::a:0:0:1' };

interface Row {
  name: string;
  linkType: number;
  frame: Uint8Array;
  expect: { network: string; src: string; dst: string; vlans?: number[] };
}

const rows: Row[] = [
  { name: 'Ethernet IPv4', linkType: 1, frame: f.ethernet({ type: 0x0800, payload: ip4 }), expect: V4 },
  { name: 'Ethernet IPv6', linkType: 1, frame: f.ethernet({ type: 0x86dd, payload: ip6 }), expect: V6 },
  { name: '802.1Q', linkType: 1, frame: f.ethernet({ type: 0x0800, vlans: [100], payload: ip4 }), expect: { ...V4, vlans: [100] } },
  { name: 'VLAN 0 (priority tag)', linkType: 1, frame: f.ethernet({ type: 0x0800, vlans: [0], payload: ip4 }), expect: { ...V4, vlans: [0] } },
  { name: 'QinQ 802.1ad', linkType: 1, frame: f.ethernet({ type: 0x86dd, vlans: [10, 4095], qinq: true, payload: ip6 }), expect: { ...V6, vlans: [10, 4095] } },
  { name: 'QinQ 0x9100', linkType: 1, frame: f.ethernet({ type: 0x0800, vlans: [7, 8, 9], vlanTpid: 0x9100, payload: ip4 }), expect: { ...V4, vlans: [7, 8, 9] } },
  { name: 'SLL IPv4', linkType: 113, frame: f.sll({ protocol: 0x0800, payload: ip4 }), expect: V4 },
  { name: 'SLL IPv6', linkType: 113, frame: f.sll({ protocol: 0x86dd, payload: ip6, packetType: 4 }), expect: V6 },
  { name: 'SLL with VLAN', linkType: 113, frame: f.sll({ protocol: 0x8100, payload: f.concat(Uint8Array.from([0, 42, 0x08, 0]), ip4) }), expect: { ...V4, vlans: [42] } },
  { name: 'SLL2 IPv4', linkType: 276, frame: f.sll2({ protocol: 0x0800, payload: ip4 }), expect: V4 },
  { name: 'SLL2 IPv6', linkType: 276, frame: f.sll2({ protocol: 0x86dd, payload: ip6 }), expect: V6 },
  { name: 'NULL AF_INET little-endian', linkType: 0, frame: f.nullLoop(2, ip4), expect: V4 },
  { name: 'NULL AF_INET big-endian', linkType: 0, frame: f.nullLoop(2, ip4, { bigEndian: true }), expect: V4 },
  ...[24, 28, 30].flatMap((family) => [
    { name: `NULL AF_INET6=${family} LE`, linkType: 0, frame: f.nullLoop(family, ip6), expect: V6 },
    { name: `NULL AF_INET6=${family} BE`, linkType: 0, frame: f.nullLoop(family, ip6, { bigEndian: true }), expect: V6 },
    { name: `LOOP AF_INET6=${family}`, linkType: 108, frame: f.nullLoop(family, ip6, { bigEndian: true }), expect: V6 },
  ]),
  { name: 'LOOP AF_INET', linkType: 108, frame: f.nullLoop(2, ip4, { bigEndian: true }), expect: V4 },
  ...[101, 12, 14].flatMap((linkType) => [
    { name: `raw ${linkType} IPv4`, linkType, frame: ip4, expect: V4 },
    { name: `raw ${linkType} IPv6`, linkType, frame: ip6, expect: V6 },
  ]),
  { name: 'LINKTYPE_IPV4 228', linkType: 228, frame: ip4, expect: V4 },
  { name: 'LINKTYPE_IPV6 229', linkType: 229, frame: ip6, expect: V6 },
];

function decode(frame: Uint8Array, linkType: number, counters = new Counters()): DecodedPacket {
  return new PacketDecoder({ counters }).decode(f.captured(frame, linkType));
}

for (const row of rows) {
  test(`link: ${row.name}`, () => {
    const p = decode(row.frame, row.linkType);
    assert.equal(p.failure, null);
    assert.equal(p.ok, true);
    assert.equal(p.truncated, false);
    assert.equal(p.network, row.expect.network);
    assert.equal(p.src, row.expect.src);
    assert.equal(p.dst, row.expect.dst);
    assert.deepEqual(p.vlans, row.expect.vlans ?? []);
    assert.equal(p.transport, 'tcp');
    assert.deepEqual([p.srcPort, p.dstPort, p.seq, p.ack, p.flags, p.window], [40000, 80, 0xfffffff0, 7, TCP_PSH | TCP_ACK, 512]);
    assert.equal(Buffer.from(p.payload).toString(), 'GET /');
    assert.equal(p.payloadWireLength, 5);
    assert.equal(p.tunnel, null);
  });
}

test('link: wrong IP version for the link type or AF value', () => {
  const table: [Uint8Array, number, string | null, string][] = [
    [ip6, 228, 'bad-ip-version', 'ipv4'],
    [ip4, 229, 'bad-ip-version', 'ipv6'],
    [f.concat(Uint8Array.from([0x50]), ip4.subarray(1)), 101, 'bad-ip-version', 'other'],
    [f.ethernet({ type: 0x0800, payload: ip6 }), 1, 'bad-ip-version', 'ipv4'],
    [f.nullLoop(10, ip6), 0, null, 'other'], // Linux AF_INET6 is not a BSD loopback value
    [f.nullLoop(2, ip4, { bigEndian: false }), 108, null, 'other'], // LOOP is big-endian only
  ];
  for (const [frame, linkType, failure, network] of table) {
    const p = decode(frame, linkType);
    assert.equal(p.failure, failure);
    assert.equal(p.ok, failure === null);
    assert.equal(p.network, network);
  }
});

test('link: unsupported link type and non-IP EtherTypes are reported, not thrown', () => {
  const counters = new Counters();
  const decoder = new PacketDecoder({ counters });
  assert.equal(decoder.decode(f.captured(ip4, 147)).failure, 'unsupported-link-type');
  const arp = decoder.decode(f.captured(f.ethernet({ type: 0x0806, payload: new Uint8Array(28) }), 1));
  assert.deepEqual([arp.ok, arp.network, arp.transport], [true, 'arp', null]);
  const llc = decoder.decode(f.captured(f.ethernet({ type: 46, payload: new Uint8Array(46) }), 1));
  assert.deepEqual([llc.ok, llc.network, llc.transport, llc.src], [true, 'other', null, '']);
  assert.deepEqual(counters.withPrefix('decode.'), { 'unsupported-link-type': 1 });
});

test('link: the decoder reuses one result object and clears the previous packet', () => {
  const decoder = new PacketDecoder({ counters: new Counters() });
  const first = decoder.decode(f.captured(f.ethernet({ type: 0x0800, vlans: [5], payload: ip4 }), 1));
  const second = decoder.decode(f.captured(f.ethernet({ type: 0x0806, payload: new Uint8Array(28) }), 1));
  assert.equal(first, second);
  assert.deepEqual([second.vlans, second.src, second.transport, second.srcPort, second.payload.length], [[], '', null, 0, 0]);
});
