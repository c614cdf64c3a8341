// A real capture of HAProxy in front of the single-host shop (fixtures/single-host/run.sh ... haproxy):
// 32 clients at once, HAProxy sharing its connections to the API between them (`http-reuse always`)
// and making up the X-Request-ID it sends upstream (`unique-id-header`), never echoing it back. Its id
// format carries the client's port, so each id says which client connection the hop was made for.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { traceIdFromRequestId } from '../src/correlate/ids.js';
import type { SpanRecord } from '../src/correlate/types.js';
import type { HttpRequestInfo } from '../src/protocols/types.js';
import { analyzeFiles } from './lib/analyze-file.js';

const [GATEWAY, API, INVENTORY] = [8088, 7001, 7002];

describe('HAProxy sharing upstream connections between clients: haproxy-reuse.pcap', () => {
  const logged: { svc: string; kind: string; method?: string; path?: string; rid: string }[] = readFileSync('fixtures/haproxy-reuse.services.jsonl', 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
  let spans: SpanRecord[] = [];
  const bySpanId = new Map<string, SpanRecord>();
  const parentOf = (s: SpanRecord): SpanRecord | undefined => (s.parentSpanId ? bySpanId.get(s.parentSpanId) : undefined);
  const into = (port: number): SpanRecord[] => spans.filter((s) => s.server.port === port);
  const http = (s: SpanRecord): HttpRequestInfo => s.request as HttpRequestInfo;
  /** `%{+X}o %ci:%cp_...`: the client's port, in hex, after the first colon. */
  const clientPortOf = (rid: string): number => parseInt(/^[0-9A-F]+:([0-9A-F]+)_/.exec(rid)![1]!, 16);

  before(async () => {
    spans = (await analyzeFiles(['fixtures/haproxy-reuse.pcap'])).spans;
    for (const s of spans) bySpanId.set(s.spanId, s);
  });

  it('the capture is what it claims: each API connection carried requests of several clients', () => {
    const requests = logged.filter((l) => l.svc === 'api');
    assert.equal(into(API).length, requests.length);
    assert.equal(into(GATEWAY).length, requests.length);
    const clientsPerConnection = new Map<number, Set<number>>();
    for (const hop of into(API)) {
      let clients = clientsPerConnection.get(hop.connectionId);
      if (!clients) clientsPerConnection.set(hop.connectionId, (clients = new Set()));
      clients.add(clientPortOf(hop.requestId!));
    }
    assert.ok([...clientsPerConnection.values()].some((clients) => clients.size >= 2), 'some upstream connection served two clients');
  });

  it('every hop is under the request of the client its id names, linked by timing', () => {
    for (const l of logged.filter((entry) => entry.svc === 'api')) {
      const hop = into(API).find((s) => s.requestId === l.rid)!;
      const front = parentOf(hop);
      assert.deepEqual(
        [front?.server.port, front?.client.port, front && http(front).method, front && http(front).path, hop.link],
        [GATEWAY, clientPortOf(l.rid), l.method, l.path, 'timing'],
        l.rid,
      );
    }
  });

  it('the clients are nobody\'s callees: every request into HAProxy is a root', () => {
    assert.deepEqual(into(GATEWAY).filter((s) => s.parentSpanId !== null).map((s) => `${http(s).method} ${http(s).path}`), []);
  });

  it('a client\'s request, its hop and everything below are one trace, the one HAProxy\'s id gives', () => {
    const traceOfFront = new Map(into(API).map((hop) => [parentOf(hop)!.spanId, traceIdFromRequestId(hop.requestId!)]));
    const root = (s: SpanRecord): SpanRecord => (parentOf(s) ? root(parentOf(s)!) : s);
    const wrong = spans.filter((s) => traceOfFront.has(root(s).spanId) && s.traceId !== traceOfFront.get(root(s).spanId));
    assert.deepEqual(wrong.map((s) => `${s.server.port} ${s.index}`), []);
    assert.ok(into(INVENTORY).length > 100 && into(INVENTORY).every((call) => traceOfFront.has(root(call).spanId)), 'every gRPC call is in a client\'s trace');
  });
});
