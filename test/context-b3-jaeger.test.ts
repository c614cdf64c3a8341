import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseB3Multi, parseB3Single, type B3MultiHeaders, type B3Result } from '../src/correlate/b3.js';
import { parseUberTraceId } from '../src/correlate/jaeger.js';

// Examples from github.com/openzipkin/b3-propagation README.
const T128 = '80f198ee56343ba864fe8b2a57d3eff7';
const T64 = 'a3ce929d0e0e4736';
const SPAN = 'e457b5a2e4d86bd1';
const PARENT = '05e3ac9a4f6e3b90';

type Expected =
  | { kind: 'context'; traceId: string; parentSpanId: string; callerParentSpanId: string | null; sampled: boolean | null; debug: boolean; rawTraceId: string | null }
  | { kind: 'sampling'; sampled: boolean; debug: boolean };

function summary(result: B3Result | null): Expected | null {
  if (result === null) return null;
  if (result.kind === 'sampling') return { kind: 'sampling', sampled: result.sampled, debug: result.debug };
  const { traceId, parentSpanId, callerParentSpanId, sampled, debug, rawTraceId } = result;
  return { kind: 'context', traceId, parentSpanId, callerParentSpanId, sampled, debug, rawTraceId };
}

const ctx = (
  traceId: string,
  sampled: boolean | null,
  extra: Partial<{ parent: string; debug: boolean; raw: string; span: string }> = {},
): Expected => ({
  kind: 'context',
  traceId,
  parentSpanId: extra.span ?? SPAN,
  callerParentSpanId: extra.parent ?? null,
  sampled,
  debug: extra.debug ?? false,
  rawTraceId: extra.raw ?? null,
});

const b3SingleCases: [string, Expected | null][] = [
  [`${T128}-${SPAN}-1-${PARENT}`, ctx(T128, true, { parent: PARENT })],
  [`${T128}-${SPAN}-1`, ctx(T128, true)],
  [`${T128}-${SPAN}-0`, ctx(T128, false)],
  [`${T128}-${SPAN}-d`, ctx(T128, true, { debug: true })],
  [`${T128}-${SPAN}`, ctx(T128, null)],
  [`${T64}-${SPAN}-1`, ctx(`0000000000000000${T64}`, true, { raw: T64 })],
  [`${T64}-${SPAN}-0-${PARENT}`, ctx(`0000000000000000${T64}`, false, { parent: PARENT, raw: T64 })],
  [` ${T128}-${SPAN}-1 `, ctx(T128, true)],
  [`${T128.toUpperCase()}-${SPAN.toUpperCase()}-1`, ctx(T128, true)],
  ['0', { kind: 'sampling', sampled: false, debug: false }],
  ['1', { kind: 'sampling', sampled: true, debug: false }],
  ['d', { kind: 'sampling', sampled: true, debug: true }],
  ['', null],
  ['true', null],
  ['2', null],
  ['D', null],
  [`${T128}`, null],
  [`${T128}-`, null],
  [`${T128}-${SPAN}-`, null],
  [`${T128}-${SPAN}-1-`, null],
  [`${T128}-${SPAN}-x`, null],
  [`${T128}-${SPAN}-true`, null],
  [`${T128}-${SPAN}-1-${PARENT}-extra`, null],
  [`${T128}-${SPAN}-1-${PARENT.slice(1)}`, null],
  [`${T128.slice(1)}-${SPAN}-1`, null], // 31 hex
  [`${T128}0-${SPAN}-1`, null], // 33 hex
  [`${T64.slice(1)}-${SPAN}-1`, null], // 15 hex
  [`${T64}00-${SPAN}-1`, null], // 18 hex: neither 16 nor 32
  [`00000000000000000000000000000000-${SPAN}-1`, null],
  [`0000000000000000-${SPAN}-1`, null],
  [`${T128}-0000000000000000-1`, null],
  [`${T128}-${SPAN.slice(1)}-1`, null],
  [`${T128}-${SPAN}a-1`, null],
  [`${T128.replace('8', 'g')}-${SPAN}-1`, null],
  [`${T128}-${SPAN}-1-0000000000000000`, null],
];

test('b3 single header: every form of the spec, 64-bit ids padded, deny-only and debug', () => {
  for (const [value, expected] of b3SingleCases) {
    assert.deepEqual(summary(parseB3Single(value)), expected, JSON.stringify(value));
  }
});

const b3MultiCases: [B3MultiHeaders, Expected | null][] = [
  [{ traceId: T128, spanId: SPAN, parentSpanId: PARENT, sampled: '1' }, ctx(T128, true, { parent: PARENT })],
  [{ traceId: T128, spanId: SPAN }, ctx(T128, null)],
  [{ traceId: T64, spanId: SPAN, sampled: '0' }, ctx(`0000000000000000${T64}`, false, { raw: T64 })],
  [{ traceId: T128, spanId: SPAN, sampled: 'true' }, ctx(T128, true)],
  [{ traceId: T128, spanId: SPAN, sampled: 'false' }, ctx(T128, false)],
  [{ traceId: T128, spanId: SPAN, flags: '1' }, ctx(T128, true, { debug: true })],
  [{ traceId: T128, spanId: SPAN, flags: '1', sampled: '0' }, ctx(T128, true, { debug: true })],
  [{ traceId: T128, spanId: SPAN, flags: '0', sampled: '1' }, ctx(T128, true)],
  [{ traceId: ` ${T128}`, spanId: `${SPAN} `, sampled: ' 1' }, ctx(T128, true)],
  [{ sampled: '0' }, { kind: 'sampling', sampled: false, debug: false }],
  [{ sampled: '1' }, { kind: 'sampling', sampled: true, debug: false }],
  [{ flags: '1' }, { kind: 'sampling', sampled: true, debug: true }],
  [{}, null],
  [{ flags: '0' }, null],
  [{ traceId: T128 }, null],
  [{ spanId: SPAN }, null],
  [{ spanId: SPAN, sampled: '1' }, null],
  [{ traceId: T128, spanId: SPAN, sampled: 'yes' }, null],
  [{ traceId: T128, spanId: SPAN, sampled: 'd' }, null],
  [{ traceId: T128, spanId: SPAN, flags: '2' }, null],
  [{ traceId: T128, spanId: SPAN, parentSpanId: 'xyz' }, null],
  [{ traceId: `${T128}-${SPAN}`, spanId: SPAN }, null],
  [{ traceId: '0', spanId: SPAN }, null],
];

test('b3 multi headers: X-B3-TraceId/SpanId/ParentSpanId/Sampled/Flags', () => {
  for (const [headers, expected] of b3MultiCases) {
    assert.deepEqual(summary(parseB3Multi(headers)), expected, JSON.stringify(headers));
  }
});

type JaegerExpected = { traceId: string; parentSpanId: string; callerParentSpanId: string | null; sampled: boolean; debug: boolean; rawTraceId: string | null };

const jaegerCases: [string, JaegerExpected | null][] = [
  [
    '4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1',
    { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', callerParentSpanId: null, sampled: true, debug: false, rawTraceId: null },
  ],
  [
    '6b221d5bc9e6496c:6b221d5bc9e6496c:0:1',
    { traceId: '00000000000000006b221d5bc9e6496c', parentSpanId: '6b221d5bc9e6496c', callerParentSpanId: null, sampled: true, debug: false, rawTraceId: '6b221d5bc9e6496c' },
  ],
  // Jaeger writes ids without leading zeros.
  [
    '1f:2a:0:1',
    { traceId: '0000000000000000000000000000001f', parentSpanId: '000000000000002a', callerParentSpanId: null, sampled: true, debug: false, rawTraceId: '1f' },
  ],
  [
    'abc:def:123:0',
    { traceId: '00000000000000000000000000000abc', parentSpanId: '0000000000000def', callerParentSpanId: '0000000000000123', sampled: false, debug: false, rawTraceId: 'abc' },
  ],
  [
    '6b221d5bc9e6496c%3A6b221d5bc9e6496c%3A0%3A3',
    { traceId: '00000000000000006b221d5bc9e6496c', parentSpanId: '6b221d5bc9e6496c', callerParentSpanId: null, sampled: true, debug: true, rawTraceId: '6b221d5bc9e6496c' },
  ],
  [
    'ABC%3adef%3a0%3a02',
    { traceId: '00000000000000000000000000000abc', parentSpanId: '0000000000000def', callerParentSpanId: null, sampled: false, debug: true, rawTraceId: 'ABC' },
  ],
  ['1f:2a:0', null],
  ['1f:2a:0:1:5', null],
  ['0:2a:0:1', null],
  ['00000000000000000000000000000000:2a:0:1', null],
  ['1f:0:0:1', null],
  ['1f:0000000000000000:0:1', null],
  ['123456789012345678901234567890123:2a:0:1', null],
  ['1f:12345678901234567:0:1', null],
  ['1f:2a:12345678901234567:1', null],
  ['1f:2a:0:100', null],
  ['1f:2a:0:zz', null],
  ['1f:2a:0:', null],
  [':2a:0:1', null],
  ['1f:2a::1', null],
  ['1f-2a-0-1', null],
  ['1f:2a:0:1%', null],
  ['', null],
];

test('uber-trace-id: padded short hex, %3A separators, flags', () => {
  for (const [value, expected] of jaegerCases) {
    const parsed = parseUberTraceId(value);
    const got =
      parsed === null
        ? null
        : {
            traceId: parsed.traceId,
            parentSpanId: parsed.parentSpanId,
            callerParentSpanId: parsed.callerParentSpanId,
            sampled: parsed.sampled,
            debug: parsed.debug,
            rawTraceId: parsed.rawTraceId,
          };
    assert.deepEqual(got, expected, JSON.stringify(value));
  }
});

test('b3 and uber-trace-id parsers never throw and only return normalised ids', () => {
  const text = fc.oneof(fc.string(), fc.stringOf(fc.constantFrom(...'0123456789abcdefABCDEF-:%3d ')));
  fc.assert(
    fc.property(text, text, text, (a, b, c) => {
      for (const result of [parseB3Single(a), parseB3Multi({ traceId: a, spanId: b, sampled: c })]) {
        if (result?.kind === 'context') {
          assert.match(result.traceId, /^(?!0{32})[0-9a-f]{32}$/);
          assert.match(result.parentSpanId, /^(?!0{16})[0-9a-f]{16}$/);
        }
      }
      const jaeger = parseUberTraceId(`${a}:${b}:0:${c}`);
      if (jaeger !== null) {
        assert.match(jaeger.traceId, /^(?!0{32})[0-9a-f]{32}$/);
        assert.match(jaeger.parentSpanId, /^(?!0{16})[0-9a-f]{16}$/);
      }
    }),
  );
});
