// Parent links by timing under concurrency: synthetic exchanges through the Correlator, and the
// one-to-one assignment in arrival order against a brute force.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { TraceContextExtractor } from '../src/correlate/context.js';
import { Correlator } from '../src/correlate/correlator.js';
import { IntervalIndex, type Interval } from '../src/correlate/linking-intervals.js';
import { assignInArrivalOrder } from '../src/correlate/linking-matching.js';
import { CallPatterns } from '../src/correlate/linking-patterns.js';
import { ServiceNamer } from '../src/correlate/naming.js';
import type { SpanNode, SpanRecord } from '../src/correlate/types.js';
import type { Exchange, HeaderField, RequestInfo } from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import { correlateAll, exchangeOf } from './lib/exchange-fixtures.js';

const T0 = 1_700_000_000_000_000;
const FRONT = '10.0.0.2';
const SERVICE = '10.0.0.3';
const DB = { ip: '10.0.0.6', port: 3306 };

/** An exchange into the service, times in ms after T0: [start, requestEnd, responseStart, end]. */
interface Into {
  name: string;
  times: [number, number, number, number];
  method?: string;
  path?: string;
  requestId?: string;
  /** Exchange.linkValues: what its request carries (a gRPC message's scalars). */
  values?: string[];
  /** A JSON request body (Exchange.requestBodyHead). */
  body?: string;
}
/** A call the service makes to the database, times in ms [start, end]. */
interface Call {
  name: string;
  times: [number, number];
  sql?: string;
  command?: string;
  statementId?: number;
  /** Database connection (client port) and position on it. */
  connection?: number;
  index?: number;
  comment?: string;
  requestId?: string;
  /** Exchange.linkValues: a prepared statement's parameters. */
  values?: string[];
}

interface Scenario {
  into: Into[];
  calls: Call[];
}

function ms(t: number): number {
  return T0 + Math.round(t * 1000);
}

function base(name: string, request: RequestInfo, protocol: Exchange['protocol'], requestSeq: number): Exchange {
  return {
    protocol,
    connectionId: 0,
    client: { ip: FRONT, port: 0 },
    server: { ip: SERVICE, port: 8080 },
    index: 0,
    requestSeq,
    streamId: null,
    startUs: 0,
    requestEndUs: 0,
    responseStartUs: null,
    endUs: null,
    request,
    response: null,
    requestHeaders: [],
    responseHeaders: [],
    contextText: null,
    bytes: { request: 100, response: 100 },
    notes: [name],
  };
}

function intoExchange(p: Into, i: number): Exchange {
  const request = { method: p.method ?? 'GET', path: p.path ?? `/items/${i}`, host: null, version: '1.1', bodyBytes: 0 };
  const x = base(p.name, request, 'http', (i + 1) * 1000);
  const [start, requestEnd, responseStart, end] = p.times.map(ms) as [number, number, number, number];
  const headers: HeaderField[] = p.requestId ? [['x-request-id', p.requestId]] : [];
  return {
    ...x,
    connectionId: 100 + i,
    client: { ip: FRONT, port: 40000 + i },
    startUs: start,
    requestEndUs: requestEnd,
    responseStartUs: responseStart,
    endUs: end,
    requestHeaders: headers,
    response: { status: 200, reason: 'OK', version: '1.1', bodyBytes: 2 },
    linkValues: p.values,
    ...(p.body ? { requestBodyHead: { bytes: Buffer.from(p.body), contentType: 'application/json' } } : {}),
  };
}

function callExchange(c: Call, i: number): Exchange {
  const sql = c.sql ?? 'SELECT a FROM t WHERE id = ?';
  const request = { command: c.command ?? 'QUERY', sql, normalizedSql: sql, statementId: c.statementId ?? null, database: 'db' };
  const x = base(c.name, request, 'mysql', 1_000_000 + i * 1000);
  const [start, end] = c.times.map(ms) as [number, number];
  const port = 50000 + (c.connection ?? i);
  const comment = c.comment ?? (c.requestId ? `/*request_id='${c.requestId}'*/` : null);
  return {
    ...x,
    connectionId: c.connection ?? 1000 + i,
    client: { ip: SERVICE, port },
    server: DB,
    index: c.index ?? 1,
    startUs: start,
    requestEndUs: start,
    responseStartUs: end,
    endUs: end,
    contextText: comment ? `${sql} ${comment}` : sql,
    linkValues: c.values,
    response: { ok: true, errorCode: null, sqlState: null, errorMessage: null, rows: 1, columns: 1, affectedRows: null, lastInsertId: null, warnings: null },
  };
}

interface Outcome {
  /** child name → parent name (null for a root). */
  parents: Map<string, string | null>;
  links: Map<string, string | null>;
  counters: Counters;
}

/**
 * Runs the exchanges through a Correlator, added in end order as the pipeline would, advancing packet
 * time by the millisecond until a linger after the last one, then finishing.
 */
function correlate(s: Scenario, lingerMs = 30_000): Outcome {
  const counters = new Counters();
  const spans: SpanRecord[] = [];
  const parentOf = new Map<string, string>();
  const collect = (node: SpanNode): void => {
    spans.push(node.span);
    for (const c of node.children) {
      parentOf.set(c.span.spanId, node.span.spanId);
      collect(c);
    }
  };
  const correlator = new Correlator({
    counters,
    extractor: new TraceContextExtractor({ counters }),
    namer: new ServiceNamer({}),
    lingerUs: lingerMs * 1000,
    onTrace: (tree) => collect(tree.root),
  });
  const exchanges = [...s.into.map(intoExchange), ...s.calls.map(callExchange)];
  exchanges.sort((a, b) => a.endUs! - b.endUs!);
  for (const x of exchanges) {
    correlator.advance(x.endUs!);
    correlator.add(x);
  }
  const last = exchanges.at(-1)!.endUs!;
  for (let t = last; t <= last + lingerMs * 1000 && lingerMs < 10_000; t += 1000) correlator.advance(t);
  correlator.finish();
  const nameOf = new Map(spans.map((r) => [r.spanId, r.notes[0]!]));
  const parents = new Map<string, string | null>();
  const links = new Map<string, string | null>();
  for (const r of spans) {
    const parent = parentOf.get(r.spanId);
    parents.set(r.notes[0]!, parent ? nameOf.get(parent)! : null);
    links.set(r.notes[0]!, r.link);
  }
  assert.equal(spans.length, exchanges.length, 'every exchange is emitted once');
  return { parents, links, counters };
}

describe('parent links by timing', () => {
  const table: { title: string; scenario: Scenario; expected: Record<string, string | null>; counters?: Record<string, number> }[] = [
    {
      title: 'a lone call goes to the one request being served',
      scenario: { into: [{ name: 'A', times: [0, 1, 50, 51] }], calls: [{ name: 'a', times: [10, 12] }] },
      expected: { a: 'A' },
      counters: { 'correlate.timing-ambiguous': 0, 'correlate.links.timing': 1 },
    },
    {
      title: 'concurrent requests: calls in arrival order, one per request, whatever the response order',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 90, 91] },
          { name: 'B', times: [2, 3, 60, 61] },
          { name: 'C', times: [4, 5, 80, 81] },
        ],
        calls: [
          { name: 'a', times: [10, 12] },
          { name: 'b', times: [13, 15] },
          { name: 'c', times: [16, 40] },
        ],
      },
      expected: { a: 'A', b: 'B', c: 'C' },
      counters: { 'correlate.timing-ambiguous': 3, 'correlate.timing-shared': 0 },
    },
    {
      // Served out of arrival order (the second request's query runs first): the id in the path and
      // in the SQL tell them apart, where arrival order would swap them.
      title: 'concurrent requests whose target names the value a query carries: linked by that value',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 90, 91], path: '/orders/11' },
          { name: 'B', times: [2, 3, 60, 61], path: '/orders/12?view=full' },
        ],
        calls: [
          { name: 'b', times: [10, 12], sql: 'SELECT id, qty FROM orders WHERE id = 12' },
          { name: 'a', times: [13, 15], sql: 'SELECT id, qty FROM orders WHERE id = 11' },
        ],
      },
      expected: { a: 'A', b: 'B' },
      counters: { 'correlate.timing-by-value': 2 },
    },
    {
      // A prepared statement's parameter against what the requests carry (a gRPC message's scalars).
      title: 'concurrent requests carrying the value an EXECUTE is bound with: linked by that value',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 90, 91], path: '/reserve', values: ['sku-11', '3'] },
          { name: 'B', times: [2, 3, 60, 61], path: '/reserve', values: ['sku-12', '1'] },
        ],
        calls: [
          { name: 'b', times: [10, 12], command: 'STMT_EXECUTE', statementId: 1, sql: 'SELECT qty FROM stock WHERE sku = ?', values: ['sku-12'] },
          { name: 'a', times: [13, 15], command: 'STMT_EXECUTE', statementId: 1, sql: 'SELECT qty FROM stock WHERE sku = ?', values: ['sku-11'] },
        ],
      },
      expected: { a: 'A', b: 'B' },
      counters: { 'correlate.timing-by-value': 2 },
    },
    {
      // The values of a POST are in its body: a query for one of them goes to that POST.
      title: 'concurrent POSTs whose JSON body carries the value a query carries: linked by that value',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 90, 91], method: 'POST', path: '/orders', body: '{"sku":"sku-11","qty":3}' },
          { name: 'B', times: [2, 3, 60, 61], method: 'POST', path: '/orders', body: '{"sku":"sku-12","qty":1}' },
        ],
        calls: [
          { name: 'b', times: [10, 12], sql: "SELECT qty FROM stock WHERE sku = 'sku-12'" },
          { name: 'a', times: [13, 15], sql: "SELECT qty FROM stock WHERE sku = 'sku-11'" },
        ],
      },
      expected: { a: 'A', b: 'B' },
      counters: { 'correlate.timing-by-value': 2 },
    },
    {
      // One-character values (LIMIT 1, status = 1) tell nothing: arrival order decides.
      title: 'values too short to tell requests apart are not used',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 90, 91], path: '/orders/1' },
          { name: 'B', times: [2, 3, 60, 61], path: '/orders/2' },
        ],
        calls: [
          { name: 'x', times: [10, 12], sql: 'SELECT id FROM orders WHERE id = 2' },
          { name: 'y', times: [13, 15], sql: 'SELECT id FROM orders WHERE id = 1' },
        ],
      },
      expected: { x: 'A', y: 'B' },
      counters: { 'correlate.timing-by-value': 0 },
    },
    {
      // The earliest request waits (for a new pooled connection); a later one goes first. Giving the
      // first call to the earliest request would leave the last call without a request of its own.
      title: 'a request served late: the matching keeps one call per request',
      scenario: {
        into: [
          { name: 'P1', times: [0, 1, 100, 101] },
          { name: 'P2', times: [10, 11, 60, 61] },
          { name: 'P3', times: [70, 71, 95, 96] },
        ],
        calls: [
          { name: 'c1', times: [30, 35] },
          { name: 'c2', times: [80, 85] },
          { name: 'c3', times: [88, 90] },
        ],
      },
      expected: { c1: 'P2', c2: 'P1', c3: 'P3' },
      counters: { 'correlate.timing-shared': 0 },
    },
    {
      title: 'pooled connection: EXECUTE right after the PREPARE of its statement has the same parent',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 100, 101] },
          { name: 'B', times: [5, 6, 100, 101] },
        ],
        calls: [
          { name: 'prepare', times: [10, 12], command: 'STMT_PREPARE', statementId: 1, connection: 7, index: 1 },
          { name: 'other-exec', times: [20, 22], command: 'STMT_EXECUTE', statementId: 1, connection: 8, index: 5 },
          { name: 'exec', times: [40, 42], command: 'STMT_EXECUTE', statementId: 1, connection: 7, index: 2 },
        ],
      },
      expected: { prepare: 'A', exec: 'A', 'other-exec': 'B' },
      counters: { 'correlate.timing-continued': 1, 'correlate.timing-shared': 0 },
    },
    {
      title: 'two EXECUTEs in a row on one pooled connection are not assumed to share a parent',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 30, 31] },
          { name: 'B', times: [5, 6, 60, 61] },
        ],
        calls: [
          { name: 'a', times: [10, 12], command: 'STMT_EXECUTE', statementId: 1, connection: 7, index: 3 },
          { name: 'b', times: [13, 15], command: 'STMT_EXECUTE', statementId: 1, connection: 7, index: 4 },
        ],
      },
      expected: { a: 'A', b: 'B' },
      counters: { 'correlate.timing-continued': 0 },
    },
    {
      title: 'an id on the call beats timing',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 100, 101], requestId: 'req-a' },
          { name: 'B', times: [5, 6, 100, 101], requestId: 'req-b' },
        ],
        calls: [
          { name: 'by-id', times: [10, 12], requestId: 'req-b' },
          { name: 'by-timing', times: [20, 22] },
        ],
      },
      expected: { 'by-id': 'B', 'by-timing': 'A' },
      counters: { 'correlate.links.request-id': 1, 'correlate.links.timing': 1 },
    },
    {
      title: 'a call whose ids match no request in flight is not guessed onto one',
      scenario: {
        into: [{ name: 'A', times: [0, 1, 100, 101], requestId: 'req-a' }],
        calls: [{ name: 'stray', times: [10, 12], requestId: 'req-elsewhere' }],
      },
      expected: { stray: null },
      counters: { 'correlate.links.timing': 0 },
    },
    {
      title: 'a call outside every request stays a root',
      scenario: { into: [{ name: 'A', times: [0, 1, 10, 11] }], calls: [{ name: 'later', times: [20, 22] }] },
      expected: { later: null },
    },
    {
      title: 'a request that started after the call is not its parent, though within the tolerance',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 100, 101] },
          { name: 'late', times: [10.5, 10.6, 100, 101] },
        ],
        calls: [{ name: 'a', times: [10, 12] }],
      },
      expected: { a: 'A' },
      counters: { 'correlate.timing-ambiguous': 0 },
    },
    {
      // POST /orders is known (from its commented INSERTs) to call the database for other statements:
      // an uncommented SELECT goes to the GET in flight, though the POST arrived first.
      title: 'learned call patterns: an operation known to call the callee for other things is passed over',
      scenario: {
        into: [
          { name: 'POST1', times: [0, 1, 50, 51], method: 'POST', path: '/orders', requestId: 'p1' },
          // fails before its INSERT: it has no call to the database
          { name: 'POST2', times: [60, 61, 110, 111], method: 'POST', path: '/orders', requestId: 'p2' },
          { name: 'GET', times: [62, 63, 100, 101], path: '/orders/17' },
        ],
        calls: [
          { name: 'insert1', times: [40, 42], sql: 'INSERT INTO orders VALUES (?)', requestId: 'p1' },
          { name: 'select', times: [70, 72], sql: 'SELECT * FROM orders WHERE id = ?' },
        ],
      },
      expected: { insert1: 'POST1', select: 'GET' },
      counters: { 'correlate.timing-by-pattern': 1 },
    },
    {
      title: 'more calls than requests: the extra call shares the tightest-fitting request, counted',
      scenario: {
        into: [
          { name: 'A', times: [0, 1, 100, 101] },
          { name: 'B', times: [2, 3, 31, 32] },
        ],
        calls: [
          { name: 'a1', times: [10, 12] },
          { name: 'a2', times: [14, 16] },
          { name: 'a3', times: [27, 30] },
        ],
      },
      expected: { a1: 'A', a2: 'B', a3: 'B' },
      counters: { 'correlate.timing-shared': 1, 'correlate.timing-ambiguous': 3 },
    },
  ];

  for (const { title, scenario, expected, counters } of table) {
    it(title, () => {
      const out = correlate(scenario);
      for (const [child, parent] of Object.entries(expected)) {
        assert.equal(out.parents.get(child), parent, `${child}'s parent`);
        if (parent === null) assert.equal(out.links.get(child), null, `${child} is a root`);
      }
      for (const [name, value] of Object.entries(counters ?? {})) assert.equal(out.counters.get(name), value, name);
    });
  }

  it('decides the same in packet time (short linger) as all at the end', () => {
    const { scenario } = table.find((t) => t.title.startsWith('a request served late'))!;
    const atEnd = correlate(scenario);
    const streaming = correlate(scenario, 70);
    assert.deepEqual([...streaming.parents], [...atEnd.parents]);
  });

  it('links many concurrent requests in arrival order at scale', () => {
    const into: Into[] = [];
    const calls: Call[] = [];
    const n = 4000;
    for (let i = 0; i < n; i++) {
      // 16 in flight; each answers in a shuffled order; its call is made in arrival order.
      const start = i * 2;
      const answer = start + 40 + ((i * 7) % 16);
      into.push({ name: `R${i}`, times: [start, start + 0.1, answer, answer + 0.1] });
      calls.push({ name: `c${i}`, times: [start + 30, start + 30.5] });
    }
    const out = correlate({ into, calls }, 1000);
    const wrong = calls.filter((c, i) => out.parents.get(c.name) !== `R${i}`).map((c) => c.name);
    assert.deepEqual(wrong, []);
  });
});

describe('assignInArrivalOrder', () => {
  it('table', () => {
    const cases: { options: number[][]; parents: number; expected: number[] }[] = [
      { options: [], parents: 0, expected: [] },
      { options: [[0, 1], [0, 1]], parents: 2, expected: [0, 1] },
      { options: [[0, 1], [0]], parents: 2, expected: [1, 0] },
      // the late-served request: c1 may use P1/P2, c2 and c3 only P1/P3
      { options: [[0, 1], [0, 2], [0, 2]], parents: 3, expected: [1, 0, 2] },
      { options: [[0], [0], [0]], parents: 1, expected: [0, -1, -1] },
      { options: [[], [0]], parents: 1, expected: [-1, 0] },
    ];
    for (const { options, parents, expected } of cases) {
      assert.deepEqual([...assignInArrivalOrder(options, parents)], expected, JSON.stringify(options));
    }
  });

  it('is the earliest-first assignment among the largest ones (brute force)', () => {
    const graph = fc.integer({ min: 1, max: 5 }).chain((parents) =>
      fc.array(fc.uniqueArray(fc.integer({ min: 0, max: parents - 1 }), { maxLength: parents }).map((a) => a.sort((x, y) => x - y)), { maxLength: 6 })
        .map((options) => ({ parents, options })),
    );
    fc.assert(
      fc.property(graph, ({ parents, options }) => {
        const got = [...assignInArrivalOrder(options, parents)];
        const used = got.filter((p) => p >= 0);
        assert.equal(new Set(used).size, used.length, 'a parent is given once');
        got.forEach((p, i) => assert.ok(p === -1 || options[i]!.includes(p)));
        assert.deepEqual(got, bruteForce(options));
      }),
      { numRuns: 400 },
    );
  });
});

describe('IntervalIndex', () => {
  it('finds exactly the windows containing a window, whatever their durations (brute force)', () => {
    const window = fc.record({
      start: fc.integer({ min: 0, max: 1_000_000 }),
      length: fc.oneof(fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 2_000_000 }), fc.constant(Infinity)),
    }).map(({ start, length }): Interval => ({ start, end: start + length }));
    fc.assert(
      fc.property(fc.array(window, { maxLength: 60 }), window, fc.integer({ min: 0, max: 1000 }), (held, query, tol) => {
        const index = new IntervalIndex<Interval>();
        for (const w of held) index.add(w);
        const key = (w: Interval): string => `${w.start}-${w.end}`;
        const got = index.containing(query.start, query.end, tol).map(key).sort();
        const expected = held.filter((w) => w.start <= query.start + tol && query.end - tol <= w.end).map(key).sort();
        assert.deepEqual(got, expected);
      }),
      { numRuns: 500 },
    );
  });

  it('trims only from the earliest-started of each duration class', () => {
    const index = new IntervalIndex<Interval>();
    // one duration class (8-15 µs): C may go, but stays behind B, which may not
    for (const w of [{ start: 4, end: 13 }, { start: 0, end: 10 }, { start: 2, end: 14 }]) index.add(w);
    index.trim((w) => w.end < 13.5);
    assert.equal(index.size, 2);
    assert.deepEqual(index.containing(4, 13, 0), [{ start: 4, end: 13 }, { start: 2, end: 14 }]);
  });
});

/** Among all matchings of the largest size, the smallest by (position of each call's parent in its options, unmatched last). */
function bruteForce(options: number[][]): number[] {
  let best: number[] | null = null;
  let bestKey: number[] = [];
  let bestSize = -1;
  const current: number[] = [];
  const walk = (i: number, taken: Set<number>): void => {
    if (i === options.length) {
      const size = current.filter((p) => p >= 0).length;
      const key = current.map((p, k) => (p < 0 ? Infinity : options[k]!.indexOf(p)));
      if (size > bestSize || (size === bestSize && lexLess(key, bestKey))) {
        best = [...current];
        bestKey = key;
        bestSize = size;
      }
      return;
    }
    for (const p of [...options[i]!, -1]) {
      if (p >= 0 && taken.has(p)) continue;
      current.push(p);
      if (p >= 0) taken.add(p);
      walk(i + 1, taken);
      if (p >= 0) taken.delete(p);
      current.pop();
    }
  };
  walk(0, new Set());
  return best ?? [];
}

function lexLess(a: number[], b: number[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

describe('CallPatterns', () => {
  it('a call is known with its callee: the same path to the gateway and to the API behind it are two calls', () => {
    const patterns = new CallPatterns({ counters: new Counters() });
    patterns.learn('GET /watch/:id', 'GET /items/:id', '127.0.0.1:8088');
    assert.equal(patterns.tier('GET /watch/:id', 'GET /items/:id', '127.0.0.1:8088'), 'makes');
    assert.equal(patterns.tier('GET /watch/:id', 'GET /items/:id', '127.0.0.1:7001'), 'unknown');
  });

  it('what is in flight at a kind of call says nothing before 20 such calls were seen', () => {
    const patterns = new CallPatterns({ counters: new Counters() });
    for (let i = 0; i < 19; i++) patterns.observe('QUERY SELECT ?', '10.0.0.6:3306', ['GET /watch/:id']);
    assert.equal(patterns.presenceShare('GET /watch/:id', 'QUERY SELECT ?', '10.0.0.6:3306'), null);
    patterns.observe('QUERY SELECT ?', '10.0.0.6:3306', ['GET /items/:id']);
    assert.equal(patterns.presenceShare('GET /watch/:id', 'QUERY SELECT ?', '10.0.0.6:3306'), 0.95);
    assert.equal(patterns.presenceShare('GET /watch/:id', 'QUERY SELECT ?', '10.0.0.7:3306'), null);
  });
});

describe('a proxy forwarding two requests out of their arrival order', () => {
  // Two POST /reserve arrive at the proxy; it passes the second on first. Their bodies differ; the
  // path they share names every candidate, so it tells nothing.
  const at = (from: number, to: number): Pick<Exchange, 'startUs' | 'requestEndUs' | 'responseStartUs' | 'endUs'> => ({ startUs: ms(from), requestEndUs: ms(from) + 10, responseStartUs: ms(to) - 10, endUs: ms(to) });
  const post = (connectionId: number, server: { ip: string; port: number }, from: number, to: number, body: string): Exchange =>
    exchangeOf({
      connectionId,
      client: { ip: server.port === 80 ? '10.0.0.1' : '10.0.0.2', port: 40000 + connectionId },
      server,
      request: { method: 'POST', path: '/reserve', host: null, version: '1.1', bodyBytes: body.length },
      requestBodyHead: { bytes: Buffer.from(body), contentType: 'application/json' },
      ...at(from, to),
    });
  const proxy = { ip: '10.0.0.2', port: 80 };
  const app = { ip: '10.0.0.3', port: 8080 };
  const bodyA = '{"item":311,"quantity":2,"customer":"cust-21"}';
  const bodyB = '{"item":312,"quantity":1,"customer":"cust-37"}';

  it('each hop goes to the request whose body it passes on', () => {
    const exchanges = [post(1, proxy, 0, 100, bodyA), post(2, proxy, 1, 100, bodyB), post(3, app, 2, 98, bodyB), post(4, app, 3, 99, bodyA)];
    const { spans, counters } = correlateAll(exchanges);
    const parentConnection = (connectionId: number): number | undefined => {
      const hop = spans.find((s) => s.connectionId === connectionId)!;
      return spans.find((s) => s.spanId === hop.parentSpanId)?.connectionId;
    };
    assert.deepEqual([parentConnection(3), parentConnection(4)], [2, 1]);
    assert.equal(counters.get('correlate.timing-by-value'), 2);
  });
});

describe('one request id on consecutive requests (a retry, a static header)', () => {
  it('a call is the child of the request that holds it, not of the next one starting within the clock tolerance', () => {
    const id = 'req-same';
    /** An HTTP exchange carrying the id, µs after T0; into the service, or from it to 10.0.0.9. */
    const exchange = (connectionId: number, start: number, end: number, path: string, fromService = false): Exchange =>
      exchangeOf({
        connectionId,
        client: { ip: fromService ? SERVICE : FRONT, port: 40000 + connectionId },
        server: fromService ? { ip: '10.0.0.9', port: 80 } : { ip: SERVICE, port: 8080 },
        startUs: T0 + start,
        requestEndUs: T0 + start + 10,
        responseStartUs: T0 + end - 10,
        endUs: T0 + end,
        request: { method: 'GET', path, host: null, version: '1.1', bodyBytes: 0 },
        requestHeaders: [['x-request-id', id]],
      });
    const into = (connectionId: number, start: number, end: number, path: string): Exchange => exchange(connectionId, start, end, path);
    const call = (connectionId: number, start: number, end: number, path: string): Exchange => exchange(connectionId, start, end, path, true);
    // The second request starts 300 µs after the first one's call ended: within the 1 ms tolerance.
    const { spans } = correlateAll([
      into(1, 0, 800, '/first'),
      call(2, 200, 500, '/first-call'),
      into(3, 800, 1600, '/second'),
      call(4, 900, 1200, '/second-call'),
    ]);
    const byPath = new Map(spans.map((s) => [(s.request as { path: string }).path, s]));
    assert.equal(byPath.get('/first-call')!.parentSpanId, byPath.get('/first')!.spanId);
    assert.equal(byPath.get('/second-call')!.parentSpanId, byPath.get('/second')!.spanId);
    assert.equal(byPath.get('/first-call')!.link, 'request-id');
  });
});
