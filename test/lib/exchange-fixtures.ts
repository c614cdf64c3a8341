import { TraceContextExtractor } from '../../src/correlate/context.js';
import { Correlator } from '../../src/correlate/correlator.js';
import { ServiceNamer } from '../../src/correlate/naming.js';
import type { SpanNode, SpanRecord } from '../../src/correlate/types.js';
import type { Exchange } from '../../src/protocols/types.js';
import { Counters } from '../../src/util/counters.js';
import { T0 } from './span-fixtures.js';

/** An HTTP exchange 10.0.0.2 → 10.0.0.3:8080 lasting 1 ms from T0, answered 200; `over` changes any field. */
export function exchangeOf(over: Partial<Exchange> = {}): Exchange {
  return {
    protocol: 'http',
    connectionId: 1,
    client: { ip: '10.0.0.2', port: 40000 },
    server: { ip: '10.0.0.3', port: 8080 },
    index: 0,
    requestSeq: 1,
    streamId: null,
    startUs: T0,
    requestEndUs: T0 + 10,
    responseStartUs: T0 + 900,
    endUs: T0 + 1000,
    request: { method: 'GET', path: '/', host: null, version: '1.1', bodyBytes: 0 },
    response: { status: 200, reason: 'OK', version: '1.1', bodyBytes: 2 },
    requestHeaders: [],
    responseHeaders: [],
    contextText: null,
    bytes: { request: 50, response: 50 },
    notes: [],
    ...over,
  };
}

/** Every exchange through one Correlator, then finish: the spans of every trace, and the counters. */
export function correlateAll(exchanges: readonly Exchange[]): { spans: SpanRecord[]; counters: Counters } {
  const counters = new Counters();
  const spans: SpanRecord[] = [];
  const collect = (n: SpanNode): void => {
    spans.push(n.span);
    n.children.forEach(collect);
  };
  const correlator = new Correlator({ counters, extractor: new TraceContextExtractor({ counters }), namer: new ServiceNamer({}), onTrace: (t) => collect(t.root) });
  for (const x of exchanges) correlator.add(x);
  correlator.finish();
  return { spans, counters };
}
