// Request targets keep no credentials: userinfo of absolute URLs and the values of query parameters
// that OpenTelemetry's URL conventions list as credentials are written as REDACTED, keys kept.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Http1Analyzer } from '../src/protocols/http1/analyzer.js';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import { redactTarget } from '../src/protocols/redact.js';
import type { Http2RequestInfo, HttpRequestInfo } from '../src/protocols/types.js';
import { PREFACE, settingsFrame } from './lib/h2-builder.js';
import { Conversation, requestFields } from './lib/h2-conversation.js';
import { HandlerDriver } from './lib/handler-driver.js';

describe('redactTarget', () => {
  const cases: [string, string][] = [
    ['/orders/7', '/orders/7'],
    ['/search?q=OpenTelemetry', '/search?q=OpenTelemetry'],
    ['/file?X-Goog-Signature=abc123&X-Goog-Date=1', '/file?X-Goog-Signature=REDACTED&X-Goog-Date=1'],
    ['/o?AWSAccessKeyId=AKIA&Signature=s%2Bg&Expires=9', '/o?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=9'],
    ['/b?sig=zz&SIG=kept&signature=kept#part', '/b?sig=REDACTED&SIG=kept&signature=kept#part'],
    ['http://user:pa%40ss@proxy.example:8080/x?sig=1', 'http://REDACTED:REDACTED@proxy.example:8080/x?sig=REDACTED'],
    ['http://host.example/a@b', 'http://host.example/a@b'],
    ['/mail/user@example.com', '/mail/user@example.com'],
  ];
  for (const [target, expected] of cases) it(JSON.stringify(target), () => assert.equal(redactTarget(target), expected));

  it('changes nothing but the values it redacts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        const out = redactTarget(s);
        if (!s.includes('?') && !s.includes('@')) assert.equal(out, s);
        assert.equal(redactTarget(out), out, 'idempotent');
      }),
    );
  });
});

describe('analyzers write redacted targets', () => {
  it('HTTP/1: a signed URL and a proxy request with credentials', () => {
    const d = new HandlerDriver(new Http1Analyzer());
    d.data(0, 'GET /bucket/k?X-Goog-Signature=secret HTTP/1.1\r\nHost: h\r\n\r\nGET http://me:pw@origin.example/ HTTP/1.1\r\nHost: origin.example\r\n\r\n', 10);
    d.data(1, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n', 20);
    d.close(30);
    assert.deepEqual(d.exchanges.map((x) => (x.request as HttpRequestInfo).path), ['/bucket/k?X-Goog-Signature=REDACTED', 'http://REDACTED:REDACTED@origin.example/']);
    assert.ok(!JSON.stringify(d.exchanges).includes('secret') && !JSON.stringify(d.exchanges).includes(':pw@'));
  });

  it('HTTP/2: the :path', () => {
    const c = new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame([])])).raw(1, settingsFrame([]));
    c.headers(0, 1, requestFields('/o?Signature=secret&a=1'), { endStream: true });
    c.headers(1, 1, [[':status', '204']], { endStream: true });
    const d = new HandlerDriver(new Http2Analyzer());
    for (const s of c.steps) d.data(s.dir, s.bytes, s.ts);
    d.close(9_999_999);
    assert.equal((d.exchanges[0]!.request as Http2RequestInfo).path, '/o?Signature=REDACTED&a=1');
  });
});
