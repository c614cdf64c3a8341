// The client a proxy says it forwarded for (Forwarded, X-Forwarded-For): kept on HTTP exchanges as
// `forwardedFor` and exported as OpenTelemetry's client.address, as the HTTP conventions ask.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toOtlpRequest } from '../src/export/otlp/transform.js';
import { forwardedClient } from '../src/protocols/forwarded.js';
import type { HttpRequestInfo } from '../src/protocols/types.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { capturePath, loadConformance } from './lib/conformance.js';
import { httpRequest, makeRecord } from './lib/span-fixtures.js';

describe('the forwarded-for client', () => {
  it('RFC 7239 Forwarded: the first element\'s for=, quoted, bracketed or with a port', () => {
    assert.equal(forwardedClient('for=192.0.2.60;proto=http;by=203.0.113.43', null), '192.0.2.60');
    assert.equal(forwardedClient('For="[2001:DB8:CAFE::17]:4711", for=198.51.100.17', null), '2001:db8:cafe::17');
    assert.equal(forwardedClient('proto=https;for="192.0.2.43:47011"', null), '192.0.2.43');
  });

  it('X-Forwarded-For: the left-most address, the client the first proxy saw', () => {
    assert.equal(forwardedClient(null, '10.90.14.76,10.158.233.64'), '10.90.14.76');
    assert.equal(forwardedClient(null, ' 203.0.113.7 , 10.0.0.1'), '203.0.113.7');
    assert.equal(forwardedClient(null, '[2001:db8::1]:8080'), '2001:db8::1');
  });

  it('what names no address is no client: unknown, obfuscated identifiers, host names, garbage', () => {
    assert.equal(forwardedClient('for=unknown', null), null);
    assert.equal(forwardedClient('for=_hidden', null), null);
    assert.equal(forwardedClient(null, 'client.example.com'), null);
    assert.equal(forwardedClient(null, '999.1.1.1'), null);
    assert.equal(forwardedClient('for=unknown', '192.0.2.9'), '192.0.2.9', 'X-Forwarded-For when Forwarded names none');
  });

  it('DeepFlow\'s client-ip capture: the left-most of the X-Forwarded-For it reports', async () => {
    const entry = loadConformance('deepflow-http-client-ip');
    const { spans } = await analyzeFiles([capturePath(entry)]);
    assert.equal((spans[0]!.request as HttpRequestInfo).forwardedFor, entry.http![0]!.clientIp!.split(',')[0]);
  });

  it('OTLP: client.address is the forwarded-for client, without a port; the socket peer stays the proxy', () => {
    const record = makeRecord({ request: { ...httpRequest(), forwardedFor: '203.0.113.7' } });
    const spans = toOtlpRequest([record], {}).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const server = spans.find((s) => s.kind === 2)!;
    const attr = (key: string): unknown => server.attributes.find((a) => a.key === key)?.value;
    assert.deepEqual([attr('client.address'), attr('client.port')], [{ stringValue: '203.0.113.7' }, undefined]);
    assert.deepEqual(attr('network.peer.address'), { stringValue: record.client.ip });
  });
});
