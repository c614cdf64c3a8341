// Packets the capture lost (tcpdump's "dropped by kernel"): a real capture with whole requests taken
// out of keep-alive connections. The server's answers acknowledge the missing bytes, so the loss is
// declared before the answer is read, and every other exchange on those connections keeps its own
// response: a lost request must not shift the pairing of the rest of the connection.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { HttpResponseInfo } from '../src/protocols/types.js';
import { analyzeFiles, type FileAnalysis, type Truth, type TruthExchange } from './lib/analyze-file.js';
import { writePcap, type FixturePacket } from './lib/capture-writer.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
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
