import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import { Counters } from '../src/util/counters.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';

const captures = [
  '../shared/formats/http-sll2.pcap',
  '../shared/formats/http-ether.pcap',
  '../shared/formats/http-nsec.pcap',
  '../shared/conformance/zeek-http-vlan-0.pcap',
  '../shared/corpus/shop-basic.pcap',
];

function tsharkAvailable(): boolean {
  try {
    execFileSync('tshark', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const skip = tsharkAvailable() ? false : 'tshark is not installed: nothing to cross-check against';

/** tshark's reading, one row per packet: [src, srcPort, dst, dstPort, tcpLen] ('' where absent). */
function tsharkFields(path: string): string[][] {
  const out = execFileSync('tshark', ['-r', path, '-T', 'fields', '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport', '-e', 'tcp.len'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return out.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
}

for (const path of captures) {
  test(`captures: ${path} decodes like tshark reads it`, { skip }, () => {
    const expected = tsharkFields(path);
    const counters = new Counters();
    const decoder = new PacketDecoder({ counters });
    const ours: string[][] = [];
    let packets = 0;
    const vlans = path.includes('vlan-0') ? [0] : []; // Zeek's capture carries priority tags
    for (const record of readPcapSimple(path)) {
      packets++;
      const p = decoder.decode({ ...record, interfaceId: 0, sourceIndex: 0 });
      assert.equal(p.failure, null, `packet ${packets}`);
      assert.equal(p.ok, true, `packet ${packets}`);
      assert.equal(p.truncated, false, `packet ${packets}`);
      assert.deepEqual(p.vlans, vlans, `packet ${packets}`);
      if (p.transport !== 'tcp') {
        ours.push([p.src, '', p.dst, '', '']);
        continue;
      }
      assert.ok(p.payload.length === p.payloadWireLength, `packet ${packets}: whole payload captured`);
      ours.push([p.src, String(p.srcPort), p.dst, String(p.dstPort), String(p.payload.length)]);
    }
    assert.equal(packets, expected.length);
    assert.ok(ours.filter((row) => row[1] !== '').length > 0, 'the capture has TCP packets');
    assert.deepEqual(ours, expected);
    assert.deepEqual(counters.toJSON(), {});
  });
}
