/**
 * wirespan against other projects' verdicts on HTTP/1.x captures (../shared/conformance: Zeek http.log
 * baselines, DeepFlow .result files, tshark as a cross-check). Every deliberate difference is asserted
 * as wirespan's own behaviour and explained here and in docs/conformance.md.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { TraceContextExtractor } from '../src/correlate/context.js';
import { parseSw8, traceIdFromSw8 } from '../src/correlate/sw8.js';
import type { HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import {
  type ConformanceRun,
  type HttpView,
  type TsharkHttp,
  capturePath,
  headerValue,
  httpView,
  listConformance,
  peerHttpView,
  pickLike,
  runConformance,
  tcpPayloads,
} from './lib/conformance.js';

/** A field where wirespan deliberately reports something other than the reference. */
interface Difference {
  exchange: number;
  field: keyof HttpView;
  reference: unknown;
  ours: unknown;
  why: string;
}

interface HttpCase {
  /** The peer's `http` array, or tshark's listing when the peer gives no verdict (`http: null`). */
  reference: 'peer' | 'tshark';
  /** Reference exchanges (by position) that wirespan does not report, and why. */
  missing?: { exchanges: number[]; why: string };
  differences?: Difference[];
  /**
   * Request/response counts compared with tshark's relaxed pass (no header reassembly) instead of its
   * reassembled one, which reports `reassembled` here; why.
   */
  countsAsRelaxed?: { reassembled: [number, number]; why: string };
}

/** tshark with reassembly waits for the end of a head; a head cut by the capture never ends. */
const CUT_HEAD_COUNTS =
  'a head cut short by the capture: tshark with reassembly waits for its end and reports nothing; wirespan ' +
  'reports the start line it has (with a note), as tshark\'s relaxed pass and DeepFlow do.';

const CASES: Record<string, HttpCase> = {
  // The only client packet ends inside the request head (the server ACKs 308 more bytes that are not in
  // the capture): the request line and the fields before the cut, paired with the 200 that follows.
  'deepflow-http-client-ip': { reference: 'peer', countsAsRelaxed: { reassembled: [0, 0], why: CUT_HEAD_COUNTS } },
  'deepflow-http-httpv1': { reference: 'peer' },
  // Only the first 17 bytes of the response ("HTTP/1.0 200 OK\r\n") are in the capture: the status, noted.
  'deepflow-http-istio-tcp-frag': { reference: 'peer', countsAsRelaxed: { reassembled: [1, 0], why: CUT_HEAD_COUNTS } },
  'deepflow-http-sw8': { reference: 'peer' },
  'zeek-http-100-continue': { reference: 'peer' },
  'zeek-http-get': { reference: 'peer' },
  'zeek-http-large-gap': { reference: 'tshark' },
  'zeek-http-pipelined-requests': { reference: 'peer' },
  'zeek-http-proxy': { reference: 'tshark' },
  'zeek-http-vlan-0': { reference: 'tshark' },
  'zeek-http-websocket': { reference: 'peer' },
};

const ENTRIES = listConformance('http');

function tsharkView(t: TsharkHttp): Partial<HttpView> {
  return peerHttpView({ client: t.client, server: t.server, method: t.method, host: t.host, uri: t.uri, status: t.status });
}

describe('HTTP/1.x conformance with Zeek, DeepFlow and tshark', () => {
  const runs = new Map<string, ConformanceRun>();
  const runOf = (id: string): ConformanceRun => runs.get(id) ?? assert.fail(`no run for ${id}`);
  before(async () => {
    for (const entry of ENTRIES) runs.set(entry.id, await runConformance(entry));
  });

  test('every HTTP capture of the corpus is covered, with the peer as reference whenever it gives a verdict', () => {
    assert.deepEqual(Object.keys(CASES).sort(), ENTRIES.map((e) => e.id));
    for (const entry of ENTRIES) {
      assert.equal(CASES[entry.id]!.reference, entry.http !== null ? 'peer' : 'tshark', entry.id);
      if (entry.http !== null) assert.equal(entry.counts.http, entry.http.length, entry.id);
    }
  });

  for (const entry of ENTRIES) {
    const spec = CASES[entry.id];
    test(`${entry.id}: client, server, method, host, uri and final status per exchange, in capture order`, () => {
      assert.ok(spec, `no case for ${entry.id}`);
      const run = runOf(entry.id);
      assert.deepEqual([...new Set(run.spans.map((s) => s.protocol))], run.spans.length > 0 ? ['http'] : []);
      const reference = spec.reference === 'peer' ? entry.http!.map(peerHttpView) : entry.tshark.http!.map(tsharkView);
      for (const d of spec.differences ?? []) {
        assert.equal(reference[d.exchange]![d.field], d.reference, `${entry.id}: the reference changed (${d.why})`);
        (reference[d.exchange] as Record<string, unknown>)[d.field] = d.ours;
      }
      const expected = reference.filter((_, i) => !spec.missing?.exchanges.includes(i));
      const ours = run.spans.map(httpView);
      assert.equal(ours.length, expected.length, spec.missing?.why ?? entry.id);
      assert.deepEqual(ours.map((v, i) => pickLike(v, expected[i]!)), expected);
    });
  }

  test('request and response counts equal tshark\'s with TCP reassembly (its relaxed pass where the capture cuts a head; 1xx counted as responses)', () => {
    const rows = ENTRIES.map((entry) => {
      const spans = runOf(entry.id).spans;
      const responses = spans.reduce((n, s) => {
        const res = s.response as HttpResponseInfo | null;
        return n + (res ? 1 + (res.interim?.length ?? 0) : 0);
      }, 0);
      return [entry.id, spans.length, responses];
    });
    const expected = ENTRIES.map((e) => {
      const reassembled = [e.tshark.counts.httpRequests, e.tshark.counts.httpResponses];
      const relaxed = CASES[e.id]!.countsAsRelaxed;
      if (!relaxed) return [e.id, ...reassembled];
      assert.deepEqual(reassembled, relaxed.reassembled, `${e.id}: ${relaxed.why}`);
      return [e.id, e.tshark.relaxed!.requests.length, e.tshark.relaxed!.responses.length];
    });
    assert.deepEqual(rows, expected);
  });

  test('Zeek extras: trans_depth, version, user agent, status message, body lengths, info_code', () => {
    const zeek = ENTRIES.filter((e) => e.peer === 'zeek' && e.http !== null);
    assert.deepEqual(zeek.map((e) => e.id), ['zeek-http-100-continue', 'zeek-http-get', 'zeek-http-pipelined-requests', 'zeek-http-websocket']);
    for (const entry of zeek) {
      const run = runOf(entry.id);
      entry.http!.forEach((peer, i) => {
        const span = run.spans[i]!;
        const req = span.request as HttpRequestInfo;
        const res = span.response as HttpResponseInfo;
        const where = `${entry.id} #${i}`;
        assert.deepEqual(
          [span.index + 1, req.version, req.userAgent, res.reason, req.bodyBytes],
          [peer.transDepth, peer.version, peer.userAgent, peer.statusMsg, peer.requestBodyLen],
          where,
        );
        // Zeek's response_body_len is after Content-Encoding decoding; wirespan counts the body as sent
        // (after de-chunking, before decompression), which is what bytes-on-the-wire metrics need.
        const encoding = headerValue(run.exchangeOf(span).responseHeaders, 'content-encoding');
        if (encoding === null) {
          assert.equal(res.bodyBytes, peer.responseBodyLen, where);
        } else {
          assert.equal(encoding, 'gzip', where);
          assert.equal(res.bodyBytes, Number(headerValue(run.exchangeOf(span).responseHeaders, 'content-length')), where);
          assert.ok(peer.responseBodyLen! > res.bodyBytes, `${where}: Zeek counts the decompressed body`);
        }
        // Zeek puts the last 1xx in info_code, and also a 101 that is the final answer of an upgrade;
        // wirespan keeps 101 as the final status only (`interim` lists 1xx before a final status).
        if (peer.infoCode === 101) {
          assert.deepEqual([res.status, res.interim], [101, undefined], where);
        } else {
          assert.deepEqual(res.interim, peer.infoCode === null ? undefined : [peer.infoCode], where);
        }
      });
    }
  });

  test('DeepFlow sw8: the raw SkyWalking trace id and parent span equal DeepFlow\'s, the span carries their W3C form', () => {
    const entry = ENTRIES.find((e) => e.id === 'deepflow-http-sw8')!;
    const run = runOf(entry.id);
    const extractor = new TraceContextExtractor({ counters: new Counters() });
    const rows = run.spans.map((span) => {
      const x = run.exchangeOf(span);
      const context = extractor.fromHeaders(x.requestHeaders, x.responseHeaders);
      assert.equal(span.traceId, context.traceId);
      assert.equal(span.parentSpanId, context.parentSpanId);
      assert.equal(span.traceContextSource, 'sw8');
      return { traceIds: [context.rawTraceId], spanId: context.rawParentSpanId, traceId: span.traceId };
    });
    assert.deepEqual(
      rows,
      entry.http!.map((peer) => ({ traceIds: peer.traceIds, spanId: peer.spanId, traceId: traceIdFromSw8(peer.traceIds![0]!) })),
    );
    assert.equal(new Set(rows.map((r) => r.traceId)).size, 3, 'three different SkyWalking traces');
  });

  test('deepflow-http-client-ip: the cut request head and its 200 make one exchange, noted; its sw8 trace and X-Forwarded-For are DeepFlow\'s', () => {
    const entry = ENTRIES.find((e) => e.id === 'deepflow-http-client-ip')!;
    const run = runOf(entry.id);
    const [request, response] = tcpPayloads(capturePath(entry));
    const head = Buffer.from(request!.payload).toString('latin1');
    assert.ok(!head.includes('\r\n\r\n'), 'the request head is not complete in the capture');
    assert.ok(!Buffer.from(response!.payload).toString('latin1').endsWith('0\r\n\r\n'), 'nor is the chunked response');
    const [span] = run.spans;
    const x = run.exchangeOf(span!);
    assert.deepEqual(
      [x.notes, x.bytes, run.counters['http.incomplete-heads'], run.counters['http.resync-skipped-bytes'], run.counters['http.responses-without-request']],
      [['request head cut by a gap', 'response incomplete'], { request: head.length, response: response!.payload.length }, 1, undefined, undefined],
    );
    // The response acknowledges 308 client bytes past the captured head: lost by the capture, and
    // declared as a gap before the response is read.
    assert.deepEqual([run.counters['tcp.gaps'], run.counters['tcp.gap-bytes']], [1, 308]);
    // The fields before the cut are kept; the last field line is cut inside the capture and is not.
    const lastComplete = head.slice(0, head.lastIndexOf('\r\n')).split('\r\n').pop()!;
    assert.equal(x.requestHeaders.at(-1)![0], lastComplete.slice(0, lastComplete.indexOf(':')).toLowerCase());
    const peer = entry.http![0]!;
    const sw8 = parseSw8(headerValue(x.requestHeaders, 'sw8')!)!;
    assert.deepEqual(
      [[sw8.rawTraceId], sw8.rawParentSpanId, headerValue(x.requestHeaders, 'x-forwarded-for'), span!.traceContextSource, span!.traceId],
      [peer.traceIds, peer.spanId, peer.clientIp, 'sw8', traceIdFromSw8(peer.traceIds![0]!)],
    );
  });

  test('deepflow-http-istio-tcp-frag: the 17-byte response start gives the status, noted; the exchange keeps its B3 context', () => {
    const entry = ENTRIES.find((e) => e.id === 'deepflow-http-istio-tcp-frag')!;
    const run = runOf(entry.id);
    const [span] = run.spans;
    const x = run.exchangeOf(span!);
    assert.equal(run.result.tcp.payloadBytes.server, 'HTTP/1.0 200 OK\r\n'.length);
    assert.deepEqual(
      [x.response, x.responseHeaders, x.notes, x.bytes.response, run.counters['http.incomplete-heads'], run.counters['http.resync-skipped-bytes']],
      [{ status: 200, reason: 'OK', version: '1.0', bodyBytes: 0 }, [], ['response head incomplete at end of capture'], 17, 1, undefined],
    );
    // tshark with reassembly waits for the end of the head and reports no status; its relaxed pass reads 200.
    assert.deepEqual([entry.tshark.http![0]!.status, entry.tshark.relaxed!.responses.map((r) => r.status)], [null, [200]]);
    // DeepFlow's verdict has no ids here; wirespan reads them from the request head.
    const headers = x.requestHeaders;
    assert.deepEqual(
      [span!.traceId, span!.parentSpanId, span!.requestId, span!.traceContextSource],
      [headerValue(headers, 'x-b3-traceid'), headerValue(headers, 'x-b3-spanid'), headerValue(headers, 'x-request-id'), 'b3'],
    );
  });

  test('zeek-http-large-gap: Zeek\'s "missing" 2 GiB is the Content-Range offset, not lost TCP bytes', () => {
    const entry = ENTRIES.find((e) => e.id === 'zeek-http-large-gap')!;
    const run = runOf(entry.id);
    const [span] = run.spans;
    const [file] = entry.peerFacts['files'] as { seen_bytes: string; missing_bytes: string; total_bytes: string }[];
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(headerValue(run.exchangeOf(span!).responseHeaders, 'content-range') ?? '');
    assert.ok(range, 'a Content-Range response');
    assert.deepEqual(
      [(span!.response as HttpResponseInfo).bodyBytes, range[1], range[3]],
      [Number(file!.seen_bytes), file!.missing_bytes, file!.total_bytes],
    );
    assert.deepEqual([span!.notes, run.result.tcp.gaps, run.result.tcp.gapBytes], [[], { client: 0, server: 0 }, { client: 0, server: 0 }]);
  });

  test('zeek-http-websocket: after the 101 nothing is parsed as HTTP; every byte after the handshake is counted as tunnel bytes', () => {
    const run = runOf('zeek-http-websocket');
    const [span] = run.spans;
    const payload = run.result.tcp.payloadBytes;
    assert.equal(run.counters['http.tunnel-bytes'], payload.client + payload.server - span!.bytes.request - span!.bytes.response);
    assert.ok(run.counters['http.tunnel-bytes']! > 0);
    assert.equal(run.counters['protocols.switched.http2'], undefined);
  });
});

