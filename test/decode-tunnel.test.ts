import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import { TCP_ACK, type TunnelKind } from '../src/decode/types.js';
import { Counters } from '../src/util/counters.js';
import * as f from './lib/frames.js';

const innerSegment = f.tcp({ srcPort: 8080, dstPort: 33000, seq: 5, ack: 6, flags: TCP_ACK, payload: f.bytes('HTTP/1.1 200 OK') });
const innerV4 = f.ipv4({ src: '172.16.0.5', dst: '172.16.0.9', proto: 6, payload: innerSegment });
const innerV6 = f.ipv6({ src: 'fd00::5', dst: 'fd00::9', nextHeader: 6, payload: innerSegment });
const innerEther = f.ethernet({ type: 0x0800, vlans: [33], payload: innerV4 });

function outer(udpPayload: Uint8Array, dstPort: number): Uint8Array {
  const datagram = f.udp({ srcPort: 51000, dstPort, payload: udpPayload });
  return overIp(17, datagram);
}

/** The payload of an IP protocol (4 IPIP, 41 6in4, 47 GRE...) in an outer IPv4 packet on Ethernet, VLAN 7. */
function overIp(proto: number, payload: Uint8Array): Uint8Array {
  return f.ethernet({ type: 0x0800, vlans: [7], payload: f.ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto, payload }) });
}

function overIpv6(nextHeader: number, payload: Uint8Array): Uint8Array {
  return f.ethernet({ type: 0x86dd, payload: f.ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader, payload }) });
}

const rows: [string, Uint8Array, TunnelKind | null, string, number[]][] = [
  ['VXLAN inner Ethernet+VLAN+IPv4', outer(f.vxlan(innerEther, 4242), 4789), 'vxlan', '172.16.0.5', [33]],
  ['GENEVE inner Ethernet', outer(f.geneve(innerEther), 6081), 'geneve', '172.16.0.5', [33]],
  ['GENEVE with options', outer(f.geneve(innerEther, { options: new Uint8Array(12) }), 6081), 'geneve', '172.16.0.5', [33]],
  ['GENEVE inner IPv4', outer(f.geneve(innerV4, { protocolType: 0x0800 }), 6081), 'geneve', '172.16.0.5', []],
  ['GENEVE inner IPv6', outer(f.geneve(innerV6, { protocolType: 0x86dd }), 6081), 'geneve', 'fd00::5', []],
  ['VXLAN in VXLAN', outer(f.vxlan(outer(f.vxlan(innerEther, 1), 4789), 2), 4789), 'vxlan', '172.16.0.5', [33]],
  ['VXLAN on 8472 (flannel, Cilium)', outer(f.vxlan(innerEther, 1), 8472), 'vxlan', '172.16.0.5', [33]],
  ['GTP-U G-PDU inner IPv4', outer(f.gtpu(innerV4), 2152), 'gtp-u', '172.16.0.5', []],
  ['GTP-U with a sequence number and two extension headers, inner IPv6', outer(f.gtpu(innerV6, { sequence: true, extensions: [Uint8Array.from([0x10, 0x09]), new Uint8Array(6)] }), 2152), 'gtp-u', 'fd00::5', []],
  ['IPv4 in IPv4 (Calico IPIP)', overIp(4, innerV4), 'ip-in-ip', '172.16.0.5', []],
  ['IPv6 in IPv4 (6in4)', overIp(41, innerV6), 'ip-in-ip', 'fd00::5', []],
  ['IPv4 in IPv6', overIpv6(4, innerV4), 'ip-in-ip', '172.16.0.5', []],
  ['GRE inner IPv4', overIp(47, f.gre(innerV4, { protocolType: 0x0800 })), 'gre', '172.16.0.5', []],
  ['GRE with checksum, key and sequence number, inner IPv6', overIp(47, f.gre(innerV6, { protocolType: 0x86dd, checksum: true, key: 99, sequence: 5 })), 'gre', 'fd00::5', []],
  ['GRE over IPv6, inner Ethernet (gretap)', overIpv6(47, f.gre(innerEther, { protocolType: 0x6558, key: 1 })), 'gre', '172.16.0.5', [33]],
  ['GRE inner MPLS', overIp(47, f.gre(f.mpls([100], innerV4), { protocolType: 0x8847 })), 'gre', '172.16.0.5', []],
  ['ERSPAN type I', overIp(47, f.gre(innerEther, { protocolType: 0x88be })), 'erspan', '172.16.0.5', [33]],
  ['ERSPAN type II', overIp(47, f.gre(f.erspan2(innerEther, { session: 3, vlan: 33 }), { protocolType: 0x88be, sequence: 17 })), 'erspan', '172.16.0.5', [33]],
  ['ERSPAN type III', overIp(47, f.gre(f.erspan3(innerEther), { protocolType: 0x22eb, sequence: 1 })), 'erspan', '172.16.0.5', [33]],
  ['ERSPAN type III with the platform subheader', overIp(47, f.gre(f.erspan3(innerEther, { platform: true }), { protocolType: 0x22eb, sequence: 1 })), 'erspan', '172.16.0.5', [33]],
  ['ERSPAN type III mirroring an IP frame', overIp(47, f.gre(f.erspan3(innerV6, { frameType: 2 }), { protocolType: 0x22eb, sequence: 1 })), 'erspan', 'fd00::5', []],
  ['MPLS, two labels, IPv4', f.ethernet({ type: 0x8847, payload: f.mpls([16, 3001], innerV4) }), null, '172.16.0.5', []],
  ['MPLS IPv6', f.ethernet({ type: 0x8847, payload: f.mpls([20], innerV6) }), null, 'fd00::5', []],
  ['MPLS pseudowire with control word, inner Ethernet', f.ethernet({ type: 0x8847, vlans: [5], payload: f.mpls([16, 17], innerEther, { controlWord: true }) }), null, '172.16.0.5', [5, 33]],
  ['PPPoE session IPv4', f.ethernet({ type: 0x8864, payload: f.pppoe(0x0021, innerV4) }), null, '172.16.0.5', []],
  ['PPPoE session IPv6', f.ethernet({ type: 0x8864, payload: f.pppoe(0x0057, innerV6) }), null, 'fd00::5', []],
];

for (const [name, frame, tunnel, src, vlans] of rows) {
  test(`encapsulation: ${name}`, () => {
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
    ['VXLAN port 8472 without the I flag', outer(f.concat(new Uint8Array(8), innerEther), 8472), 8472],
    ['GTP-U echo request', outer(f.gtpu(new Uint8Array(0), { messageType: 1, sequence: true }), 2152), 2152],
    ['GTP version 2 (control plane) on the GTP-U port', outer(f.concat(Uint8Array.from([0x48, 0xff, 0, 4, 0, 0, 0, 0]), innerV4), 2152), 2152],
  ];
  for (const [name, frame, port] of table) {
    const p = new PacketDecoder({ counters: new Counters() }).decode(f.captured(frame, 1));
    assert.deepEqual([p.ok, p.tunnel, p.transport, p.src, p.dstPort, p.vlans], [true, null, 'udp', '192.0.2.1', port, [7]], name);
  }
});

test('encapsulation: GRE that is not opened stays an IP payload of protocol 47', () => {
  const table: [string, Uint8Array][] = [
    ['PPTP enhanced GRE (version 1)', f.gre(innerV4, { protocolType: 0x880b, version: 1, key: 1 })],
    ['RFC 1701 source routing', f.gre(innerV4, { protocolType: 0x0800, routing: true })],
    ['unknown protocol type', f.gre(innerV4, { protocolType: 0x1234 })],
    ['ERSPAN type III with an unknown frame type', f.gre(f.erspan3(innerEther, { frameType: 7 }), { protocolType: 0x22eb, sequence: 1 })],
  ];
  for (const [name, greBytes] of table) {
    const p = new PacketDecoder({ counters: new Counters() }).decode(f.captured(overIp(47, greBytes), 1));
    assert.deepEqual([p.ok, p.tunnel, p.transport, p.src, p.payload.length], [true, null, 'other', '192.0.2.1', greBytes.length], name);
  }
});

test('encapsulation: MPLS and PPPoE carrying something else are network other', () => {
  const table: [string, Uint8Array][] = [
    ['MPLS, first nibble 1 (associated channel)', f.ethernet({ type: 0x8847, payload: f.mpls([16], Uint8Array.from([0x10, 0, 0, 0])) })],
    ['PPPoE session carrying LCP', f.ethernet({ type: 0x8864, payload: f.pppoe(0xc021, new Uint8Array(8)) })],
    ['PPPoE discovery', f.ethernet({ type: 0x8863, payload: new Uint8Array(12) })],
  ];
  for (const [name, frame] of table) {
    const p = new PacketDecoder({ counters: new Counters() }).decode(f.captured(frame, 1));
    assert.deepEqual([p.ok, p.network, p.transport], [true, 'other', null], name);
  }
});

test('tunnel: a broken inner frame is tunnel-decode-failed', () => {
  const table: [string, Uint8Array][] = [
    ['inner Ethernet cut', outer(f.vxlan(innerEther.subarray(0, 10), 1), 4789)],
    ['inner IPv4 bad version', outer(f.geneve(innerV6, { protocolType: 0x0800 }), 6081)],
    ['GENEVE options longer than the datagram', outer(Uint8Array.from([0x3f, 0, 0x65, 0x58, 0, 0, 0, 0]), 6081)],
    ['GTP-U extension header of length 0', outer(f.concat(Uint8Array.from([0x34, 0xff, 0, 12, 0, 0, 0, 1, 0, 0, 0, 0x85, 0, 0, 0, 0])), 2152)],
    ['GTP-U inner packet neither IPv4 nor IPv6', outer(f.gtpu(Uint8Array.from([0x50, 0, 0, 0])), 2152)],
    ['IPIP inner packet cut', overIp(4, innerV4.subarray(0, 12))],
    ['GRE inner IPv4 bad version', overIp(47, f.gre(innerV6, { protocolType: 0x0800 }))],
    ['ERSPAN type II inner Ethernet cut', overIp(47, f.gre(f.erspan2(innerEther.subarray(0, 8)), { protocolType: 0x88be, sequence: 1 }))],
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

test('encapsulation: headers the snaplen cut are tunnel-decode-failed, framing cut is truncated-link-header', () => {
  const greFrame = overIp(47, f.gre(f.erspan3(innerEther), { protocolType: 0x22eb, sequence: 1 }));
  const gtpFrame = outer(f.gtpu(innerV4, { extensions: [new Uint8Array(6)] }), 2152);
  const table: [string, Uint8Array, number, string][] = [
    ['GRE cut inside its header', greFrame, 14 + 4 + 20 + 6, 'tunnel-decode-failed'],
    ['ERSPAN type III cut inside its header', greFrame, 14 + 4 + 20 + 8 + 6, 'tunnel-decode-failed'],
    ['GTP-U cut inside its extension header', gtpFrame, 14 + 4 + 20 + 8 + 14, 'tunnel-decode-failed'],
    ['MPLS label stack cut before its bottom', f.ethernet({ type: 0x8847, payload: f.mpls([16, 17], innerV4) }), 14 + 6, 'truncated-link-header'],
    ['PPPoE header cut', f.ethernet({ type: 0x8864, payload: f.pppoe(0x0021, innerV4) }), 14 + 5, 'truncated-link-header'],
  ];
  for (const [name, frame, keep, failure] of table) {
    const p = new PacketDecoder({ counters: new Counters() }).decode(f.captured(frame.subarray(0, keep), 1, 0, frame.length));
    assert.deepEqual([p.ok, p.failure], [false, failure], name);
  }
});

test('encapsulation: tunnels nest no deeper than the decoder follows', () => {
  let packet = innerV4;
  for (let i = 0; i < 8; i++) packet = f.ipv4({ src: `10.0.0.${i + 1}`, dst: '10.0.0.99', proto: 4, payload: packet });
  const p = new PacketDecoder({ counters: new Counters() }).decode(f.captured(f.ethernet({ type: 0x0800, payload: packet }), 1));
  assert.deepEqual([p.ok, p.tunnel, p.transport], [true, 'ip-in-ip', 'other']);
  assert.notEqual(p.src, '172.16.0.5');
});
