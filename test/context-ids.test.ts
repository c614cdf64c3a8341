import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { isAllZeroHex, isHex, isLowerHex, padHex, spanIdFrom, traceIdFromRequestId } from '../src/correlate/ids.js';

interface TruthExchange {
  request_id: string | null;
  traceparent?: string | null;
  trace_id_seen_by_server?: string | null;
}

test('traceIdFromRequestId: 32 lower-case hex as is, anything else md5', () => {
  const asIs: [string, string][] = [
    ['7892a9c15d9731b489bc0c68f3304016', '7892a9c15d9731b489bc0c68f3304016'],
    ['cli-101-0007', '258ad5d37b601d507e90403b6aaa8f2c'],
    ['aa11c1ba-939b-4bd3-aeda-9835828fd822', '94d2f9fe483dc32dc5985bafdcafbef5'],
  ];
  for (const [id, expected] of asIs) assert.equal(traceIdFromRequestId(id), expected, id);
  // Look like ids but are not usable as one: upper case, one short, all zero, empty.
  for (const id of ['7892A9C15D9731B489BC0C68F3304016', '7892a9c15d9731b489bc0c68f330401', '0'.repeat(32), '']) {
    assert.equal(traceIdFromRequestId(id), createHash('md5').update(id, 'utf8').digest('hex'), id);
    assert.notEqual(traceIdFromRequestId(id), id);
  }
});

test('shop corpus: the trace id payments parsed is traceIdFromRequestId(request id), span ids are spanIdFrom([id, callee])', () => {
  for (const name of ['shop-basic', 'shop-concurrent']) {
    const truth = JSON.parse(readFileSync(`../shared/corpus/${name}.truth.json`, 'utf8')) as { exchanges: TruthExchange[] };
    const charges = truth.exchanges.filter((e) => e.traceparent);
    assert.ok(charges.length > 0);
    for (const e of charges) {
      const [, traceId, spanId] = e.traceparent!.split('-');
      assert.equal(traceIdFromRequestId(e.request_id!), e.trace_id_seen_by_server, e.request_id!);
      assert.equal(traceIdFromRequestId(e.request_id!), traceId);
      assert.equal(spanIdFrom([e.request_id!, 'payments']), spanId);
    }
  }
});

test('spanIdFrom: 16 hex, deterministic, numbers as decimal, different parts differ', () => {
  assert.equal(spanIdFrom(['7892a9c15d9731b489bc0c68f3304016', 'mysql']), '6692e84d8539bf5b');
  assert.equal(spanIdFrom(['10.0.0.1', 443, 7]), spanIdFrom(['10.0.0.1', '443', '7']));
  assert.notEqual(spanIdFrom(['a', 1]), spanIdFrom(['a', 2]));
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string(), fc.integer())), (parts) => {
      const id = spanIdFrom(parts);
      assert.ok(isLowerHex(id, 16));
      assert.ok(!isAllZeroHex(id));
      assert.equal(spanIdFrom([...parts]), id);
    }),
  );
});

test('hex helpers', () => {
  assert.equal(isLowerHex('0af7', 4), true);
  assert.equal(isLowerHex('0AF7', 4), false);
  assert.equal(isLowerHex('0af7', 5), false);
  assert.equal(isLowerHex('0ag7', 4), false);
  assert.equal(isHex('0AF7'), true);
  assert.equal(isHex(''), false);
  assert.equal(isHex('0x1'), false);
  assert.equal(isAllZeroHex('0000'), true);
  assert.equal(isAllZeroHex('0001'), false);
  assert.equal(padHex('ABC', 8), '00000abc');
});
