/**
 * One measurement of wirespan's library pipeline, run in its own process so its peak RSS (VmHWM)
 * is its own: `node bench/measure.mjs tcp|full FILE` prints one JSON line.
 * - tcp:  read + decode + TCP reassembly, no protocol analyzers (`new Pipeline({ analyzers: [] })`);
 * - full: every analyzer and the correlator; counts exchanges by protocol (MySQL by command).
 */
import { readFileSync, statSync } from 'node:fs';
import { openCaptureSource } from '../build/src/capture/file-source.js';
import { Pipeline } from '../build/src/pipeline.js';
import { createAnalyzers } from '../build/src/protocols/index.js';
import { Counters } from '../build/src/util/counters.js';

const [mode, file] = process.argv.slice(2);
if (!['tcp', 'full'].includes(mode) || !file) {
  console.error('usage: node bench/measure.mjs tcp|full FILE');
  process.exit(2);
}

const exchanges = {};
const counters = new Counters();
const pipeline = new Pipeline({
  analyzers: mode === 'full' ? createAnalyzers({}) : [],
  counters,
  onExchange: (x) => {
    const key = x.protocol === 'mysql' ? `mysql.${x.request.command}` : x.protocol;
    exchanges[key] = (exchanges[key] ?? 0) + 1;
  },
});

const started = process.hrtime.bigint();
let packets = 0;
for await (const batch of openCaptureSource([file], { counters }).batches()) {
  for (let i = 0; i < batch.length; i++) pipeline.packet(batch[i]);
  packets += batch.length;
}
const result = pipeline.finish();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;

const status = readFileSync('/proc/self/status', 'utf8');
const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
console.log(
  JSON.stringify({
    mode,
    file,
    fileBytes: statSync(file).size,
    seconds,
    packets,
    connections: result.tcp.connections,
    gaps: result.tcp.gaps.client + result.tcp.gaps.server,
    exchanges,
    peakRssBytes: kb('VmHWM') * 1024,
  }),
);
