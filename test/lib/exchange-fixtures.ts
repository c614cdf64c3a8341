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

export interface CorrelateOptions {
  /** In packet time: each exchange reported at its end (by end), the correlator advanced to it. */
  streamed?: boolean;
  settleUs?: number;
  /** `--names`. */
  names?: Record<string, string>;
}

/**
 * Every exchange through one Correlator, then finish: the spans of every trace, and the counters.
 * Without `streamed`, all are added before any is due (decided together at the end).
 */
export function correlateAll(exchanges: readonly Exchange[], opts: CorrelateOptions = {}): { spans: SpanRecord[]; counters: Counters } {
  const counters = new Counters();
  const spans: SpanRecord[] = [];
  const collect = (n: SpanNode): void => {
    spans.push(n.span);
    n.children.forEach(collect);
  };
  const correlator = new Correlator({
    counters,
    extractor: new TraceContextExtractor({ counters }),
    namer: new ServiceNamer(opts.names ?? {}),
    onTrace: (t) => collect(t.root),
    ...(opts.settleUs !== undefined ? { settleUs: opts.settleUs } : {}),
  });
  const ordered = opts.streamed ? [...exchanges].sort((a, b) => a.endUs! - b.endUs!) : exchanges;
  for (const x of ordered) {
    if (opts.streamed) correlator.advance(x.endUs!);
    correlator.add(x);
  }
  correlator.finish();
  return { spans, counters };
}
