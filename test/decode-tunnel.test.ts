import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import { TCP_ACK } from '../src/decode/types.js';
import { Counters } from '../src/util/counters.js';
import * as f from './lib/frames.js';

const innerSegment = f.tcp({ srcPort: 8080, dstPort: 33000, seq: 5, ack: 6, flags: TCP_ACK, payload: f.bytes('HTTP/1.1 200 OK') });
const innerV4 = f.ipv4({ src: '172.16.0.5', dst: '172.16.0.9', proto: 6, payload: innerSegment });
const innerV6 = f.ipv6({ src: 'fd00::5', dst: 'fd00::9', nextHeader: 6, payload: innerSegment });
const innerEther = f.ethernet({ type: 0x0800, vlans: [33], payload: innerV4 });

function outer(udpPayload: Uint8Array, dstPort: number): Uint8Array {
  const datagram = f.udp({ srcPort: 51000, dstPort, payload: udpPayload });
  return f.ethernet({ type: 0x0800, vlans: [7], payload: f.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: 17, payload: datagram }) });
}

const rows: [string, Uint8Array, 'vxlan' | 'geneve', string, number[]][] = [
  ['VXLAN inner Ethernet+VLAN+IPv4', outer(f.vxlan(innerEther, 4242), 4789), 'vxlan', '172.16.0.5', [33]],
  ['GENEVE inner Ethernet', outer(f.geneve(innerEther), 6081), 'geneve', '172.16.0.5', [33]],
  ['GENEVE with options', outer(f.geneve(innerEther, { options: new Uint8Array(12) }), 6081), 'geneve', '172.16.0.5', [33]],
  ['GENEVE inner IPv4', outer(f.geneve(innerV4, { protocolType: 0x0800 }), 6081), 'geneve', '172.16.0.5', []],
  ['GENEVE inner IPv6', outer(f.geneve(innerV6, { protocolType: 0x86dd }), 6081), 'geneve', 'fd00::5', []],
  ['VXLAN in VXLAN', outer(f.vxlan(outer(f.vxlan(innerEther, 1), 4789), 2), 4789), 'vxlan', '172.16.0.5', [33]],
];

for (const [name, frame, tunnel, src, vlans] of rows) {
  test(`tunnel: ${name}`, () => {
    const counters = new Counters();
    const p = new PacketDecoder({ counters }).decode(f.captured(frame, 1));
    assert.deepEqual([p.ok, p.failure, p.tunnel, p.src, p.vlans], [true, null, tunnel, src, vlans]);
    assert.deepEqual([p.transport, p.srcPort, p.dstPort, p.seq, p.ack], ['tcp', 8080, 33000, 5, 6]);
    assert.equal(Buffer.from(p.payload).toString(), 'HTTP/1.1 200 OK');
    assert.deepEqual(counters.toJSON(), {});
  });
}

test('tunnel: datagrams on the tunnel ports that are not tunnels stay UDP', () => {
  const table: [string, Uint8Array, number][] = [
    ['VXLAN without the I flag', outer(f.concat(new Uint8Array(8), innerEther), 4789), 4789],
    ['GENEVE version 1', outer(f.concat(Uint8Array.from([0x40, 0, 0x65, 0x58, 0, 0, 0, 0]), innerEther), 6081), 6081],
    ['GENEVE unknown protocol', outer(f.geneve(innerEther, { protocolType: 0x1234 }), 6081), 6081],
    ['shorter than a tunnel header', outer(Uint8Array.from([8, 0, 0]), 4789), 4789],
  ];
  for (const [name, frame, port] of table) {
    const p = new PacketDecoder({ counters: new Counters() }).decode(f.captured(frame, 1));
    assert.deepEqual([p.ok, p.tunnel, p.transport, p.src, p.dstPort, p.vlans], [true, null, 'udp', '192.0.2.1', port, [7]], name);
  }
});

test('tunnel: a broken inner frame is tunnel-decode-failed', () => {
  const table: [string, Uint8Array][] = [
    ['inner Ethernet cut', outer(f.vxlan(innerEther.subarray(0, 10), 1), 4789)],
    ['inner IPv4 bad version', outer(f.geneve(innerV6, { protocolType: 0x0800 }), 6081)],
    ['GENEVE options longer than the datagram', outer(Uint8Array.from([0x3f, 0, 0x65, 0x58, 0, 0, 0, 0]), 6081)],
  ];
  for (const [name, frame] of table) {
    const counters = new Counters();
    const p = new PacketDecoder({ counters }).decode(f.captured(frame, 1));
    assert.deepEqual([p.ok, p.failure], [false, 'tunnel-decode-failed'], name);
    assert.deepEqual(counters.toJSON(), { 'decode.tunnel-decode-failed': 1 }, name);
  }
});

test('tunnel: inner fragments are reassembled', () => {
  const pieces = f.ipv4Fragments({ src: '172.16.0.5', dst: '172.16.0.9', proto: 6, payload: innerSegment, id: 3 }, 16);
  const decoder = new PacketDecoder({ counters: new Counters() });
  const results = pieces.map((piece) => {
    const p = decoder.decode(f.captured(outer(f.vxlan(f.ethernet({ type: 0x0800, payload: piece }), 9), 4789), 1));
    return [p.ok, p.failure, p.tunnel];
  });
  assert.deepEqual(results.at(-1), [true, null, 'vxlan']);
  assert.ok(results.slice(0, -1).every(([, failure]) => failure === 'ip-fragment-pending'));
});
