// HPACK across a gap that hid header blocks: the decoder keeps one reading of the table per count of
// entries the hidden blocks may have inserted, and later blocks tell the readings apart. What the
// readings disagree on is unknown; nothing is guessed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HpackDecoder, isUnknownMarker, type DecodedField } from '../src/protocols/http2/hpack.js';
import { BlockShapes, fitsPlace, type BlockKind } from '../src/protocols/http2/block-place.js';
import { HeaderTable } from '../src/protocols/http2/header-table.js';
import { Counters } from '../src/util/counters.js';
import { HpackEncoder, type Field } from './lib/h2-builder.js';

const known = (name: string, value: string): DecodedField => ({ name, value, neverIndexed: false, unknown: false });
const unknown = (value = '<unknown:x>'): DecodedField => ({ name: '<unknown:x>', value, neverIndexed: false, unknown: true });

describe('what a block may be where it stands', () => {
  const http = (kind: BlockKind): { kind: BlockKind; grpc: boolean } => ({ kind, grpc: false });
  const grpc = (kind: BlockKind): { kind: BlockKind; grpc: boolean } => ({ kind, grpc: true });

  it('RFC 9113 §8.3: requests need :method and :path, pseudo-header fields first and once; responses :status; trailers none', () => {
    assert.equal(fitsPlace(http('request'), [known(':method', 'GET'), known(':path', '/a'), known('accept', '*/*')]), true);
    assert.equal(fitsPlace(http('request'), [known(':method', 'GET'), known('accept', '*/*')]), false);
    assert.equal(fitsPlace(http('request'), [known(':method', 'CONNECT'), known(':authority', 'h:443')]), true);
    assert.equal(fitsPlace(http('request'), [known(':method', 'GET'), known('accept', 'x'), known(':path', '/a')]), false);
    assert.equal(fitsPlace(http('request'), [known(':method', 'GET'), known(':method', 'GET'), known(':path', '/a')]), false);
    assert.equal(fitsPlace(http('request'), [known(':method', 'GET'), known(':status', '200'), known(':path', '/a')]), false);
    assert.equal(fitsPlace(http('request'), [known(':method', 'GET'), unknown()]), true, 'the unknown field may be :path');
    assert.equal(fitsPlace(http('response'), [known(':status', '200'), known('content-type', 'x')]), true);
    assert.equal(fitsPlace(http('response'), [known('content-type', 'x')]), false);
    assert.equal(fitsPlace(http('trailers'), [known('x-checksum', '1')]), true);
    assert.equal(fitsPlace(http('trailers'), [known(':status', '200')]), false);
  });

  it('gRPC: POST with its content-type and te: trailers; a numeric grpc-status in trailers and trailers-only responses', () => {
    const request = [known(':method', 'POST'), known(':path', '/s/M'), known('content-type', 'application/grpc'), known('te', 'trailers')];
    assert.equal(fitsPlace(grpc('request'), request), true);
    assert.equal(fitsPlace(grpc('request'), [...request.slice(0, 3), known('user-agent', 'x')]), false, 'no te');
    assert.equal(fitsPlace(grpc('request'), [...request.slice(0, 3), unknown()]), true, 'the unknown field may be te');
    assert.equal(fitsPlace(grpc('request'), [known(':method', 'GET'), ...request.slice(1)]), false);
    assert.equal(fitsPlace(grpc('trailers'), [known('grpc-status', '0'), known('grpc-message', 'OK')]), true);
    assert.equal(fitsPlace(grpc('trailers'), [known('grpc-message', 'OK'), known('date', 'x')]), false);
    assert.equal(fitsPlace(grpc('trailers'), [known('grpc-status', 'OK')]), false);
    assert.equal(fitsPlace(grpc('response'), [known(':status', '200'), known('content-type', 'application/grpc+proto')]), true);
    assert.equal(fitsPlace(grpc('response'), [known(':status', '200'), known('content-type', 'text/html')]), false);
    assert.equal(fitsPlace(grpc('response'), [known(':status', '200'), known('grpc-status', '5')]), true, 'trailers-only');
    assert.equal(fitsPlace(grpc('response-or-trailers'), [known('grpc-status', '0')]), true);
    assert.equal(fitsPlace(grpc('response-or-trailers'), [known('date', 'x')]), false);
  });

  it('a reading is likelier the more its field names are those of a block seen whole', () => {
    const shapes = new BlockShapes();
    shapes.remember('trailers', [known('grpc-status', '0'), known('grpc-message', 'OK')]);
    assert.equal(shapes.likeness('trailers', [known('grpc-status', '5'), known('grpc-message', 'nope')]), 3);
    assert.equal(shapes.likeness('trailers', [unknown(), known('grpc-message', 'nope')]), 2);
    assert.equal(shapes.likeness('trailers', [known('grpc-message', 'OK'), known('grpc-status', '0')]), 1);
    assert.equal(shapes.likeness('response', [known(':status', '200')]), 1);
  });
});

/**
 * gRPC-like traffic in one direction: every block of a kind has the same names in the same order;
 * values come from small sets (repeated, so indexed) or are unique per call (inserted).
 */
type Call = { kind: BlockKind; fields: Field[] };
const requestCall = fc.record({
  method: fc.constantFrom('/shop.Inventory/Reserve', '/shop.Inventory/ListStock', '/shop.Payments/Charge'),
  timeout: fc.integer({ min: 4900, max: 4999 }),
  id: fc.uuid(),
}).map(({ method, timeout, id }): Call => ({
  kind: 'request',
  fields: [
    [':method', 'POST'], [':scheme', 'http'], [':path', method], [':authority', 'inventory:50051'],
    ['grpc-accept-encoding', 'identity,deflate,gzip'], ['grpc-timeout', `${timeout}m`], ['content-type', 'application/grpc'],
    ['te', 'trailers'], ['user-agent', 'grpc-node-js/1.12.0'], ['x-request-id', id],
  ],
}));
const responseCalls = fc.record({
  status: fc.constantFrom('0', '0', '0', '5', '9'),
  second: fc.integer({ min: 0, max: 3 }),
}).map(({ status, second }): Call[] =>
  status === '0'
    ? [
        { kind: 'response', fields: [[':status', '200'], ['content-type', 'application/grpc+proto'], ['grpc-accept-encoding', 'identity,deflate,gzip'], ['date', `Sat, 21 Nov 2026 10:00:0${second} GMT`]] },
        { kind: 'trailers', fields: [['grpc-status', '0'], ['grpc-message', 'OK']] },
      ]
    : [{ kind: 'response', fields: [[':status', '200'], ['content-type', 'application/grpc+proto'], ['grpc-status', status], ['grpc-message', status === '5' ? 'not found' : 'insufficient stock']] }],
);

function checkNeverWrong(calls: Call[], seenWhole: number, hidden: number, maxSize: number): { known: number; fields: number } {
  const encoder = new HpackEncoder({ maxSize });
  const table = new HeaderTable(new HpackDecoder({ knownFromStart: true }), new Counters());
  if (maxSize !== 4096) table.setSizeLimit(maxSize);
  let knownFields = 0;
  let fields = 0;
  const blocks = calls.map((call, i) => {
    if (i === 0 && maxSize !== 4096) encoder.setMaxSize(maxSize);
    return encoder.encode(call.fields);
  });
  // The gap hides whole blocks: their bytes are what it may have hidden.
  const hiddenBytes = blocks.slice(seenWhole, seenWhole + hidden).reduce((n, b) => n + b.length, 0);
  calls.forEach((call, i) => {
    const block = blocks[i]!;
    if (i === seenWhole) table.gap(hiddenBytes);
    if (i >= seenWhole && i < seenWhole + hidden) return;
    // Requests are counted by their stream ids: the first after the gap tells how many were hidden.
    const hiddenRequests = i === seenWhole + hidden && call.kind === 'request' ? hidden : 0;
    const read = table.decode(block, 0, block.length, { kind: call.kind, grpc: true }, hiddenRequests).block;
    assert.equal(read.error, null);
    assert.equal(read.fields.length, call.fields.length);
    read.fields.forEach((f, j) => {
      const [name, value] = call.fields[j]!;
      fields++;
      if (f.unknown) {
        // A name may be known with its value unknown, never the other way round... unless the
        // value was read from the wire: then the name must be right or unknown.
        if (!isUnknownMarker(f.name)) assert.equal(f.name, name);
        if (!isUnknownMarker(f.value)) assert.equal(f.value, value);
        return;
      }
      knownFields++;
      assert.deepEqual([f.name, f.value], [name, value], `block ${i} field ${j}`);
    });
  });
  return { known: knownFields, fields };
}

describe('reading HPACK across a gap that hid header blocks', () => {
  it('property: on gRPC-like traffic no field read after the gap is wrong', () => {
    for (const direction of ['requests', 'responses'] as const) {
      fc.assert(
        fc.property(
          direction === 'requests' ? fc.array(requestCall, { minLength: 6, maxLength: 120 }) : fc.array(responseCalls, { minLength: 6, maxLength: 120 }).map((c) => c.flat()),
          fc.integer({ min: 1, max: 5 }),
          fc.integer({ min: 1, max: 4 }),
          fc.constantFrom(4096),
          (calls, seenWhole, hidden, maxSize) => {
            fc.pre(seenWhole + hidden < calls.length);
            checkNeverWrong(calls, seenWhole, hidden, maxSize);
          },
        ),
        { numRuns: 1500 },
      );
    }
  });

  it('a lost trailers block that inserted nothing: everything after is read whole', () => {
    const ok = (s: number): Call[] => [
      { kind: 'response', fields: [[':status', '200'], ['content-type', 'application/grpc'], ['date', `d${s}`]] },
      { kind: 'trailers', fields: [['grpc-status', '0'], ['grpc-message', 'OK']] },
    ];
    const calls = [...ok(1), ...ok(1), ...ok(1), ...ok(1), ...ok(1)];
    // Call 2's trailers (index 3) are hidden: fully indexed, they inserted nothing.
    const { known, fields } = checkNeverWrong(calls, 3, 1, 4096);
    assert.equal(known, fields);
  });

  it('a lost request that inserted entries: what more hidden insertions would explain as well stays unknown', () => {
    const call = (id: string, timeout: string): Call => ({
      kind: 'request',
      fields: [
        [':method', 'POST'], [':scheme', 'http'], [':path', '/shop.Inventory/Reserve'], ['content-type', 'application/grpc'],
        ['te', 'trailers'], ['grpc-timeout', timeout], ['x-request-id', id],
      ],
    });
    const calls = [call('a', '4999m'), call('b', '4998m'), call('lost', '4997m'), call('c', '4996m'), call('d', '4995m')];
    const encoder = new HpackEncoder();
    const table = new HeaderTable(new HpackDecoder({ knownFromStart: true }), new Counters());
    const after: DecodedField[][] = [];
    for (const [i, c] of calls.entries()) {
      const block = encoder.encode(c.fields);
      if (i === 2) {
        table.gap(block.length);
        continue;
      }
      const read = table.decode(block, 0, block.length, { kind: 'request', grpc: true }, i === 3 ? 1 : 0).block;
      if (i > 2) after.push(read.fields);
    }
    for (const fields of after) {
      // The lost request inserted the newest x-request-id and grpc-timeout entries; the literals
      // after it name themselves by those: their values are read, their names are not. The
      // reading with those two insertions shows them as hidden; so does every reading with more,
      // in which :path (indexed) is hidden too: nothing tells them apart, :path is not guessed.
      assert.deepEqual(fields.map((f) => f.unknown), [false, false, true, true, true, true, true]);
      assert.deepEqual(fields.slice(0, 2).map((f) => f.value), ['POST', 'http']);
    }
    assert.deepEqual(after.map((f) => f.at(-1)!.value), ['c', 'd']);
  });
});

describe('a gap in a table already read from the middle of a connection', () => {
  it('a literal value under a name from before the capture is read, whatever count of hidden insertions', () => {
    // grpc-go's trailers after the capture started: grpc-status named by its entry from before the
    // capture (every later one names itself after the one before), so the name never reaches the wire.
    const encoder = new HpackEncoder();
    const trailers = (status: string): Field[] => [['grpc-status', status], ['grpc-message', status === '0' ? '' : 'out of stock']];
    const response = (id: string): Field[] => [[':status', '200'], ['content-type', 'application/grpc'], ['x-request-id', id]];
    encoder.encode(response('before-1')); // before the capture
    encoder.encode(trailers('0'));
    encoder.encode(trailers('9'));
    const table = new HeaderTable(new HpackDecoder({ knownFromStart: false }), new Counters());
    const read = (fields: Field[], kind: BlockKind): DecodedField[] => {
      const block = encoder.encode(fields);
      return table.decode(block, 0, block.length, { kind, grpc: true }).block.fields;
    };
    read(response('seen-1'), 'response');
    const hidden = encoder.encode(response('hidden-by-gap')); // inserts an x-request-id entry
    table.gap(hidden.length);
    const after = read(response('seen-2'), 'response');
    assert.deepEqual([after[0]!.name, after[0]!.value], [':status', '200']);
    assert.ok(after[1]!.unknown && isUnknownMarker(after[1]!.value), 'content-type: an entry from before the capture, indexed');
    assert.ok(isUnknownMarker(after[2]!.name));
    assert.equal(after[2]!.value, 'seen-2');
    const failed = read(trailers('5'), 'trailers');
    assert.ok(failed.every((f) => f.unknown && isUnknownMarker(f.name)));
    assert.equal(failed[0]!.value, '5');
    assert.ok(isUnknownMarker(failed[1]!.value), 'grpc-message: the very entry from before the capture, indexed');
  });
});
