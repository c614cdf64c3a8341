import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { Exchange, HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { HandlerDriver, bytesOf, splitAt, utf8, type Delivery } from './lib/handler-driver.js';

/** The fields most tests compare, flattened. */
function summary(x: Exchange) {
  const req = x.request as HttpRequestInfo;
  const res = x.response as HttpResponseInfo | null;
  return {
    index: x.index,
    method: req.method,
    path: req.path,
    status: res?.status ?? null,
    requestBody: req.bodyBytes,
    responseBody: res?.bodyBytes ?? null,
    bytes: x.bytes,
    notes: x.notes,
  };
}

function drive(script: Delivery[], closeAt = 1_000_000): HandlerDriver {
  return new HandlerDriver(new Http1Analyzer()).run(script).close(closeAt);
}

const GET_A = 'GET /a HTTP/1.1\r\nHost: shop.local\r\n\r\n';
const OK_5 = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
const POST_B = 'POST /b HTTP/1.1\r\nHost: shop.local\r\nContent-Length: 11\r\n\r\n{"sku":"x"}';
const CREATED_0 = 'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n';
const CHUNKED_TRAILER =
  'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
  '4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nX-Checksum: abc123\r\n\r\n';

describe('http1 exchanges from real message bytes', () => {
  test('simple GET: every field of the exchange', () => {
    const request = 'GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n';
    const response = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
    const d = drive([
      { dir: 0, bytes: request, ts: 1000 },
      { dir: 1, bytes: response, ts: 1500 },
    ]);
    assert.deepEqual(d.exchanges, [
      {
        protocol: 'http',
        connectionId: 1,
        client: { ip: '10.0.0.1', port: 40000 },
        server: { ip: '10.0.0.2', port: 80 },
        index: 0,
        requestSeq: 1000,
        streamId: null,
        startUs: 1000,
        requestEndUs: 1000,
        responseStartUs: 1500,
        endUs: 1500,
        request: { method: 'GET', path: '/index.html?q=1', host: 'example.com', version: '1.1', bodyBytes: 0, userAgent: 'curl/8.5.0', forwardedFor: null },
        response: { status: 200, reason: 'OK', version: '1.1', bodyBytes: 5 },
        requestHeaders: [['host', 'example.com'], ['user-agent', 'curl/8.5.0'], ['accept', '*/*']],
        responseHeaders: [['content-type', 'text/plain'], ['content-length', '5']],
        contextText: null,
        bytes: { request: request.length, response: response.length },
        notes: [],
      },
    ]);
    assert.deepEqual(d.counters.toJSON(), {});
  });

  test('keep-alive sequence: index and requestSeq advance, HTTP/1.0 too', () => {
    const get10 = 'GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
    const ok10 = 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok';
    const d = drive([
      { dir: 0, bytes: GET_A, ts: 10 },
      { dir: 1, bytes: OK_5, ts: 20 },
      { dir: 0, bytes: POST_B, ts: 30 },
      { dir: 1, bytes: CREATED_0, ts: 40 },
      { dir: 0, bytes: get10, ts: 50 },
      { dir: 1, bytes: ok10, ts: 60 },
    ]);
    assert.deepEqual(
      d.exchanges.map((x) => [x.index, x.requestSeq, (x.request as HttpRequestInfo).version, (x.response as HttpResponseInfo).status]),
      [
        [0, 1000, '1.1', 200],
        [1, 1000 + GET_A.length, '1.1', 201],
        [2, 1000 + GET_A.length + POST_B.length, '1.0', 200],
      ],
    );
    assert.deepEqual(summary(d.exchanges[1]!), {
      index: 1, method: 'POST', path: '/b', status: 201, requestBody: 11, responseBody: 0,
      bytes: { request: POST_B.length, response: CREATED_0.length }, notes: [],
    });
  });

  test('pipelining: 5 requests in one chunk, 5 responses in one chunk, paired in order', () => {
    const paths = ['/1', '/2', '/3', '/4', '/5'];
    const requests = paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: h\r\n\r\n`);
    const responses = paths.map((p, i) => `HTTP/1.1 ${200 + 10 * i} S\r\nContent-Length: ${p.length}\r\n\r\n${p}`);
    const d = drive([
      { dir: 0, bytes: requests.join(''), ts: 10 },
      { dir: 1, bytes: responses.join(''), ts: 20 },
    ]);
    assert.deepEqual(
      d.exchanges.map((x) => [x.index, (x.request as HttpRequestInfo).path, (x.response as HttpResponseInfo).status, x.bytes.request, x.bytes.response]),
      paths.map((p, i) => [i, p, 200 + 10 * i, requests[i]!.length, responses[i]!.length]),
    );
  });

  test('pipelining: 3 requests in two writes split inside a header', () => {
    const requests = ['/x', '/y', '/z'].map((p) => `GET ${p} HTTP/1.1\r\nHost: h\r\nX-Request-ID: id${p}\r\n\r\n`).join('');
    const cut = requests.indexOf('X-Req', requests.indexOf('/y')) + 3;
    const responses = ['a', 'bb', 'ccc'].map((b) => `HTTP/1.1 200 OK\r\nContent-Length: ${b.length}\r\n\r\n${b}`).join('');
    const d = drive([
      { dir: 0, bytes: requests.slice(0, cut), ts: 10 },
      { dir: 0, bytes: requests.slice(cut), ts: 11 },
      { dir: 1, bytes: responses, ts: 20 },
    ]);
    assert.deepEqual(
      d.exchanges.map((x) => [(x.request as HttpRequestInfo).path, x.requestHeaders[1], x.startUs, x.requestEndUs, (x.response as HttpResponseInfo).bodyBytes]),
      [
        ['/x', ['x-request-id', 'id/x'], 10, 10, 1],
        ['/y', ['x-request-id', 'id/y'], 10, 11, 2],
        ['/z', ['x-request-id', 'id/z'], 11, 11, 3],
      ],
    );
  });

  test('chunked response with trailer: same exchange at every split point', () => {
    const bytes = bytesOf(CHUNKED_TRAILER);
    for (let cut = 1; cut < bytes.length; cut++) {
      const d = drive([
        { dir: 0, bytes: GET_A, ts: 10 },
        ...splitAt(bytes, [cut]).map((b, i) => ({ dir: 1 as const, bytes: b, ts: 20 + i })),
        { dir: 0, bytes: GET_A, ts: 30 },
        { dir: 1, bytes: OK_5, ts: 40 },
      ]);
      assert.equal(d.exchanges.length, 2, `cut ${cut}`);
      const [x] = d.exchanges;
      assert.deepEqual(summary(x!), {
        index: 0, method: 'GET', path: '/a', status: 200, requestBody: 0, responseBody: 4 + 6 + 14,
        bytes: { request: GET_A.length, response: bytes.length }, notes: [],
      }, `cut ${cut}`);
      assert.deepEqual(x!.responseHeaders, [['transfer-encoding', 'chunked'], ['trailer', 'X-Checksum'], ['x-checksum', 'abc123']]);
      assert.equal(x!.endUs, 21, `cut ${cut}`);
      assert.equal(summary(d.exchanges[1]!).responseBody, 5);
    }
  });

  test('chunked request body is counted de-chunked', () => {
    const request = 'POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n';
    const d = drive([
      { dir: 0, bytes: request, ts: 10 },
      { dir: 1, bytes: CREATED_0, ts: 20 },
    ]);
    assert.deepEqual(summary(d.exchanges[0]!), {
      index: 0, method: 'POST', path: '/upload', status: 201, requestBody: 12, responseBody: 0,
      bytes: { request: request.length, response: CREATED_0.length }, notes: [],
    });
  });

  // RFC 9112 §6.3: chunked as the final transfer coding frames the body, over any Content-Length;
  // a response transfer-coded otherwise ends with the connection.
  const GZIPPED = '\x1f\x8b\x08\x00';
  const transferCodings: { name: string; head: string }[] = [
    { name: 'one field "gzip, chunked"', head: 'Transfer-Encoding: gzip, chunked\r\n' },
    { name: 'two fields "gzip" then "chunked"', head: 'Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n' },
    { name: 'chunked with a Content-Length beside it', head: 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n' },
  ];
  for (const c of transferCodings) {
    for (const split of [false, true]) {
      test(`chunked as the last transfer coding (${c.name})${split ? ', head split' : ''}: both directions stay in step`, () => {
        const post = `POST /z HTTP/1.1\r\nHost: h\r\n${c.head}\r\n4\r\n${GZIPPED}\r\n0\r\n\r\n`;
        const response = `HTTP/1.1 200 OK\r\n${c.head}\r\n4\r\n${GZIPPED}\r\n0\r\n\r\n`;
        const at = split ? 20 : post.length;
        const d = drive([
          { dir: 0, bytes: post.slice(0, at), ts: 10 },
          { dir: 0, bytes: post.slice(at) + GET_A, ts: 11 },
          { dir: 1, bytes: response.slice(0, split ? 20 : response.length), ts: 20 },
          { dir: 1, bytes: response.slice(split ? 20 : response.length) + OK_5, ts: 21 },
        ]);
        assert.deepEqual(d.exchanges.map(summary), [
          { index: 0, method: 'POST', path: '/z', status: 200, requestBody: 4, responseBody: 4,
            bytes: { request: post.length, response: response.length }, notes: [] },
          { index: 1, method: 'GET', path: '/a', status: 200, requestBody: 0, responseBody: 5,
            bytes: { request: GET_A.length, response: OK_5.length }, notes: [] },
        ]);
      });
    }
  }

  test('a response transfer-coded without chunked last is read until the close, over its Content-Length', () => {
    const response = `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n${GZIPPED}and more`;
    const d = new HandlerDriver(new Http1Analyzer()).run([
      { dir: 0, bytes: GET_A, ts: 10 },
      { dir: 1, bytes: response, ts: 20 },
    ]);
    assert.equal(d.exchanges.length, 0, 'not complete before the FIN');
    d.end(1, 'fin', 30);
    assert.deepEqual(d.exchanges.map(summary), [
      { index: 0, method: 'GET', path: '/a', status: 200, requestBody: 0, responseBody: 12,
        bytes: { request: GET_A.length, response: response.length }, notes: [] },
    ]);
  });

  test('close-delimited response body ends with the server FIN', () => {
    const response = 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<html>until the end</html>';
    const d = new HandlerDriver(new Http1Analyzer()).run([
      { dir: 0, bytes: GET_A, ts: 10 },
      { dir: 1, bytes: response.slice(0, 45), ts: 20 },
      { dir: 1, bytes: response.slice(45), ts: 25 },
    ]);
    assert.equal(d.exchanges.length, 0, 'not complete before the FIN');
    d.end(1, 'fin', 90);
    assert.equal(d.exchanges.length, 1, 'complete at the FIN');
    assert.deepEqual(summary(d.exchanges[0]!), {
      index: 0, method: 'GET', path: '/a', status: 200, requestBody: 0, responseBody: '<html>until the end</html>'.length,
      bytes: { request: GET_A.length, response: response.length }, notes: [],
    });
    assert.equal(d.exchanges[0]!.endUs, 25, 'last byte, not the FIN');
    d.close(100);
    assert.equal(d.exchanges.length, 1);
  });

  const noBodyCases: { name: string; method: string; response: string }[] = [
    { name: 'HEAD with Content-Length', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n' },
    { name: 'HEAD with chunked', method: 'HEAD', response: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' },
    { name: '204', method: 'DELETE', response: 'HTTP/1.1 204 No Content\r\n\r\n' },
    { name: '304 with Content-Length', method: 'GET', response: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\nETag: "x"\r\n\r\n' },
  ];
  for (const c of noBodyCases) {
    test(`${c.name}: no body, the next response follows immediately`, () => {
      const request = `${c.method} /r HTTP/1.1\r\nHost: h\r\n\r\n`;
      const d = drive([
        { dir: 0, bytes: request + GET_A, ts: 10 },
        { dir: 1, bytes: c.response + OK_5, ts: 20 },
      ]);
      assert.deepEqual(d.exchanges.map(summary), [
        { index: 0, method: c.method, path: '/r', status: Number(c.response.slice(9, 12)), requestBody: 0, responseBody: 0,
          bytes: { request: request.length, response: c.response.length }, notes: [] },
        { index: 1, method: 'GET', path: '/a', status: 200, requestBody: 0, responseBody: 5,
          bytes: { request: GET_A.length, response: OK_5.length }, notes: [] },
      ]);
      assert.deepEqual(d.counters.toJSON(), {});
    });
  }

  test('100-continue: interim status kept, final status and timing from the final response', () => {
    const head = 'PUT /big HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n';
    const cont = 'HTTP/1.1 100 Continue\r\n\r\n';
    const final = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const d = drive([
      { dir: 0, bytes: head, ts: 100 },
      { dir: 1, bytes: cont, ts: 150 },
      { dir: 0, bytes: 'data', ts: 200 },
      { dir: 1, bytes: final, ts: 300 },
    ]);
    const [x] = d.exchanges;
    assert.deepEqual(x!.response, { status: 200, reason: 'OK', version: '1.1', bodyBytes: 2, interim: [100] });
    assert.deepEqual([x!.startUs, x!.requestEndUs, x!.responseStartUs, x!.endUs], [100, 200, 150, 300]);
    assert.deepEqual(x!.bytes, { request: head.length + 4, response: cont.length + final.length });
  });

  test('timing fields come from the chunk timestamps', () => {
    const request = POST_B;
    const d = drive([
      { dir: 0, bytes: request.slice(0, 20), ts: 1_000 },
      { dir: 0, bytes: request.slice(20), ts: 1_200 },
      { dir: 1, bytes: OK_5.slice(0, 10), ts: 5_000 },
      { dir: 1, bytes: OK_5.slice(10, 30), ts: 6_000 },
      { dir: 1, bytes: OK_5.slice(30), ts: 7_500 },
    ]);
    const [x] = d.exchanges;
    assert.deepEqual([x!.startUs, x!.requestEndUs, x!.responseStartUs, x!.endUs], [1_000, 1_200, 5_000, 7_500]);
  });

  test('UTF-8 in the path and header values is decoded from the raw bytes', () => {
    const request = utf8('GET /città/naïve?q=日本 HTTP/1.1\r\nHost: bücher.example\r\nX-Name: Zoë ✓\r\n\r\n');
    const response = utf8('HTTP/1.1 200 Très bien\r\nX-Reply: żółw\r\nContent-Length: 0\r\n\r\n');
    for (const cut of [1, 9, 10, 11, 12, 50, 51, 52]) {
      const d = drive([
        ...splitAt(request, [cut]).map((b, i) => ({ dir: 0 as const, bytes: b, ts: 10 + i })),
        { dir: 1, bytes: response, ts: 20 },
      ]);
      const [x] = d.exchanges;
      assert.equal((x!.request as HttpRequestInfo).path, '/città/naïve?q=日本', `cut ${cut}`);
      assert.equal((x!.request as HttpRequestInfo).host, 'bücher.example');
      assert.deepEqual(x!.requestHeaders, [['host', 'bücher.example'], ['x-name', 'Zoë ✓']]);
      assert.equal((x!.response as HttpResponseInfo).reason, 'Très bien');
      assert.deepEqual(x!.responseHeaders[0], ['x-reply', 'żółw']);
      assert.deepEqual(x!.bytes, { request: request.length, response: response.length });
    }
  });

  test('sensitive headers never appear in the output, in heads or trailers', () => {
    const request =
      'GET /me HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer SECRET1\r\nCookie: sid=SECRET2\r\n' +
      'Proxy-Authorization: Basic SECRET3\r\nX-Request-ID: keep-me\r\n\r\n';
    const response =
      'HTTP/1.1 200 OK\r\nSet-Cookie: sid=SECRET4; HttpOnly\r\nset-cookie: b=SECRET5\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '0\r\nSet-Cookie: t=SECRET6\r\nX-Trailer: yes\r\n\r\n';
    const d = drive([
      { dir: 0, bytes: request, ts: 10 },
      { dir: 1, bytes: response, ts: 20 },
    ]);
    const json = JSON.stringify(d.exchanges);
    assert.doesNotMatch(json, /SECRET|cookie|authorization/i);
    assert.deepEqual(d.exchanges[0]!.requestHeaders, [['host', 'h'], ['x-request-id', 'keep-me']]);
    assert.deepEqual(d.exchanges[0]!.responseHeaders, [['transfer-encoding', 'chunked'], ['x-trailer', 'yes']]);
  });

  test('header fields are capped per message and the cap is counted', () => {
    const many = Array.from({ length: 100 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
    const d = drive([
      { dir: 0, bytes: `GET / HTTP/1.1\r\n${many}\r\n`, ts: 10 },
      { dir: 1, bytes: `HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(9000)}\r\nX-Small: 1\r\nContent-Length: 0\r\n\r\n`, ts: 20 },
    ]);
    const [x] = d.exchanges;
    assert.equal(x!.requestHeaders.length, 64);
    assert.deepEqual(x!.requestHeaders[63], ['x-h63', 'v63']);
    assert.deepEqual(x!.responseHeaders, [], 'an oversized field stops collection');
    assert.equal(d.counters.get('http.headers-capped'), 2);
  });

  test('a response without a request is counted, not emitted', () => {
    const d = drive([
      { dir: 1, bytes: OK_5, ts: 10 },
      { dir: 0, bytes: GET_A, ts: 20 },
      { dir: 1, bytes: CREATED_0, ts: 30 },
    ]);
    assert.deepEqual(d.exchanges.map((x) => (x.response as HttpResponseInfo).status), [201]);
    assert.equal(d.counters.get('http.responses-without-request'), 1);
  });

  test('a request without a response is emitted at close with a note', () => {
    const d = drive([
      { dir: 0, bytes: GET_A, ts: 10 },
      { dir: 1, bytes: OK_5, ts: 20 },
      { dir: 0, bytes: GET_A, ts: 30 },
    ]);
    assert.deepEqual(d.exchanges.map((x) => [x.index, x.response === null, x.responseStartUs, x.endUs, x.notes]), [
      [0, false, 20, 20, []],
      [1, true, null, null, ['no response seen']],
    ]);
  });

  test('a response cut by the server FIN is emitted as incomplete', () => {
    const partial = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this';
    const d = drive([
      { dir: 0, bytes: GET_A, ts: 10 },
      { dir: 1, bytes: partial, ts: 20 },
      { dir: 1, end: 'rst', ts: 25 },
    ]);
    assert.deepEqual(summary(d.exchanges[0]!), {
      index: 0, method: 'GET', path: '/a', status: 200, requestBody: 0, responseBody: 9,
      bytes: { request: GET_A.length, response: partial.length }, notes: ['response incomplete'],
    });
  });
});
