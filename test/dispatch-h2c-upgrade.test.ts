/**
 * HTTP/1.1 `Upgrade: h2c` hand-over, end to end: the HTTP/1 analyzer reads the request and the 101,
 * the dispatcher opens the http2 analyzer with the upgraded request (`switchProtocol('http2', upgrade)`
 * → `openUpgraded`), and stream 1 carries the response to that request (RFC 7540 §3.2).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { H2cUpgradeRequest } from '../src/protocols/http2/connection.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { ProtocolDispatcher } from '../src/protocols/registry.js';
import type { AnalyzerContext, Exchange, Http2RequestInfo, Http2ResponseInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { LINKTYPE_ETHERNET, tcpPacket } from './lib/frames.js';
import { PREFACE, settingsFrame } from './lib/h2-builder.js';
import { Conversation, requestFields } from './lib/h2-conversation.js';
import { FakeFlow, bytesOf, splitAt } from './lib/handler-driver.js';

const CLIENT = { ip: '10.1.0.1', port: 41000 };
const SERVER = { ip: '10.1.0.2', port: 8000 }; // no analyzer's default port: content decides

const UPGRADE_REQUEST =
  'GET /upgrade-me?x=1 HTTP/1.1\r\nHost: api.local:8000\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
  'Upgrade: h2c\r\nHTTP2-Settings: AAEAAAEA\r\nX-Request-ID: req-up-1\r\nUser-Agent: t/1\r\n\r\n';
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';

/** Client bytes and server bytes of the whole connection, in the order each side sends them. */
interface Script {
  steps: { dir: 0 | 1; bytes: Buffer }[];
}

/** Upgrade request → 101 + SETTINGS + stream 1 response; then the client's preface and stream 3. */
function upgradeConversation(): Script {
  const h2 = new Conversation();
  h2.raw(1, settingsFrame([[3, 100]]));
  h2.headers(1, 1, [[':status', '200'], ['content-type', 'text/plain'], ['x-request-id', 'req-up-1']]);
  h2.data(1, 1, Buffer.from('upgraded body'), { endStream: true });
  h2.raw(0, Buffer.concat([PREFACE, settingsFrame(), settingsFrame([], true)]));
  h2.headers(0, 3, requestFields('/second', [['x-request-id', 'req-2']]), { endStream: true });
  h2.headers(1, 3, [[':status', '404']], { endStream: true });
  h2.headers(0, 5, requestFields('/third', [], 'POST'));
  h2.data(0, 5, Buffer.from('{"a":1}'), { endStream: true });
  h2.headers(1, 5, [[':status', '201']], { endStream: true });
  const [first, ...rest] = h2.steps;
  return {
    steps: [
      { dir: 0, bytes: bytesOf(UPGRADE_REQUEST) },
      { dir: 1, bytes: Buffer.concat([bytesOf(SWITCHING), first!.bytes]) },
      ...rest.map((s) => ({ dir: s.dir, bytes: s.bytes })),
    ],
  };
}

const SYN = 0x02, ACK = 0x10, PSH = 0x08, FIN = 0x01;

/** The conversation as TCP packets with a handshake and FINs, each step cut into `segment`-byte pieces. */
function packets(script: Script, segment: number): { ts: number; data: Uint8Array }[] {
  const seq = [1000, 5000];
  let ts = 1_700_000_000_000_000;
  const out: { ts: number; data: Uint8Array }[] = [];
  const send = (dir: 0 | 1, flags: number, payload: Uint8Array = new Uint8Array(0)): void => {
    const [src, dst] = dir === 0 ? [CLIENT, SERVER] : [SERVER, CLIENT];
    const p = tcpPacket({
      src: src.ip, dst: dst.ip, sport: src.port, dport: dst.port,
      seq: seq[dir]!, ack: seq[1 - dir]!, flags, payload,
    });
    out.push({ ts: (ts += 100), data: p.data });
    seq[dir]! += payload.length + (flags & (SYN | FIN) ? 1 : 0);
  };
  send(0, SYN);
  const synAck = tcpPacket({ src: SERVER.ip, dst: CLIENT.ip, sport: SERVER.port, dport: CLIENT.port, seq: seq[1]!, ack: seq[0]!, flags: SYN | ACK });
  out.push({ ts: (ts += 100), data: synAck.data });
  seq[1]! += 1;
  send(0, ACK);
  for (const step of script.steps) {
    for (let at = 0; at < step.bytes.length; at += segment) send(step.dir, PSH | ACK, step.bytes.subarray(at, at + segment));
  }
  send(0, FIN | ACK);
  send(1, FIN | ACK);
  send(0, ACK);
  return out;
}

describe('h2c upgrade through the dispatcher', () => {
  test('a capture yields the HTTP/1.1 101 exchange, stream 1 answering the upgraded request, and later streams', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wirespan-h2c-'));
    try {
      const file = join(dir, 'h2c-upgrade.pcap');
      writeFileSync(file, writePcap(packets(upgradeConversation(), 1400), { linkType: LINKTYPE_ETHERNET }));
      const exchanges: Exchange[] = [];
      const { spans, result } = await analyzeFiles([file], { onExchange: (x) => exchanges.push(x) });

      const byKey = new Map(spans.map((s) => [`${s.protocol}:${s.streamId}`, s]));
      assert.deepEqual([...byKey.keys()].sort(), ['http2:1', 'http2:3', 'http2:5', 'http:null']);
      const http1 = byKey.get('http:null')!;
      assert.equal((http1.response as HttpResponseInfo).status, 101);
      assert.equal(http1.requestId, 'req-up-1');
      assert.deepEqual(http1.notes, ['answered on HTTP/2 stream 1 (Upgrade: h2c)']);
      // One request, counted once in the service map: as stream 1, which has its answer.
      assert.deepEqual(result.serviceMap.edges.map((e) => [e.protocol, e.calls]), [['http2', 3]]);

      const stream1 = byKey.get('http2:1')!;
      assert.deepEqual(stream1.request as Http2RequestInfo, {
        method: 'GET', path: '/upgrade-me?x=1', authority: 'api.local:8000', scheme: 'http', streamId: 1, bodyBytes: 0, forwardedFor: null,
      });
      assert.deepEqual(stream1.response as Http2ResponseInfo, { status: 200, bodyBytes: 'upgraded body'.length, reset: null });
      // Stream 1 is the same request as the HTTP/1.1 exchange: same start, sequence number and wire size.
      assert.deepEqual(
        [stream1.startUs, stream1.requestSeq, stream1.bytes.request, stream1.requestId],
        [http1.startUs, http1.requestSeq, UPGRADE_REQUEST.length, 'req-up-1'],
      );
      assert.ok(stream1.notes.includes('request sent as HTTP/1.1 with Upgrade: h2c'), stream1.notes.join('; '));

      assert.deepEqual(
        [3, 5].map((id) => {
          const s = byKey.get(`http2:${id}`)!;
          return [(s.request as Http2RequestInfo).method, (s.request as Http2RequestInfo).path, (s.response as Http2ResponseInfo).status, s.notes];
        }),
        [['GET', '/second', 404, []], ['POST', '/third', 201, []]],
      );
      assert.equal(byKey.get('http2:3')!.requestId, 'req-2');

      // Connection-level HTTP/1.1 fields do not follow the request into HTTP/2; the rest does.
      const upgraded = exchanges.find((x) => x.protocol === 'http2' && x.streamId === 1)!;
      assert.deepEqual(upgraded.requestHeaders, [['x-request-id', 'req-up-1'], ['user-agent', 't/1']]);
      assert.equal(result.counters.get('protocols.switched.http2'), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('splitting the byte streams anywhere changes nothing (dispatcher driven directly)', () => {
    const script = upgradeConversation();
    const reference = runThroughDispatcher(script, () => []);
    assert.equal(reference.length, 4);
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat(400), { maxLength: 6 }), { minLength: script.steps.length, maxLength: script.steps.length }), (cuts) => {
        assert.deepEqual(runThroughDispatcher(script, (i) => cuts[i]!), reference);
      }),
      { numRuns: 60 },
    );
  });

  test('HTTP/1 hands over the upgraded request: a POST with a body, its times, sizes and HTTP2-Settings', () => {
    const body = 'name=x&n=12';
    const request =
      'POST /form HTTP/1.1\r\nHost: h:8000\r\nContent-Length: 11\r\nConnection: Upgrade, HTTP2-Settings\r\n' +
      'Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\nTraceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n\r\n';
    const switches: [string, unknown][] = [];
    const flow = new FakeFlow({ client: CLIENT, server: SERVER });
    flow.baseSeq[0] = 7000;
    flow.baseSeq[1] = 9000;
    const ctx: AnalyzerContext = { flow, counters: new Counters(), emit: () => undefined, switchProtocol: (name, upgrade) => (switches.push([name, upgrade]), null) };
    const handler = new Http1Analyzer().open(ctx);
    handler.data(0, bytesOf(request), 100, 0);
    handler.data(0, bytesOf(body), 150, request.length);
    handler.data(1, bytesOf(SWITCHING), 200, 0);
    const expected: H2cUpgradeRequest = {
      method: 'POST', path: '/form', authority: 'h:8000',
      headers: [['content-length', '11'], ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']],
      startUs: 100, requestEndUs: 150, requestSeq: 7000, bodyBytes: body.length, wireBytes: request.length + body.length,
      http2Settings: 'AAMAAABkAARAAAAAAAIAAAAA',
    };
    assert.deepEqual(switches, [['http2', expected]]);
  });

  test('without a payload (101 with no request seen) the dispatcher opens http2 plainly', () => {
    // The capture starts after the request: HTTP/1 sees a response without a request and switches
    // with nothing to hand over; the server's frames are still read.
    const h2 = new Conversation();
    h2.raw(1, settingsFrame());
    h2.headers(1, 1, [[':status', '200']], { endStream: true });
    const exchanges = runThroughDispatcher({ steps: [{ dir: 1, bytes: Buffer.concat([bytesOf(SWITCHING), ...h2.steps.map((s) => s.bytes)]) }] }, () => [], true);
    assert.deepEqual(exchanges.map((x) => x.protocol), ['http2']);
    assert.equal((exchanges[0]!.response as Http2ResponseInfo).status, 200);
  });
});

/** Feeds a script to a ProtocolDispatcher connection, each step cut where `cutsFor(step)` says. */
function runThroughDispatcher(script: Script, cutsFor: (step: number) => number[], midstream = false): Exchange[] {
  const exchanges: Exchange[] = [];
  const counters = new Counters();
  const dispatcher = new ProtocolDispatcher({ analyzers: createAnalyzers({}), counters, emit: (x) => exchanges.push(structuredClone(x)) });
  const flow = new FakeFlow({ client: CLIENT, server: SERVER, handshake: !midstream });
  const handler = dispatcher.open(flow);
  const offsets = [0, 0];
  let ts = 1000;
  script.steps.forEach((step, i) => {
    flow.baseSeq[step.dir] ??= step.dir === 0 ? 1001 : 5001;
    for (const piece of splitAt(step.bytes, cutsFor(i))) {
      handler.data(step.dir, Buffer.from(piece), (ts += 10), offsets[step.dir]!);
      offsets[step.dir]! += piece.length;
    }
  });
  handler.end(0, 'fin', (ts += 10));
  handler.end(1, 'fin', (ts += 10));
  handler.close((ts += 10));
  // Timestamps depend on how the bytes were cut; what was understood must not.
  return exchanges.map((x) => ({ ...x, startUs: 0, requestEndUs: 0, responseStartUs: 0, endUs: 0 }));
}
