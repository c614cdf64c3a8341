// The shop corpus: real nginx → Node → gRPC → MariaDB traffic with truth written by the services.
// Every exchange of the truth must be found with the same identity and outcome, nothing extra, and
// every parent link of the truth reproduced.
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import type { GrpcResponseInfo, HttpResponseInfo, MysqlResponseInfo } from '../src/protocols/types.js';
import { analyzeFiles, type FileAnalysis, type Truth } from './lib/analyze-file.js';
import { loadTruth, pairWithTruth, truthNames, type Pairing } from './lib/truth-match.js';

const CORPUS = '../shared/corpus';

for (const name of ['shop-basic', 'shop-concurrent']) {
  describe(`corpus ${name}`, () => {
    let truth: Truth;
    let run: FileAnalysis;
    const pairing: Record<string, Pairing> = {};

    before(async () => {
      truth = loadTruth(`${CORPUS}/${name}.truth.json`);
      run = await analyzeFiles([`${CORPUS}/${name}.pcap`], { names: truthNames(truth) });
      for (const p of ['http', 'grpc', 'mysql']) pairing[p] = pairWithTruth(truth, run.spans, p);
    });

    it('finds every HTTP exchange with its status and request id, and nothing extra', () => {
      const { pairs, missing, extra } = pairing.http!;
      assert.deepEqual(missing.map((x) => x.id), [], 'HTTP exchanges of the truth not found');
      assert.deepEqual(extra.map(describeSpan), [], 'HTTP exchanges not in the truth');
      for (const x of truth.exchanges.filter((t) => t.protocol === 'http')) {
        const s = pairs.get(x.id)!;
        assert.equal((s.response as HttpResponseInfo | null)?.status, x.status, `${x.id} status`);
        assert.equal(s.requestId, x.request_id, `${x.id} request id`);
        assert.equal(s.peerService, x.client_service, `${x.id} caller`);
        assert.equal(s.service, x.server_service, `${x.id} callee`);
      }
    });

    it('finds every gRPC exchange with its status, message counts and request id', () => {
      const { pairs, missing, extra } = pairing.grpc!;
      assert.deepEqual(missing.map((x) => x.id), []);
      assert.deepEqual(extra.map(describeSpan), []);
      for (const x of truth.exchanges.filter((t) => t.protocol === 'grpc')) {
        const s = pairs.get(x.id)!;
        const r = s.response as GrpcResponseInfo;
        assert.equal(r.grpcStatus, x.status, `${x.id} grpc status`);
        assert.equal((s.request as { messages: number }).messages, x.request_messages, `${x.id} request messages`);
        assert.equal(r.messages, x.response_messages, `${x.id} response messages`);
        assert.equal(s.requestId, x.request_id, `${x.id} request id`);
      }
    });

    it('finds every MySQL exchange with its SQL, status and rows', () => {
      const { pairs, missing, extra } = pairing.mysql!;
      assert.deepEqual(missing.map((x) => x.id), []);
      // The services log the statements they run, not their pool's connection management: the
      // logins and quits on the wire are real exchanges the truth does not list. Nothing else is extra.
      assert.deepEqual(extra.filter((s) => !isConnectionManagement(s)).map(describeSpan), []);
      const connections = new Set(run.spans.filter((s) => s.protocol === 'mysql').map((s) => s.connectionId));
      assert.ok(extra.filter((s) => (s.request as { command: string }).command === 'LOGIN').length <= connections.size);
      for (const x of truth.exchanges.filter((t) => t.protocol === 'mysql')) {
        const s = pairs.get(x.id)!;
        const r = s.response as MysqlResponseInfo | null;
        if (x.status === null) assert.equal(r, null, `${x.id} has no response`);
        else if (x.status === 'ok') assert.equal(r?.ok, true, `${x.id} ok`);
        else assert.equal(r?.errorCode, x.status, `${x.id} error code`);
        if (typeof x.rows === 'number') assert.equal(r?.rows, x.rows, `${x.id} rows`);
      }
    });

    it('reproduces every HTTP and gRPC parent link of the truth', () => {
      const spanOf = (id: string): SpanRecord | undefined =>
        pairing.http!.pairs.get(id) ?? pairing.grpc!.pairs.get(id) ?? pairing.mysql!.pairs.get(id);
      const wrong: string[] = [];
      for (const x of truth.exchanges) {
        if (x.protocol === 'mysql') continue;
        const s = spanOf(x.id)!;
        const expected = x.parent ? spanOf(x.parent)!.spanId : null;
        if (x.parent === null ? s.link !== null : s.parentSpanId !== expected) wrong.push(`${x.id} (${x.protocol})`);
      }
      assert.deepEqual(wrong, []);
    });

    it('links MySQL calls: by request id when commented, by timing otherwise; ≥99% right', () => {
      const spanOf = (id: string): SpanRecord | undefined =>
        pairing.http!.pairs.get(id) ?? pairing.grpc!.pairs.get(id) ?? pairing.mysql!.pairs.get(id);
      const mysql = truth.exchanges.filter((t) => t.protocol === 'mysql' && t.parent);
      let right = 0;
      const commentedWrong: string[] = [];
      for (const x of mysql) {
        const s = spanOf(x.id)!;
        const ok = s.parentSpanId === spanOf(x.parent!)!.spanId;
        if (ok) right++;
        if ((x as { sql_comment?: string | null }).sql_comment && (!ok || s.link === 'timing')) commentedWrong.push(x.id);
      }
      assert.deepEqual(commentedWrong, [], 'commented SQL must link by its ids');
      assert.ok(right / mysql.length >= 0.99, `${right}/${mysql.length} MySQL parent links right`);
    });

    it('rebuilds the truth trace trees (≥99%)', () => {
      const spanOf = (id: string): SpanRecord | undefined =>
        pairing.http!.pairs.get(id) ?? pairing.grpc!.pairs.get(id) ?? pairing.mysql!.pairs.get(id);
      const children = new Map<string, string[]>();
      for (const x of truth.exchanges) if (x.parent) children.set(x.parent, [...(children.get(x.parent) ?? []), x.id]);
      const ours = new Map<string, Set<string>>();
      for (const s of run.spans) if (s.parentSpanId) ours.set(s.parentSpanId, (ours.get(s.parentSpanId) ?? new Set()).add(s.spanId));
      const same = (id: string): boolean => {
        const kids = children.get(id) ?? [];
        const mine = ours.get(spanOf(id)!.spanId) ?? new Set();
        return kids.length === mine.size && kids.every((k) => mine.has(spanOf(k)!.spanId) && same(k));
      };
      const roots = truth.exchanges.filter((x) => x.parent === null && (children.get(x.id)?.length ?? 0) > 0);
      const good = roots.filter((r) => same(r.id)).length;
      assert.ok(good / roots.length >= 0.99, `${good}/${roots.length} multi-hop trace trees identical`);
    });

    it('service-map edges and call counts equal the truth', () => {
      const managed = (e: { source: string; target: string }): number =>
        run.spans.filter((s) => s.peerService === e.source && s.service === e.target && isConnectionManagement(s)).length;
      const ours = run.result.serviceMap.edges.map((e) => `${e.source} -> ${e.target} ${e.protocol} ${e.calls - managed(e)}`).sort();
      const expected = truth.service_map.map((e) => `${e.from} -> ${e.to} ${e.protocol} ${e.calls}`).sort();
      assert.deepEqual(ours, expected);
    });
  });
}

function isConnectionManagement(s: SpanRecord): boolean {
  return s.protocol === 'mysql' && ['LOGIN', 'QUIT'].includes((s.request as { command: string }).command);
}

function describeSpan(s: SpanRecord): string {
  return `${s.protocol} ${s.client.ip}:${s.client.port} > ${s.server.ip}:${s.server.port} ${JSON.stringify(s.request).slice(0, 120)}`;
}
