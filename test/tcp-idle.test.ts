// A connection that sits quiet for minutes (a gRPC channel, a pooled database connection) is still
// the same connection when it speaks again: its HTTP/2 header table and prepared statements are kept.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';

const CORPUS = '../shared/corpus';
const QUIET_US = 5 * 60 * 1_000_000;
const dir = mkdtempSync(join(tmpdir(), 'wirespan-idle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** What a user compares: the call, its answer, how long it took. */
const summary = (s: SpanRecord): string => JSON.stringify([s.protocol, s.request, s.response, s.requestId, s.durationUs, s.notes]);

/**
 * The capture with a quiet pause inserted at the middle moment when nothing was in flight: every
 * packet after it comes QUIET_US later.
 */
function withPause(path: string, spans: SpanRecord[]): string {
  const packets = [...readPcapSimple(path)];
  const busy = spans.map((s) => [s.startUs, s.endUs ?? s.startUs] as const).sort((a, b) => a[0] - b[0]);
  const quiet: number[] = [];
  let until = -Infinity;
  for (const [start, end] of busy) {
    if (start > until && until > -Infinity) quiet.push(until + (start - until) / 2);
    until = Math.max(until, end);
  }
  assert.ok(quiet.length > 0, 'the capture has a moment with nothing in flight');
  const at = quiet[Math.floor(quiet.length / 2)]!;
  const out = join(dir, `paused-${packets.length}.pcap`);
  const moved = packets.map((p) => ({ ts: p.ts > at ? p.ts + QUIET_US : p.ts, data: p.data, origLen: p.origLen }));
  writeFileSync(out, writePcap(moved, { linkType: packets[0]!.linkType }));
  return out;
}

describe('a connection quiet for five minutes', () => {
  for (const name of ['grpc-streaming', 'mysql-prepared']) {
    it(`${name}: every exchange after the pause reads as before it`, async () => {
      const path = join(CORPUS, `${name}.pcap`);
      const before = (await analyzeFiles([path])).spans;
      const paused = await analyzeFiles([withPause(path, before)]);
      assert.deepEqual(paused.spans.map(summary).sort(), before.map(summary).sort());
      assert.equal(paused.result.tcp.connections, (await analyzeFiles([path])).result.tcp.connections);
    });
  }
});
