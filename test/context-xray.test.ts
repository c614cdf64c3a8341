// AWS X-Ray's X-Amzn-Trace-Id, as AWS load balancers and X-Ray SDKs write it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseXrayTraceId } from '../src/correlate/xray.js';

const valid: [string, string, { traceId: string; parentSpanId: string | null; sampled: boolean | null }][] = [
  ['load balancer (Root only)', 'Root=1-67891233-abcdef012345678912345678', { traceId: '67891233abcdef012345678912345678', parentSpanId: null, sampled: null }],
  ['SDK, every field', 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1', { traceId: '5759e988bd862e3fe1be46a994272793', parentSpanId: '53995c3f42cd8ad8', sampled: true }],
  ['fields in another order, spaces, Self and Lineage ignored', ' Sampled=0; Self=1-67891234-12456789abcdef012345678 ;Lineage=a87bd80c:1|68fd508a:5;Root=1-5759E988-BD862E3FE1BE46A994272793 ', { traceId: '5759e988bd862e3fe1be46a994272793', parentSpanId: null, sampled: false }],
  ['Sampled=? (deferred) is unknown', 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?', { traceId: '5759e988bd862e3fe1be46a994272793', parentSpanId: null, sampled: null }],
];
for (const [name, value, expected] of valid) {
  test(`X-Amzn-Trace-Id: ${name}`, () => {
    const parsed = parseXrayTraceId(value);
    assert.ok(parsed);
    assert.deepEqual({ traceId: parsed.traceId, parentSpanId: parsed.parentSpanId, sampled: parsed.sampled }, expected);
  });
}

const invalid: [string, string][] = [
  ['no Root', 'Parent=53995c3f42cd8ad8;Sampled=1'],
  ['Root of another version', 'Root=2-5759e988-bd862e3fe1be46a994272793'],
  ['Root too short', 'Root=1-5759e988-bd862e3fe1be46a99427279'],
  ['Root not hex', 'Root=1-5759e98g-bd862e3fe1be46a994272793'],
  ['all-zero trace id', 'Root=1-00000000-000000000000000000000000'],
  ['Parent not 16 hex', 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad'],
  ['all-zero Parent', 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000'],
];
for (const [name, value] of invalid) {
  test(`X-Amzn-Trace-Id invalid: ${name}`, () => assert.equal(parseXrayTraceId(value), null));
}
