// Real captures of one host: nginx → Node.js API → @grpc/grpc-js inventory → MariaDB (through mysql2
// and mariadb), talking over 127.0.0.1 (fixtures/single-host/run.sh). In single-host.pcap the load
// generator is on 127.0.0.1 too (tcpdump -i lo); in host-address.pcap nginx answers on the host's
// address 10.61.0.1 and the load comes from 10.61.0.2 (tcpdump -i any); in client-ids.pcap the load
// generator sends X-Request-IDs of its own, which nginx replaces with its $request_id upstream. The
// truth is what the API and the inventory logged per request.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { GrpcRequestInfo, HttpRequestInfo, MysqlRequestInfo } from '../src/protocols/types.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { analyzeFiles } from './lib/analyze-file.js';

const [GATEWAY, API, INVENTORY, DB] = [8088, 7001, 7002, 3306];
const CAPTURES = [
  { name: 'single-host', client: '127.0.0.1', gateway: '127.0.0.1', clientIds: false },
  { name: 'host-address', client: '10.61.0.2', gateway: '10.61.0.1', clientIds: false },
  // The load generator sends request ids of its own; nginx replaces them with its own upstream.
  { name: 'client-ids', client: '127.0.0.1', gateway: '127.0.0.1', clientIds: true },
];

interface Logged {
  svc: 'api' | 'inventory';
  kind: 'http' | 'grpc' | 'sql';
  method?: string;
  path?: string;
  rid: string;
  sql?: string;
}
for (const { name, client, gateway, clientIds } of CAPTURES) describe(`one host: ${name}.pcap`, () => {
  const logged: Logged[] = readFileSync(`fixtures/${name}.services.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  let spans: SpanRecord[] = [];
  const byId = new Map<string, SpanRecord>();
  const parentOf = (s: SpanRecord): SpanRecord | undefined => (s.parentSpanId ? byId.get(s.parentSpanId) : undefined);
  const into = (port: number): SpanRecord[] => spans.filter((s) => s.server.port === port);
  const http = (s: SpanRecord): HttpRequestInfo => s.request as HttpRequestInfo;

  before(async () => {
    const analysis = await analyzeFiles([`fixtures/${name}.pcap`]);
    spans = analysis.spans;
    for (const s of spans) byId.set(s.spanId, s);
  });

  it('every request the API logged came through the gateway, linked by timing to the request it forwarded (on another address of the host too)', () => {
    const requests = logged.filter((l) => l.svc === 'api');
    assert.equal(into(API).length, requests.length);
    for (const l of requests) {
      const [hop] = into(API).filter((s) => s.requestId === l.rid);
      assert.ok(hop, `no exchange into the API with ${l.rid}`);
      assert.deepEqual([http(hop).method, http(hop).path], [l.method, l.path]);
      const front = parentOf(hop);
      assert.equal(front?.server.port, GATEWAY, `${l.method} ${l.path}: parent ${front?.server.port}`);
      assert.deepEqual([http(front!).method, http(front!).path, hop.link], [l.method, l.path, 'timing']);
      assert.equal(front!.requestId === null, !clientIds, `${l.rid}: the client's own id, or none`);
      assert.equal(hop.traceId, front!.traceId, 'the hop is in the trace of the request it was made for');
    }
  });

  it('the load generator on the host is nobody\'s callee: every request into the gateway is a root', () => {
    assert.equal(into(GATEWAY).length, logged.filter((l) => l.svc === 'api').length);
    assert.deepEqual(into(GATEWAY).filter((s) => s.parentSpanId !== null).map((s) => `${http(s).method} ${http(s).path} under ${parentOf(s)?.server.port}`), []);
  });

  it('every gRPC call the inventory logged is under the API request with its request id', () => {
    const calls = logged.filter((l) => l.kind === 'grpc');
    assert.equal(into(INVENTORY).length, calls.length);
    for (const l of calls) {
      const call = into(INVENTORY).find((s) => s.requestId === l.rid)!;
      assert.equal((call.request as GrpcRequestInfo).path, `/xshop.Inventory/${l.method}`);
      assert.deepEqual([parentOf(call)?.server.port, parentOf(call)?.requestId, call.link], [API, l.rid, 'request-id']);
    }
  });

  it('every statement is under an inventory call of the kind that makes it', () => {
    const makers: Record<string, string[]> = {
      STMT_PREPARE: ['Get'],
      STMT_EXECUTE: ['Get'],
      QUERY: ['Reserve', 'Watch'],
      PING: ['Reserve'], // the mariadb connector pings a pooled connection as it hands it out
    };
    const statements = into(DB).filter((s) => !['LOGIN', 'QUIT'].includes((s.request as MysqlRequestInfo).command));
    assert.ok(statements.length > 200);
    for (const s of statements) {
      const { command, sql } = s.request as MysqlRequestInfo;
      const parent = parentOf(s);
      assert.equal(parent?.server.port, INVENTORY, `${command} ${sql}: parent ${parent?.server.port}`);
      const method = (parent!.request as GrpcRequestInfo).method;
      const expected = sql?.includes('rid=') ? ['Watch'] : sql && /^(START|UPDATE|INSERT|COMMIT|ROLLBACK)/.test(sql) ? ['Reserve'] : makers[command]!;
      assert.ok(expected.includes(method), `${command} ${sql} under ${method}`);
    }
  });

  it('a stream querying once per message: each query under the very stream that made it, by the id in its comment', () => {
    // The inventory's Watch puts its request id in a comment of each of its three queries, under a
    // key no request id name is configured for (`rid=`): believed because it is the stream's own.
    const queries = into(DB).filter((s) => /rid=([0-9a-f]+)/.test((s.request as MysqlRequestInfo).sql ?? ''));
    assert.equal(queries.length, 3 * logged.filter((l) => l.kind === 'grpc' && l.method === 'Watch').length);
    for (const q of queries) {
      const rid = /rid=([0-9a-f]+)/.exec((q.request as MysqlRequestInfo).sql!)![1];
      assert.deepEqual([parentOf(q)?.requestId, q.link, q.notes], [rid, 'request-id', ['request id found in sql-comment:rid']], `query ${(q.request as MysqlRequestInfo).sql}`);
    }
  });

  it('the same queries with their ids blanked out: each under its stream by timing, several to a stream', async () => {
    // `/* rid=` becomes `/*     ` in the captured bytes (same length, so TCP is untouched).
    const bytes = readFileSync(`fixtures/${name}.pcap`);
    const blanked = Buffer.from(bytes.toString('latin1').replaceAll('/* rid=', '/*     '), 'latin1');
    const file = join(mkdtempSync(join(tmpdir(), 'wirespan-single-host-')), `${name}.pcap`);
    writeFileSync(file, blanked);
    const analysis = await analyzeFiles([file]);
    rmSync(dirname(file), { recursive: true, force: true });
    const bySpan = new Map(analysis.spans.map((s) => [s.spanId, s]));
    const queries = analysis.spans.filter((s) => /^\/\* +[0-9a-f]{32} \*\//.test((s.request as MysqlRequestInfo).sql ?? ''));
    assert.equal(queries.length, 3 * logged.filter((l) => l.kind === 'grpc' && l.method === 'Watch').length);
    for (const q of queries) {
      const rid = /([0-9a-f]{32})/.exec((q.request as MysqlRequestInfo).sql!)![1];
      const parent = q.parentSpanId ? bySpan.get(q.parentSpanId) : undefined;
      assert.deepEqual([parent?.requestId, q.link], [rid, 'timing'], `query ${(q.request as MysqlRequestInfo).sql}`);
    }
    assert.ok(analysis.result.counters.get('correlate.timing-calls-per-parent') > 0, 'the second and third queries of a stream are counted as taken beyond one call');
  });

  it('the service map reads gateway → API → inventory → database', () => {
    const edges = new Set(spans.filter((s) => (s.request as MysqlRequestInfo).command !== 'LOGIN').map((s) => `${s.peerService} -> ${s.service}`));
    const expected = [`${client} -> ${gateway}:8088`, `${gateway}:8088 -> shop.internal`, 'shop.internal -> 127.0.0.1:7002', '127.0.0.1:7002 -> mysql@127.0.0.1:3306'];
    assert.deepEqual([...edges].sort(), expected.sort());
  });
});
