/**
 * `wirespan stats` as a user runs it (the real CLI in a child process): exit codes and one-line
 * errors, truncated files, stdin, merging, gzip, `--flows` columns, the `--json` field set, and every
 * link type and tunnel the decoder knows, built byte by byte.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FixturePacket, gzip, writePcap, writePcapng } from './lib/capture-writer.js';
import {
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  PROTO_TCP,
  PROTO_UDP,
  ethernet,
  geneve,
  ipv4,
  ipv6,
  nullLoop,
  sll,
  sll2,
  tcp,
  udp,
  vxlan,
} from './lib/frames.js';
import { runCli, statsJson } from './lib/wirespan-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'wirespan-stats-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH_ACK = 0x18;
const SYN_ACK = 0x12;
const FIN_ACK = 0x11;
const T0 = 1.7e15;

/** Wraps one IP packet (its version given) into the frame of a link type. */
type Wrap = (ip: Uint8Array, version: 4 | 6) => Uint8Array;

/**
 * `connections` complete TCP connections (handshake, request, response, FIN both ways, last ACK:
 * 8 packets each), the k-th from client port 40000 + k, packets 10 µs apart.
 */
function tcpConnections(wrap: Wrap, version: 4 | 6, connections: number, t0 = T0): FixturePacket[] {
  const [client, server] = version === 4 ? ['10.0.0.1', '10.0.0.2'] : ['fd00::1', 'fd00::2'];
  const packets: FixturePacket[] = [];
  for (let k = 0; k < connections; k++) {
    const c = { from: client, to: server, sport: 40000 + k, dport: 80 };
    const s = { from: server, to: client, sport: 80, dport: 40000 + k };
    const steps: [typeof c, number, number, number, string][] = [
      [c, 100, 0, SYN, ''],
      [s, 500, 101, SYN_ACK, ''],
      [c, 101, 501, ACK, ''],
      [c, 101, 501, PSH_ACK, 'GET / HTTP/1.1\r\n\r\n'],
      [s, 501, 119, PSH_ACK, 'HTTP/1.1 204 No Content\r\n\r\n'],
      [c, 119, 528, FIN_ACK, ''],
      [s, 528, 120, FIN_ACK, ''],
      [c, 120, 529, ACK, ''],
    ];
    for (const [end, seq, ack, flags, text] of steps) {
      const segment = tcp({ srcPort: end.sport, dstPort: end.dport, seq, ack, flags, payload: new TextEncoder().encode(text) });
      const ip =
        version === 4
          ? ipv4({ src: end.from, dst: end.to, proto: PROTO_TCP, payload: segment })
          : ipv6({ src: end.from, dst: end.to, nextHeader: PROTO_TCP, payload: segment });
      packets.push({ ts: t0 + packets.length * 10, data: wrap(ip, version) });
    }
  }
  return packets;
}

const etherType = (version: 4 | 6): number => (version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
const onEthernet: Wrap = (ip, v) => ethernet({ type: etherType(v), payload: ip });
const overUdp = (port: number, inner: (frame: Uint8Array) => Uint8Array): Wrap => (ip, v) =>
  ethernet({
    type: ETHERTYPE_IPV4,
    payload: ipv4({ src: '192.0.2.1', dst: '192.0.2.2', proto: PROTO_UDP, payload: udp({ srcPort: 51000, dstPort: port, payload: inner(onEthernet(ip, v)) }) }),
  });

interface LinkCase {
  name: string;
  linkType: number;
  wrap: Wrap;
  version: 4 | 6;
  tunnel?: 'vxlan' | 'geneve';
}

const LINK_CASES: LinkCase[] = [
  { name: 'Ethernet', linkType: 1, wrap: onEthernet, version: 4 },
  { name: 'Ethernet, IPv6', linkType: 1, wrap: onEthernet, version: 6 },
  { name: '802.1Q VLAN', linkType: 1, wrap: (ip, v) => ethernet({ type: etherType(v), vlans: [42], payload: ip }), version: 4 },
  { name: 'QinQ (802.1ad + 802.1Q)', linkType: 1, wrap: (ip, v) => ethernet({ type: etherType(v), vlans: [100, 200], qinq: true, payload: ip }), version: 6 },
  { name: 'Linux SLL', linkType: 113, wrap: (ip, v) => sll({ protocol: etherType(v), payload: ip }), version: 4 },
  { name: 'Linux SLL2', linkType: 276, wrap: (ip, v) => sll2({ protocol: etherType(v), payload: ip }), version: 6 },
  { name: 'BSD NULL', linkType: 0, wrap: (ip, v) => nullLoop(v === 4 ? 2 : 30, ip), version: 4 },
  { name: 'BSD NULL, IPv6 (AF_INET6 24)', linkType: 0, wrap: (ip) => nullLoop(24, ip), version: 6 },
  { name: 'OpenBSD LOOP (big-endian family)', linkType: 108, wrap: (ip, v) => nullLoop(v === 4 ? 2 : 24, ip, { bigEndian: true }), version: 4 },
  { name: 'RAW 101', linkType: 101, wrap: (ip) => ip, version: 6 },
  { name: 'RAW 12', linkType: 12, wrap: (ip) => ip, version: 4 },
  { name: 'RAW 14', linkType: 14, wrap: (ip) => ip, version: 4 },
  { name: 'IPV4 228', linkType: 228, wrap: (ip) => ip, version: 4 },
  { name: 'IPV6 229', linkType: 229, wrap: (ip) => ip, version: 6 },
  { name: 'VXLAN', linkType: 1, wrap: overUdp(4789, (frame) => vxlan(frame, 7)), version: 4, tunnel: 'vxlan' },
  { name: 'GENEVE, inner IPv6', linkType: 1, wrap: overUdp(6081, (frame) => geneve(frame, { vni: 9 })), version: 6, tunnel: 'geneve' },
];

describe('every link type and tunnel through `stats --json`', { concurrency: 4 }, () => {
  for (const c of LINK_CASES) {
    it(c.name, async () => {
      const packets = tcpConnections(c.wrap, c.version, 3);
      const doc = await statsJson([file(`link-${c.linkType}-${c.name.replace(/\W+/g, '-')}.pcap`, writePcap(packets, { linkType: c.linkType }))]);
      assert.equal(doc.packets, 24);
      assert.deepEqual(doc.malformed, {});
      assert.deepEqual(doc.network, { [`ipv${c.version}`]: 24 });
      assert.deepEqual(doc.transport, { tcp: 24 });
      assert.deepEqual(doc.tunnelled, c.tunnel ? { [c.tunnel]: 24 } : {});
      assert.equal(doc.tcp.connections, 3);
      assert.equal(doc.tcp.withHandshake, 3);
      assert.deepEqual(doc.tcp.payloadBytes, { client: 3 * 18, server: 3 * 27 });
      assert.deepEqual(doc.tcp.endings, { fin: 3 });
      assert.deepEqual(doc.files[0]!.linkTypes.map((l) => l.dlt), [c.linkType]);
    });
  }
});

const http = tcpConnections(onEthernet, 4, 2);
const httpPcap = writePcap(http, { linkType: 1 });

describe('stats CLI behaviour', { concurrency: 4 }, () => {
  it('a file that is not a capture: exit 2, one line naming the magic', async () => {
    const run = await runCli(['stats', file('notes.txt', new TextEncoder().encode('hello, not a capture\n'))]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^wirespan: .*notes\.txt.*magic 0x68656c6c.*\n$/);
    assert.equal(run.stderr.split('\n').length, 2, 'one line');
  });

  it('a rotation of many files: the first listed, the rest summed up; --json lists them all', async () => {
    const files = Array.from({ length: 8 }, (_, i) => file(`ring${i}.pcap`, writePcap(http.slice(2 * i, 2 * i + 2), { linkType: 1 })));
    const text = await runCli(['stats', ...files]);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stdout.split('\n').filter((line) => line.startsWith('file:')).length, 4);
    assert.match(text.stdout, new RegExp(`^more files: +4 \\(4 pcap, EN10MB\\), ${files[7]} the last$`, 'm'));
    assert.deepEqual((await statsJson(files)).files.map((f) => f.name), files);
  });

  it('a missing file: exit 2, one line naming it', async () => {
    const missing = join(dir, 'no-such.pcap');
    const run = await runCli(['stats', missing]);
    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.ok(run.stderr.includes('no-such.pcap'), run.stderr);
    assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
  });

  it('a truncated capture: the packets before the cut, a warning, exit 0', async () => {
    const cut = file('cut.pcap', httpPcap.subarray(0, httpPcap.length - 5)); // the last record loses 5 bytes
    const text = await runCli(['stats', cut]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^\s+warning:\s+truncated last record/m);
    assert.match(text.stdout, /^packets:\s+15$/m);
    const doc = await statsJson([cut]);
    assert.equal(doc.packets, 15);
    assert.equal(doc.files[0]!.warnings.length, 1);
  });

  it('- reads the capture from stdin', async () => {
    const fromStdin = await statsJson(['-'], { stdin: httpPcap });
    const fromFile = await statsJson([file('http.pcap', httpPcap)]);
    assert.equal(fromStdin.files[0]!.name, 'stdin');
    assert.deepEqual({ ...fromStdin, files: [] }, { ...fromFile, files: [] });
    assert.equal(fromStdin.tcp.connections, 2);
  });

  it('two files are merged by time into one analysis', async () => {
    // Each file holds one half of every packet pair: only merged do the connections make sense.
    const a = file('a.pcap', writePcap(http.filter((_, i) => i % 2 === 0), { linkType: 1 }));
    const b = file('b.pcapng', writePcapng(http.filter((_, i) => i % 2 === 1), { interfaces: [{ linkType: 1 }] }));
    const doc = await statsJson([b, a]);
    assert.equal(doc.files.length, 2);
    assert.deepEqual(doc.files.map((f) => f.packets), [8, 8]);
    assert.equal(doc.packets, 16);
    assert.equal(doc.tcp.connections, 2);
    assert.equal(doc.tcp.withHandshake, 2);
    assert.deepEqual(doc.tcp.outOfOrderSegments, { client: 0, server: 0 });
    assert.deepEqual(doc.tcp.payloadBytes, { client: 36, server: 54 });
  });

  it('a gzip-compressed capture', async () => {
    const doc = await statsJson([file('http.pcap.gz', gzip(httpPcap))]);
    assert.equal(doc.files[0]!.format, 'pcap+gzip');
    assert.equal(doc.packets, 16);
    assert.equal(doc.tcp.connections, 2);
  });

  it('--flows lists each connection with the documented columns', async () => {
    const run = await runCli(['stats', '--flows', file('flows.pcap', httpPcap)]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trimEnd().split('\n');
    const header = lines.findIndex((l) => l.startsWith('id\t'));
    assert.ok(header >= 0, run.stdout);
    assert.deepEqual(lines[header]!.split('\t'), ['id', 'client', 'server', 'start', 'duration s', 'pkts c/s', 'bytes c/s', 'gap bytes', 'ended c/s']);
    const rows = lines.slice(header + 1).map((l) => l.split('\t'));
    assert.deepEqual(
      rows.map((r) => [r[0], r[1], r[2], r[5], r[6], r[7], r[8]]),
      [
        ['1', '10.0.0.1:40000', '10.0.0.2:80', '5/3', '18/27', '0', 'fin/fin'],
        ['2', '10.0.0.1:40001', '10.0.0.2:80', '5/3', '18/27', '0', 'fin/fin'],
      ],
    );
    assert.match(rows[0]![3]!, /^2023-11-14T22:13:20\.000000Z$/);
    assert.equal(rows[0]![4], '0.000070', 'first SYN to the final ACK');
  });

  it('--json has the documented stable fields', async () => {
    const path = file('json.pcap', httpPcap);
    const doc = await statsJson([path], { flows: true });
    const keys = (o: object): string[] => Object.keys(o).sort();
    assert.equal(doc.schema, 'wirespan-stats/1');
    assert.deepEqual(keys(doc), [
      'bytes',
      'counters',
      'durationSeconds',
      'files',
      'firstPacketUs',
      'flows',
      'lastPacketUs',
      'linkTypes',
      'malformed',
      'network',
      'packets',
      'schema',
      'tcp',
      'transport',
      'truncatedPackets',
      'tunnelled',
    ]);
    assert.deepEqual(keys(doc.files[0]!), ['byteOrder', 'bytes', 'format', 'linkTypes', 'name', 'packets', 'snaplen', 'warnings']);
    assert.deepEqual(keys(doc.tcp), [
      'connections',
      'copies',
      'endings',
      'gapBytes',
      'gaps',
      'outOfOrderSegments',
      'packets',
      'payloadBytes',
      'retransmittedBytes',
      'withHandshake',
      'withoutHandshake',
    ]);
    assert.deepEqual(keys(doc.flows![0]!), [
      'client',
      'copies',
      'endUs',
      'ended',
      'gapBytes',
      'handshake',
      'id',
      'packets',
      'payloadBytes',
      'retransmittedBytes',
      'server',
      'startUs',
    ]);
    assert.deepEqual(doc.linkTypes, { EN10MB: 16 });
    assert.equal(doc.bytes, readFileSync(path).length - 24 - 16 * 16, 'captured bytes: the file minus its headers');
    assert.equal(doc.firstPacketUs, T0);
    assert.equal(doc.lastPacketUs, T0 + 150);
    assert.equal(doc.durationSeconds, 0.00015);
    const plain = await statsJson([path]);
    assert.equal('flows' in plain, false, 'flows only with --flows');
  });
});
