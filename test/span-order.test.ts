// Spans leave the pipeline in start order: traces complete in the order their roots end, and calls
// started in one packet (HTTP/2 streams opened together by different requests) would otherwise come
// out in whatever order their traces completed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { StartOrderBuffer, byStart } from '../src/correlate/start-order.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
import { makeRecord } from './lib/span-fixtures.js';

const span = (startUs: number, connectionId: number, streamId: number | null, index = 0): SpanRecord =>
  makeRecord({ startUs, connectionId, streamId, index });

describe('start order buffer', () => {
  it('holds spans until packet time is the horizon past their start, then hands them on in start order', () => {
    const buffer = new StartOrderBuffer(2_000);
    const out: SpanRecord[] = [];
    const late = span(1_000, 1, 5);
    const early = span(1_000, 1, 3);
    const other = span(1_000, 0, null, 7);
    buffer.add(span(4_000, 2, null));
    buffer.add(late);
    buffer.release(2_500, (s) => out.push(s));
    assert.equal(out.length, 0, 'nothing has started 2 ms before 2.5 ms');
    buffer.add(early);
    buffer.add(other);
    buffer.release(3_000, (s) => out.push(s));
    assert.deepEqual(out, [other, early, late], 'ties: connection, then stream');
    buffer.release(Infinity, (s) => out.push(s));
    assert.equal(out.length, 4);
    assert.equal(buffer.size, 0);
  });
});

describe('a real capture of concurrent requests, stretched over many correlator steps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-span-order-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every span comes out in start order, gRPC streams opened in one packet in stream order', async () => {
    const CAPTURE = '../shared/corpus/shop-concurrent.pcap';
    const packets = [...readPcapSimple(CAPTURE)];
    const t0 = packets[0]!.ts;
    // Five times slower: ~2.5 s of packet time, decided over some twenty steps.
    const file = join(dir, 'stretched.pcap');
    writeFileSync(file, writePcap(packets.map((p) => ({ ts: t0 + (p.ts - t0) * 5, data: p.data })), { linkType: packets[0]!.linkType }));
    const run = await analyzeFiles([file]);
    assert.ok(run.spans.length > 700);
    // Only a span whose trace ended more than half a second (horizon less settle) after it started
    // may come after a later one: it was decided after spans started a little after it went on.
    const traceEnd = new Map(run.traces.map((t) => [t.traceId, t.endUs ?? Infinity]));
    const outOfOrder = run.spans.filter((s, i) => i > 0 && byStart(run.spans[i - 1]!, s) > 0);
    assert.ok(outOfOrder.length <= 3, `${outOfOrder.length} spans out of start order`);
    for (const s of outOfOrder) assert.ok(traceEnd.get(s.traceId)! - s.startUs > 500_000, `${s.protocol} ${s.startUs} out of start order`);
    const sameStart = run.spans.filter((s, i) => i > 0 && s.protocol === 'grpc' && run.spans[i - 1]!.startUs === s.startUs);
    assert.ok(sameStart.length >= 10, `gRPC calls sharing a start packet: ${sameStart.length}`);
  });
});
