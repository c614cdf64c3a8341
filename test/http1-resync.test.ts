import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import { bytes, ethernet, ipv4, tcp } from './lib/frames.js';
import { HandlerDriver, type DriverOptions } from './lib/handler-driver.js';

const req = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: h\r\n\r\n`;
const res = (body: string, status = 200): string => `HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

function rows(d: HandlerDriver) {
  return d.exchanges.map((x) => ({
    path: (x.request as HttpRequestInfo).path,
    status: (x.response as HttpResponseInfo | null)?.status ?? null,
    responseBody: (x.response as HttpResponseInfo | null)?.bodyBytes ?? null,
    notes: x.notes,
  }));
}

function driver(options: DriverOptions = {}): HandlerDriver {
  return new HandlerDriver(new Http1Analyzer(), options);
}

describe('http1 resynchronisation after gaps, errors and mid-connection starts', () => {
  test('capture starting mid-connection: both directions begin inside a body', () => {
    const requestTail = 'ku":"x","qty":2}\nGET lucky\nPOST it\n';
    const responseTail = 'ody>\nHTTP/1.1 is text\n</html>\n';
    const d = driver({ handshake: false });
    d.data(1, responseTail, 5);
    d.data(0, requestTail + req('/next'), 10);
    d.data(1, res('hello'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [{ path: '/next', status: 200, responseBody: 5, notes: [] }]);
    assert.equal(d.exchanges[0]!.requestSeq, 1000 + requestTail.length);
    assert.deepEqual(d.counters.toJSON(), { 'http.resync-skipped-bytes': requestTail.length + responseTail.length });
  });

  test('capture starting mid-connection with the response to an unseen request', () => {
    const d = driver({ handshake: false });
    d.data(1, res('earlier'), 5);
    d.data(0, req('/seen'), 10);
    d.data(1, res('ok'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [{ path: '/seen', status: 200, responseBody: 2, notes: [] }]);
    assert.deepEqual(d.counters.toJSON(), { 'http.responses-without-request': 1 });
  });

  test('a message start split across chunks right after skipped bytes is still found', () => {
    const d = driver({ handshake: false });
    d.data(0, 'tail of a body\r\nGE', 10);
    d.data(0, 'T /split HTTP/1.1\r\nHost: h\r\n\r\n', 11);
    d.data(1, res('ok'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [{ path: '/split', status: 200, responseBody: 2, notes: [] }]);
    assert.deepEqual(d.counters.toJSON(), { 'http.resync-skipped-bytes': 'tail of a body\r\n'.length });
  });

  test('gap inside a response body of known length: counted through, noted', () => {
    const body = 'x'.repeat(1000);
    const response = res(body);
    const headLength = response.length - body.length;
    const d = driver();
    d.data(0, req('/big'), 10);
    d.data(1, response.slice(0, headLength + 100), 20);
    d.gap(1, 800, 30);
    d.data(1, response.slice(headLength + 900), 40);
    d.data(0, req('/after'), 50);
    d.data(1, res('ok'), 60);
    d.close(70);
    assert.deepEqual(rows(d), [
      { path: '/big', status: 200, responseBody: 1000, notes: ['gap in response body'] },
      { path: '/after', status: 200, responseBody: 2, notes: [] },
    ]);
    assert.deepEqual(d.exchanges[0]!.bytes.response, response.length);
    assert.equal(d.exchanges[0]!.endUs, 40);
    assert.deepEqual(d.counters.toJSON(), {});
  });

  test('gap ending exactly at the end of a request body completes the request', () => {
    const request = 'POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789';
    const d = driver();
    d.data(0, request.slice(0, request.length - 4), 10);
    d.gap(0, 4, 15);
    d.data(0, req('/next'), 16);
    d.data(1, res('a') + res('b'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [
      { path: '/up', status: 200, responseBody: 1, notes: ['gap in request body'] },
      { path: '/next', status: 200, responseBody: 1, notes: [] },
    ]);
    assert.equal(d.exchanges[0]!.requestEndUs, 15);
    assert.equal(d.exchanges[0]!.bytes.request, request.length);
  });

  test('gap destroying a request head: its response is skipped, the next pair is intact', () => {
    const d = driver();
    d.data(0, req('/1'), 10);
    d.data(1, res('one'), 11);
    d.gap(0, req('/2').length, 20);
    d.data(1, res('two'), 21);
    d.data(0, req('/3'), 30);
    d.data(1, res('three'), 31);
    d.close(40);
    assert.deepEqual(rows(d), [
      { path: '/1', status: 200, responseBody: 3, notes: [] },
      { path: '/3', status: 200, responseBody: 5, notes: ['gap before request'] },
    ]);
    assert.equal(d.exchanges[1]!.requestSeq, 1000 + req('/1').length + req('/2').length);
    assert.deepEqual(d.counters.toJSON(), { 'http.responses-to-lost-requests': 1 });
  });

  test('pipelined: gap destroying the second request head keeps later pairs aligned', () => {
    const d = driver();
    const second = req('/2');
    d.data(0, req('/1') + second.slice(0, 5), 10);
    d.gap(0, 10, 11);
    d.data(0, second.slice(15) + req('/3'), 12);
    d.data(1, res('one') + res('two') + res('three'), 20);
    d.close(40);
    assert.deepEqual(rows(d), [
      { path: '/1', status: 200, responseBody: 3, notes: [] },
      { path: '/3', status: 200, responseBody: 5, notes: ['gap before request'] },
    ]);
    assert.deepEqual(d.counters.toJSON(), {
      'http.resync-skipped-bytes': second.length - 15,
      'http.responses-to-lost-requests': 1,
    });
  });

  test('gap of unknown size: requestSeq is null from then on', () => {
    const d = driver();
    d.data(0, req('/1'), 10);
    d.data(1, res('one'), 11);
    d.gap(0, -1, 20);
    d.data(0, req('/2'), 21);
    d.data(1, res('two'), 22);
    d.close(30);
    assert.deepEqual(d.exchanges.map((x) => x.requestSeq), [1000, null]);
  });

  test('gap losing a response head: that request is noted, the next one pairs with its own response', () => {
    const lostResponse = res('lost body that is long enough');
    const d = driver();
    d.data(0, req('/1'), 10);
    d.gap(1, 40, 20);
    d.data(1, lostResponse.slice(40), 21);
    d.data(0, req('/2'), 30);
    d.data(1, res('two'), 31);
    d.close(40);
    assert.deepEqual(rows(d), [
      { path: '/1', status: null, responseBody: null, notes: ['response lost in gap'] },
      { path: '/2', status: 200, responseBody: 3, notes: ['response paired after a gap'] },
    ]);
    assert.deepEqual(d.counters.toJSON(), { 'http.resync-skipped-bytes': lostResponse.length - 40 });
  });

  test('gap inside a chunked body: incomplete response, resync to the next response', () => {
    const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n';
    const d = driver();
    d.data(0, req('/c') + req('/n'), 10);
    d.data(1, chunked.slice(0, 60), 20);
    d.gap(1, 5, 21);
    d.data(1, chunked.slice(65) + res('next'), 22);
    d.close(30);
    assert.deepEqual(rows(d), [
      { path: '/c', status: 200, responseBody: 60 - 51, notes: ['gap in response body', 'response incomplete'] },
      { path: '/n', status: 200, responseBody: 4, notes: [] },
    ]);
    assert.deepEqual(d.counters.toJSON(), { 'http.resync-skipped-bytes': chunked.length - 65 });
  });

  test('gap inside a close-delimited body: the body goes on to the FIN', () => {
    const d = driver();
    d.data(0, req('/stream'), 10);
    d.data(1, 'HTTP/1.1 200 OK\r\n\r\nabc', 20);
    d.gap(1, 100, 21);
    d.data(1, 'def', 22);
    d.end(1, 'fin', 23).close(30);
    assert.deepEqual(rows(d), [{ path: '/stream', status: 200, responseBody: 106, notes: ['gap in response body'] }]);
  });

  test('unparseable request: counted, its response skipped, parsing resumes at the next request', () => {
    const bad = 'GET /a b c HTTP/1.1\r\nHost: h\r\n\r\n';
    const d = driver();
    d.data(0, bad + req('/good'), 10);
    d.data(1, res('', 400) + res('fine'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [{ path: '/good', status: 200, responseBody: 4, notes: [] }]);
    assert.deepEqual(d.counters.toJSON(), {
      'http.parse-errors': 1,
      'http.resync-skipped-bytes': bad.length - 'GET /a b c HTTP/1.1\r\n'.length,
      'http.responses-to-lost-requests': 1,
    });
  });

  test('broken chunk framing: parse error, exchange noted incomplete, next response found', () => {
    const d = driver();
    d.data(0, req('/c') + req('/n'), 10);
    d.data(1, 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n' + res('next'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [
      { path: '/c', status: 200, responseBody: 3, notes: ['response incomplete'] },
      { path: '/n', status: 200, responseBody: 4, notes: [] },
    ]);
    assert.equal(d.counters.get('http.parse-errors'), 1);
  });

  test('invalid Content-Length: counted as such, the message is skipped', () => {
    const d = driver();
    d.data(0, 'POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n' + req('/y'), 10);
    d.data(1, res('', 400) + res('y'), 20);
    d.close(30);
    assert.deepEqual(rows(d), [{ path: '/y', status: 200, responseBody: 1, notes: [] }]);
    assert.equal(d.counters.get('http.invalid-content-length'), 1);
    assert.equal(d.counters.get('http.responses-to-lost-requests'), 1);
  });
});

describe('answers to requests sent before the capture, pipelined ahead of the first one seen', () => {
  /** Client 10.0.0.1:40000 → server 10.0.0.2:80, no handshake in the capture; `ack` as the server sent it. */
  function capture(steps: { from: 'client' | 'server'; text: string; ack: number }[]): string {
    const seq = { client: 5000, server: 9000 };
    const packets = steps.map((s, i) => {
      const client = s.from === 'client';
      const payload = bytes(s.text);
      const segment = tcp({ srcPort: client ? 40000 : 80, dstPort: client ? 80 : 40000, seq: seq[s.from], ack: s.ack, flags: 0x18, payload });
      seq[s.from] += payload.length;
      const frame = ethernet({ type: 0x0800, payload: ipv4({ src: client ? '10.0.0.1' : '10.0.0.2', dst: client ? '10.0.0.2' : '10.0.0.1', proto: 6, id: i + 1, payload: segment }) });
      return { ts: 1_700_000_000_000_000 + i * 1000, data: frame };
    });
    const dir = mkdtempSync(join(tmpdir(), 'wirespan-pipelined-'));
    const file = join(dir, 'pipelined.pcap');
    writeFileSync(file, writePcap(packets, { linkType: 1 }));
    return file;
  }

  test('an answer sent before the server had the request seen (its ACK says so) is not that request\'s', async () => {
    // Request A (bytes 4000..4999 of the client stream, before the capture) is answered after the
    // capture began; request B, pipelined behind A, is the first the capture sees.
    const file = capture([
      { from: 'client', text: req('/b'), ack: 9000 },
      { from: 'server', text: res('for-a', 201), ack: 5000 },
      { from: 'server', text: res('for-b', 202), ack: 5000 + req('/b').length },
    ]);
    const counters = new Counters();
    const { spans } = await analyzeFiles([file], { counters });
    assert.deepEqual(
      spans.map((s) => [(s.request as HttpRequestInfo).path, (s.response as HttpResponseInfo).status]),
      [['/b', 202]],
    );
    assert.equal(counters.get('http.responses-to-unseen-requests'), 1);
  });

  test('an answer sent before the server had the next request\'s head does not cut that head', async () => {
    const head = req('/b');
    const file = capture([
      { from: 'client', text: head.slice(0, 20), ack: 9000 },
      { from: 'server', text: res('for-a', 201), ack: 5000 },
      { from: 'client', text: head.slice(20), ack: 9000 + res('for-a', 201).length },
      { from: 'server', text: res('for-b', 202), ack: 5000 + head.length },
    ]);
    const counters = new Counters();
    const { spans } = await analyzeFiles([file], { counters });
    assert.deepEqual(
      spans.map((s) => [(s.request as HttpRequestInfo).path, (s.response as HttpResponseInfo).status, s.notes]),
      [['/b', 202, []]],
    );
  });

  test('an answer that acknowledges the request is paired with it, as always', async () => {
    const file = capture([
      { from: 'client', text: req('/b'), ack: 9000 },
      { from: 'server', text: res('for-b', 202), ack: 5000 + req('/b').length },
    ]);
    const counters = new Counters();
    const { spans } = await analyzeFiles([file], { counters });
    assert.deepEqual(spans.map((s) => (s.response as HttpResponseInfo).status), [202]);
    assert.equal(counters.get('http.responses-to-unseen-requests'), 0);
  });
});
