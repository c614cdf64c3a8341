// A library user runs the same pipeline as `wirespan read`, without the CLI.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { it } from 'node:test';
import { analyze, createAnalyzers, openCaptureSource, Counters, type SpanRecord } from '../src/index.js';

it('src/index.ts runs the whole pipeline and gives what the CLI writes', async () => {
  const counters = new Counters();
  const spans: SpanRecord[] = [];
  const result = await analyze(openCaptureSource(['fixtures/demo-shop.pcap'], { counters }), {
    analyzers: createAnalyzers({}),
    counters,
    onSpan: (s) => spans.push(s),
  });
  const cli = spawnSync(process.execPath, ['bin/wirespan.js', 'read', 'fixtures/demo-shop.pcap', '--exchanges', '-', '--no-report'], { encoding: 'utf8' });
  const fromCli = cli.stdout.trim().split('\n').map((l) => JSON.parse(l) as SpanRecord);
  assert.equal(spans.length, fromCli.length);
  assert.deepEqual(JSON.parse(JSON.stringify(spans)), fromCli);
  assert.ok(result.serviceMap.edges.length > 0);
  assert.equal(result.totals.packets, 786);
});
