import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isIPv6 } from 'node:net';
import { AddressFormatter, formatIPv4, formatIPv6 } from '../src/decode/address.js';
import { parseIPv4, parseIPv6 } from './lib/frames.js';

// RFC 5952 section 4 and 5 examples, plus edge cases.
const ipv6Table: [string, string][] = [
  ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'], // 4.2.1 longest run
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2 a single 0 group is not compressed
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3 the longest run wins
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3 the first of equal runs wins
  ['2001:DB8::AAAA', '2001:db8::aaaa'], // 4.3 lower case
  ['2001:0db8::0001', '2001:db8::1'], // 4.1 leading zeros
  ['0:0:0:0:0:0:0:0', '::'],
  ['0:0:0:0:0:0:0:1', '::1'],
  ['1:0:0:0:0:0:0:0', '1::'],
  ['fe80:0:0:0:0:0:0:1', 'fe80::1'],
  ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
  ['0:0:1:0:0:0:1:0', '0:0:1::1:0'],
  ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // 5. IPv4-mapped
  ['0:0:0:0:0:ffff:0a00:0001', '::ffff:10.0.0.1'],
  ['::ffff:0:0', '::ffff:0.0.0.0'],
  ['::1:ffff:0:0', '::1:ffff:0:0'], // not mapped
  ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
];

test('ipv6 text is RFC 5952 canonical', () => {
  const formatter = new AddressFormatter();
  for (const [input, expected] of ipv6Table) {
    const raw = parseIPv6(input);
    assert.equal(formatIPv6(raw, 0), expected, input);
    assert.equal(formatter.ipv6(raw, 0), expected, `${input} (cached path)`);
    assert.equal(formatter.ipv6(raw, 0), expected, `${input} (cache hit)`);
  }
});

test('ipv4 text is a dotted quad', () => {
  const formatter = new AddressFormatter();
  for (const text of ['0.0.0.0', '255.255.255.255', '10.0.0.1', '192.168.1.100', '127.0.0.1', '1.22.133.4']) {
    assert.equal(formatIPv4(parseIPv4(text), 0), text);
    assert.equal(formatter.ipv4(Uint8Array.from([9, ...parseIPv4(text)]), 1), text);
  }
});

test('property: formatting round-trips through parsing and the cache never answers for another address', () => {
  const formatter = new AddressFormatter();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 3 }), (raw, zeroGroups) => {
      raw.fill(0, 2, 2 + 2 * zeroGroups); // make zero runs common
      const text = formatter.ipv6(raw, 0);
      assert.ok(isIPv6(text), text);
      assert.deepEqual(parseIPv6(text), raw);
      assert.equal(text, formatIPv6(raw, 0));
      const v4 = formatter.ipv4(raw, 12);
      assert.deepEqual(parseIPv4(v4), raw.subarray(12));
    }),
    { numRuns: 3000 },
  );
});
