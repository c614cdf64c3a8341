#!/usr/bin/env node
// Live capture benchmark: HTTP load on the loopback of a fresh network namespace while
// `wirespan capture` analyses it, once per backend. Prints packets/s, exchanges/s and every drop
// figure, and for cap the error of its JavaScript receive times against a simultaneous tcpdump
// capture of the same packets (matched by content). Needs root (network namespaces); run
// `npm run build` first. Usage: node bench/live.mjs [--duration 10] [--backends dumpcap,tcpdump,cap] [--connections 64]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'dumpcap,tcpdump,cap' },
    connections: { type: 'string', default: '64' },
  },
});
const DURATION_S = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const ROOT = new URL('..', import.meta.url).pathname;
const WIRESPAN = join(ROOT, 'bin/wirespan.js');
const NS = `wirespan-bench-${process.pid}`;
const PORT = 18_181;
/**
 * The server listens on 127.0.0.2 while clients connect from 127.0.0.1: on one address, every
 * exchange would be a timing-rule parent candidate of every other (client ip = server ip), which
 * measures the correlator's candidate search rather than capture.
 */
const SERVER_IP = '127.0.0.2';
const TARGET_PPS = 250_000;

if (process.getuid?.() !== 0) {
  console.log('bench/live.mjs needs root (network namespaces); nothing measured');
  process.exit(0);
}
if (!existsSync(join(ROOT, 'build/src/cli/index.js'))) {
  console.log('build first: npm run build');
  process.exit(1);
}
const { readCaptureFile } = await import(join(ROOT, 'build/src/capture/file-source.js'));
const { Counters } = await import(join(ROOT, 'build/src/util/counters.js'));

const SERVER = `
const http = require('node:http');
const body = Buffer.from('ok');
http.createServer((req, res) => { res.setHeader('content-length', body.length); res.end(body); })
  .listen(${PORT}, '${SERVER_IP}', () => console.log('listening'));
`;

/** Fallback load generator: many keep-alive sockets, each sending requests back to back. */
const NODE_LOAD = `
const http = require('node:http');
const agent = new http.Agent({ keepAlive: true, maxSockets: ${CONNECTIONS} });
const until = Date.now() + ${DURATION_S * 1000};
let done = 0, n = 0;
const one = () => new Promise((resolve) => {
  const req = http.request({ host: '${SERVER_IP}', port: ${PORT}, path: '/b', agent, headers: { 'X-Request-ID': 'b-' + n++ } }, (res) => { res.resume(); res.on('end', resolve); });
  req.on('error', resolve); req.end();
});
const loop = async () => { while (Date.now() < until) { await one(); done++; } };
Promise.all(Array.from({ length: ${CONNECTIONS} }, loop)).then(() => { console.log('requests ' + done); agent.destroy(); });
`;

const dir = mkdtempSync(join(tmpdir(), 'wirespan-bench-'));
const children = [];
try {
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
  const server = inNs(['node', '-e', SERVER]);
  await waitFor(server.stdout, 'listening', 5000);
  const load = chooseLoadGenerator();
  console.log(`load: ${load.name}, ${DURATION_S} s per backend, target ${TARGET_PPS} packets/s with 0 drops`);
  for (const backend of args.backends.split(',')) await benchBackend(backend, load);
} finally {
  for (const c of children) c.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', NS]);
  rmSync(dir, { recursive: true, force: true });
}

async function benchBackend(backend, load) {
  const exchanges = join(dir, `${backend}.ndjson`);
  const stats = join(dir, `${backend}.stats.json`);
  const saved = join(dir, `${backend}.pcap`);
  const reference = join(dir, `${backend}.ref.pcap`);
  const wantErrors = backend === 'cap';
  const ws = inNs([
    'node', WIRESPAN, 'capture', '-i', 'lo', '--backend', backend, '-f', `tcp port ${PORT}`, '--exchanges', exchanges,
    '--stats-json', stats, '--duration', String(DURATION_S + 1), '--no-report', ...(wantErrors ? ['-w', saved] : []),
  ]);
  let stderr = '';
  ws.stderr.on('data', (c) => (stderr += c));
  try {
    await waitFor(ws.stderr, 'capturing on', 10_000);
  } catch (error) {
    console.log(`${backend}: did not start: ${stderr.trim() || error.message}`);
    return;
  }
  const tcpdump = wantErrors ? inNs(['tcpdump', '-i', 'lo', '--immediate-mode', '-U', '-w', reference, '--time-stamp-precision=nano', '-B', '65536', 'tcp', 'port', String(PORT)]) : null;
  if (tcpdump) await waitFor(tcpdump.stderr, 'listening on', 5000);
  const started = Date.now();
  const loadRun = inNs(load.command);
  await exit(loadRun, (DURATION_S + 20) * 1000);
  const loadSeconds = (Date.now() - started) / 1000;
  ws.kill('SIGINT');
  tcpdump?.kill('SIGINT');
  const code = await exit(ws, 180_000);
  if (tcpdump) await exit(tcpdump, 10_000);
  if (code !== 0 || !existsSync(stats)) {
    console.log(`${backend}: wirespan exited ${code}: ${stderr.trim()}`);
    return;
  }
  const s = JSON.parse(readFileSync(stats, 'utf8'));
  const count = lineCount(exchanges);
  const d = s.drops;
  console.log(
    `${backend.padEnd(8)} ${Math.round(s.packets.captured / loadSeconds)} packets/s, ${Math.round(count / loadSeconds)} exchanges/s` +
      ` (${s.packets.captured} packets, ${count} exchanges in ${loadSeconds.toFixed(1)} s); drops: kernel ${d.kernel ?? 'unknown'}` +
      `, interface ${d.interfaceRxDropped ?? 'unknown'}, ${backend} ${d.helper ?? 'n/a'}, wirespan ${d.wirespan}; max analysis lag ${s.backlog.maxLagMs} ms, max queued ${s.backlog.maxQueuedBytes} bytes`,
  );
  if (wantErrors) await timestampErrors(saved, reference);
}

/** cap's receive times minus the kernel's times of the same packets (matched by their bytes). */
async function timestampErrors(capPath, kernelPath) {
  const counters = new Counters();
  const kernel = new Map();
  for (const p of (await readCaptureFile(kernelPath, { counters })).packets) {
    const key = Buffer.from(p.data).toString('base64');
    if (!kernel.has(key)) kernel.set(key, p.ts);
  }
  const diffs = [];
  for (const p of (await readCaptureFile(capPath, { counters })).packets) {
    const ts = kernel.get(Buffer.from(p.data).toString('base64'));
    if (ts !== undefined) diffs.push(p.ts - ts);
  }
  if (diffs.length === 0) {
    console.log('cap timestamp error: no packets matched');
    return;
  }
  diffs.sort((a, b) => a - b);
  const q = (f) => diffs[Math.min(diffs.length - 1, Math.floor(f * diffs.length))];
  console.log(
    `cap timestamp error vs kernel (µs, cap − tcpdump, ${diffs.length} matched packets): ` +
      `min ${q(0).toFixed(0)}, p50 ${q(0.5).toFixed(0)}, p99 ${q(0.99).toFixed(0)}, max ${diffs[diffs.length - 1].toFixed(0)}`,
  );
}

function chooseLoadGenerator() {
  const url = `http://${SERVER_IP}:${PORT}/b`;
  // No shared X-Request-ID: one id on every request makes every exchange one trace (see docs/live-capture.md).
  const wrk = { name: `wrk, ${CONNECTIONS} connections`, command: ['wrk', '-t2', `-c${CONNECTIONS}`, `-d${DURATION_S}s`, url] };
  if (spawnSync('sh', ['-c', 'command -v wrk']).status === 0) return wrk;
  console.log('wrk is not installed: apt-get install -y wrk');
  const apt = spawnSync('sh', ['-c', 'apt-get install -y wrk || (apt-get update && apt-get install -y wrk)'], { stdio: 'ignore', timeout: 180_000 });
  if (apt.status === 0) return wrk;
  console.log('could not install wrk: using a node client with keep-alive sockets');
  return { name: `node client, ${CONNECTIONS} keep-alive sockets`, command: ['node', '-e', NODE_LOAD] };
}

function inNs(command) {
  const child = spawn('ip', ['netns', 'exec', NS, ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  return child;
}

function sh(program, argv) {
  const r = spawnSync(program, argv, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${program} ${argv.join(' ')}: ${r.stderr}`);
}

function waitFor(stream, text, timeoutMs) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}"`)), timeoutMs);
    stream.on('data', (c) => {
      seen += c;
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

function exit(child, timeoutMs) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

function lineCount(path) {
  if (!existsSync(path)) return 0;
  let n = 0;
  const text = readFileSync(path);
  for (let i = 0; i < text.length; i++) if (text[i] === 10) n++;
  return n;
}
