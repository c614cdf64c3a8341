import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { HttpRequestInfo, HttpResponseInfo } from '../src/protocols/types.js';
import { HandlerDriver, bytesOf } from './lib/handler-driver.js';

const H2C_REQUEST =
  'GET /grpc HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
  'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n';
const SWITCHING_H2C = 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n';
const PREFACE = bytesOf('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const SERVER_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
const SETTINGS_ACK = Buffer.from([0, 0, 0, 4, 1, 0, 0, 0, 0]);

function statuses(d: HandlerDriver): (number | null)[] {
  return d.exchanges.map((x) => (x.response as HttpResponseInfo | null)?.status ?? null);
}

describe('http1 upgrades and tunnels', () => {
  test('101 to Upgrade: h2c switches to http2 and forwards the bytes after the response head', () => {
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, H2C_REQUEST, 10);
    d.data(1, Buffer.concat([bytesOf(SWITCHING_H2C), SERVER_SETTINGS]), 20);
    d.data(0, Buffer.concat([PREFACE, SETTINGS_ACK]), 30);
    d.data(1, SETTINGS_ACK, 40);
    d.end(0, 'fin', 50).end(1, 'fin', 51).close(60);

    assert.deepEqual(d.switches, ['http2']);
    assert.deepEqual(statuses(d), [101]);
    const [x] = d.exchanges;
    assert.deepEqual(x!.bytes, { request: H2C_REQUEST.length, response: SWITCHING_H2C.length });
    assert.equal(x!.endUs, 20);
    const h2 = d.switched[0]!;
    assert.deepEqual(h2.bytes(1), Buffer.concat([SERVER_SETTINGS, SETTINGS_ACK]));
    assert.deepEqual(h2.bytes(0), Buffer.concat([PREFACE, SETTINGS_ACK]));
    const firstServerData = h2.events.find((e) => e.kind === 'data' && e.dir === 1);
    assert.deepEqual(firstServerData && 'offset' in firstServerData ? [firstServerData.offset, firstServerData.ts] : null, [SWITCHING_H2C.length, 20]);
    assert.deepEqual(h2.events.slice(-3).map((e) => e.kind), ['end', 'end', 'close']);
    assert.deepEqual(d.counters.toJSON(), {});
  });

  test('client bytes sent before the 101 arrives are held, then forwarded in order', () => {
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, Buffer.concat([bytesOf(H2C_REQUEST), PREFACE]), 10);
    d.data(0, SETTINGS_ACK, 11);
    d.data(1, SWITCHING_H2C, 20);
    d.close(30);
    assert.deepEqual(d.switches, ['http2']);
    const h2 = d.switched[0]!;
    assert.deepEqual(
      h2.events.filter((e) => e.kind === 'data').map((e) => ('offset' in e ? [e.dir, e.offset, e.ts] : null)),
      [[0, H2C_REQUEST.length, 10], [0, H2C_REQUEST.length + PREFACE.length, 11]],
    );
    assert.deepEqual(d.counters.toJSON(), {});
  });

  test('an h2c upgrade answered with 200 keeps the connection on HTTP/1.1', () => {
    const next = 'GET /after HTTP/1.1\r\nHost: h\r\n\r\n';
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, H2C_REQUEST + next, 10);
    d.data(1, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 20);
    d.close(30);
    assert.deepEqual(d.switches, []);
    assert.deepEqual(d.exchanges.map((x) => [(x.request as HttpRequestInfo).path, (x.response as HttpResponseInfo).status, x.bytes.request]), [
      ['/grpc', 200, H2C_REQUEST.length],
      ['/after', 404, next.length],
    ]);
    assert.deepEqual(d.counters.toJSON(), {});
  });

  test('h2c with no http2 analyzer: the exchange is kept and parsing stops quietly', () => {
    const d = new HandlerDriver(new Http1Analyzer(), { switchTo: () => null });
    d.data(0, H2C_REQUEST, 10);
    d.data(1, Buffer.concat([bytesOf(SWITCHING_H2C), SERVER_SETTINGS]), 20);
    d.data(0, PREFACE, 30);
    d.close(40);
    assert.deepEqual(d.switches, ['http2']);
    assert.deepEqual(statuses(d), [101]);
    assert.deepEqual(d.counters.toJSON(), { 'http.tunnel-bytes': SERVER_SETTINGS.length + PREFACE.length });
  });

  test('WebSocket: the 101 exchange is recorded, frames after it are not parsed as HTTP', () => {
    const request =
      'GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const response =
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
    const serverFrame = Buffer.concat([Buffer.from([0x81, 0x05]), bytesOf('hello')]);
    const clientFrame = Buffer.from([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    const looksLikeHttp = bytesOf('HTTP/1.1 200 OK\r\n\r\n');
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, request, 10);
    d.data(1, Buffer.concat([bytesOf(response), serverFrame]), 20);
    d.data(0, clientFrame, 30);
    d.data(1, looksLikeHttp, 40);
    d.end(1, 'fin', 50).close(60);
    assert.deepEqual(d.switches, []);
    assert.deepEqual(statuses(d), [101]);
    assert.deepEqual(d.exchanges[0]!.notes, []);
    assert.deepEqual(d.counters.toJSON(), {
      'http.tunnel-bytes': serverFrame.length + clientFrame.length + looksLikeHttp.length,
    });
  });

  test('CONNECT with 200: the exchange is recorded and the tunnel is not parsed', () => {
    const request = 'CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n';
    const response = 'HTTP/1.1 200 Connection Established\r\n\r\n';
    const clientHello = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
    const serverHello = Buffer.from([0x16, 0x03, 0x03, 0x00, 0x02, 9, 9]);
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, request, 10);
    d.data(1, response, 20);
    d.data(0, clientHello, 30);
    d.data(1, serverHello, 40);
    d.close(50);
    assert.deepEqual(
      d.exchanges.map((x) => [(x.request as HttpRequestInfo).method, (x.request as HttpRequestInfo).path, (x.response as HttpResponseInfo).status, x.bytes]),
      [['CONNECT', 'api.example:443', 200, { request: request.length, response: response.length }]],
    );
    assert.deepEqual(d.switches, []);
    assert.deepEqual(d.counters.toJSON(), { 'http.tunnel-bytes': clientHello.length + serverHello.length });
  });

  test('CONNECT refused with 407: the connection goes on as HTTP', () => {
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, 'CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n', 10);
    d.data(1, 'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n', 20);
    d.data(0, 'GET http://api.example/ HTTP/1.1\r\nHost: api.example\r\n\r\n', 30);
    d.data(1, 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx', 40);
    d.close(50);
    assert.deepEqual(d.exchanges.map((x) => [(x.request as HttpRequestInfo).path, (x.response as HttpResponseInfo).status]), [
      ['api.example:443', 407],
      ['http://api.example/', 200],
    ]);
    assert.deepEqual(d.counters.toJSON(), {});
  });
});
