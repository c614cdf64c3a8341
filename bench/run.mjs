/**
 * `npm run bench`: wirespan beside tshark (and `cat`) on generated captures.
 *   (1) read + decode + reassemble (library, no analyzers) vs `tshark -q -z conv,tcp` vs `cat`
 *   (2) end to end `wirespan read --no-report --exchanges /dev/null` vs `tshark -Y http.request`
 *   (3) gRPC exchanges vs `tshark -d tcp.port==50051,http2 -Y grpc`
 *   (4) MySQL exchanges vs `tshark -Y mysql.query`
 * BENCH_QUICK=1 uses ~40 MB / ~10 MB files instead of ~400 MB / ~100 MB. Results also go to
 * bench/out/results.json.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { OUT_DIR, PORTS, ensureCapture, targetSizes } from './generate.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const QUICK = process.env.BENCH_QUICK === '1';
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const TARGET = { tcpGBps: 1.5, tcpRssMB: 200, readSpeedup: 20, readRssMB: 250 };

/**
 * Runs a command; returns wall seconds, peak RSS (bytes, via /usr/bin/time, else null), exit code
 * and, if `countLines`, the number of output lines (what `| wc -l` would print).
 */
function run(cmd, args, { countLines = false, stdoutToNull = false, cwd = ROOT } = {}) {
  return new Promise((done, fail) => {
    const argv = TIME ? [TIME, '-f', 'BENCH_TIME %e %M', cmd, ...args] : [cmd, ...args];
    const nullFd = stdoutToNull ? openSync('/dev/null', 'w') : null;
    const started = performance.now();
    const child = spawn(argv[0], argv.slice(1), { cwd, stdio: ['ignore', nullFd ?? 'pipe', 'pipe'] });
    let lines = 0;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      if (countLines) {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      } else stdout += chunk;
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => {
      if (nullFd !== null) closeSync(nullFd);
      const seconds = (performance.now() - started) / 1000;
      const m = /BENCH_TIME (\S+) (\d+)/.exec(stderr);
      done({ code, seconds, peakRssBytes: m ? Number(m[2]) * 1024 : null, lines, stdout, stderr: stderr.replace(/BENCH_TIME.*\n?/, '') });
    });
  });
}

/** Each wirespan library measurement runs this many times in fresh processes; the fastest counts (the box may be shared). */
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));

async function measure(mode, file) {
  let best = null;
  for (let i = 0; i < REPEAT; i++) {
    const r = await run(process.execPath, [join(ROOT, 'bench/measure.mjs'), mode, file]);
    if (r.code !== 0) throw new Error(`measure ${mode} ${file} failed: ${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop());
    if (!best || m.seconds < best.seconds) best = { ...m, peakRssBytes: Math.max(m.peakRssBytes, best?.peakRssBytes ?? 0) };
  }
  return best;
}

const load = () => loadavg().map((n) => n.toFixed(2)).join(' ');

async function tshark(args, opts) {
  const r = await run('tshark', args, opts);
  if (r.code !== 0) throw new Error(`tshark ${args.join(' ')} exited ${r.code}: ${r.stderr.slice(0, 500)}`);
  return r;
}

const MB = 1e6;
const mbps = (bytes, s) => bytes / MB / s;
const fmt = (n, digits = 1) => (n === null || n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
const mb = (bytes) => (bytes === null ? 'n/a' : `${(bytes / 1048576).toFixed(0)} MiB`);
const verdict = (ok) => (ok ? 'PASS' : 'MISS');

function table(title, rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  console.log(`\n${title}`);
  rows.forEach((r, n) => {
    console.log('  ' + r.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  '));
    if (n === 0) console.log('  ' + widths.map((w) => '-'.repeat(w)).join('  '));
  });
}

async function main() {
  const hasTshark = (await run('tshark', ['-v']).catch(() => ({ code: 1 }))).code === 0;
  if (!existsSync(join(ROOT, 'build/src/pipeline.js'))) throw new Error('build first: npm run build');
  mkdirSync(OUT_DIR, { recursive: true });
  const sizes = targetSizes(QUICK);
  console.log(`wirespan bench, ${QUICK ? 'QUICK mode (BENCH_QUICK=1)' : 'FULL mode'}; node ${process.version}; /usr/bin/time ${TIME ? 'yes' : 'missing (RSS of tools n/a)'}; tshark ${hasTshark ? 'yes' : 'missing'}`);
  console.log(`  ${cpus().length} CPUs, load average ${load()}; wirespan library runs: fastest of ${REPEAT} (BENCH_REPEAT), tools run once`);
  const captures = {};
  for (const kind of ['http', 'grpc', 'mysql']) {
    const c = (captures[kind] = ensureCapture(kind, sizes[kind]));
    console.log(
      `  ${c.reused ? 'reused' : 'generated'} ${c.path}: ${fmt(c.meta.bytes / MB)} MB, ${c.meta.packets} packets (avg ${fmt(c.meta.bytes / c.meta.packets - 16, 0)} B), ${c.meta.requests} requests`,
    );
  }
  const results = { mode: QUICK ? 'quick' : 'full', node: process.version, date: new Date().toISOString(), cpus: cpus().length, loadAverageAtStart: loadavg(), repeat: REPEAT, captures: {}, benches: {} };
  for (const [k, c] of Object.entries(captures)) results.captures[k] = { path: c.path, ...c.meta };
  const http = captures.http;
  const bytes = http.meta.bytes;

  // (1) read + decode + reassemble
  await run('cat', [http.path], { stdoutToNull: true }); // warm the page cache for everyone
  const cat = await run('cat', [http.path], { stdoutToNull: true });
  const lib = await measure('tcp', http.path);
  const conv = hasTshark ? await tshark(['-q', '-n', '-z', 'conv,tcp', '-r', http.path], { countLines: true }) : null;
  const libMBps = mbps(bytes, lib.seconds);
  const b1 = {
    fileBytes: bytes,
    wirespan: { seconds: lib.seconds, MBps: libMBps, packetsPerSecond: lib.packets / lib.seconds, peakRssBytes: lib.peakRssBytes, connections: lib.connections },
    tshark: conv && { seconds: conv.seconds, MBps: mbps(bytes, conv.seconds), peakRssBytes: conv.peakRssBytes },
    cat: { seconds: cat.seconds, MBps: mbps(bytes, cat.seconds) },
  };
  b1.pass = { throughput: libMBps >= TARGET.tcpGBps * 1000, rss: lib.peakRssBytes <= TARGET.tcpRssMB * MB };
  results.benches.readDecodeReassemble = b1;
  table(`(1) read + decode + TCP reassembly, ${fmt(bytes / MB)} MB, ${lib.packets} packets, ${lib.connections} connections`, [
    ['', 'seconds', 'MB/s', 'packets/s', 'peak RSS'],
    ['wirespan (library, no analyzers)', fmt(lib.seconds, 2), fmt(libMBps), fmt(lib.packets / lib.seconds, 0), mb(lib.peakRssBytes)],
    ['tshark -q -z conv,tcp', conv ? fmt(conv.seconds, 2) : 'n/a', conv ? fmt(b1.tshark.MBps) : 'n/a', conv ? fmt(lib.packets / conv.seconds, 0) : 'n/a', mb(conv?.peakRssBytes ?? null)],
    ['cat FILE > /dev/null', fmt(cat.seconds, 2), fmt(b1.cat.MBps), '', ''],
  ]);
  console.log(`  wirespan/tshark ${conv ? fmt(conv.seconds / lib.seconds) + 'x' : 'n/a'}, wirespan/cat ${fmt(cat.seconds / lib.seconds, 2)}x`);
  console.log(`  target ≥ ${TARGET.tcpGBps} GB/s: ${verdict(b1.pass.throughput)} (${fmt(libMBps / 1000, 3)} GB/s); peak RSS ≤ ${TARGET.tcpRssMB} MB: ${verdict(b1.pass.rss)} (${fmt(lib.peakRssBytes / MB, 0)} MB)`);

  // (2) end to end `wirespan read`
  const cli = await run(process.execPath, [join(ROOT, 'bin/wirespan.js'), 'read', '--no-report', '--exchanges', '/dev/null', http.path]);
  if (cli.code !== 0) throw new Error(`wirespan read failed: ${cli.stderr}`);
  const counted = await measure('full', http.path); // the request count (the timed run writes to /dev/null)
  const tsharkHttp = hasTshark ? await tshark(['-n', '-r', http.path, '-Y', 'http.request', '-T', 'fields', '-e', 'http.request.uri'], { countLines: true }) : null;
  const wirespanRequests = counted.exchanges.http ?? 0;
  const b2 = {
    wirespan: { seconds: cli.seconds, MBps: mbps(bytes, cli.seconds), peakRssBytes: cli.peakRssBytes, requests: wirespanRequests, libraryFullSeconds: counted.seconds },
    tshark: tsharkHttp && { seconds: tsharkHttp.seconds, MBps: mbps(bytes, tsharkHttp.seconds), peakRssBytes: tsharkHttp.peakRssBytes, requests: tsharkHttp.lines },
    generatedRequests: http.meta.requests,
  };
  b2.speedup = tsharkHttp ? tsharkHttp.seconds / cli.seconds : null;
  b2.requestsMatch = tsharkHttp ? tsharkHttp.lines === wirespanRequests : null;
  b2.pass = { speedup: b2.speedup !== null && b2.speedup >= TARGET.readSpeedup, rss: cli.peakRssBytes !== null && cli.peakRssBytes <= TARGET.readRssMB * MB };
  results.benches.readEndToEnd = b2;
  table(`(2) end to end, HTTP/1.1, ${fmt(bytes / MB)} MB (${http.meta.requests} requests generated)`, [
    ['', 'seconds', 'MB/s', 'requests', 'peak RSS'],
    ['wirespan read --no-report --exchanges /dev/null', fmt(cli.seconds, 2), fmt(b2.wirespan.MBps), wirespanRequests, mb(cli.peakRssBytes)],
    ['tshark -Y http.request -e http.request.uri | wc -l', tsharkHttp ? fmt(tsharkHttp.seconds, 2) : 'n/a', tsharkHttp ? fmt(b2.tshark.MBps) : 'n/a', tsharkHttp?.lines ?? 'n/a', mb(tsharkHttp?.peakRssBytes ?? null)],
  ]);
  if (b2.requestsMatch === false) console.log(`  !!! MISMATCH: wirespan counts ${wirespanRequests} requests, tshark ${tsharkHttp.lines} !!!`);
  else if (b2.requestsMatch) console.log(`  request counts identical (${wirespanRequests})`);
  console.log(`  speed vs tshark: ${fmt(b2.speedup)}x, target ≥ ${TARGET.readSpeedup}x: ${verdict(b2.pass.speedup)}; peak RSS ≤ ${TARGET.readRssMB} MB: ${verdict(b2.pass.rss)} (${fmt((cli.peakRssBytes ?? NaN) / MB, 0)} MB)`);

  // (3) gRPC and (4) MySQL exchanges
  const protocolBench = async (label, capture, count, tsharkArgs) => {
    const w = await measure('full', capture.path);
    const t = hasTshark ? await tshark(['-n', '-r', capture.path, ...tsharkArgs], { countLines: true }) : null;
    const b = {
      fileBytes: capture.meta.bytes,
      generatedRequests: capture.meta.requests,
      wirespan: { seconds: w.seconds, MBps: mbps(capture.meta.bytes, w.seconds), exchangesPerSecond: count(w) / w.seconds, exchanges: count(w), peakRssBytes: w.peakRssBytes },
      tshark: t && { seconds: t.seconds, MBps: mbps(capture.meta.bytes, t.seconds), count: t.lines, peakRssBytes: t.peakRssBytes },
    };
    b.speedup = t ? t.seconds / w.seconds : null;
    table(`${label}, ${fmt(capture.meta.bytes / MB)} MB (${capture.meta.requests} requests generated)`, [
      ['', 'seconds', 'MB/s', 'exchanges/s', 'count', 'peak RSS'],
      ['wirespan (library, all analyzers)', fmt(w.seconds, 2), fmt(b.wirespan.MBps), fmt(b.wirespan.exchangesPerSecond, 0), count(w), mb(w.peakRssBytes)],
      [`tshark ${tsharkArgs.join(' ')}`, t ? fmt(t.seconds, 2) : 'n/a', t ? fmt(b.tshark.MBps) : 'n/a', t ? fmt(t.lines / t.seconds, 0) : 'n/a', t?.lines ?? 'n/a', mb(t?.peakRssBytes ?? null)],
    ]);
    if (t && t.lines !== count(w)) console.log(`  !!! MISMATCH: wirespan ${count(w)}, tshark ${t.lines} !!!`);
    console.log(`  speed vs tshark: ${fmt(b.speedup)}x`);
    return b;
  };
  results.benches.grpc = await protocolBench('(3) gRPC (h2c) exchanges', captures.grpc, (w) => w.exchanges.grpc ?? 0, [
    '-d',
    `tcp.port==${PORTS.grpc},http2`,
    '-Y',
    'grpc && http2.headers.path',
    '-T',
    'fields',
    '-e',
    'http2.headers.path',
  ]);
  results.benches.mysql = await protocolBench('(4) MySQL COM_QUERY exchanges', captures.mysql, (w) => w.exchanges['mysql.QUERY'] ?? 0, [
    '-Y',
    'mysql.query',
    '-T',
    'fields',
    '-e',
    'mysql.query',
  ]);

  results.benches.live = runLiveBench();

  results.loadAverageAtEnd = loadavg();
  console.log(`\nload average at the end ${load()} (figures are noisy when other work shares the CPUs)`);
  const out = join(OUT_DIR, 'results.json');
  writeFileSync(out, JSON.stringify(results, null, 2));
  console.log(`\nresults: ${out}`);
}

/**
 * (5) Live capture (bench/live.mjs): HTTP load on a network namespace's loopback while `wirespan
 * capture` analyses it, per backend. Needs root; BENCH_LIVE=0 skips it.
 */
function runLiveBench() {
  console.log('\n(5) live capture under load (bench/live.mjs)');
  if (process.env.BENCH_LIVE === '0') return void console.log('  skipped: BENCH_LIVE=0');
  if (process.getuid?.() !== 0) return void console.log('  skipped: needs root (network namespaces)');
  const duration = QUICK ? '3' : '10';
  const run = spawnSync(process.execPath, [join(ROOT, 'bench', 'live.mjs'), '--duration', duration], { stdio: 'inherit' });
  return { exitCode: run.status };
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
