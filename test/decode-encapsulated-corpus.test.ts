// A real capture (../shared/corpus/shop-basic: nginx → Node → gRPC → MariaDB) re-sent through every
// tunnel and framing the decoder opens, the way a SPAN session, an overlay network or a carrier
// link delivers it: the exchanges, ids and links must be those of the plain capture. tshark reads
// each rewritten file too, so the encapsulations themselves are checked by an independent dissector.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import * as f from './lib/frames.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
import { missingTools, tsharkFieldsAsync } from './lib/tshark.js';

const SOURCE = '../shared/corpus/shop-basic.pcap';
const dir = mkdtempSync(join(tmpdir(), 'wirespan-encap-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The IPv4 packet of an untagged Ethernet frame (the corpus is Ethernet, IPv4, no VLANs). */
function ipOf(frame: Uint8Array): Uint8Array {
  assert.equal((frame[12]! << 8) | frame[13]!, 0x0800, 'the corpus frames are untagged IPv4');
  return frame.subarray(14);
}

function overIp(proto: number, payload: Uint8Array): Uint8Array {
  return f.ethernet({ type: 0x0800, payload: f.ipv4({ src: '198.51.100.1', dst: '198.51.100.2', proto, payload }) });
}

function overUdp(dstPort: number, payload: Uint8Array): Uint8Array {
  return overIp(17, f.udp({ srcPort: 40000, dstPort, payload }));
}

interface Encapsulation {
  wrap: (frame: Uint8Array, index: number) => Uint8Array;
  tunnel: string | null;
  /** What tshark needs told (ports it does not decode by default). */
  tsharkArgs?: string[];
}

const ENCAPSULATIONS: Record<string, Encapsulation> = {
  'ERSPAN type II (a switch mirroring to a remote collector)': {
    wrap: (frame, i) => overIp(47, f.gre(f.erspan2(frame, { session: 12, index: 3 }), { protocolType: 0x88be, sequence: i })),
    tunnel: 'erspan',
  },
  'ERSPAN type III with the platform subheader': {
    wrap: (frame, i) => overIp(47, f.gre(f.erspan3(frame, { session: 5, platform: true, timestamp: i }), { protocolType: 0x22eb, sequence: i })),
    tunnel: 'erspan',
  },
  'GRE with a key, carrying IPv4': { wrap: (frame) => overIp(47, f.gre(ipOf(frame), { protocolType: 0x0800, key: 42 })), tunnel: 'gre' },
  'GRE carrying Ethernet (gretap)': { wrap: (frame) => overIp(47, f.gre(frame, { protocolType: 0x6558 })), tunnel: 'gre' },
  'IP in IP (Calico IPIP)': { wrap: (frame) => overIp(4, ipOf(frame)), tunnel: 'ip-in-ip' },
  'VXLAN on 8472 (flannel, Cilium)': { wrap: (frame) => overUdp(8472, f.vxlan(frame, 1)), tunnel: 'vxlan', tsharkArgs: ['-d', 'udp.port==8472,vxlan'] },
  'GTP-U with a PDU session container': {
    wrap: (frame) => overUdp(2152, f.gtpu(ipOf(frame), { teid: 0x1234, extensions: [Uint8Array.from([0x10, 0x09])] })),
    tunnel: 'gtp-u',
  },
  'MPLS, two labels': { wrap: (frame) => f.ethernet({ type: 0x8847, payload: f.mpls([16, 1001], ipOf(frame)) }), tunnel: null },
  'PPPoE session': { wrap: (frame) => f.ethernet({ type: 0x8864, payload: f.pppoe(0x0021, ipOf(frame)) }), tunnel: null },
};

let plain: SpanRecord[] = [];
before(async () => {
  plain = (await analyzeFiles([SOURCE])).spans;
});

/** The HTTP requests and SQL statements tshark finds, in capture order. */
async function tsharkSees(file: string, args: string[] = []): Promise<string[]> {
  const rows = await tsharkFieldsAsync(file, ['http.request.method', 'http.request.uri', 'mysql.query'], { filter: 'http.request or mysql.query', args });
  return rows.map((cells) => cells.join(' ').trim());
}

describe('a real capture inside each encapsulation gives the exchanges of the plain capture', () => {
  for (const [name, e] of Object.entries(ENCAPSULATIONS)) {
    it(name, async () => {
      const packets = [...readPcapSimple(SOURCE)].map((p, i) => ({ ts: p.ts, data: e.wrap(p.data, i) }));
      const file = join(dir, `${name.replace(/\W+/g, '-')}.pcap`);
      writeFileSync(file, writePcap(packets, { linkType: f.LINKTYPE_ETHERNET }));
      const { spans, result } = await analyzeFiles([file]);
      assert.ok(plain.length > 100, `the plain capture has ${plain.length} exchanges`);
      assert.deepEqual(spans, plain);
      assert.deepEqual(result.totals.malformed, {});
      assert.deepEqual(result.totals.tunnelled, e.tunnel === null ? {} : { [e.tunnel]: packets.length });

      if (missingTools('tshark')) return;
      const [expected, seen] = await Promise.all([tsharkSees(SOURCE), tsharkSees(file, e.tsharkArgs)]);
      assert.ok(expected.length > 50, `tshark finds ${expected.length} requests and statements in the plain capture`);
      assert.deepEqual(seen, expected, 'tshark reads the rewritten capture as the plain one');
    });
  }
});
