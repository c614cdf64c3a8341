import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import type { DecodedPacket } from '../src/decode/types.js';
import { TCP_SYN } from '../src/decode/types.js';
import { Counters } from '../src/util/counters.js';
import * as f from './lib/frames.js';

const body = f.bytes('hello, world');
const segment = f.tcp({ srcPort: 1234, dstPort: 5678, seq: 1, flags: TCP_SYN, payload: body });

function decodeEther(type: number, ip: Uint8Array, counters = new Counters(), padTo?: number): DecodedPacket {
  const frame = f.ethernet({ type, payload: ip, ...(padTo === undefined ? {} : { padTo }) });
  return new PacketDecoder({ counters }).decode(f.captured(frame, 1));
}

test('ipv4: options (IHL > 5) are skipped', () => {
  for (const optionBytes of [1, 4, 8, 40]) {
    const options = new Uint8Array(optionBytes).fill(1); // NOPs
    const p = decodeEther(0x0800, f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: segment, options }));
    assert.equal(p.ok, true, `options ${optionBytes}`);
    assert.deepEqual([p.srcPort, p.dstPort, Buffer.from(p.payload).toString()], [1234, 5678, 'hello, world']);
  }
});

test('ipv4: total length trims Ethernet padding', () => {
  const tiny = f.tcp({ srcPort: 1, dstPort: 2, seq: 3, flags: TCP_SYN, payload: Uint8Array.from([0xaa]) });
  const counters = new Counters();
  const p = decodeEther(0x0800, f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: tiny }), counters, 60);
  assert.deepEqual([p.ok, p.truncated, [...p.payload], p.payloadWireLength], [true, false, [0xaa], 1]);
  const u = decodeEther(0x0800, f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 17, payload: f.udp({ srcPort: 53, dstPort: 9, payload: Uint8Array.from([1, 2]) }) }), counters, 60);
  assert.deepEqual([u.transport, u.srcPort, u.dstPort, [...u.payload]], ['udp', 53, 9, [1, 2]]);
  assert.deepEqual(counters.toJSON(), {});
});

test('ipv4: bad versions and lengths are counted', () => {
  const good = f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: segment });
  const withByte = (index: number, value: number): Uint8Array => {
    const copy = good.slice();
    copy[index] = value;
    return copy;
  };
  const table: [string, Uint8Array, string][] = [
    ['version 5', withByte(0, 0x55), 'bad-ip-version'],
    ['version 6 in an IPv4 EtherType', withByte(0, 0x65), 'bad-ip-version'],
    ['IHL 4', withByte(0, 0x44), 'bad-ip-header-length'],
    ['IHL 15 beyond the total length', f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: new Uint8Array(10) }).map((b, i) => (i === 0 ? 0x4f : b)), 'bad-ip-header-length'],
    ['total length below header length', f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: segment, totalLength: 19 }), 'bad-ip-header-length'],
    ['TCP data offset 4', f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: f.tcp({ srcPort: 1, dstPort: 2, seq: 0, flags: 0, dataOffset: 4 }) }), 'bad-tcp-header-length'],
    ['TCP data offset beyond the IP length', f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: f.tcp({ srcPort: 1, dstPort: 2, seq: 0, flags: 0, dataOffset: 15 }) }), 'bad-tcp-header-length'],
    ['TCP shorter than its header per IP', f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: new Uint8Array(12) }), 'bad-tcp-header-length'],
    ['UDP shorter than its header', f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 17, payload: new Uint8Array(7) }), 'truncated-transport-header'],
  ];
  for (const [name, ip, failure] of table) {
    const counters = new Counters();
    const p = decodeEther(0x0800, ip, counters);
    assert.deepEqual([p.ok, p.failure], [false, failure], name);
    assert.deepEqual(counters.toJSON(), { [`decode.${failure}`]: 1 }, name);
  }
});

test('ipv4: total length 0 (TSO) takes the captured bytes', () => {
  const p = decodeEther(0x0800, f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 6, payload: segment, totalLength: 0 }));
  assert.deepEqual([p.ok, p.truncated, Buffer.from(p.payload).toString()], [true, false, 'hello, world']);
});

test('ipv4/ipv6: other transports', () => {
  const table: [Uint8Array, number, string][] = [
    [f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 1, payload: Uint8Array.from([8, 0, 0, 0]) }), 0x0800, 'icmp'],
    [f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 132, payload: Uint8Array.from([0, 0, 8, 0]) }), 0x0800, 'other'], // SCTP
    [f.ipv6({ src: '::1', dst: '::2', nextHeader: 58, payload: Uint8Array.from([128, 0, 0, 0]) }), 0x86dd, 'icmpv6'],
  ];
  for (const [ip, type, transport] of table) {
    const p = decodeEther(type, ip);
    assert.deepEqual([p.ok, p.transport, p.payload.length, p.payloadWireLength], [true, transport, 4, 4]);
  }
});

test('udp: the UDP length trims trailing bytes inside the IP payload', () => {
  const datagram = f.udp({ srcPort: 5, dstPort: 6, payload: Uint8Array.from([1, 2, 3, 4]), length: 10 });
  const p = decodeEther(0x0800, f.ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: 17, payload: datagram }));
  assert.deepEqual([p.ok, [...p.payload], p.payloadWireLength], [true, [1, 2], 2]);
});

const hopByHop = { type: 0, data: new Uint8Array(6) };
const routing = { type: 43, data: Uint8Array.from([0, 0, 0, 0, 0, 0, ...new Uint8Array(16)]) };
const destination = { type: 60, data: new Uint8Array(14) };
const authentication = { type: 51, data: new Uint8Array(22) };
const atomicFragment = { type: 44, data: f.ipv6FragmentData(0, false, 99) };

test('ipv6: extension headers are walked to the transport', () => {
  const table: [string, { type: number; data: Uint8Array }[]][] = [
    ['none', []],
    ['hop-by-hop', [hopByHop]],
    ['routing', [routing]],
    ['destination options', [destination]],
    ['AH', [authentication]],
    ['atomic fragment', [atomicFragment]],
    ['all of them', [hopByHop, destination, routing, atomicFragment, authentication, destination]],
  ];
  for (const [name, extHeaders] of table) {
    const ip = f.ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: 6, payload: segment, extHeaders });
    const p = decodeEther(0x86dd, ip);
    assert.equal(p.failure, null, name);
    assert.deepEqual([p.transport, p.srcPort, p.dstPort, Buffer.from(p.payload).toString()], ['tcp', 1234, 5678, 'hello, world'], name);
  }
});

test('ipv6: ESP and no-next-header stop the walk', () => {
  const esp = decodeEther(0x86dd, f.ipv6({ src: '::1', dst: '::2', nextHeader: 50, payload: new Uint8Array(24), extHeaders: [hopByHop] }));
  assert.deepEqual([esp.ok, esp.transport, esp.payload.length], [true, 'other', 24]);
  const none = decodeEther(0x86dd, f.ipv6({ src: '::1', dst: '::2', nextHeader: 59, payload: new Uint8Array(0), extHeaders: [destination] }));
  assert.deepEqual([none.ok, none.transport, none.payload.length], [true, null, 0]);
});

test('ipv6: an extension header running past the payload length is a bad header length', () => {
  const ip = f.ipv6({ src: '::1', dst: '::2', nextHeader: 6, payload: new Uint8Array(0), extHeaders: [{ type: 0, data: new Uint8Array(14) }] });
  ip[41] = 200; // hop-by-hop length: 1608 bytes
  const counters = new Counters();
  const p = decodeEther(0x86dd, ip, counters);
  assert.deepEqual([p.ok, p.failure], [false, 'bad-ip-header-length']);
  assert.equal(counters.get('decode.bad-ip-header-length'), 1);
});

test('ipv6: payload length 0 takes the captured bytes', () => {
  const p = decodeEther(0x86dd, f.ipv6({ src: '::1', dst: '::2', nextHeader: 6, payload: segment, payloadLength: 0 }));
  assert.deepEqual([p.ok, Buffer.from(p.payload).toString()], [true, 'hello, world']);
});
