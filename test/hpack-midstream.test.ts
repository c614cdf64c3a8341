import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { HpackDecoder } from '../src/protocols/http2/hpack.js';
import { type Field, HpackEncoder, type Representation } from './lib/h2-builder.js';

const MARKER = /^<unknown:hpack-entry-(-?\d+)(@gap\d+)?>$/;

test('references to entries inserted before the capture are unknown, stable, and never wrong', () => {
  const enc = new HpackEncoder({ huffman: 'never' });
  enc.encode([['x-before-1', 'one'], ['x-before-2', 'two'], ['x-before-3', 'three']]); // not captured
  const d = new HpackDecoder({ knownFromStart: false });

  // Block 1: references x-before-2 (index 63 now), inserts x-after.
  const b1 = d.decode(enc.encode([['x-before-2', 'two'], ['x-after', 'new']]));
  assert.deepEqual(b1.fields.map((f) => [f.name, f.value]), [
    ['<unknown:hpack-entry-2>', '<unknown:hpack-entry-2>'],
    ['x-after', 'new'],
  ]);
  assert.equal(b1.unknownFields, 1);
  // Block 2: the same entries, now one index further; x-after decodes exactly.
  const b2 = d.decode(enc.encode([['x-before-2', 'two'], ['x-after', 'new'], ['x-before-1', 'one']]));
  assert.deepEqual(b2.fields.map((f) => f.value), ['<unknown:hpack-entry-2>', 'new', '<unknown:hpack-entry-3>']);
  assert.equal(b2.unknownFields, 2);
  // A literal with an unknown indexed name keeps its (known) value, and is inserted.
  const b3 = d.decode(enc.encode([['x-before-3', 'changed'], ['x-before-3', 'changed']]));
  assert.deepEqual(b3.fields.map((f) => [f.name, f.value]), [
    ['<unknown:hpack-entry-1>', 'changed'],
    ['<unknown:hpack-entry-1>', 'changed'],
  ]);
});

test('a size update makes evictions exact; evicting a known entry proves the table fully known', () => {
  const enc = new HpackEncoder({ huffman: 'never' });
  enc.encode([['x-old', 'a'.repeat(100)]]);
  const d = new HpackDecoder({ knownFromStart: false });
  enc.setMaxSize(200);
  d.decode(enc.encode([['x-new', 'b'.repeat(60)]])); // old (141) + new (98) > 200: old evicted by encoder
  assert.equal(d.maxSize, 200);
  assert.equal(d.exact, false); // our known entries (98) fit: older unknown ones may remain
  d.decode(enc.encode([['x-newer', 'c'.repeat(80)]])); // 98 + 119 > 200: x-new evicted → exact
  assert.equal(d.exact, true);
  assert.deepEqual(d.entries(), enc.table);
});

test('a resync (gap) starts a new epoch whose markers carry it', () => {
  const enc = new HpackEncoder({ huffman: 'never' });
  const d = new HpackDecoder({ knownFromStart: true });
  d.decode(enc.encode([['x-a', '1']]));
  d.resync();
  enc.encode([['x-b', '2']]); // lost in the gap
  const out = d.decode(enc.encode([['x-a', '1'], ['x-b', '2']]));
  assert.deepEqual(out.fields.map((f) => f.value), ['<unknown:hpack-entry-2@gap1>', '<unknown:hpack-entry-1@gap1>']);
});

const name = fc.constantFrom('x-a', 'x-b', 'x-c', 'x-request-id', 'content-type', 'user-agent', ':path', 'grpc-timeout');
const value = fc.string({ minLength: 0, maxLength: 40 });
const headerList = fc.array(fc.tuple(name, value), { minLength: 1, maxLength: 8 });
const representation = fc.constantFrom<Representation>('incremental', 'incremental', 'without', 'never');

test('property: a decoder joining mid-stream never reports a wrong field, and markers are consistent', () => {
  fc.assert(
    fc.property(
      fc.array(headerList, { minLength: 0, maxLength: 6 }),
      fc.array(fc.tuple(headerList, fc.option(fc.integer({ min: 0, max: 4096 }), { freq: 5 })), { minLength: 1, maxLength: 10 }),
      fc.array(representation, { minLength: 1, maxLength: 16 }),
      fc.constantFrom<'never' | 'always' | 'auto'>('never', 'always', 'auto'),
      (before, after, reps, huffman) => {
        let r = 0;
        const enc = new HpackEncoder({ huffman, representation: () => reps[r++ % reps.length]! });
        for (const list of before) enc.encode(list);
        const d = new HpackDecoder({ knownFromStart: false });
        const markerMeaning = new Map<string, string>();
        for (const [list, sizeUpdate] of after) {
          if (sizeUpdate !== null) enc.setMaxSize(sizeUpdate);
          const wasExact = d.exact;
          const out = d.decode(enc.encode(list));
          assert.equal(out.error, null);
          assert.equal(out.fields.length, list.length);
          out.fields.forEach((f, i) => {
            const [trueName, trueValue] = list[i]!;
            if (MARKER.test(f.name)) {
              const seen = markerMeaning.get(f.name);
              assert.ok(seen === undefined || seen === trueName, `${f.name} named ${seen} and ${trueName}`);
              markerMeaning.set(f.name, trueName);
              if (f.value !== f.name) assert.equal(f.value, trueValue);
            } else {
              assert.equal(f.name, trueName);
              assert.equal(f.value, trueValue);
            }
            assert.equal(f.unknown, MARKER.test(f.name));
          });
          if (wasExact) assert.equal(out.unknownFields, 0);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: from the start, any encoding (indexing, Huffman, evictions, size updates) decodes exactly', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(headerList, fc.option(fc.integer({ min: 0, max: 512 }), { freq: 4 })), { minLength: 1, maxLength: 12 }),
      fc.array(representation, { minLength: 1, maxLength: 16 }),
      fc.constantFrom<'never' | 'always' | 'auto'>('never', 'always', 'auto'),
      (blocks, reps, huffman) => {
        let r = 0;
        const enc = new HpackEncoder({ huffman, representation: () => reps[r++ % reps.length]! });
        const d = new HpackDecoder({ knownFromStart: true });
        for (const [list, sizeUpdate] of blocks) {
          if (sizeUpdate !== null) enc.setMaxSize(sizeUpdate);
          const out = d.decode(enc.encode(list as Field[]));
          assert.equal(out.error, null);
          assert.deepEqual(out.fields.map((f) => [f.name, f.value]), list);
          assert.deepEqual(d.entries(), enc.table);
          assert.equal(d.size, enc.size);
        }
      },
    ),
    { numRuns: 300 },
  );
});
