// A packet seen twice is a copy, not a retransmission: `tcpdump -i any` on a host bridging two
// containers sees each of their packets on both ports of the bridge.
import assert from 'node:assert/strict';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/decode/types.js';
import { TcpAssembler } from '../src/tcp/assembler.js';
import { COPY_WINDOW_NO_ID_US, COPY_WINDOW_US } from '../src/tcp/copies.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import * as f from './lib/frames.js';
import { deleteNamespaces, hasCommand, httpServerIn, IS_ROOT, shell, tcpdumpAround } from './lib/netns.js';
import { TcpRecorder } from './lib/tcp-recorder.js';
import { tsharkFields } from './lib/tshark.js';
import { runCli, statsJson } from './lib/wirespan-cli.js';

describe('copies and retransmissions (synthetic)', () => {
  const client = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80 };
  const server = { src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000 };
  /** Feeds frames (with their capture times, µs) through the decoder and the assembler. */
  function assemble(frames: [Uint8Array, number][]) {
    const counters = new Counters();
    const recorder = new TcpRecorder();
    const decoder = new PacketDecoder({ counters });
    const assembler = new TcpAssembler({ counters, factory: recorder });
    for (const [data, ts] of frames) assembler.segment(decoder.decode(f.captured(data, f.LINKTYPE_ETHERNET, ts)), ts);
    assembler.finish(frames.at(-1)![1] + 1);
    const text = (dir: 0 | 1): string => recorder.stream(recorder.flows[0]!.id, dir).map((e) => (e.kind === 'data' ? Buffer.from(e.bytes).toString('latin1') : `[gap ${e.lost}]`)).join('');
    return { counters, text, stats: recorder.flows[0]!.stats };
  }
  const packet = (side: typeof client, seq: number, ack: number, flags: number, payload: string, ipId: number): Uint8Array =>
    f.tcpPacket({ ...side, seq, ack, flags, payload, ipId }).data;
  const syn = packet(client, 100, 0, TCP_SYN, '', 1);
  const synAck = packet(server, 500, 101, TCP_SYN | TCP_ACK, '', 0);
  const request = packet(client, 101, 501, TCP_ACK | TCP_PSH, 'GET / HTTP/1.1\r\n\r\n', 2);

  it('the same packet again within the window is dropped and counted as a copy', () => {
    const { counters, text, stats } = assemble([[syn, 0], [syn, 3], [synAck, 50], [synAck, 52], [request, 100], [request, 104]]);
    assert.equal(text(0), 'GET / HTTP/1.1\r\n\r\n');
    assert.deepEqual([stats[0].packets, stats[0].copies, stats[0].retransmittedBytes, stats[1].packets, stats[1].copies], [2, 2, 0, 1, 1]);
    assert.equal(counters.get('tcp.copies'), 3);
  });

  it('a retransmission (a new IPv4 id), or the same bytes after the window, is a retransmission', () => {
    const resent = packet(client, 101, 501, TCP_ACK | TCP_PSH, 'GET / HTTP/1.1\r\n\r\n', 3);
    for (const [again, at] of [[resent, 104], [request, 100 + COPY_WINDOW_US + 1]] as const) {
      const { stats } = assemble([[syn, 0], [synAck, 50], [request, 100], [again, at]]);
      assert.deepEqual([stats[0].packets, stats[0].copies, stats[0].retransmittedBytes], [3, 0, 18]);
    }
  });

  it('copies interleaved with the next packet are still copies', () => {
    const next = packet(client, 119, 501, TCP_ACK | TCP_PSH, 'GET /b HTTP/1.1\r\n\r\n', 3);
    const { stats, text } = assemble([[syn, 0], [synAck, 50], [request, 100], [next, 101], [request, 102], [next, 103]]);
    assert.deepEqual([stats[0].copies, stats[0].retransmittedBytes], [2, 0]);
    assert.equal(text(0), 'GET / HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n');
  });
});

const skipReason = !IS_ROOT ? 'needs root for network namespaces' : !hasCommand('ip') ? 'needs iproute2' : !hasCommand('tcpdump') ? 'needs tcpdump' : !hasCommand('tshark') ? 'needs tshark' : false;

describe('a real capture on a host bridging two namespaces', { skip: skipReason }, () => {
  // ns a --veth-- [bridge in ns host] --veth-- ns b; tcpdump -i any in the host sees both bridge ports.
  const ns = { a: 'ws-br-a', host: 'ws-br-h', b: 'ws-br-b' };
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-bridge-'));
  const pcap = join(dir, 'bridge.pcap');
  let server: ChildProcess | null = null;
  const cleanup = (): void => deleteNamespaces(Object.values(ns));

  before(async () => {
    cleanup();
    shell(`
      for n in ${ns.a} ${ns.host} ${ns.b}; do ip netns add $n; ip -n $n link set lo up; done
      ip -n ${ns.host} link add br0 type bridge; ip -n ${ns.host} link set br0 up
      for s in a b; do
        ip link add wsbr-$s type veth peer name wsbr-h$s
        ip link set wsbr-$s netns ws-br-$s; ip link set wsbr-h$s netns ${ns.host}
        ip -n ${ns.host} link set wsbr-h$s master br0; ip -n ${ns.host} link set wsbr-h$s up
        ip -n ws-br-$s link set wsbr-$s up
      done
      ip -n ${ns.a} addr add 10.95.0.1/24 dev wsbr-a
      ip -n ${ns.b} addr add 10.95.0.2/24 dev wsbr-b
    `);
    server = await httpServerIn(ns.b, '10.95.0.2');
    const client = `const http = require('http'); const agent = new http.Agent({ keepAlive: true }); (async () => { for (const p of ['/a', '/b', '/c']) await new Promise((ok) => http.get({ host: '10.95.0.2', path: p, agent }, (r) => { r.resume(); r.on('end', ok); })); agent.destroy(); })();`;
    await tcpdumpAround(ns.host, 'any', pcap, 'tcp port 80', () => {
      const ran = spawnSync('ip', ['netns', 'exec', ns.a, process.execPath, '-e', client], { timeout: 10_000 });
      assert.equal(ran.status, 0, String(ran.stderr));
    });
  });

  after(() => {
    server?.kill('SIGKILL');
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every packet once, the second sight of it a copy: no retransmission', async () => {
    const rows = tsharkFields(pcap, ['frame.number', 'tcp.analysis.retransmission']);
    assert.ok(rows.length >= 20 && rows.length % 2 === 0, `${rows.length} packets, each on both bridge ports`);
    assert.ok(rows.some((r) => r[1] === '1'), 'tshark flags the second sight as a retransmission');
    const doc = await statsJson([pcap]);
    assert.deepEqual(doc.tcp.retransmittedBytes, { client: 0, server: 0 });
    assert.equal(doc.tcp.copies.client + doc.tcp.copies.server, rows.length / 2);
    assert.equal(doc.tcp.packets.client + doc.tcp.packets.server, rows.length / 2);
    const report = await runCli(['read', pcap]);
    assert.match(report.stdout + report.stderr, new RegExp(`${rows.length / 2} TCP packets seen a second time .* dropped as copies, not counted as retransmissions`));
    const { spans } = await analyzeFiles([pcap]);
    assert.deepEqual(spans.map((s) => [(s.request as { path: string }).path, (s.response as { status: number }).status]), [['/a', 200], ['/b', 200], ['/c', 200]]);
  });
});

describe('copies over IPv6 (no IP id)', () => {
  it('the same packet again within a millisecond is a copy, later a retransmission', () => {
    const client = { src: 'fd00::1', dst: 'fd00::2', sport: 40000, dport: 80 };
    const server = { src: 'fd00::2', dst: 'fd00::1', sport: 80, dport: 40000 };
    const frames = (againAt: number): [Uint8Array, number][] => {
      const request = f.tcpPacket({ ...client, seq: 101, ack: 501, flags: TCP_ACK | TCP_PSH, payload: 'GET / HTTP/1.1\r\n\r\n' }).data;
      return [
        [f.tcpPacket({ ...client, seq: 100, flags: TCP_SYN }).data, 0],
        [f.tcpPacket({ ...server, seq: 500, ack: 101, flags: TCP_SYN | TCP_ACK }).data, 50],
        [request, 100],
        [request, 100 + againAt],
      ];
    };
    for (const [againAt, copies, retransmitted] of [[COPY_WINDOW_NO_ID_US, 1, 0], [COPY_WINDOW_NO_ID_US + 1, 0, 18]] as const) {
      const counters = new Counters();
      const recorder = new TcpRecorder();
      const decoder = new PacketDecoder({ counters });
      const assembler = new TcpAssembler({ counters, factory: recorder });
      for (const [data, ts] of frames(againAt)) assembler.segment(decoder.decode(f.captured(data, f.LINKTYPE_ETHERNET, ts)), ts);
      assembler.finish(10_000);
      const [c] = recorder.flows[0]!.stats;
      assert.deepEqual([c.copies, c.retransmittedBytes], [copies, retransmitted], `again after ${againAt} µs`);
    }
  });
});
