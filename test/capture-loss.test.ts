// Packets the capture lost (tcpdump's "dropped by kernel"): a real capture with whole requests taken
// out of keep-alive connections. The server's answers acknowledge the missing bytes, so the loss is
// declared before the answer is read, and every other exchange on those connections keeps its own
// response: a lost request must not shift the pairing of the rest of the connection.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SpanRecord } from '../src/correlate/types.js';
import type { GrpcResponseInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { analyzeFiles, type FileAnalysis, type Truth, type TruthExchange } from './lib/analyze-file.js';
import { writePcap, type FixturePacket } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
import { runCli } from './lib/wirespan-cli.js';
import { loadTruth, pairWithTruth, truthNames, type Pairing } from './lib/truth-match.js';

const CAPTURE = '../shared/corpus/shop-concurrent.pcap';
const REQUEST_LINE = /^(GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) \S+ HTTP\/1\.[01]\r\n/;

interface TcpView {
  client: string;
  payload: string;
}

/** The TCP payload of an Ethernet/IPv4 frame, and its sender as ip:port (enough for this capture). */
function tcpView(frame: Uint8Array): TcpView | null {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint16(12) !== 0x0800 || frame[14 + 9] !== 6) return null;
  const ip = 14;
  const tcp = ip + (frame[ip]! & 0x0f) * 4;
  const data = tcp + (frame[tcp + 12]! >> 4) * 4;
  const src = `${frame[ip + 12]}.${frame[ip + 13]}.${frame[ip + 14]}.${frame[ip + 15]}:${view.getUint16(tcp)}`;
  return { client: src, payload: Buffer.from(frame.subarray(data)).toString('latin1') };
}

describe('capture loss: whole requests missing from keep-alive connections', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-loss-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let truth: Truth;
  let run: FileAnalysis;
  let pairing: Pairing;
  const dropped: TruthExchange[] = [];

  before(async () => {
    truth = loadTruth(CAPTURE.replace('.pcap', '.truth.json'));
    const packets = [...readPcapSimple(CAPTURE)];
    // Per client connection, its HTTP requests in order, each in one packet here; the truth's
    // exchanges of that connection in start order are the same requests.
    const seen = new Map<string, number>();
    const kept: FixturePacket[] = [];
    const droppedConnections = new Set<string>();
    for (const p of packets) {
      const tcp = tcpView(p.data);
      const match = tcp && REQUEST_LINE.test(tcp.payload) ? tcp : null;
      if (match) {
        const index = seen.get(match.client) ?? 0;
        seen.set(match.client, index + 1);
        const [ip, port] = match.client.split(':');
        const onConnection = truth.exchanges
          .filter((x) => x.protocol === 'http' && x.client_ip === ip && x.client_port === Number(port))
          .sort((a, b) => a.start_us - b.start_us);
        // The second request of the first six connections that carry at least four.
        if (index === 1 && onConnection.length >= 4 && droppedConnections.size < 6 && !droppedConnections.has(match.client)) {
          droppedConnections.add(match.client);
          dropped.push(onConnection[1]!);
          continue;
        }
      }
      kept.push({ ts: p.ts, data: p.data });
    }
    assert.equal(dropped.length, 6, 'six requests taken out');
    const file = join(dir, 'lossy.pcap');
    writeFileSync(file, writePcap(kept, { linkType: packets[0]!.linkType }));
    run = await analyzeFiles([file], { names: truthNames(truth) });
    pairing = pairWithTruth(truth, run.spans, 'http');
  });

  it('the lost requests are missing, nothing is invented in their place', () => {
    assert.deepEqual(pairing.missing.map((x) => x.id).sort(), dropped.map((x) => x.id).sort());
    assert.deepEqual(pairing.extra, []);
    assert.equal(run.result.counters.toJSON()['http.responses-to-lost-requests'], dropped.length);
  });

  it('every other request keeps its own status and request id', () => {
    const wrong: string[] = [];
    for (const [id, span] of pairing.pairs) {
      const x = truth.exchanges.find((t) => t.id === id)!;
      const status = (span.response as HttpResponseInfo | null)?.status ?? null;
      if (status !== x.status || span.requestId !== x.request_id) wrong.push(`${id}: ${status} for ${x.status}`);
    }
    assert.deepEqual(wrong, []);
  });

  it('the exchange after each lost request says a gap came before it', () => {
    for (const lost of dropped) {
      const next = truth.exchanges
        .filter((x) => x.protocol === 'http' && x.client_port === lost.client_port && x.start_us > lost.start_us)
        .sort((a, b) => a.start_us - b.start_us)[0]!;
      assert.deepEqual(pairing.pairs.get(next.id)?.notes, ['gap before request'], next.id);
    }
  });
});

describe('capture loss: gRPC trailers missing from a long-lived HTTP/2 connection', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-loss-h2-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let truth: Truth;
  let spans: SpanRecord[];
  let lossy: string;
  const lostStreams = new Set<number>();

  before(async () => {
    truth = loadTruth(CAPTURE.replace('.pcap', '.truth.json'));
    const kept: FixturePacket[] = [];
    let trailers = 0;
    const packets = [...readPcapSimple(CAPTURE)];
    for (const p of packets) {
      const tcp = tcpView(p.data);
      const bytes = tcp ? Buffer.from(tcp.payload, 'latin1') : null;
      // A segment holding exactly one HEADERS frame with END_STREAM from the gRPC server: trailers.
      const isTrailers =
        tcp !== null && tcp.client.endsWith(':50051') && bytes!.length >= 9 && bytes![3] === 1 && (bytes![4]! & 1) === 1 && bytes!.readUIntBE(0, 3) + 9 === bytes!.length;
      if (isTrailers && [3, 10, 20].includes(trailers++)) {
        lostStreams.add(bytes!.readUInt32BE(5) & 0x7fffffff);
        continue;
      }
      kept.push({ ts: p.ts, data: p.data });
    }
    assert.equal(lostStreams.size, 3);
    lossy = join(dir, 'lossy-h2.pcap');
    writeFileSync(lossy, writePcap(kept, { linkType: packets[0]!.linkType }));
    spans = (await analyzeFiles([lossy], { names: truthNames(truth) })).spans;
  });

  it('every call keeps its own status; only the three whose trailers were lost lack theirs', () => {
    const grpc = spans.filter((s) => s.protocol === 'grpc');
    const byRequestId = new Map(truth.exchanges.filter((x) => x.protocol === 'grpc').map((x) => [x.request_id, x]));
    assert.equal(grpc.length, byRequestId.size);
    const unknown: number[] = [];
    for (const s of grpc) {
      const x = byRequestId.get(s.requestId!) ?? assert.fail(`${s.requestId} not in the truth`);
      assert.equal((s.request as { path: string }).path, x.grpc_method);
      const status = (s.response as GrpcResponseInfo | null)?.grpcStatus ?? null;
      if (status === null) unknown.push(s.streamId!);
      else assert.equal(status, x.status, `stream ${s.streamId}`);
    }
    assert.deepEqual(unknown.sort((a, b) => a - b), [...lostStreams].sort((a, b) => a - b));
  });

  it('the calls read across a gap say so, and so does the report', async () => {
    const noted = spans.filter((s) => s.notes.some((n) => n.includes('HPACK realigned: inferred')));
    assert.ok(noted.length > 0);
    assert.ok(noted.every((s) => s.protocol === 'grpc'));
    const report = await runCli(['read', lossy, '--slowest', '0']);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^ {2}3 gaps in HTTP\/2 header tables read across by inference \(the exchanges say so in their notes\)$/m);
  });
});
