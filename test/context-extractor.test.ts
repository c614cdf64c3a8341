import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Counters } from '../src/util/counters.js';
import type { HeaderField } from '../src/protocols/types.js';
import { TraceContextExtractor } from '../src/correlate/context.js';

const CORPUS = '../shared/corpus';

const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const B3 = '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90';
const UBER = '4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1';
const SW8 =
  '1-MzkxMjE5NmRlMGNmNDFmNGJhYjhhOGE4MTA4ZmMzYTguNjMuMTYyOTQ0NDEzMjk3ODAwMjc=-MzkxMjE5NmRlMGNmNDFmNGJhYjhhOGE4MTA4ZmMzYTguNjMuMTYyOTQ0NDEzMjk3ODAwMjY=-4-c2hvcC13ZWI=-NTI3ZTM2MTAwNzE3NGY4OWJhMGQwNjY2YThmOTlhNzNAMTAuMTAwLjE5LjIxNA==-L3Nob3AvZnVsbC10ZXN0-MTAuMTAwLjE4LjE3NToyMDg4MA==';
const XRAY = 'Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const B3_MULTI: HeaderField[] = [
  ['x-b3-traceid', 'a3ce929d0e0e4736'],
  ['x-b3-spanid', '00f067aa0ba902b7'],
  ['x-b3-sampled', '0'],
];

const extractor = (counters = new Counters(), requestIdHeaders?: string[]) =>
  new TraceContextExtractor(requestIdHeaders ? { counters, requestIdHeaders } : { counters });

const precedence: [string, HeaderField[], { source: string | null; traceId: string | null; parentSpanId: string | null; sampled: boolean | null; invalid: string[] }][] = [
  [
    'traceparent beats every other format',
    [['sw8', SW8], ['uber-trace-id', UBER], ['b3', B3], ...B3_MULTI, ['traceparent', TP]],
    { source: 'traceparent', traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331', sampled: true, invalid: [] },
  ],
  [
    'b3 single beats multi, jaeger, sw8',
    [['sw8', SW8], ['uber-trace-id', UBER], ...B3_MULTI, ['b3', B3]],
    { source: 'b3', traceId: '80f198ee56343ba864fe8b2a57d3eff7', parentSpanId: 'e457b5a2e4d86bd1', sampled: true, invalid: [] },
  ],
  [
    'b3 multi beats jaeger and sw8',
    [['sw8', SW8], ['uber-trace-id', UBER], ...B3_MULTI],
    { source: 'b3', traceId: '0000000000000000a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: false, invalid: [] },
  ],
  [
    'uber-trace-id beats sw8',
    [['sw8', SW8], ['uber-trace-id', UBER]],
    { source: 'uber-trace-id', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: true, invalid: [] },
  ],
  [
    'sw8 beats X-Amzn-Trace-Id',
    [['x-amzn-trace-id', XRAY], ['sw8', SW8]],
    { source: 'sw8', traceId: 'ed749ee8b7988908b201aafb6d67b9ac', parentSpanId: 'd6a1f0f71211ea56', sampled: true, invalid: [] },
  ],
  [
    'X-Amzn-Trace-Id (an AWS load balancer\'s): Root as the trace id, Parent as the caller, Sampled',
    [['x-amzn-trace-id', XRAY]],
    { source: 'x-amzn-trace-id', traceId: '5759e988bd862e3fe1be46a994272793', parentSpanId: '53995c3f42cd8ad8', sampled: true, invalid: [] },
  ],
  [
    'invalid traceparent falls through to b3',
    [['traceparent', TP.toUpperCase()], ['b3', B3]],
    { source: 'b3', traceId: '80f198ee56343ba864fe8b2a57d3eff7', parentSpanId: 'e457b5a2e4d86bd1', sampled: true, invalid: ['traceparent'] },
  ],
  [
    'every format invalid: nothing, all named',
    [['traceparent', 'x'], ['b3', 'x'], ['x-b3-traceid', 'x'], ['uber-trace-id', 'x'], ['sw8', 'x'], ['x-amzn-trace-id', 'Root=x']],
    { source: null, traceId: null, parentSpanId: null, sampled: null, invalid: ['traceparent', 'b3', 'x-b3-*', 'uber-trace-id', 'sw8', 'x-amzn-trace-id'] },
  ],
  [
    'b3: 0 alone: not sampled, no trace',
    [['b3', '0']],
    { source: null, traceId: null, parentSpanId: null, sampled: false, invalid: [] },
  ],
  [
    'b3: 0 then a jaeger id: the trace id comes from jaeger, so does the sampling decision',
    [['b3', '0'], ['uber-trace-id', UBER]],
    { source: 'uber-trace-id', traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: true, invalid: [] },
  ],
  [
    'b3 single without a sampling state wins; X-B3-Sampled is not read (sampled unknown)',
    [['b3', '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1'], ['x-b3-sampled', '0']],
    { source: 'b3', traceId: '80f198ee56343ba864fe8b2a57d3eff7', parentSpanId: 'e457b5a2e4d86bd1', sampled: null, invalid: [] },
  ],
  [
    'repeated traceparent: first valid value wins',
    [['traceparent', 'garbage'], ['traceparent', TP], ['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00']],
    { source: 'traceparent', traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331', sampled: true, invalid: ['traceparent'] },
  ],
  [
    'header names in any case',
    [['TraceParent', TP]],
    { source: 'traceparent', traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331', sampled: true, invalid: [] },
  ],
  [
    'misspelt names are not trace context (W3C test_traceparent_header_name)',
    [['trace-parent', TP], ['trace.parent', TP]],
    { source: null, traceId: null, parentSpanId: null, sampled: null, invalid: [] },
  ],
];

test('fromHeaders: trace id precedence traceparent > b3 > X-B3-* > uber-trace-id > sw8 > X-Amzn-Trace-Id', () => {
  for (const [why, headers, expected] of precedence) {
    const { source, traceId, parentSpanId, sampled, invalid } = extractor().fromHeaders(headers, []);
    assert.deepEqual({ source, traceId, parentSpanId, sampled, invalid }, expected, why);
  }
});

test('fromHeaders: invalid values are counted per header, repeats are counted', () => {
  const counters = new Counters();
  const x = extractor(counters);
  x.fromHeaders([['traceparent', 'a'], ['traceparent', 'b'], ['traceparent', TP]], []);
  x.fromHeaders([['traceparent', TP], ['tracestate', 'FOO=1']], []);
  x.fromHeaders([['x-b3-spanid', '00f067aa0ba902b7']], []);
  assert.deepEqual(counters.withPrefix('context.'), {
    'invalid.traceparent': 2,
    'invalid.tracestate': 1,
    'invalid.x-b3-*': 1,
    'repeated.traceparent': 1,
  });
});

test('fromHeaders: tracestate only with a valid traceparent, several headers joined', () => {
  const x = extractor();
  assert.equal(x.fromHeaders([['traceparent', TP], ['tracestate', 'foo=1,bar=2'], ['tracestate', 'baz=3']], []).tracestate, 'foo=1,bar=2,baz=3');
  assert.equal(x.fromHeaders([['traceparent', TP], ['tracestate', '']], []).tracestate, null);
  assert.equal(x.fromHeaders([['tracestate', 'foo=1']], []).tracestate, null);
  assert.equal(x.fromHeaders([['b3', B3], ['tracestate', 'foo=1']], []).tracestate, null);
  const dropped = x.fromHeaders([['traceparent', TP], ['tracestate', 'foo=1,foo=2']], []);
  assert.equal(dropped.tracestate, null);
  assert.deepEqual(dropped.invalid, ['tracestate']);
  assert.equal(dropped.traceId, '0af7651916cd43dd8448eb211c80319c');
});

test('fromHeaders: sw8 keeps the raw SkyWalking ids', () => {
  const got = extractor().fromHeaders([['sw8', SW8]], []);
  assert.equal(got.source, 'sw8');
  assert.equal(got.rawTraceId, '3912196de0cf41f4bab8a8a8108fc3a8.63.16294441329780027');
  assert.equal(got.rawParentSpanId, '3912196de0cf41f4bab8a8a8108fc3a8.63.16294441329780026-4');
  assert.match(got.traceId ?? '', /^[0-9a-f]{32}$/);
});

const requestIdCases: [string, string[] | undefined, HeaderField[], HeaderField[], { requestId: string | null; requestIdSource: string | null; invalid: string[] }][] = [
  ['request header', undefined, [['x-request-id', 'abc']], [['x-request-id', 'zzz']], { requestId: 'abc', requestIdSource: 'x-request-id', invalid: [] }],
  ['echoed on the response only', undefined, [], [['x-request-id', 'zzz']], { requestId: 'zzz', requestIdSource: 'x-request-id', invalid: [] }],
  ['configured order, not wire order', undefined, [['request-id', 'r'], ['x-correlation-id', 'c'], ['x-request-id', 'x']], [], { requestId: 'x', requestIdSource: 'x-request-id', invalid: [] }],
  ['second default name', undefined, [['x-correlation-id', 'c'], ['request-id', 'r']], [], { requestId: 'c', requestIdSource: 'x-correlation-id', invalid: [] }],
  ['any name on the request beats the response', undefined, [['request-id', 'r']], [['x-request-id', 'x']], { requestId: 'r', requestIdSource: 'request-id', invalid: [] }],
  ['configured names, case-insensitive', ['X-Amzn-Trace-Id', 'X-Request-ID'], [['x-request-id', 'x'], ['X-AMZN-TRACE-ID', 'Root=1-5759e988-bd862e3fe1be46a994272793']], [], { requestId: 'Root=1-5759e988-bd862e3fe1be46a994272793', requestIdSource: 'x-amzn-trace-id', invalid: [] }],
  ['a name not configured is ignored', ['x-amzn-trace-id'], [['x-request-id', 'x']], [], { requestId: null, requestIdSource: null, invalid: [] }],
  ['empty value skipped and named', undefined, [['x-request-id', '  '], ['x-correlation-id', 'c']], [], { requestId: 'c', requestIdSource: 'x-correlation-id', invalid: ['x-request-id'] }],
  ['repeated: first non-empty', undefined, [['x-request-id', ''], ['x-request-id', ' b '], ['x-request-id', 'c']], [], { requestId: 'b', requestIdSource: 'x-request-id', invalid: ['x-request-id'] }],
  ['none', undefined, [['host', 'a']], [['server', 'nginx']], { requestId: null, requestIdSource: null, invalid: [] }],
];

test('fromHeaders: request id from configured names, request first, then the response echo', () => {
  for (const [why, names, request, response, expected] of requestIdCases) {
    const { requestId, requestIdSource, invalid } = extractor(new Counters(), names).fromHeaders(request, response);
    assert.deepEqual({ requestId, requestIdSource, invalid }, expected, why);
  }
});

// ---- The shop corpus, straight from the capture's bytes ----

/** Header fields of every HTTP/1.1 message head in `pcap` whose start line begins with `startLine`. */
function headerBlocks(pcap: Buffer, startLine: string, containing?: string): HeaderField[][] {
  const blocks: HeaderField[][] = [];
  const marker = Buffer.from(startLine);
  for (let at = pcap.indexOf(marker); at >= 0; at = pcap.indexOf(marker, at + 1)) {
    const end = pcap.indexOf('\r\n\r\n', at);
    const head = pcap.toString('latin1', at, end);
    if (containing !== undefined && !head.includes(containing)) continue;
    const fields = head
      .split('\r\n')
      .slice(1)
      .map((line): HeaderField => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
      });
    blocks.push(fields);
  }
  return blocks;
}

interface TruthExchange {
  client_service: string;
  request_id: string | null;
  traceparent?: string | null;
  trace_id_seen_by_server?: string | null;
}

test('shop-basic.pcap: every orders→payments request gives the trace id payments parsed', () => {
  const truth = JSON.parse(readFileSync(`${CORPUS}/shop-basic.truth.json`, 'utf8')) as { exchanges: TruthExchange[] };
  const charges = truth.exchanges.filter((e) => e.traceparent);
  const byRequestId = new Map(charges.map((e) => [e.request_id, e]));
  const requests = headerBlocks(readFileSync(`${CORPUS}/shop-basic.pcap`), 'POST /charge HTTP/1.1\r\n');
  assert.equal(requests.length, charges.length);

  const counters = new Counters();
  const x = extractor(counters);
  const seen = new Set<string>();
  for (const headers of requests) {
    const context = x.fromHeaders(headers, []);
    assert.equal(context.requestIdSource, 'x-request-id');
    const expected = byRequestId.get(context.requestId);
    assert.ok(expected, `request id ${context.requestId} is in the truth`);
    seen.add(context.requestId!);
    assert.equal(context.source, 'traceparent');
    assert.equal(context.traceId, expected.trace_id_seen_by_server);
    assert.equal(context.parentSpanId, expected.traceparent!.split('-')[2]);
    assert.equal(context.sampled, true);
  }
  assert.equal(seen.size, charges.length);
  assert.deepEqual(counters.toJSON(), {});
});

test('shop-basic.pcap: nginx echoes X-Request-ID on every response; it is found from the response alone', () => {
  const truth = JSON.parse(readFileSync(`${CORPUS}/shop-basic.truth.json`, 'utf8')) as { exchanges: TruthExchange[] };
  const clientIds = truth.exchanges.filter((e) => e.client_service === 'client').map((e) => e.request_id!);
  const responses = headerBlocks(readFileSync(`${CORPUS}/shop-basic.pcap`), 'HTTP/1.1 ', 'Server: nginx');
  assert.equal(responses.length, clientIds.length);
  const x = extractor();
  const echoed = responses.map((headers) => {
    const context = x.fromHeaders([['host', '127.0.0.2']], headers);
    assert.equal(context.requestIdSource, 'x-request-id');
    return context.requestId!;
  });
  assert.deepEqual([...echoed].sort(), [...clientIds].sort());
});

test('fromHeaders never throws on arbitrary header lists', () => {
  const names = fc.constantFrom('traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-sampled', 'x-b3-flags', 'uber-trace-id', 'sw8', 'x-request-id', 'other');
  const field = fc.tuple(names, fc.string()) as fc.Arbitrary<HeaderField>;
  const x = extractor();
  fc.assert(
    fc.property(fc.array(field, { maxLength: 8 }), fc.array(field, { maxLength: 4 }), (request, response) => {
      const context = x.fromHeaders(request, response);
      assert.equal(context.traceId === null, context.source === null);
    }),
  );
});
