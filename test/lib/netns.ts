/** Network namespaces and tcpdump for tests that capture real traffic between real programs (root only). */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

export const IS_ROOT = process.getuid?.() === 0;

export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs a shell script (`sh -e`); throws with its first line and stderr when it fails. */
export function shell(script: string): void {
  const r = spawnSync('sh', ['-ec', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script.trim().split('\n')[0]}: ${r.stderr}`);
}

export function deleteNamespaces(names: readonly string[]): void {
  for (const n of names) spawnSync('ip', ['netns', 'del', n]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `action` while tcpdump, inside namespace `ns`, writes what `iface` carries (cBPF `filter`)
 * to `file`; returns once tcpdump has written every packet (-U: the file stopped growing) and exited.
 */
export async function tcpdumpAround(ns: string, iface: string, file: string, filter: string, action: () => void): Promise<void> {
  const tcpdump = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '--immediate-mode', '-Z', 'root', '-i', iface, '-s', '0', '-U', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise((resolve) => tcpdump.stderr!.once('data', resolve)); // "listening on ..."
  await sleep(500); // the ring is attached a moment after tcpdump says it listens
  action();
  for (let size = -1, stable = 0; stable < 5; stable = statSync(file).size === size ? stable + 1 : 0, size = statSync(file).size) await sleep(100);
  tcpdump.kill('SIGINT');
  await new Promise((resolve) => tcpdump.once('exit', resolve));
}

/** A Node HTTP server answering `hello <path>` on ip:80 inside namespace `ns`; resolves once it listens. */
export async function httpServerIn(ns: string, ip: string): Promise<ChildProcess> {
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('http').createServer((q, s) => s.end('hello ' + q.url)).listen(80, '${ip}', () => console.log('up'))`]);
  await new Promise((resolve) => server.stdout!.once('data', resolve));
  return server;
}
