// The small parsers that read whatever the wire holds (DNS answers, PROXY headers, TLS hellos, request
// targets) never throw on arbitrary bytes: they answer "not this" instead, so one odd packet cannot
// stop a capture.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { readDnsAnswer } from '../src/protocols/dns/answers.js';
import { readProxyHeader } from '../src/protocols/proxy-protocol.js';
import { detectTls } from '../src/protocols/tls/detect.js';
import { redactTarget } from '../src/protocols/redact.js';

/** Arbitrary bytes, and bytes that start like the real thing so the parsers get past their first checks. */
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, ...b])),
  fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.from([0x16, 0x03, 0x01, b.length >> 8, b.length & 0xff, 0x01, ...b])),
  fc.uint8Array({ maxLength: 300 }).map((b) => Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, ...b])),
  fc.string({ maxLength: 120 }).map((s) => Buffer.from(`PROXY ${s}`, 'latin1')),
);

test('DNS, PROXY and TLS readers answer every input without throwing', () => {
  fc.assert(
    fc.property(bytes, (b) => {
      const dns = readDnsAnswer(b);
      if (dns) assert.ok(dns.addresses.length > 0 && dns.name.length > 0);
      const proxy = readProxyHeader(b);
      if (proxy.kind === 'header') assert.ok(proxy.length > 0 && proxy.length <= b.length);
      const tls = detectTls(b);
      assert.ok(['yes', 'no', 'more'].includes(tls.tls));
    }),
    { numRuns: 5000 },
  );
});

test('redactTarget never throws on any target', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const out = redactTarget(s);
      assert.equal(typeof out, 'string');
    }),
    { numRuns: 3000 },
  );
});
