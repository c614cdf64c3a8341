// Each protocol says when the oldest exchange it has begun and not emitted started: the correlator
// decides calls early only when nothing that began before them is still running (correlate-in-flight).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Http1Analyzer } from '../src/protocols/http1/analyzer.js';
import { Http2Analyzer } from '../src/protocols/http2/analyzer.js';
import { MysqlAnalyzer } from '../src/protocols/mysql/analyzer.js';
import { PREFACE, settingsFrame } from './lib/h2-builder.js';
import { Conversation, requestFields } from './lib/h2-conversation.js';
import { HandlerDriver } from './lib/handler-driver.js';
import * as b from './lib/mysql-builder.js';

describe('oldest exchange in flight, per protocol', () => {
  it('HTTP/1: from the first byte of a head still arriving, until the response ends; pipelined: the oldest', () => {
    const d = new HandlerDriver(new Http1Analyzer());
    assert.equal(d.handler.oldestInFlightUs(), null);
    d.data(0, 'GET /a HTTP/1.1\r\n', 100);
    assert.equal(d.handler.oldestInFlightUs(), 100, 'head not complete yet');
    d.data(0, 'Host: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n', 200);
    assert.equal(d.handler.oldestInFlightUs(), 100);
    d.data(1, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', 300);
    assert.equal(d.exchanges.length, 1);
    assert.equal(d.handler.oldestInFlightUs(), 200, 'the pipelined second request');
    d.data(1, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfi', 400);
    assert.equal(d.handler.oldestInFlightUs(), 200, 'its response body is still coming');
    d.data(1, 've', 500);
    assert.equal(d.handler.oldestInFlightUs(), 200);
    d.data(1, '!', 600);
    assert.equal(d.exchanges.length, 2);
    assert.equal(d.handler.oldestInFlightUs(), null);
  });

  it('HTTP/2: the earliest open stream, until its end', () => {
    const c = new Conversation().raw(0, Buffer.concat([PREFACE, settingsFrame([])])).raw(1, settingsFrame([]));
    c.headers(0, 1, requestFields('/one'), { endStream: true });
    c.headers(0, 3, requestFields('/two'), { endStream: true });
    const d = new HandlerDriver(new Http2Analyzer());
    for (const s of c.steps) d.data(s.dir, s.bytes, s.ts);
    const [one, two] = [c.steps[2]!.ts, c.steps[3]!.ts];
    assert.equal(d.handler.oldestInFlightUs(), one);
    const reply = new Conversation();
    reply.encoders[1] = c.encoders[1];
    reply.headers(1, 1, [[':status', '200']], { endStream: true });
    d.data(1, reply.steps[0]!.bytes, two + 100);
    assert.equal(d.exchanges.length, 1);
    assert.equal(d.handler.oldestInFlightUs(), two);
  });

  it('MySQL: from the command until its response is complete', () => {
    const d = new HandlerDriver(new MysqlAnalyzer(), { server: { ip: '10.0.0.2', port: 3306 } });
    d.data(1, b.greeting(), 10).data(0, b.handshakeResponse({ user: 'u' }), 20).data(1, b.ok(2), 30);
    assert.equal(d.handler.oldestInFlightUs(), null, 'logged in, nothing running');
    d.data(0, b.query('SELECT 1'), 40);
    assert.equal(d.handler.oldestInFlightUs(), 40);
    d.data(1, b.resultSet(['1'], [['1']]).bytes, 50);
    assert.equal(d.handler.oldestInFlightUs(), null);
  });
});
