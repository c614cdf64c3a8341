// One connection seen twice by `tcpdump -i any` on a host that translates addresses (Docker port
// mappings, Kubernetes services): before and after NAT, with the same initial sequence numbers.
import assert from 'node:assert/strict';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/decode/types.js';
import { TcpAssembler } from '../src/tcp/assembler.js';
import type { Endpoint, TcpSegment } from '../src/tcp/types.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { deleteNamespaces, hasCommand, httpServerIn, IS_ROOT, shell, tcpdumpAround } from './lib/netns.js';
import { TcpRecorder } from './lib/tcp-recorder.js';
import { runCli } from './lib/wirespan-cli.js';

const CLIENT = { ip: '10.98.0.2', port: 51522 };
const VIP = { ip: '10.98.0.1', port: 8080 };
const POD = { ip: '10.99.0.2', port: 80 };
const NODE = { ip: '10.99.0.1', port: 40001 };
const [CLIENT_ISN, SERVER_ISN] = [1000, 7000];

/** A connection's packets as one interface saw them: `from` the client or the server, flags, data. */
function conversation(client: Endpoint, server: Endpoint, clientIsn = CLIENT_ISN, serverIsn = SERVER_ISN): TcpSegment[] {
  const up = (flags: number, seq: number, ack: number, text = ''): TcpSegment => ({ src: client.ip, dst: server.ip, srcPort: client.port, dstPort: server.port, seq, ack, flags, payload: Buffer.from(text) });
  const down = (flags: number, seq: number, ack: number, text = ''): TcpSegment => ({ src: server.ip, dst: client.ip, srcPort: server.port, dstPort: client.port, seq, ack, flags, payload: Buffer.from(text) });
  const request = 'GET /p1 HTTP/1.1\r\n\r\n';
  return [
    up(TCP_SYN, clientIsn, 0),
    down(TCP_SYN | TCP_ACK, serverIsn, clientIsn + 1),
    up(TCP_ACK, clientIsn + 1, serverIsn + 1),
    up(TCP_ACK | TCP_PSH, clientIsn + 1, serverIsn + 1, request),
    down(TCP_ACK | TCP_PSH, serverIsn + 1, clientIsn + 1 + request.length, 'HTTP/1.1 200 OK\r\n\r\n'),
  ];
}

/**
 * Both views, interleaved as a capture on the translating host records them: a packet from the client
 * before its translated copy, a packet from the server after its untranslated original.
 */
function interleaved(before: TcpSegment[], afterNat: TcpSegment[]): TcpSegment[] {
  return before.flatMap((b, i) => (b.src === before[0]!.src ? [b, afterNat[i]!] : [afterNat[i]!, b]));
}

function assemble(segments: TcpSegment[]): { recorder: TcpRecorder; counters: Counters } {
  const counters = new Counters();
  const recorder = new TcpRecorder();
  const assembler = new TcpAssembler({ factory: recorder, counters });
  segments.forEach((s, i) => assembler.segment(s, 1_000_000 + i * 10));
  assembler.finish(2_000_000);
  return { recorder, counters };
}

describe('NAT twins in the TCP layer', () => {
  it('destination NAT: analysed once, from the client to the address that answered, the dialed one kept', () => {
    const { recorder, counters } = assemble(interleaved(conversation(CLIENT, VIP), conversation(CLIENT, POD)));
    const fed = recorder.flows.filter((f) => recorder.stream(f.id, 0).length > 0);
    assert.equal(fed.length, 1);
    assert.deepEqual([fed[0]!.client, fed[0]!.server, fed[0]!.dialedServer], [CLIENT, POD, VIP]);
    assert.equal(counters.get('tcp.nat-twins'), 1);
    // The twin is closed at once and hears nothing.
    const twin = recorder.flows.find((f) => f !== fed[0])!;
    assert.deepEqual(recorder.events.filter((e) => e.flow === twin.id).map((e) => e.kind), ['close']);
  });

  it('source and destination NAT (a NodePort with masquerade): the client before, the server after', () => {
    const { recorder } = assemble(interleaved(conversation(CLIENT, VIP), conversation(NODE, POD)));
    const fed = recorder.flows.filter((f) => recorder.stream(f.id, 0).length > 0);
    assert.deepEqual([fed.length, fed[0]!.client, fed[0]!.server, fed[0]!.dialedServer], [1, CLIENT, POD, VIP]);
  });

  it('source NAT alone: the real client, no dialed address', () => {
    const { recorder } = assemble(interleaved(conversation(CLIENT, POD), conversation(NODE, POD)));
    const fed = recorder.flows.filter((f) => recorder.stream(f.id, 0).length > 0);
    assert.deepEqual([fed.length, fed[0]!.client, fed[0]!.server, fed[0]!.dialedServer], [1, CLIENT, POD, null]);
  });

  it('two connections whose sequence numbers differ are both analysed', () => {
    const { recorder, counters } = assemble(interleaved(conversation(CLIENT, VIP), conversation(CLIENT, POD, 5000, 9000)));
    assert.equal(recorder.flows.filter((f) => recorder.stream(f.id, 0).length > 0).length, 2);
    assert.equal(counters.get('tcp.nat-twins'), 0);
  });
});

const skipReason = !IS_ROOT ? 'needs root for network namespaces' : !hasCommand('ip') ? 'needs iproute2' : !hasCommand('iptables') ? 'needs iptables' : !hasCommand('tcpdump') ? 'needs tcpdump' : !hasCommand('tshark') ? 'needs tshark' : false;

describe('a real capture on a host translating addresses', { skip: skipReason }, () => {
  // client ns --veth-- host ns (DNAT 10.98.0.1:8080 -> 10.99.0.2:80) --veth-- server ns; tcpdump -i any on the host.
  const ns = { client: 'ws-nat-cl', host: 'ws-nat-h', server: 'ws-nat-s' };
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-nat-'));
  const pcap = join(dir, 'nat.pcap');
  let server: ChildProcess | null = null;
  const cleanup = (): void => deleteNamespaces(Object.values(ns));

  before(async () => {
    cleanup();
    shell(`
      for n in ${ns.client} ${ns.host} ${ns.server}; do ip netns add $n; ip -n $n link set lo up; done
      ip link add wsnat-c type veth peer name wsnat-hc; ip link set wsnat-c netns ${ns.client}; ip link set wsnat-hc netns ${ns.host}
      ip link add wsnat-s type veth peer name wsnat-hs; ip link set wsnat-s netns ${ns.server}; ip link set wsnat-hs netns ${ns.host}
      ip -n ${ns.client} addr add 10.98.0.2/24 dev wsnat-c; ip -n ${ns.client} link set wsnat-c up; ip -n ${ns.client} route add default via 10.98.0.1
      ip -n ${ns.host} addr add 10.98.0.1/24 dev wsnat-hc; ip -n ${ns.host} link set wsnat-hc up
      ip -n ${ns.host} addr add 10.99.0.1/24 dev wsnat-hs; ip -n ${ns.host} link set wsnat-hs up
      ip -n ${ns.server} addr add 10.99.0.2/24 dev wsnat-s; ip -n ${ns.server} link set wsnat-s up; ip -n ${ns.server} route add default via 10.99.0.1
      ip netns exec ${ns.host} sysctl -qw net.ipv4.ip_forward=1
      ip netns exec ${ns.host} iptables -t nat -A PREROUTING -p tcp -d 10.98.0.1 --dport 8080 -j DNAT --to-destination 10.99.0.2:80
    `);
    server = await httpServerIn(ns.server, '10.99.0.2');
    // tcpdump -i any in a namespace now and then misses a packet; a capture that did is made again.
    for (let attempt = 1; attempt <= 3 && !(await captureOnce()); attempt++);
  });

  /** Three requests, one connection each, captured on the translating host; true when nothing was lost. */
  async function captureOnce(): Promise<boolean> {
    const client = `const http = require('http'); (async () => { for (const p of ['/a', '/b', '/c']) await new Promise((ok) => http.get({ host: '10.98.0.1', port: 8080, path: p, agent: false, headers: { 'x-request-id': 'nat' + p } }, (r) => { r.resume(); r.on('end', ok); })); })();`;
    await tcpdumpAround(ns.host, 'any', pcap, 'tcp', () => {
      const ran = spawnSync('ip', ['netns', 'exec', ns.client, process.execPath, '-e', client], { timeout: 10_000 });
      assert.equal(ran.status, 0, String(ran.stderr));
    });
    // Every view of every connection: 2 × 3 SYN-ACKs, requests and responses (tshark's count, not ours).
    const count = (filter: string): number => spawnSync('tshark', ['-r', pcap, '-Y', filter], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
    return count('tcp.flags.syn == 1 && tcp.flags.ack == 1') === 6 && count('http.request') === 6 && count('http.response') === 6;
  }

  after(() => {
    server?.kill('SIGKILL');
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('each request once, from the client to the server that answered, with the address it dialed', async () => {
    const { spans, result } = await analyzeFiles([pcap]);
    const seen = spans.map((s) => [(s.request as { path: string }).path, s.requestId, s.client.ip, `${s.server.ip}:${s.server.port}`, s.dialedServer && `${s.dialedServer.ip}:${s.dialedServer.port}`]);
    const expected = [
      ['/a', 'nat/a', '10.98.0.2', '10.99.0.2:80', '10.98.0.1:8080'],
      ['/b', 'nat/b', '10.98.0.2', '10.99.0.2:80', '10.98.0.1:8080'],
      ['/c', 'nat/c', '10.98.0.2', '10.99.0.2:80', '10.98.0.1:8080'],
    ];
    assert.deepEqual(seen.sort(), expected, JSON.stringify(seen));
    assert.equal(result.tcp.connections, 6, 'both views of every connection were on the wire');
    const stats = await runCli(['stats', pcap]);
    assert.match(stats.stdout, /seen twice \(NAT\): +3 \(before and after address translation; analysed once\)/);
  });
});
