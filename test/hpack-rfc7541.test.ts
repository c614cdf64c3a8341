import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HpackDecoder } from '../src/protocols/http2/hpack.js';
import { HUFFMAN_CODE, huffmanDecode, maxHuffmanDecodedLength } from '../src/protocols/http2/huffman.js';
import { hex, huffmanEncode } from './lib/h2-builder.js';

type Step = { hex: string; fields: [string, string][]; table: [string, string][]; size: number };

function run(steps: Step[], decoder = new HpackDecoder({ knownFromStart: true })): void {
  for (const [i, step] of steps.entries()) {
    const out = decoder.decode(hex(step.hex));
    assert.equal(out.error, null, `block ${i}`);
    assert.deepEqual(out.fields.map((f) => [f.name, f.value]), step.fields, `fields of block ${i}`);
    assert.deepEqual(decoder.entries(), step.table, `table after block ${i}`);
    assert.equal(decoder.size, step.size, `size after block ${i}`);
    assert.equal(out.unknownFields, 0);
  }
}

test('C.2.1-C.2.4: literal representations and an indexed field', () => {
  const d = new HpackDecoder({ knownFromStart: true });
  run([{ hex: '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572', fields: [['custom-key', 'custom-header']], table: [['custom-key', 'custom-header']], size: 55 }], d);
  const noIndex = new HpackDecoder({ knownFromStart: true });
  run([{ hex: '040c 2f73 616d 706c 652f 7061 7468', fields: [[':path', '/sample/path']], table: [], size: 0 }], noIndex);
  const never = new HpackDecoder({ knownFromStart: true });
  const out = never.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'));
  assert.deepEqual(out.fields, [{ name: 'password', value: 'secret', neverIndexed: true, unknown: false }]);
  assert.deepEqual(never.entries(), []);
  run([{ hex: '82', fields: [[':method', 'GET']], table: [], size: 0 }]);
});

const requestFields: [string, string][][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const requestTables: [string, string][][] = [
  [[':authority', 'www.example.com']],
  [['cache-control', 'no-cache'], [':authority', 'www.example.com']],
  [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']],
];
const requestSizes = [57, 110, 164];

test('C.3: requests without Huffman on one connection', () => {
  const blocks = [
    '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
    '8286 84be 5808 6e6f 2d63 6163 6865',
    '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
  ];
  run(blocks.map((h, i) => ({ hex: h, fields: requestFields[i]!, table: requestTables[i]!, size: requestSizes[i]! })));
});

test('C.4: requests with Huffman on one connection', () => {
  const blocks = [
    '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
    '8286 84be 5886 a8eb 1064 9cbf',
    '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
  ];
  run(blocks.map((h, i) => ({ hex: h, fields: requestFields[i]!, table: requestTables[i]!, size: requestSizes[i]! })));
});

const date1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const date2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const cookie = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const loc = 'https://www.example.com';
const responseSteps = (blocks: string[]): Step[] => [
  {
    hex: blocks[0]!,
    fields: [[':status', '302'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
    table: [['location', loc], ['date', date1], ['cache-control', 'private'], [':status', '302']],
    size: 222,
  },
  {
    hex: blocks[1]!,
    fields: [[':status', '307'], ['cache-control', 'private'], ['date', date1], ['location', loc]],
    table: [[':status', '307'], ['location', loc], ['date', date1], ['cache-control', 'private']],
    size: 222,
  },
  {
    hex: blocks[2]!,
    fields: [[':status', '200'], ['cache-control', 'private'], ['date', date2], ['location', loc], ['content-encoding', 'gzip'], ['set-cookie', cookie]],
    table: [['set-cookie', cookie], ['content-encoding', 'gzip'], ['date', date2]],
    size: 215,
  },
];

/** A decoder whose table maximum is 256 (the size update RFC 7541 C.5 assumes happened). */
function decoder256(): HpackDecoder {
  const d = new HpackDecoder({ knownFromStart: true });
  d.setSizeLimit(256);
  assert.equal(d.decode(hex('3fe1 01')).error, null); // size update to 256
  assert.equal(d.maxSize, 256);
  return d;
}

test('C.5: responses without Huffman, table size 256, with evictions', () => {
  run(
    responseSteps([
      '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
      '4803 3330 37c1 c0bf',
      '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
    ]),
    decoder256(),
  );
});

test('C.6: responses with Huffman, table size 256, with evictions', () => {
  run(
    responseSteps([
      '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3',
      '4883 640e ffc1 c0bf',
      '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
    ]),
    decoder256(),
  );
});

test('Huffman: canonical codes match RFC 7541 Appendix B samples', () => {
  const { codes, lengths } = HUFFMAN_CODE;
  const samples: [number, number, number][] = [
    [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [10, 0x3ffffffc, 30], [32, 0x14, 6], [48, 0x0, 5], [97, 0x3, 5],
    [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, len] of samples) {
    assert.equal(codes[sym], code, `code of ${sym}`);
    assert.equal(lengths[sym], len, `length of ${sym}`);
  }
});

test('Huffman: every byte value round-trips; invalid padding and EOS are rejected', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const enc = huffmanEncode(all);
  const out = new Uint8Array(maxHuffmanDecodedLength(enc.length));
  const n = huffmanDecode(enc, 0, enc.length, out);
  assert.deepEqual(out.subarray(0, n), all);
  const table: [string, number][] = [
    ['ff', -1], // 8 bits of padding
    ['00', -1], // padding of zeros ('0' then 000)
    ['07', 1], // '0' + 111 padding
    ['ffff fffc', -1], // EOS
    ['', 0],
  ];
  for (const [h, expected] of table) {
    const b = hex(h);
    assert.equal(huffmanDecode(b, 0, b.length, new Uint8Array(8)), expected, h);
  }
});

test('malformed blocks are reported, not thrown, and the decoder starts a new epoch', () => {
  const cases = ['80', '41', '410a 6162', '3f', 'bf'];
  for (const h of cases) {
    const d = new HpackDecoder({ knownFromStart: true });
    const out = d.decode(hex(h));
    assert.notEqual(out.error, null, h);
    assert.equal(d.epoch, 1, h);
    assert.equal(d.exact, false, h);
  }
});

test('a size update above the SETTINGS limit is flagged and applied', () => {
  const d = new HpackDecoder({ knownFromStart: true });
  d.setSizeLimit(100);
  const out = d.decode(hex('3fe1 01 82'));
  assert.equal(out.sizeUpdateOverLimit, true);
  assert.equal(d.maxSize, 256);
  assert.deepEqual(out.fields.map((f) => f.name), [':method']);
});
