import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Http1Analyzer } from '../src/protocols/http1/index.js';
import type { Detection } from '../src/protocols/types.js';
import type { Direction } from '../src/tcp/types.js';
import { bytesOf } from './lib/handler-driver.js';

const analyzer = new Http1Analyzer();

const cases: { name: string; dir: Direction; bytes: Uint8Array; verdict: Detection; reversed: boolean }[] = [
  { name: 'request line', dir: 0, bytes: bytesOf('GET / HTTP/1.1\r\nHost: a\r\n\r\n'), verdict: 'yes', reversed: false },
  { name: 'request line, WebDAV method', dir: 0, bytes: bytesOf('PROPFIND /d HTTP/1.1\r\n'), verdict: 'yes', reversed: false },
  { name: 'method and target only', dir: 0, bytes: bytesOf('POST /x'), verdict: 'yes', reversed: false },
  { name: 'empty', dir: 0, bytes: new Uint8Array(0), verdict: 'more', reversed: false },
  { name: 'method prefix', dir: 0, bytes: bytesOf('DELE'), verdict: 'more', reversed: false },
  { name: 'method without target yet', dir: 0, bytes: bytesOf('GET '), verdict: 'more', reversed: false },
  { name: 'HTTP/2 preface', dir: 0, bytes: bytesOf('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), verdict: 'no', reversed: false },
  { name: 'TLS ClientHello', dir: 0, bytes: Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), verdict: 'no', reversed: false },
  { name: 'status line on the client side', dir: 0, bytes: bytesOf('HTTP/1.1 200 OK\r\n'), verdict: 'yes', reversed: true },
  { name: 'status line', dir: 1, bytes: bytesOf('HTTP/1.1 404 Not Found\r\n'), verdict: 'yes', reversed: false },
  { name: 'HTTP/1.0 status line', dir: 1, bytes: bytesOf('HTTP/1.0 200 OK\r\n'), verdict: 'yes', reversed: false },
  { name: 'status line prefix', dir: 1, bytes: bytesOf('HTTP/1.1 2'), verdict: 'more', reversed: false },
  { name: 'request line on the server side', dir: 1, bytes: bytesOf('PUT /k HTTP/1.1\r\n'), verdict: 'yes', reversed: true },
  { name: 'mid-connection: body tail then a response', dir: 1, bytes: bytesOf('}]}\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), verdict: 'yes', reversed: false },
  { name: 'mid-connection: body tail then a request', dir: 0, bytes: bytesOf('"qty":1}GET /next HTTP/1.1\r\n\r\n'), verdict: 'more', reversed: false },
  { name: 'mid-connection: request at a line start', dir: 0, bytes: bytesOf('"qty":1}\nGET /next HTTP/1.1\r\n\r\n'), verdict: 'yes', reversed: false },
  { name: 'mid-connection: request line not complete yet', dir: 0, bytes: bytesOf('"qty":1}\nGET /next HTT'), verdict: 'more', reversed: false },
  { name: 'text that only looks like a method', dir: 0, bytes: bytesOf('x\nGET lucky\nmore'), verdict: 'more', reversed: false },
  { name: '8 KiB without a start line', dir: 1, bytes: new Uint8Array(8192).fill(0x78), verdict: 'no', reversed: false },
];

for (const c of cases) {
  test(`detect: ${c.name} (dir ${c.dir})`, () => {
    assert.equal(analyzer.detect(c.bytes, c.dir), c.verdict);
    assert.equal(analyzer.reversed(c.bytes, c.dir), c.reversed);
  });
}

test('analyzer identity', () => {
  assert.equal(analyzer.name, 'http');
  for (const port of [80, 8080, 8000, 8008, 8081, 3000, 5000, 9000]) assert.ok(analyzer.defaultPorts.includes(port), `port ${port}`);
  assert.deepEqual(new Http1Analyzer({ defaultPorts: [1234] }).defaultPorts, [1234]);
});
