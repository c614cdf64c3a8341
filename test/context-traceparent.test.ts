import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { combineTracestate, isValidTracestate, parseTraceparent } from '../src/correlate/traceparent.js';
import { correlateAll, exchangeOf } from './lib/exchange-fixtures.js';
import { T0 } from './lib/span-fixtures.js';

// Cases from the W3C Trace Context spec and its receiver test suite (w3c/trace-context test/test.py).
const TID = '12345678901234567890123456789012';
const PID = '1234567890123456';

const valid: [string, { version: string; traceId: string; parentSpanId: string; flags: number; sampled: boolean }][] = [
  [`00-${TID}-${PID}-01`, { version: '00', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    { version: '00', traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331', flags: 1, sampled: true },
  ],
  [
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
    { version: '00', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', flags: 0, sampled: false },
  ],
  // Unknown flag bits are kept; only bit 0 means sampled.
  [`00-${TID}-${PID}-fe`, { version: '00', traceId: TID, parentSpanId: PID, flags: 0xfe, sampled: false }],
  [`00-${TID}-${PID}-03`, { version: '00', traceId: TID, parentSpanId: PID, flags: 3, sampled: true }],
  // Future version 0xcc: may be longer, when the 56th character is '-'.
  [`cc-${TID}-${PID}-01`, { version: 'cc', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [`cc-${TID}-${PID}-01-what-the-future-will-be-like`, { version: 'cc', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [`01-${TID}-${PID}-00-`, { version: '01', traceId: TID, parentSpanId: PID, flags: 0, sampled: false }],
  // Leading/trailing OWS (test_traceparent_ows_handling).
  [` 00-${TID}-${PID}-01`, { version: '00', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [`\t00-${TID}-${PID}-01`, { version: '00', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [`00-${TID}-${PID}-01 `, { version: '00', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [`00-${TID}-${PID}-01\t`, { version: '00', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
  [`\t 00-${TID}-${PID}-01 \t`, { version: '00', traceId: TID, parentSpanId: PID, flags: 1, sampled: true }],
];

const invalid: [string, string][] = [
  ['', 'empty'],
  [`00-${TID}-${PID}-01.`, 'version 00 with a trailing character'],
  [`00-${TID}-${PID}-01-what-the-future-will-be-like`, 'version 00 with extra fields'],
  [`cc-${TID}-${PID}-01.what-the-future-will-be-like`, 'future version, 56th character not "-"'],
  [`ff-${TID}-${PID}-01`, 'version ff'],
  [`.0-${TID}-${PID}-01`, 'illegal character in version'],
  [`0.-${TID}-${PID}-01`, 'illegal character in version'],
  [`000-${TID}-${PID}-01`, 'version too long'],
  [`0000-${TID}-${PID}-01`, 'version too long'],
  [`0-${TID}-${PID}-01`, 'version too short'],
  [`0A-${TID}-${PID}-01`, 'upper-case version'],
  [`00-00000000000000000000000000000000-${PID}-01`, 'all-zero trace id'],
  [`00-.2345678901234567890123456789012-${PID}-01`, 'illegal character in trace id'],
  [`00-1234567890123456789012345678901.-${PID}-01`, 'illegal character in trace id'],
  [`00-123456789012345678901234567890123-${PID}-01`, 'trace id too long'],
  [`00-1234567890123456789012345678901-${PID}-01`, 'trace id too short'],
  ['00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01', 'upper-case trace id'],
  ['00-0af7651916cd43dd8448eb211c80319C-b7ad6b7169203331-01', 'one upper-case hex digit in the trace id'],
  [`00-${TID}-0000000000000000-01`, 'all-zero parent id'],
  [`00-${TID}-.234567890123456-01`, 'illegal character in parent id'],
  [`00-${TID}-123456789012345.-01`, 'illegal character in parent id'],
  [`00-${TID}-12345678901234567-01`, 'parent id too long'],
  [`00-${TID}-123456789012345-01`, 'parent id too short'],
  ['00-0af7651916cd43dd8448eb211c80319c-B7AD6B7169203331-01', 'upper-case parent id'],
  [`00-${TID}-${PID}-.0`, 'illegal character in flags'],
  [`00-${TID}-${PID}-0.`, 'illegal character in flags'],
  [`00-${TID}-${PID}-001`, 'flags too long'],
  [`00-${TID}-${PID}-1`, 'flags too short'],
  [`00-${TID}-${PID}-0F`, 'upper-case flags'],
  [`00 -${TID}-${PID}-01`, 'whitespace inside'],
  [`00-${TID} -${PID}-01`, 'whitespace inside'],
  [`00-${TID}-${PID}- 1`, 'whitespace inside'],
  [`00_${TID}_${PID}_01`, 'wrong delimiter'],
  [`00-${TID}-${PID}-01\n`, 'trailing newline is not OWS'],
  [`00-${TID}-${PID}-01, 00-${TID}-${PID}-01`, 'two values joined by a proxy'],
];

test('traceparent: W3C valid examples parse to their fields', () => {
  for (const [value, expected] of valid) {
    const parsed = parseTraceparent(value);
    assert.ok(parsed, `should accept ${JSON.stringify(value)}`);
    assert.deepEqual(
      { version: parsed.version, traceId: parsed.traceId, parentSpanId: parsed.parentSpanId, flags: parsed.flags, sampled: parsed.sampled },
      expected,
      JSON.stringify(value),
    );
    assert.equal(parsed.rawTraceId, null);
  }
});

test('traceparent: W3C invalid examples are rejected', () => {
  for (const [value, why] of invalid) {
    assert.equal(parseTraceparent(value), null, `${why}: ${JSON.stringify(value)}`);
  }
});

const lowerHex = (length: number) =>
  fc.stringOf(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length });

test('traceparent: any well-formed version-00 value round-trips; upper-casing any hex letter breaks it', () => {
  fc.assert(
    fc.property(lowerHex(32), lowerHex(16), lowerHex(2), fc.nat(54), (traceId, parentId, flags, at) => {
      fc.pre(/[1-9a-f]/.test(traceId) && /[1-9a-f]/.test(parentId));
      const value = `00-${traceId}-${parentId}-${flags}`;
      const parsed = parseTraceparent(value);
      assert.ok(parsed);
      assert.equal(`${parsed.version}-${parsed.traceId}-${parsed.parentSpanId}-${parsed.flags.toString(16).padStart(2, '0')}`, value);
      const upper = value.slice(0, at) + value.charAt(at).toUpperCase() + value.slice(at + 1);
      if (upper !== value) assert.equal(parseTraceparent(upper), null);
    }),
  );
});

test('traceparent: arbitrary text never throws and never yields an all-zero or non-hex id', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.stringOf(fc.constantFrom(...'0-f\t ')), fc.fullUnicodeString()), (value) => {
      const parsed = parseTraceparent(value);
      if (parsed !== null) {
        assert.match(parsed.traceId, /^(?!0{32})[0-9a-f]{32}$/);
        assert.match(parsed.parentSpanId, /^(?!0{16})[0-9a-f]{16}$/);
      }
    }),
  );
});

// tracestate cases from the same test suite (test_tracestate_*), plus the grammar's length limits.
const allKeyChars = 'abcdefghijklmnopqrstuvwxyz0123456789_-*/';
const allValueChars = (() => {
  let s = '';
  for (let c = 0x20; c <= 0x7e; c++) if (c !== 0x2c && c !== 0x3d) s += String.fromCharCode(c);
  return s;
})();
const members = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v${i}`).join(',');

const tracestateCases: [string[], string | null, string][] = [
  [['foo=1,bar=2'], 'foo=1,bar=2', 'two members'],
  [['rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'], 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', 'spec example'],
  [['congo=BleGNlZWRzIHRohbCBwbGVhc3VyZS4'], 'congo=BleGNlZWRzIHRohbCBwbGVhc3VyZS4', 'spec example'],
  [['foo=1,bar=2', 'rojo=1,congo=2', 'baz=3'], 'foo=1,bar=2,rojo=1,congo=2,baz=3', 'several headers combined in order'],
  [['', 'foo=1'], 'foo=1', 'empty header ignored'],
  [['foo=1', ''], 'foo=1', 'empty header ignored'],
  [['foo=1 \t , \t bar=2, \t baz=3'], 'foo=1 \t , \t bar=2, \t baz=3', 'OWS around commas'],
  [[' foo=1'], 'foo=1', 'leading OWS'],
  [['foo=1\t'], 'foo=1', 'trailing OWS'],
  [['foo=1,,bar=2'], 'foo=1,,bar=2', 'empty list member'],
  [[`${allKeyChars}=${allValueChars}`], `${allKeyChars}=${allValueChars}`, 'all allowed characters'],
  [[`${allKeyChars}@a-z0-9_-*/=${allValueChars}`], `${allKeyChars}@a-z0-9_-*/=${allValueChars}`, 'all allowed, multi-tenant key'],
  [['1tenant@vendor=x'], '1tenant@vendor=x', 'tenant id may start with a digit'],
  [[members(32)], members(32), '32 members'],
  [[members(33)], null, '33 members'],
  [[members(20), members(13).replaceAll('k', 'j')], null, '33 members over two headers'],
  [['foo=1,foo=1'], null, 'duplicate key'],
  [['foo=1,foo=2'], null, 'duplicate key'],
  [['foo=1', 'foo=2'], null, 'duplicate key over two headers'],
  [['foo =1'], null, 'space in key'],
  [['FOO=1'], null, 'upper-case key'],
  [['foo.bar=1'], null, 'dot in key'],
  [['1foo=1'], null, 'simple key starting with a digit'],
  [['foo@=1,bar=2'], null, 'empty system id'],
  [['@foo=1,bar=2'], null, 'empty tenant id'],
  [['foo@@bar=1,bar=2'], null, 'two @'],
  [['foo@bar@baz=1,bar=2'], null, 'two @'],
  [['foo@1bar=1'], null, 'system id starting with a digit'],
  [['foo'], null, 'no ='],
  [['foo='], null, 'empty value'],
  [['foo=a=b'], null, '= in value'],
  [['foo=a\u00e9'], null, 'non-ASCII value'],
  [['foo=1 x '], 'foo=1 x', 'inner space allowed, trailing space is OWS'],
  [[`${'a'.repeat(256)}=1`], `${'a'.repeat(256)}=1`, '256-char key'],
  [[`${'a'.repeat(257)}=1`], null, '257-char key'],
  [[`a=${'v'.repeat(256)}`], `a=${'v'.repeat(256)}`, '256-char value'],
  [[`a=${'v'.repeat(257)}`], null, '257-char value'],
  [[`${'t'.repeat(241)}@${'s'.repeat(14)}=1`], `${'t'.repeat(241)}@${'s'.repeat(14)}=1`, 'longest tenant and system'],
  [[`${'t'.repeat(242)}@s=1`], null, 'tenant id too long'],
  [[`t@${'s'.repeat(15)}=1`], null, 'system id too long'],
];

test('tracestate: combined and validated per the W3C grammar', () => {
  for (const [values, expected, why] of tracestateCases) {
    const combined = combineTracestate(values);
    const kept = isValidTracestate(combined) ? combined : null;
    // The combined raw list is kept (OWS at the ends of each header trimmed); members are not rewritten.
    const expectedCombined = expected === null ? null : combineTracestate([expected]);
    assert.equal(kept, expectedCombined, `${why}: ${JSON.stringify(values)}`);
  }
});

test('tracestate: only whitespace combines to nothing', () => {
  assert.equal(combineTracestate(['', ' \t ', '']), '');
  assert.equal(isValidTracestate(''), true);
});

test('the record carries the sampling decision and the tracestate that came with a valid traceparent', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00';
  const { spans } = correlateAll([
    exchangeOf({ requestHeaders: [['traceparent', traceparent], ['tracestate', 'congo=t61rcWkgMzE'], ['tracestate', 'rojo=00f067aa0ba902b7']] }),
    exchangeOf({ connectionId: 2, requestSeq: 2, requestHeaders: [['traceparent', traceparent.replace(/-00$/, '-01')]] }),
    exchangeOf({ connectionId: 3, requestSeq: 3, requestHeaders: [['traceparent', 'not-a-traceparent'], ['tracestate', 'congo=t61rcWkgMzE']] }),
  ]);
  assert.deepEqual(
    spans.map((s) => [s.connectionId, s.sampled, s.tracestate]).sort(),
    [
      [1, false, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7'],
      [2, true, null],
      [3, null, null],
    ],
  );
});

test('a call linked by request id whose traceparent names another trace keeps it, and says so', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const { spans } = correlateAll([
    exchangeOf({ client: { ip: '10.0.0.1', port: 40000 }, server: { ip: '10.0.0.2', port: 80 }, startUs: T0, requestEndUs: T0 + 10, responseStartUs: T0 + 990, endUs: T0 + 1000, requestHeaders: [['x-request-id', 'r-1']] }),
    exchangeOf({ connectionId: 2, client: { ip: '10.0.0.2', port: 41000 }, server: { ip: '10.0.0.3', port: 8080 }, startUs: T0 + 100, requestEndUs: T0 + 110, responseStartUs: T0 + 800, endUs: T0 + 900, requestHeaders: [['x-request-id', 'r-1'], ['traceparent', traceparent]] }),
  ]);
  const [parent, child] = [spans.find((s) => s.server.port === 80)!, spans.find((s) => s.server.port === 8080)!];
  assert.deepEqual([child.parentSpanId, child.link, child.traceId, child.notes], [parent.spanId, 'request-id', '4bf92f3577b34da6a3ce929d0e0e4736', ['trace id on the wire differs from the parent']]);
  assert.notEqual(parent.traceId, child.traceId);
});
