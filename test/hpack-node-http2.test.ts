import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import type { Direction } from '../src/tcp/types.js';
import { HandlerDriver } from './lib/handler-driver.js';

type Headers = [string, string][];

/** Node's own HPACK encoder (nghttp2) on a loopback connection, recorded by a TCP relay in between. */
async function recordNodeHttp2(requests: { path: string; request: Headers; response: Headers }[]): Promise<{ dir: Direction; bytes: Buffer }[]> {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const i = Number(headers['x-i']);
    stream.respond({ ':status': 200, ...Object.fromEntries(requests[i]!.response) });
    stream.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const recorded: { dir: Direction; bytes: Buffer }[] = [];
  const relay = net.createServer((down) => {
    const up = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    down.on('data', (b) => { recorded.push({ dir: 0, bytes: b }); up.write(b); });
    up.on('data', (b) => { recorded.push({ dir: 1, bytes: b }); down.write(b); });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const client = http2.connect(`http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`);
  for (const [i, r] of requests.entries()) {
    await new Promise<void>((resolve, reject) => {
      const stream = client.request({ ':path': r.path, 'x-i': String(i), ...Object.fromEntries(r.request) });
      stream.on('error', reject);
      stream.resume();
      stream.on('end', resolve);
      stream.end();
    });
  }
  await new Promise<void>((resolve) => client.close(() => resolve()));
  await new Promise((resolve) => setTimeout(resolve, 20));
  relay.close();
  server.close();
  return recorded;
}

test('headers encoded by Node http2 (nghttp2: indexing, Huffman, evictions) decode back exactly', async () => {
  const token = fc.stringOf(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'), { minLength: 1, maxLength: 12 });
  const value = fc.stringOf(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:;/=+%'), { maxLength: 120 })
    .map((s) => s.trim());
  const fields = fc.uniqueArray(fc.tuple(token.map((t) => `x-${t}`), value), { selector: ([n]) => n, minLength: 1, maxLength: 8 });
  const requests = fc.sample(
    fc.record({ path: token.map((t) => `/p/${t}`), request: fields, response: fields }),
    { seed: 7, numRuns: 40 },
  );
  // Repeat some header lists so the dynamic table is both hit and, with ~100-byte values, evicted.
  const all = [...requests, ...requests.slice(0, 10)];
  const recorded = await recordNodeHttp2(all);
  const d = new HandlerDriver(new Http2Analyzer());
  recorded.forEach((r, i) => d.data(r.dir, r.bytes, 1000 + i));
  d.close(1_000_000);
  assert.equal(d.exchanges.length, all.length);
  const byIndex = [...d.exchanges].sort((a, b) => a.index - b.index);
  byIndex.forEach((x, i) => {
    const sent = all[i]!;
    assert.equal((x.request as { path: string }).path, sent.path);
    assert.deepEqual(x.requestHeaders.filter(([n]) => n !== 'x-i'), sent.request);
    assert.deepEqual(x.responseHeaders.filter(([n]) => n.startsWith('x-')), sent.response);
  });
  assert.equal(d.counters.get('http2.hpack-errors'), 0);
  assert.equal(d.counters.get('http2.hpack-unknown-fields'), 0);
});
