// A malformed packet or stream is counted and skipped, never a crash and never the end of the capture:
// real captures of every protocol, damaged at random (bytes flipped, packets cut, dropped, duplicated,
// reordered), go through the whole pipeline.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { readCaptureFile } from '../src/capture/file-source.js';
import type { CapturedPacket } from '../src/capture/types.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { Pipeline } from '../src/pipeline.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { Counters } from '../src/util/counters.js';

const CAPTURES = [
  '../shared/corpus/shop-basic.pcap',
  '../shared/corpus/grpc-streaming.pcap',
  '../shared/corpus/mysql-prepared.pcap',
  '../shared/corpus/http-chunked.pcap',
  '../shared/conformance/zeek-mysql-wireshark.pcap',
];

type Damage =
  | { kind: 'flip'; packet: number; at: number; value: number }
  | { kind: 'cut'; packet: number; keep: number }
  | { kind: 'drop'; packet: number }
  | { kind: 'duplicate'; packet: number }
  | { kind: 'swap'; packet: number };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), packet: fc.nat(), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), packet: fc.nat(), keep: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), packet: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), packet: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), packet: fc.nat() }),
);

function damaged(packets: CapturedPacket[], damages: Damage[]): CapturedPacket[] {
  const out = packets.map((p) => ({ ...p, data: p.data.slice() }));
  for (const d of damages) {
    if (out.length < 2) break;
    const i = d.packet % out.length;
    const p = out[i]!;
    switch (d.kind) {
      case 'flip':
        if (p.data.length > 0) p.data[d.at % p.data.length] = d.value;
        break;
      case 'cut':
        out[i] = { ...p, data: p.data.subarray(0, d.keep % (p.data.length + 1)) };
        break;
      case 'drop':
        out.splice(i, 1);
        break;
      case 'duplicate':
        out.splice(i, 0, { ...p, data: p.data.slice() });
        break;
      case 'swap': {
        const j = (i + 1) % out.length;
        [out[i], out[j]] = [out[j]!, out[i]!];
        break;
      }
    }
  }
  return out;
}

function analyse(packets: CapturedPacket[]): { spans: SpanRecord[]; packets: number } {
  const spans: SpanRecord[] = [];
  const pipeline = new Pipeline({ analyzers: createAnalyzers({}), counters: new Counters(), onSpan: (s) => spans.push(s) });
  for (const p of packets) pipeline.packet(p);
  const result = pipeline.finish();
  return { spans, packets: result.totals.packets };
}

it('damaged real captures never crash the pipeline, and every packet is accounted for', async () => {
  const originals = await Promise.all(CAPTURES.map(async (path) => (await readCaptureFile(path, { counters: new Counters() })).packets));
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: CAPTURES.length - 1 }), fc.array(damage, { minLength: 1, maxLength: 40 }), async (which, damages) => {
      const input = damaged(originals[which]!, damages);
      const { spans, packets } = analyse(input);
      assert.equal(packets, input.length);
      for (const s of spans) {
        assert.match(s.traceId, /^[0-9a-f]{32}$/);
        assert.match(s.spanId, /^[0-9a-f]{16}$/);
        assert.ok(s.endUs === null || s.endUs >= s.startUs, 'an exchange never ends before it starts');
      }
    }),
    { numRuns: 200, seed: 20261121 },
  );
});

it('an undamaged capture and the same capture with packets duplicated give the same exchanges', async () => {
  const { packets } = await readCaptureFile('../shared/corpus/shop-basic.pcap', { counters: new Counters() });
  const twice = packets.flatMap((p) => [p, { ...p, data: p.data.slice() }]);
  const key = (s: SpanRecord): string => JSON.stringify([s.spanId, s.parentSpanId, s.traceId, s.request, s.response, s.startUs, s.endUs]);
  assert.deepEqual(analyse(twice).spans.map(key).sort(), analyse(packets).spans.map(key).sort());
});
