import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { Exchange, HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { HandlerDriver, bytesOf, splitAt } from './lib/handler-driver.js';

/** One generated exchange: its wire text and what the analyzer must report for it. */
interface Modelled {
  request: string;
  response: string;
  expected: {
    method: string;
    path: string;
    status: number;
    interim: number[] | undefined;
    requestBody: number;
    responseBody: number;
    bytes: { request: number; response: number };
  };
}

type RequestKind = 'get' | 'head' | 'post-sized' | 'post-chunked';
type ResponseKind = 'sized' | 'chunked' | 'chunked-trailer' | 'no-content' | 'not-modified' | 'continue-then-sized';

function chunked(body: string, pieces: number, trailer: boolean): string {
  const size = Math.max(1, Math.ceil(body.length / pieces));
  let out = '';
  for (let i = 0; i < body.length; i += size) {
    const piece = body.slice(i, i + size);
    out += `${piece.length.toString(16)}\r\n${piece}\r\n`;
  }
  return out + (trailer ? '0\r\nX-Trailer: t\r\n\r\n' : '0\r\n\r\n');
}

function model(i: number, requestKind: RequestKind, responseKind: ResponseKind, size: number, pieces: number): Modelled {
  const path = `/item/${i}?n=${size}`;
  const body = 'b'.repeat(size);
  let request: string;
  let method = 'GET';
  let requestBody = 0;
  switch (requestKind) {
    case 'get':
      request = `GET ${path} HTTP/1.1\r\nHost: svc\r\nX-Request-ID: r${i}\r\n\r\n`;
      break;
    case 'head':
      method = 'HEAD';
      request = `HEAD ${path} HTTP/1.1\r\nHost: svc\r\n\r\n`;
      break;
    case 'post-sized':
      method = 'POST';
      requestBody = size;
      request = `POST ${path} HTTP/1.1\r\nHost: svc\r\nContent-Length: ${size}\r\n\r\n${body}`;
      break;
    case 'post-chunked':
      method = 'POST';
      requestBody = size;
      request = `POST ${path} HTTP/1.1\r\nHost: svc\r\nTransfer-Encoding: chunked\r\n\r\n${chunked(body, pieces, false)}`;
      break;
  }
  const head = method === 'HEAD';
  let response: string;
  let status = 200;
  let interim: number[] | undefined;
  let responseBody = head ? 0 : size;
  switch (responseKind) {
    case 'sized':
      response = `HTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n${head ? '' : body}`;
      break;
    case 'chunked':
    case 'chunked-trailer':
      response = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${head ? '' : chunked(body, pieces, responseKind === 'chunked-trailer')}`;
      break;
    case 'no-content':
      status = 204;
      responseBody = 0;
      response = 'HTTP/1.1 204 No Content\r\n\r\n';
      break;
    case 'not-modified':
      status = 304;
      responseBody = 0;
      response = `HTTP/1.1 304 Not Modified\r\nContent-Length: ${size}\r\n\r\n`;
      break;
    case 'continue-then-sized':
      interim = [100];
      response = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: ${size}\r\n\r\n${head ? '' : body}`;
      break;
  }
  return {
    request,
    response,
    expected: {
      method, path, status, interim, requestBody, responseBody,
      bytes: { request: request.length, response: response.length },
    },
  };
}

const exchangeArb = fc.record({
  requestKind: fc.constantFrom<RequestKind>('get', 'head', 'post-sized', 'post-chunked'),
  responseKind: fc.constantFrom<ResponseKind>('sized', 'chunked', 'chunked-trailer', 'no-content', 'not-modified', 'continue-then-sized'),
  size: fc.integer({ min: 0, max: 40 }),
  pieces: fc.integer({ min: 1, max: 4 }),
});

interface Chunk {
  dir: 0 | 1;
  bytes: Uint8Array;
  /** For a response chunk: request bytes that must have been delivered before it. */
  needs: number;
}

/**
 * Cut both directions anywhere, then interleave the pieces as a capture could show them: every
 * response byte after the last byte of its request.
 */
function schedule(conversation: Modelled[], cuts: [number[], number[]], choices: boolean[]): Chunk[] {
  const requestEnds: number[] = [];
  const responseEnds: number[] = [];
  let r = 0;
  let s = 0;
  for (const m of conversation) {
    requestEnds.push((r += m.request.length));
    responseEnds.push((s += m.response.length));
  }
  const toClient = bytesOf(conversation.map((m) => m.request).join(''));
  const toServer = bytesOf(conversation.map((m) => m.response).join(''));
  const requestChunks = splitAt(toClient, cuts[0].map((c) => c % (toClient.length + 1)));
  let responseOffset = 0;
  const responseChunks = splitAt(toServer, cuts[1].map((c) => c % (toServer.length + 1))).map((bytes) => {
    responseOffset += bytes.length;
    const owner = responseEnds.findIndex((end) => end >= responseOffset);
    return { dir: 1 as const, bytes, needs: requestEnds[owner]! };
  });
  const out: Chunk[] = [];
  let delivered = 0;
  let qi = 0;
  let si = 0;
  let ci = 0;
  while (qi < requestChunks.length || si < responseChunks.length) {
    const responseAllowed = si < responseChunks.length && responseChunks[si]!.needs <= delivered;
    const requestAvailable = qi < requestChunks.length;
    const takeResponse = responseAllowed && (!requestAvailable || (choices[ci++ % Math.max(1, choices.length)] ?? true));
    if (takeResponse) {
      out.push(responseChunks[si++]!);
    } else {
      const bytes = requestChunks[qi++]!;
      delivered += bytes.length;
      out.push({ dir: 0, bytes, needs: 0 });
    }
  }
  return out;
}

function observed(x: Exchange) {
  const req = x.request as HttpRequestInfo;
  const res = x.response as HttpResponseInfo;
  return {
    method: req.method,
    path: req.path,
    status: res.status,
    interim: res.interim,
    requestBody: req.bodyBytes,
    responseBody: res.bodyBytes,
    bytes: x.bytes,
  };
}

test('property: any chunking and interleaving of a conversation yields the same exchanges', () => {
  fc.assert(
    fc.property(
      fc.array(exchangeArb, { minLength: 1, maxLength: 6 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 30 }),
      fc.array(fc.boolean(), { maxLength: 40 }),
      (specs, cuts0, cuts1, choices) => {
        const conversation = specs.map((s, i) => model(i, s.requestKind, s.responseKind, s.size, s.pieces));
        const d = new HandlerDriver(new Http1Analyzer());
        schedule(conversation, [cuts0, cuts1], choices).forEach((c, step) => d.data(c.dir, c.bytes, 100 + step));
        d.close(10_000);

        assert.deepEqual(d.exchanges.map(observed), conversation.map((m) => m.expected));
        assert.deepEqual(d.exchanges.map((x) => x.index), conversation.map((_, i) => i));
        let seq = 1000;
        for (const [i, x] of d.exchanges.entries()) {
          assert.equal(x.requestSeq, seq);
          seq += conversation[i]!.request.length;
          assert.deepEqual(x.notes, []);
          assert.ok(x.startUs <= x.requestEndUs && x.requestEndUs <= x.endUs!, 'request before its response ends');
          assert.ok(x.responseStartUs! <= x.endUs!);
        }
        assert.deepEqual(d.counters.toJSON(), {});
      },
    ),
    { numRuns: 300 },
  );
});

test('property: a close-delimited last response is complete at the FIN, however it is cut', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 10 }), (body, cuts) => {
      const text = `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${body}`;
      const bytes = Buffer.from(text, 'utf8');
      const d = new HandlerDriver(new Http1Analyzer());
      d.data(0, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', 1);
      splitAt(bytes, cuts.map((c) => c % (bytes.length + 1))).forEach((b, i) => d.data(1, b, 10 + i));
      d.end(1, 'fin', 1000).close(1001);
      assert.equal(d.exchanges.length, 1);
      assert.equal((d.exchanges[0]!.response as HttpResponseInfo).bodyBytes, bytes.length - (text.length - body.length));
      assert.equal(d.exchanges[0]!.bytes.response, bytes.length);
      assert.deepEqual(d.exchanges[0]!.notes, []);
    }),
    { numRuns: 200 },
  );
});
