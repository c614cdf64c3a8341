// Services sharing one address (one host, loopback): which endpoint made a connection's calls, a load
// generator on the host that is nobody's callee, ids that begin at a gateway; and when a server is
// still serving: streaming answers, proxies passing an answer through.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { traceIdFromRequestId } from '../src/correlate/ids.js';
import { CallerEvidence, type CallerVerdict, type CallerWindow } from '../src/correlate/linking-callers.js';
import type { SpanRecord } from '../src/correlate/types.js';
import type { Exchange, HeaderField } from '../src/protocols/types.js';
import type { Endpoint } from '../src/tcp/types.js';
import { correlateAll, exchangeOf } from './lib/exchange-fixtures.js';
import { T0 } from './lib/span-fixtures.js';

const HOST = '127.0.0.1';
const GATEWAY = 8088;
const API = 7001;
const INVENTORY = 7002;
const DB = 3306;

/** One request of a single-host shop, `ms` after T0, lasting `long` ms at the gateway. */
function request(i: number, ms: number, long: number): Exchange[] {
  const at = (from: number, to: number): Pick<Exchange, 'startUs' | 'requestEndUs' | 'responseStartUs' | 'endUs'> => ({
    startUs: T0 + from,
    requestEndUs: T0 + from + 20,
    responseStartUs: T0 + to - 20,
    endUs: T0 + to,
  });
  const s = ms * 1000;
  const d = long * 1000;
  const rid: HeaderField[] = [['x-request-id', `req-${String(i).padStart(6, '0')}`]];
  return [
    // A load generator on the host: 4 keep-alive connections to the gateway, no ids.
    exchangeOf({ connectionId: 1 + (i % 4), client: { ip: HOST, port: 40000 + (i % 4) }, server: { ip: HOST, port: GATEWAY }, index: i, requestSeq: i, request: { method: 'GET', path: `/items/${i}`, host: null, version: '1.1', bodyBytes: 0 }, ...at(s, s + d) }),
    // The gateway adds X-Request-ID: the id begins here.
    exchangeOf({ connectionId: 11 + (i % 4), client: { ip: HOST, port: 41000 + (i % 4) }, server: { ip: HOST, port: API }, index: i, requestSeq: 1000 + i, request: { method: 'GET', path: `/items/${i}`, host: null, version: '1.1', bodyBytes: 0 }, requestHeaders: rid, ...at(s + 200, s + d - 200) }),
    exchangeOf({
      protocol: 'grpc',
      connectionId: 21,
      client: { ip: HOST, port: 42000 },
      server: { ip: HOST, port: INVENTORY },
      index: i,
      streamId: 1 + 2 * i,
      requestSeq: null,
      request: { service: 'shop.Inventory', method: 'Get', path: '/shop.Inventory/Get', authority: null, streamId: 1 + 2 * i, messages: 1, messageBytes: 4, compressedMessages: 0, timeoutMs: null, callKind: 'unary' },
      response: { httpStatus: 200, grpcStatus: 0, grpcMessage: null, messages: 1, messageBytes: 9, compressedMessages: 0, trailersOnly: false, reset: null },
      requestHeaders: rid,
      ...at(s + 500, s + d - 2000),
    }),
    // The inventory's pooled database connections; the query carries no id.
    exchangeOf({
      protocol: 'mysql',
      connectionId: 31 + (i % 2),
      client: { ip: HOST, port: 43000 + (i % 2) },
      server: { ip: HOST, port: DB },
      index: i,
      requestSeq: 3000 + i,
      request: { command: 'QUERY', sql: 'SELECT 1 FROM items', normalizedSql: 'SELECT ? FROM items', statementId: null, database: 'shop' },
      response: { ok: true, errorCode: null, sqlState: null, errorMessage: null, rows: 1, columns: 1, affectedRows: null, lastInsertId: null, warnings: 0 },
      ...at(s + 1000, s + 1300),
    }),
  ];
}

/** Requests every 20 ms; every fourth is slow (150 ms), so the short ones fall inside its inner windows. */
function shop(requests: number): Exchange[] {
  return Array.from({ length: requests }, (_, i) => request(i, i * 20, i % 4 === 0 ? 150 : 30)).flat();
}

/**
 * A probe on the host checking the API every other request, quickly, just around that request's query:
 * the tightest window around most queries is then a probe into the API, not the inventory's call.
 */
function probes(requests: number): Exchange[] {
  return Array.from({ length: Math.ceil(requests / 2) }, (_, k) =>
    exchangeOf({
      connectionId: 50,
      client: { ip: HOST, port: 45000 },
      server: { ip: HOST, port: API },
      index: k,
      requestSeq: 9000 + k,
      request: { method: 'GET', path: '/healthz', host: null, version: '1.1', bodyBytes: 0 },
      startUs: T0 + k * 40_000 + 900,
      requestEndUs: T0 + k * 40_000 + 910,
      responseStartUs: T0 + k * 40_000 + 1_590,
      endUs: T0 + k * 40_000 + 1_600,
    }),
  );
}

/** In packet time: each exchange reported at its end, decisions 10 ms after (not all at the end). */
const streamed = (exchanges: Exchange[]): ReturnType<typeof correlateAll> => correlateAll(exchanges, { streamed: true, settleUs: 10_000 });

const nth = (s: SpanRecord): number => (s.protocol === 'grpc' ? (s.streamId! - 1) / 2 : s.index);
const port = (s: SpanRecord | undefined): number | null => s?.server.port ?? null;

function check(spans: SpanRecord[], from: (s: SpanRecord) => boolean): void {
  const bySpan = new Map(spans.map((s) => [s.spanId, s]));
  const parentOf = (s: SpanRecord): SpanRecord | undefined => (s.parentSpanId ? bySpan.get(s.parentSpanId) : undefined);
  for (const s of spans.filter(from)) {
    const parent = parentOf(s);
    const expected = { [GATEWAY]: null, [API]: GATEWAY, [INVENTORY]: API, [DB]: INVENTORY }[s.server.port];
    assert.equal(port(parent), expected, `${s.server.port} #${nth(s)}: parent ${port(parent)}:${parent && nth(parent)}`);
    if (parent) assert.equal(nth(parent), nth(s), `${s.server.port} #${nth(s)} under request ${nth(parent)}`);
  }
}

describe('services sharing one address', () => {
  it('decided together: the gateway hop by timing, the load generator left a root, each query under its own gRPC call', () => {
    const { spans, counters } = correlateAll(shop(40));
    check(spans, () => true);
    const links = Object.fromEntries([GATEWAY, API, INVENTORY, DB].map((p) => [p, spans.find((s) => s.server.port === p)!.link]));
    assert.deepEqual(links, { [GATEWAY]: null, [API]: 'timing', [INVENTORY]: 'request-id', [DB]: 'timing' });
    assert.ok(counters.get('correlate.timing-no-caller') > 0);
  });

  it('in packet time: the same, except the load generator\'s first calls before its connections showed who calls them', () => {
    const { spans } = streamed(shop(60));
    check(spans, (s) => s.server.port !== GATEWAY);
    // The client on the host makes no call while serving; after a few calls per connection it is seen as such.
    check(spans, (s) => s.server.port === GATEWAY && s.index >= 4 * 5);
  });

  it('a probe into the API around most queries: queries stay the inventory\'s, probes are roots', () => {
    const { spans } = streamed([...shop(60), ...probes(60)]);
    check(spans, (s) => s.server.port === DB || s.server.port === INVENTORY);
    assert.deepEqual(spans.filter((s) => (s.request as { path?: string }).path === '/healthz' && s.parentSpanId !== null).length, 0);
  });

  it('callers are named by the endpoint that made the call; the load generator by its address', () => {
    const { spans } = correlateAll(shop(40));
    const edges = new Set(spans.map((s) => `${s.peerService} -> ${s.service}`));
    assert.deepEqual([...edges].sort(), [
      `${HOST} -> ${HOST}:${GATEWAY}`,
      `${HOST}:${API} -> ${HOST}:${INVENTORY}`,
      `${HOST}:${GATEWAY} -> ${HOST}:${API}`,
      `${HOST}:${INVENTORY} -> mysql@${HOST}:${DB}`,
    ].sort());
  });

  it('--names for the address every service shares does not hide which of them called', () => {
    const names = { [HOST]: 'this-host', [`${HOST}:${GATEWAY}`]: 'nginx', [`${HOST}:${API}`]: 'api' };
    const { spans } = correlateAll(shop(40), { names });
    const callers = (port: number): string[] => [...new Set(spans.filter((s) => s.server.port === port).map((s) => s.peerService))];
    assert.deepEqual([callers(GATEWAY), callers(API), callers(INVENTORY)], [['this-host'], ['nginx'], ['api']]);
  });

  it('a client calling the only server on its own address is that address, not the server calling itself', () => {
    const curl = exchangeOf({ client: { ip: HOST, port: 50000 }, server: { ip: HOST, port: 8080 } });
    const [span] = correlateAll([curl]).spans;
    assert.deepEqual([span!.peerService, span!.service], [HOST, `${HOST}:8080`]);
  });
});

describe('one process serving on two ports of its address', () => {
  // An API answering HTTP on :8080 and gRPC on :9090, one database pool of three connections for both;
  // requests alternate, so every connection serves both ports.
  const APP = '10.0.0.3';
  const exchanges = Array.from({ length: 24 }, (_, i) => {
    const s = T0 + i * 700;
    const onGrpc = i % 2 === 1;
    const id = String(100 + i);
    const into = exchangeOf({
      protocol: onGrpc ? 'grpc' : 'http',
      connectionId: 1 + i,
      client: { ip: '10.0.0.2', port: 40000 + i },
      server: { ip: APP, port: onGrpc ? 9090 : 8080 },
      streamId: onGrpc ? 1 : null,
      startUs: s,
      requestEndUs: s + 20,
      responseStartUs: s + 980,
      endUs: s + 1000,
      request: onGrpc
        ? { service: 'shop.Items', method: 'Get', path: '/shop.Items/Get', authority: null, streamId: 1, messages: 1, messageBytes: 4, compressedMessages: 0, timeoutMs: null, callKind: 'unary' }
        : { method: 'GET', path: `/items/${id}`, host: null, version: '1.1', bodyBytes: 0 },
      response: onGrpc ? { httpStatus: 200, grpcStatus: 0, grpcMessage: null, messages: 1, messageBytes: 9, compressedMessages: 0, trailersOnly: false, reset: null } : { status: 200, reason: 'OK', version: '1.1', bodyBytes: 2 },
      ...(onGrpc ? { linkValues: [id] } : {}),
    });
    const query = exchangeOf({
      protocol: 'mysql',
      connectionId: 100 + (i % 3),
      client: { ip: APP, port: 50000 + (i % 3) },
      server: { ip: '10.0.0.6', port: 3306 },
      index: i,
      requestSeq: 5000 + i,
      startUs: s + 300,
      requestEndUs: s + 305,
      responseStartUs: s + 500,
      endUs: s + 520,
      request: { command: 'QUERY', sql: `SELECT * FROM items WHERE id = ${id}`, normalizedSql: 'SELECT * FROM items WHERE id = ?', statementId: null, database: 'shop' },
      response: { ok: true, errorCode: null, sqlState: null, errorMessage: null, rows: 1, columns: 3, affectedRows: null, lastInsertId: null, warnings: 0 },
    });
    return [into, query];
  }).flat();

  it('its calls stay linked to the request of either port they were made for', () => {
    const { spans } = correlateAll(exchanges);
    const bySpan = new Map(spans.map((s) => [s.spanId, s]));
    for (const q of spans.filter((s) => s.protocol === 'mysql')) {
      const parent = q.parentSpanId ? bySpan.get(q.parentSpanId) : undefined;
      assert.equal(parent?.connectionId, 1 + q.index, `query ${q.index} under ${parent?.connectionId}`);
    }
  });
});

describe('a request id that begins at the caller', () => {
  const into = (over: Partial<Exchange>): Exchange => exchangeOf({ client: { ip: '10.0.0.1', port: 40000 }, server: { ip: '10.0.0.2', port: 80 }, startUs: T0, requestEndUs: T0 + 10, responseStartUs: T0 + 990, endUs: T0 + 1000, ...over });
  const call = exchangeOf({ connectionId: 2, client: { ip: '10.0.0.2', port: 41000 }, server: { ip: '10.0.0.3', port: 8080 }, startUs: T0 + 100, requestEndUs: T0 + 110, responseStartUs: T0 + 800, endUs: T0 + 900, requestHeaders: [['x-request-id', 'gw-generated-1']] });

  it('is linked by timing to the request it was made for, which carried none', () => {
    const { spans } = correlateAll([into({}), call]);
    const [front, hop] = [spans.find((s) => s.server.port === 80)!, spans.find((s) => s.server.port === 8080)!];
    assert.deepEqual([hop.parentSpanId, hop.link, hop.requestId], [front.spanId, 'timing', 'gw-generated-1']);
  });

  it('and the request it was made for joins its trace, with everything below it', () => {
    const inner = exchangeOf({ connectionId: 3, client: { ip: '10.0.0.3', port: 42000 }, server: { ip: '10.0.0.6', port: 9000 }, startUs: T0 + 300, requestEndUs: T0 + 310, responseStartUs: T0 + 390, endUs: T0 + 400 });
    const { spans } = correlateAll([into({}), call, inner]);
    const expected = traceIdFromRequestId('gw-generated-1');
    assert.deepEqual(spans.map((s) => [s.server.port, s.traceId, s.link]), [[80, expected, null], [8080, expected, 'timing'], [9000, expected, 'timing']]);
  });

  it('of several calls with their own ids, the first gives the trace, to the others too', () => {
    const second = exchangeOf({ ...call, connectionId: 4, client: { ip: '10.0.0.2', port: 41001 }, server: { ip: '10.0.0.4', port: 8080 }, startUs: T0 + 300, requestEndUs: T0 + 310, responseStartUs: T0 + 700, endUs: T0 + 750, requestHeaders: [['x-request-id', 'gw-generated-2']] });
    const { spans } = correlateAll([into({}), second, call]);
    const traceOf = (ip: string): string => spans.find((s) => s.server.ip === ip)!.traceId;
    assert.deepEqual([traceOf('10.0.0.2'), traceOf('10.0.0.3'), traceOf('10.0.0.4')], Array(3).fill(traceIdFromRequestId('gw-generated-1')));
  });

  it('a gateway replacing the client\'s ids with its own: linked by timing once seen doing so, in the client\'s trace', () => {
    const exchanges = Array.from({ length: 12 }, (_, k) => {
      const at = k * 2000;
      return [
        into({ connectionId: 100 + k, client: { ip: '10.0.0.1', port: 40000 + k }, startUs: T0 + at, requestEndUs: T0 + at + 10, responseStartUs: T0 + at + 990, endUs: T0 + at + 1000, requestHeaders: [['x-request-id', `client-${k}`]] }),
        exchangeOf({ ...call, connectionId: 200 + k, client: { ip: '10.0.0.2', port: 41000 + k }, startUs: T0 + at + 100, requestEndUs: T0 + at + 110, responseStartUs: T0 + at + 800, endUs: T0 + at + 900, requestHeaders: [['x-request-id', `gw-${k}`]] }),
      ];
    });
    const { spans } = correlateAll(exchanges.flat());
    const byConnection = new Map(spans.map((s) => [s.connectionId, s]));
    for (let k = 0; k < 12; k++) {
      const [front, hop] = [byConnection.get(100 + k)!, byConnection.get(200 + k)!];
      assert.deepEqual([hop.parentSpanId, hop.link, hop.requestId, hop.traceId], [front.spanId, 'timing', `gw-${k}`, front.traceId], `hop ${k}`);
    }
    // A gateway seen passing a client's id on is not replacing them: the other calls stay roots.
    const passing = exchanges.flat().map((x) => (x.connectionId === 205 ? { ...x, requestHeaders: [['x-request-id', 'client-5']] as HeaderField[] } : x));
    const linked = correlateAll(passing).spans.filter((s) => s.server.port === 8080 && s.parentSpanId !== null);
    assert.deepEqual(linked.map((s) => [s.connectionId, s.link]), [[205, 'request-id']]);
  });

  it('never to a request that carried another id', () => {
    const { spans } = correlateAll([into({ requestHeaders: [['x-request-id', 'client-id-7']] }), call]);
    const hop = spans.find((s) => s.server.port === 8080)!;
    assert.deepEqual([hop.parentSpanId, hop.link], [null, null]);
  });
});

describe('a server streaming its answer', () => {
  const grpc = (streamId: number, from: number, to: number, method: string, messages: number, firstMessageAt: number): Exchange =>
    exchangeOf({
      protocol: 'grpc',
      connectionId: 1,
      client: { ip: '10.0.0.2', port: 40000 },
      server: { ip: '10.0.0.3', port: 50051 },
      index: streamId,
      streamId,
      requestSeq: null,
      startUs: T0 + from,
      requestEndUs: T0 + from + 10,
      responseStartUs: T0 + firstMessageAt,
      endUs: T0 + to,
      request: { service: 'shop.Inventory', method, path: `/shop.Inventory/${method}`, authority: null, streamId, messages: 1, messageBytes: 4, compressedMessages: 0, timeoutMs: null, callKind: messages > 1 ? 'server-streaming' : 'unary' },
      response: { httpStatus: 200, grpcStatus: 0, grpcMessage: null, messages, messageBytes: 9 * messages, compressedMessages: 0, trailersOnly: false, reset: null },
    });
  const query = (n: number, from: number): Exchange =>
    exchangeOf({
      protocol: 'mysql',
      connectionId: 10 + n,
      client: { ip: '10.0.0.3', port: 43000 + n },
      server: { ip: '10.0.0.6', port: 3306 },
      requestSeq: n,
      startUs: T0 + from,
      requestEndUs: T0 + from + 5,
      responseStartUs: T0 + from + 50,
      endUs: T0 + from + 60,
      request: { command: 'QUERY', sql: 'SELECT qty FROM stock', normalizedSql: 'SELECT qty FROM stock', statementId: null, database: 'shop' },
      response: { ok: true, errorCode: null, sqlState: null, errorMessage: null, rows: 1, columns: 1, affectedRows: null, lastInsertId: null, warnings: 0 },
    });

  it('is still serving after its first message: a call then may be its own, not only a unary call\'s', () => {
    // Watch streams from 100 µs on; a unary Get runs 400-700 µs; the query (500 µs) falls in both. As
    // for any two requests serving at once, the one that arrived first is taken (docs/ids.md).
    const { spans } = correlateAll([grpc(1, 0, 1000, 'Watch', 3, 100), grpc(3, 400, 700, 'Get', 1, 690), query(1, 500)]);
    const watch = spans.find((s) => s.streamId === 1)!;
    const call = spans.find((s) => s.protocol === 'mysql')!;
    assert.deepEqual([call.parentSpanId, call.link], [watch.spanId, 'timing']);
  });

  it('a unary answer begun is not serving: a call after it belongs to the other request', () => {
    const { spans } = correlateAll([grpc(1, 0, 1000, 'Get', 1, 100), grpc(3, 400, 700, 'Get', 1, 690), query(1, 500)]);
    const later = spans.find((s) => s.streamId === 3)!;
    assert.equal(spans.find((s) => s.protocol === 'mysql')!.parentSpanId, later.spanId);
  });
});

describe('a proxy passing answers through', () => {
  // A gRPC proxy forwards the upstream's response headers as they come, before the upstream call ends.
  const grpc = (n: number, client: Endpoint, server: Endpoint, from: number, answered: number, to: number): Exchange =>
    exchangeOf({
      protocol: 'grpc',
      connectionId: n,
      client,
      server,
      index: n,
      streamId: 1,
      requestSeq: null,
      startUs: T0 + from,
      requestEndUs: T0 + from + 20,
      responseStartUs: T0 + answered,
      endUs: T0 + to,
      request: { service: 'shop.Inventory', method: 'Get', path: '/shop.Inventory/Get', authority: null, streamId: 1, messages: 1, messageBytes: 4, compressedMessages: 0, timeoutMs: null, callKind: 'unary' },
      response: { httpStatus: 200, grpcStatus: 0, grpcMessage: null, messages: 1, messageBytes: 9, compressedMessages: 0, trailersOnly: false, reset: null },
    });
  const proxy = { ip: '10.0.0.5', port: 8089 };
  const upstream = { ip: '10.0.0.6', port: 50051 };

  it('the upstream call that ends after the proxy began answering is still the call made for that request', () => {
    const first = grpc(1, { ip: '10.0.0.2', port: 40001 }, proxy, 0, 5_000, 10_000);
    const second = grpc(2, { ip: '10.0.0.2', port: 40002 }, proxy, 50, 19_000, 20_000);
    const forFirst = grpc(3, { ip: proxy.ip, port: 41000 }, upstream, 100, 4_900, 9_900);
    const forSecond = grpc(4, { ip: proxy.ip, port: 41001 }, upstream, 150, 18_900, 19_500);
    const { spans } = correlateAll([first, second, forFirst, forSecond]);
    const spanOf = (n: number): SpanRecord => spans.find((s) => s.connectionId === n)!;
    assert.deepEqual([spanOf(3).parentSpanId, spanOf(4).parentSpanId], [spanOf(1).spanId, spanOf(2).spanId]);
  });
});

describe('a server on the host\'s own address calling over loopback', () => {
  // nginx answering on 10.0.0.5:80 passes each request to an API on 127.0.0.1:7001.
  const proxied = (i: number, frontIp: string): Exchange[] => {
    const s = T0 + i * 3_000 + (i % 3) * 400;
    const d = 2_000 + (i % 5) * 300;
    return [
      exchangeOf({ connectionId: 1 + i, client: { ip: '10.0.0.1', port: 40000 + i }, server: { ip: frontIp, port: 80 }, startUs: s, requestEndUs: s + 10, responseStartUs: s + d - 10, endUs: s + d, request: { method: 'GET', path: `/p/${i}`, host: null, version: '1.1', bodyBytes: 0 } }),
      exchangeOf({ connectionId: 100 + (i % 4), client: { ip: HOST, port: 41000 + (i % 4) }, server: { ip: HOST, port: API }, index: i, requestSeq: i, startUs: s + 100, requestEndUs: s + 110, responseStartUs: s + d - 110, endUs: s + d - 100, request: { method: 'GET', path: `/p/${i}`, host: null, version: '1.1', bodyBytes: 0 } }),
    ];
  };
  // Something the host only sees pass (long requests between two other machines), and a probe on
  // the host calling the API now and then, inside those requests.
  const elsewhere = Array.from({ length: 12 }, (_, i) =>
    exchangeOf({ connectionId: 500 + i, client: { ip: '10.0.0.8', port: 42000 + i }, server: { ip: '10.0.0.9', port: 80 }, startUs: T0 + i * 10_000, requestEndUs: T0 + i * 10_000 + 10, responseStartUs: T0 + i * 10_000 + 19_990, endUs: T0 + i * 10_000 + 20_000, request: { method: 'GET', path: '/long', host: null, version: '1.1', bodyBytes: 0 } }),
  );
  const probes = Array.from({ length: 30 }, (_, i) =>
    exchangeOf({ connectionId: 600, client: { ip: HOST, port: 43000 }, server: { ip: HOST, port: API }, index: i, requestSeq: 10_000 + i, startUs: T0 + 5_000 + i * 3_700, requestEndUs: T0 + 5_010 + i * 3_700, responseStartUs: T0 + 5_290 + i * 3_700, endUs: T0 + 5_300 + i * 3_700, request: { method: 'GET', path: '/healthz', host: null, version: '1.1', bodyBytes: 0 } }),
  );

  it('is found to be the same host: every upstream call under the request it passes on', () => {
    const { spans, counters } = correlateAll(Array.from({ length: 30 }, (_, i) => proxied(i, '10.0.0.5')).flat());
    const bySpan = new Map(spans.map((s) => [s.spanId, s]));
    const calls = spans.filter((s) => s.server.port === API);
    for (const c of calls) assert.equal((bySpan.get(c.parentSpanId ?? '')?.request as { path?: string } | undefined)?.path, (c.request as { path: string }).path);
    assert.equal(counters.get('correlate.hosts-joined'), 1);
    assert.equal(calls[0]!.peerService, '10.0.0.5:80');
  });

  it('one upstream call carrying the request id of the request it passes on is enough', () => {
    const [front, call] = proxied(0, '10.0.0.5');
    const withId = (x: Exchange): Exchange => ({ ...x, requestHeaders: [['x-request-id', 'front-req-0001']] });
    const { spans, counters } = correlateAll([withId(front!), withId(call!)]);
    const [f, c] = [spans.find((s) => s.server.port === 80)!, spans.find((s) => s.server.port === API)!];
    assert.deepEqual([c.parentSpanId, c.link, counters.get('correlate.hosts-joined')], [f.spanId, 'request-id', 1]);
  });

  it('a loopback client calling a server on another address (an Istio sidecar) is not its own parent', () => {
    const sidecar = exchangeOf({ client: { ip: '127.0.0.6', port: 36493 }, server: { ip: '10.233.64.230', port: 9080 }, requestHeaders: [['x-request-id', 'istio-0001']] });
    const { spans, counters } = correlateAll([sidecar]);
    assert.deepEqual([spans[0]!.parentSpanId, spans[0]!.peerService, counters.get('correlate.hosts-joined')], [null, '127.0.0.6', 0]);
  });

  it('an application on the host\'s address making short calls to a local database as it starts and ends its requests', () => {
    // Each request into 10.0.0.5:8080 queries 127.0.0.1:3306 right after it arrives and right before
    // it answers (one request at a time: which query is whose is not the question here).
    const requests = Array.from({ length: 30 }, (_, i) => {
      const s = T0 + i * 5_000 + (i % 3) * 300;
      const d = 3_000 + (i % 4) * 300;
      const query = (n: number, at: number): Exchange =>
        exchangeOf({
          protocol: 'mysql',
          connectionId: 100 + ((i + n) % 3),
          client: { ip: HOST, port: 43000 + ((i + n) % 3) },
          server: { ip: HOST, port: DB },
          index: 2 * i + n,
          requestSeq: 2 * i + n,
          startUs: at,
          requestEndUs: at + 5,
          responseStartUs: at + 200,
          endUs: at + 250,
          request: { command: 'QUERY', sql: 'SELECT stock FROM items', normalizedSql: 'SELECT stock FROM items', statementId: null, database: 'shop' },
          response: { ok: true, errorCode: null, sqlState: null, errorMessage: null, rows: 1, columns: 1, affectedRows: null, lastInsertId: null, warnings: 0 },
        });
      return [
        exchangeOf({ connectionId: 1 + i, client: { ip: '10.0.0.1', port: 40000 + i }, server: { ip: '10.0.0.5', port: 8080 }, startUs: s, requestEndUs: s + 10, responseStartUs: s + d - 10, endUs: s + d, request: { method: 'GET', path: `/r/${i}`, host: null, version: '1.1', bodyBytes: 0 } }),
        query(0, s + 300),
        query(1, s + d - 600),
      ];
    });
    const { spans, counters } = correlateAll(requests.flat());
    const bySpan = new Map(spans.map((s) => [s.spanId, s]));
    const queries = spans.filter((s) => s.protocol === 'mysql');
    const under = queries.map((q) => (bySpan.get(q.parentSpanId ?? '')?.request as { path?: string } | undefined)?.path);
    assert.deepEqual(under, queries.map((q) => `/r/${Math.floor(q.index / 2)}`));
    assert.equal(counters.get('correlate.hosts-joined'), 1);
  });

  it('a host whose long requests merely contain loopback calls is not taken for this one', () => {
    const { spans, counters } = correlateAll([...elsewhere, ...probes]);
    assert.equal(counters.get('correlate.hosts-joined'), 0);
    assert.deepEqual(spans.filter((s) => s.parentSpanId !== null).length, 0);
  });
});

describe('a burst of requests inside a slow one (a cold start)', () => {
  // Thirteen requests into the gateway, each on its own connection, all inside the API's one slow hop
  // (the first request's, waiting on a connection being set up), and thirteen hops into the API,
  // each inside its own gateway request: both endpoints contain the other's calls as often and as
  // tightly. Only the hops sit one per window of their caller.
  const ms = (t: number): number => T0 + Math.round(t * 1000);
  const http = (connectionId: number, port: number, from: number, to: number): Exchange =>
    exchangeOf({ connectionId, client: { ip: HOST, port: 40000 + connectionId }, server: { ip: HOST, port }, startUs: ms(from), requestEndUs: ms(from) + 10, responseStartUs: ms(to) - 10, endUs: ms(to) });
  const window = (x: Exchange): CallerWindow => ({ x, end: x.endUs! });
  const slowHop = http(200, API, 0.1, 99.9);
  const fronts = Array.from({ length: 13 }, (_, k) => http(101 + k, GATEWAY, k + 1, 81 + k));
  const hops = fronts.map((_, k) => http(201 + k, API, k + 1.1, 80.9 + k));

  it('the gateway makes the hops; nothing seen makes the requests into the gateway', () => {
    const evidence = new CallerEvidence(() => 2);
    hops.forEach((hop, k) => evidence.observeTiming(hop, [window(fronts[k]!)]));
    for (const front of fronts) evidence.observeTiming(front, [window(slowHop)]);
    const servers = (v: CallerVerdict): string => (v === null || v === 'none' ? String(v) : v.servers.map((e) => e.port).join());
    assert.deepEqual([servers(evidence.verdict(hops[0]!)), servers(evidence.verdict(fronts[0]!))], [String(GATEWAY), 'none']);
  });
});
