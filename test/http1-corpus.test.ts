import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { PacketDecoder } from '../src/decode/decoder.js';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { AnalyzerContext, Exchange, HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { TcpAssembler } from '../src/tcp/assembler.js';
import type { Flow, StreamHandler } from '../src/tcp/types.js';
import { Counters } from '../src/util/counters.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';

interface TruthExchange {
  protocol: string;
  client_port: number;
  server_port: number;
  method: string;
  path: string;
  status: number;
  /** Absent in some truth files (midstream). */
  request_body_bytes?: number;
  response_body_bytes?: number;
  in_capture: string;
}

const IGNORE: StreamHandler = { data() {}, gap() {}, end() {}, close() {} };

/** The HTTP/1 connections of a capture (server port 8080) through the HTTP/1 analyzer alone (no detection). */
function analyzeCapture(path: string): { exchanges: Exchange[]; counters: Counters } {
  const counters = new Counters();
  const exchanges: Exchange[] = [];
  const analyzer = new Http1Analyzer();
  const assembler = new TcpAssembler({
    counters,
    serverPorts: new Set([8080, 50051]),
    factory: {
      open: (flow: Flow): StreamHandler => {
        if (flow.server.port !== 8080) return IGNORE;
        const ctx: AnalyzerContext = { flow, counters, emit: (x) => exchanges.push(x), switchProtocol: () => null };
        return analyzer.open(ctx);
      },
    },
  });
  const decoder = new PacketDecoder({ counters });
  let lastTs = 0;
  for (const record of readPcapSimple(path)) {
    const p = decoder.decode({ ...record, interfaceId: 0, sourceIndex: 0 });
    lastTs = record.ts;
    if (p.ok && p.transport === 'tcp') assembler.segment(p, record.ts);
  }
  assembler.finish(lastTs);
  return { exchanges, counters };
}

function row(port: number, method: string, path: string, status: number | null, requestBody?: number, responseBody?: number | null) {
  return { port, method, path, status, requestBody, responseBody };
}

const captures = [
  { name: 'http-pipelining', skipped: 0 },
  { name: 'http-chunked', skipped: 0 },
  // Starts while /slow is sending its body: that response is skipped (its request is not in the capture).
  { name: 'midstream', skipped: 10_000 },
];

for (const { name, skipped } of captures) {
  test(`corpus: ${name}.pcap gives the exchanges of its truth file`, () => {
    const truth = JSON.parse(readFileSync(`../shared/corpus/${name}.truth.json`, 'utf8')) as { exchanges: TruthExchange[] };
    const { exchanges, counters } = analyzeCapture(`../shared/corpus/${name}.pcap`);
    const key = (r: ReturnType<typeof row>) => `${r.port} ${r.method} ${r.path}`;
    const truthHas = (field: 'request_body_bytes' | 'response_body_bytes') => truth.exchanges.every((t) => t.protocol !== 'http' || t[field] !== undefined);
    const [requestBodies, responseBodies] = [truthHas('request_body_bytes'), truthHas('response_body_bytes')];
    const ours = exchanges
      .map((x) => {
        const req = x.request as HttpRequestInfo;
        const res = x.response as HttpResponseInfo | null;
        return row(
          x.client.port, req.method, req.path, res?.status ?? null,
          requestBodies ? req.bodyBytes : undefined,
          responseBodies ? (res?.bodyBytes ?? null) : undefined,
        );
      })
      .sort((a, b) => key(a).localeCompare(key(b)));
    const expected = truth.exchanges
      .filter((t) => t.protocol === 'http' && t.in_capture === 'full')
      .map((t) => row(t.client_port, t.method, t.path, t.status, t.request_body_bytes, t.response_body_bytes))
      .sort((a, b) => key(a).localeCompare(key(b)));
    assert.deepEqual(ours, expected);
    assert.deepEqual(exchanges.flatMap((x) => x.notes), []);
    assert.deepEqual(counters.withPrefix('http.'), skipped ? { 'resync-skipped-bytes': skipped } : {});
  });
}
