import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { parseSw8, traceIdFromSw8 } from '../src/correlate/sw8.js';
import { spanIdFrom } from '../src/correlate/ids.js';

const CONFORMANCE = '../shared/conformance';

interface DeepflowHttp {
  uri: string;
  spanId?: string;
  traceIds?: string[];
}

/** The `sw8:` header values of every request in the capture, read from its raw bytes in order. */
function sw8HeaderValues(pcap: Buffer): string[] {
  const values: string[] = [];
  const marker = Buffer.from('\r\nsw8: ');
  for (let at = pcap.indexOf(marker); at >= 0; at = pcap.indexOf(marker, at + 1)) {
    const start = at + marker.length;
    const end = pcap.indexOf('\r\n', start);
    values.push(pcap.toString('latin1', start, end));
  }
  return values;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

test('sw8: DeepFlow sw8.pcap — trace id and caller span match DeepFlow; trace id hashed to 32 hex', () => {
  const expected = JSON.parse(readFileSync(`${CONFORMANCE}/deepflow-http-sw8.expected.json`, 'utf8')) as { http: DeepflowHttp[] };
  const values = sw8HeaderValues(readFileSync(`${CONFORMANCE}/deepflow-http-sw8.pcap`));
  assert.equal(values.length, expected.http.length);

  values.forEach((value, i) => {
    const parsed = parseSw8(value);
    assert.ok(parsed, value);
    const peer = expected.http[i]!;
    // DeepFlow reports the SkyWalking trace id as the decoded string and the span as `<segment>-<span>`.
    assert.deepEqual([parsed.rawTraceId], peer.traceIds);
    assert.equal(parsed.rawParentSpanId, peer.spanId);
    // wirespan needs a W3C-shaped id, which DeepFlow does not make: the decoded id is not 32 hex
    // (`<instance uuid>.<thread>.<time+seq>`), so it is the first 32 hex of sha256 of the decoded id.
    assert.equal(parsed.traceId, createHash('sha256').update(peer.traceIds![0]!).digest('hex').slice(0, 32));
    assert.equal(parsed.parentSpanId, spanIdFrom([parsed.segmentId, parsed.spanId]));
    assert.equal(parsed.sampled, true);
    assert.equal(parsed.parentService, 'shop-web');
    assert.equal(parsed.parentServiceInstance, '527e361007174f89ba0d0666a8f99a73@10.100.19.214');
    assert.equal(parsed.addressUsedAtClient, '10.100.18.175:20880');
    assert.ok(['/shop/full-test', '/shop/order/create'].includes(parsed.parentEndpoint), parsed.parentEndpoint);
  });
  // The three requests share the instance-uuid prefix; their trace ids must still differ.
  const traceIds = new Set(values.map((v) => parseSw8(v)!.traceId));
  assert.equal(traceIds.size, values.length);
});

const valid = [
  b64('a'),
  b64('2a3c5a0e8f7b4d6c9e1f0a2b3c4d5e6f.42.16294441329780027'),
].map((traceId) => ({
  traceId,
  header: `1-${traceId}-${b64('segment-1')}-0-${b64('svc')}-${b64('inst@10.0.0.1')}-${b64('/api')}-${b64('10.0.0.2:8080')}`,
}));

test('sw8: a decoded 32-hex trace id is used as it is (lower-cased)', () => {
  const hex = '4BF92F3577B34DA6A3CE929D0E0E4736';
  const parsed = parseSw8(`0-${b64(hex)}-${b64('seg')}-3-${b64('svc')}-${b64('i')}-${b64('/e')}-${b64('h:1')}`);
  assert.ok(parsed);
  assert.equal(parsed.traceId, hex.toLowerCase());
  assert.equal(parsed.rawTraceId, hex);
  assert.equal(parsed.sampled, false);
  assert.equal(parsed.spanId, 3);
  assert.equal(parsed.rawParentSpanId, 'seg-3');
  assert.equal(traceIdFromSw8('00000000000000000000000000000000').length, 32);
  assert.notEqual(traceIdFromSw8('00000000000000000000000000000000'), '00000000000000000000000000000000');
});

test('sw8: malformed values are rejected', () => {
  const [good] = valid;
  const fields = good!.header.split('-');
  const withField = (i: number, v: string) => fields.map((f, j) => (j === i ? v : f)).join('-');
  const cases: [string, string][] = [
    ['', 'empty'],
    [fields.slice(0, 7).join('-'), '7 fields'],
    [`${good!.header}-${b64('x')}`, '9 fields'],
    [withField(0, '2'), 'sample 2'],
    [withField(0, ''), 'empty sample'],
    [withField(1, ''), 'empty trace id'],
    [withField(1, 'not base64!'), 'trace id not base64'],
    [withField(1, 'YQ='), 'bad padding'],
    [withField(1, 'Y'), 'impossible base64 length'],
    [withField(2, ''), 'empty segment id'],
    [withField(3, '-1'), 'negative span id'],
    [withField(3, 'x'), 'span id not a number'],
    [withField(3, '99999999999'), 'span id beyond int32'],
    [withField(4, ''), 'empty parent service'],
    [withField(7, ''), 'empty address'],
  ];
  for (const [value, why] of cases) assert.equal(parseSw8(value), null, `${why}: ${value}`);
  for (const { header } of valid) assert.ok(parseSw8(header), header);
});

test('sw8: base64 without padding is accepted (agents that strip it)', () => {
  const parsed = parseSw8(`1-YWJj-c2Vn-1-c3Zj-aQ-L2U-aDox`);
  assert.ok(parsed);
  assert.equal(parsed.rawTraceId, 'abc');
  assert.equal(parsed.parentServiceInstance, 'i');
});

test('sw8: any trace id string round-trips through base64 and gives a stable 32-hex id', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1 }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s), fc.nat(1000), (raw, span) => {
      const header = `1-${b64(raw)}-${b64('seg')}-${span}-${b64('svc')}-${b64('i')}-${b64('/e')}-${b64('h:1')}`;
      const parsed = parseSw8(header);
      assert.ok(parsed);
      assert.equal(parsed.rawTraceId, raw);
      assert.match(parsed.traceId, /^[0-9a-f]{32}$/);
      assert.equal(parseSw8(header)!.traceId, parsed.traceId);
    }),
  );
});
