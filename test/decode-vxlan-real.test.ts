// A real overlay network: two namespaces joined by the Linux kernel's VXLAN on port 8472 (what
// flannel and Cilium set up), HTTP between the overlay addresses, tcpdump -i any on one end: each
// packet on the overlay device and, encapsulated, on the underlay link.
import assert from 'node:assert/strict';
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { deleteNamespaces, hasCommand, httpServerIn, IS_ROOT, shell, tcpdumpAround } from './lib/netns.js';

/** Kernels built without VXLAN refuse the device; nothing here can then be tested. */
const vxlanMissing = (): string | false => {
  if (!IS_ROOT) return 'needs root for network namespaces';
  if (!hasCommand('ip')) return 'needs iproute2';
  if (!hasCommand('tcpdump')) return 'needs tcpdump';
  if (!hasCommand('tshark')) return 'needs tshark';
  const probe = spawnSync('sh', ['-c', 'ip netns add ws-vx-probe && ip -n ws-vx-probe link add vx type vxlan id 1 dstport 8472 local 127.0.0.1; r=$?; ip netns del ws-vx-probe; exit $r'], { stdio: 'ignore' });
  return probe.status === 0 ? false : 'the kernel has no VXLAN devices';
};

describe('a real VXLAN overlay captured on its underlay', { skip: vxlanMissing() }, () => {
  const ns = { a: 'ws-vx-a', b: 'ws-vx-b' };
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-vxlan-'));
  const pcap = join(dir, 'underlay.pcap');
  let server: ChildProcess | null = null;
  const cleanup = (): void => deleteNamespaces(Object.values(ns));

  before(async () => {
    cleanup();
    shell(`
      ip netns add ${ns.a}; ip netns add ${ns.b}
      ip link add wsvx-a type veth peer name wsvx-b; ip link set wsvx-a netns ${ns.a}; ip link set wsvx-b netns ${ns.b}
      ip -n ${ns.a} addr add 10.97.0.1/24 dev wsvx-a; ip -n ${ns.a} link set wsvx-a up
      ip -n ${ns.b} addr add 10.97.0.2/24 dev wsvx-b; ip -n ${ns.b} link set wsvx-b up
      ip -n ${ns.a} link add vx type vxlan id 42 dstport 8472 local 10.97.0.1 remote 10.97.0.2 dev wsvx-a
      ip -n ${ns.b} link add vx type vxlan id 42 dstport 8472 local 10.97.0.2 remote 10.97.0.1 dev wsvx-b
      ip -n ${ns.a} addr add 10.96.0.1/24 dev vx; ip -n ${ns.a} link set vx up
      ip -n ${ns.b} addr add 10.96.0.2/24 dev vx; ip -n ${ns.b} link set vx up
    `);
    server = await httpServerIn(ns.b, '10.96.0.2');
    for (let attempt = 1; attempt <= 3 && !(await captureOnce()); attempt++);
  });

  /** Three requests on one keep-alive connection, captured everywhere; true when tshark sees them all, twice. */
  async function captureOnce(): Promise<boolean> {
    const client = `const http = require('http'); const agent = new http.Agent({ keepAlive: true }); (async () => { for (const p of ['/a', '/b', '/c']) await new Promise((ok) => http.get({ host: '10.96.0.2', path: p, agent, headers: { 'x-request-id': 'vx' + p } }, (r) => { r.resume(); r.on('end', ok); })); agent.destroy(); })();`;
    // On every interface: each packet on the overlay device, and again, encapsulated, on the underlay.
    await tcpdumpAround(ns.a, 'any', pcap, 'udp port 8472 or tcp port 80', () => {
      const ran = spawnSync('ip', ['netns', 'exec', ns.a, process.execPath, '-e', client], { timeout: 10_000 });
      assert.equal(ran.status, 0, String(ran.stderr));
    });
    const count = (filter: string): number => spawnSync('tshark', ['-r', pcap, '-d', 'udp.port==8472,vxlan', '-Y', filter], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
    // Each request and answer seen twice, and every TCP packet on the overlay device once more inside VXLAN.
    return count('http.request') === 6 && count('http.response') === 6 && 2 * count('vxlan && tcp') === count('tcp');
  }

  after(() => {
    server?.kill('SIGKILL');
    cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the requests between the overlay addresses, each packet once: the tunnelled sight of it a copy', async () => {
    const { spans, result } = await analyzeFiles([pcap]);
    const seen = spans.map((s) => [(s.request as HttpRequestInfo).path, s.requestId, s.client.ip, `${s.server.ip}:${s.server.port}`, (s.response as HttpResponseInfo | null)?.status]);
    assert.deepEqual(seen, [
      ['/a', 'vx/a', '10.96.0.1', '10.96.0.2:80', 200],
      ['/b', 'vx/b', '10.96.0.1', '10.96.0.2:80', 200],
      ['/c', 'vx/c', '10.96.0.1', '10.96.0.2:80', 200],
    ]);
    assert.equal(new Set(spans.map((s) => s.client.port)).size, 1, 'one keep-alive connection');
    assert.ok(result.totals.tunnelled.vxlan! >= result.totals.packets / 2, 'half the packets (and the tunnel\'s ARP) were VXLAN on the underlay');
    assert.deepEqual(result.totals.malformed, {});
    assert.deepEqual(result.tcp.retransmittedBytes, { client: 0, server: 0 });
    const { packets, copies } = result.tcp;
    const seenByTshark = spawnSync('tshark', ['-r', pcap, '-d', 'udp.port==8472,vxlan', '-Y', 'tcp'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
    assert.equal(2 * (packets.client + packets.server), seenByTshark, 'each TCP packet once...');
    assert.deepEqual(copies, packets, '...and its second sight a copy');
  });
});
