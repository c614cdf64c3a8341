import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MessageParser, type AfterHead, type MessageParserEvents } from '../src/protocols/http1/message-parser.js';
import { readCleanHead } from '../src/protocols/http1/clean-head.js';

/**
 * The fast path (clean-head.ts) reads a head only when it is whole and clean, else http-parser-js
 * reads it. A head whose first byte comes alone is never whole, so http-parser-js reads it: feeding
 * the same bytes in one call and in two must give the same events and the same outcome.
 */

type Event = (string | number | string[])[];

function run(kind: 'request' | 'response', bytes: Buffer, after: AfterHead, splitFirstByte: boolean): Event[] {
  const events: Event[] = [];
  const sink: MessageParserEvents = {
    head: (h, endIndex) => {
      events.push(['head', h.method, h.target, h.status, h.reason, h.version, [...h.rawHeaders], endIndex]);
      return after;
    },
    body: (_chunk, _offset, length) => events.push(['body', length]),
    trailers: (raw) => events.push(['trailers', [...raw]]),
    complete: (endIndex) => events.push(['complete', endIndex]),
  };
  const parser = new MessageParser(kind, sink);
  let at = 0;
  const pieces = splitFirstByte ? [1, bytes.length] : [bytes.length];
  for (const end of pieces) {
    while (at < end) {
      const result = parser.execute(bytes, at, end);
      events.push(['result', result.consumed, result.error ? 'error' : 'ok']);
      if (result.error || result.consumed === 0) return events;
      at += result.consumed;
    }
  }
  return events;
}

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
/** Field values and lines with the bytes that make a head unclean: CR, blanks, colons, high bytes. */
const value = fc.array(fc.constantFrom('a', 'Z', '0', ' ', '\t', ':', '\r', '\u00e9', '\u00ff', '/', '='), { maxLength: 10 }).map((a) => a.join(''));
const fieldLine = fc.oneof(
  fc.tuple(token, fc.constantFrom(':', ': ', ':\t', ' :', ': \t'), value).map(([n, sep, v]) => `${n}${sep}${v}`),
  fc.constantFrom('Content-Length: 5', 'content-length: 5', 'Content-Length: 0', 'Content-Length: x', 'Transfer-Encoding: chunked'),
  fc.constantFrom('Connection: upgrade', 'Upgrade: h2c', ' folded', '\tfolded', ':no-name', 'no-colon', 'a b: c'),
);
const eol = fc.constantFrom('\r\n', '\r\n', '\n', '\r\r\n');
const requestLine = fc.oneof(
  fc.tuple(fc.constantFrom('GET', 'POST', 'HEAD', 'CONNECT', 'M-SEARCH', 'BREW', 'get', 'G T'), fc.constantFrom('/', '/a?b=1', '/x y', '*', '', '/\u00e9'), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 ', 'HTTP/1', 'http/1.1'))
    .map(([m, t, v]) => `${m} ${t} ${v}`),
  fc.constantFrom('GET  / HTTP/1.1', '', ' GET / HTTP/1.1'),
);
const statusLine = fc.oneof(
  fc.tuple(fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9.9', 'HTTP/1.x'), fc.constantFrom(' 200', ' 204', ' 101', ' 100', ' 2000', ' 20', '  200'), fc.constantFrom('', ' OK', '  Not Found', ' \u00e9t\u00e9', ' a\rb'))
    .map(([v, s, r]) => `${v}${s}${r}`),
  fc.constantFrom('', 'HTTP/1.1'),
);
const tail = fc.constantFrom('', 'hello', '5\r\nhello\r\n0\r\n\r\n', '0\r\nX-T: 1\r\n\r\n', 'GET /next HTTP/1.1\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n', 'zz\r\n');

function headText(kind: 'request' | 'response', line: string, fields: string[], eols: string[]): string {
  let text = line + eols[0];
  fields.forEach((f, i) => (text += f + eols[(i + 1) % eols.length]));
  return text + eols[eols.length - 1];
}

for (const kind of ['request', 'response'] as const) {
  test(`clean-head fast path: ${kind} heads give the same events in one piece as split after the first byte`, () => {
    fc.assert(
      fc.property(
        kind === 'request' ? requestLine : statusLine,
        fc.array(fieldLine, { maxLength: 6 }),
        fc.array(eol, { minLength: 1, maxLength: 4 }),
        tail,
        fc.constantFrom<AfterHead>('stop', 'chunked', 'until-close'),
        (line, fields, eols, rest, after) => {
          const bytes = Buffer.from(headText(kind, line, fields, eols) + rest, 'latin1');
          const whole = run(kind, bytes, after, false);
          const split = run(kind, bytes, after, true);
          // The split run reports one more result (the first byte) and counts it apart.
          const results = (events: Event[]) => events.filter((e) => e[0] === 'result');
          const others = (events: Event[]) => events.filter((e) => e[0] !== 'result');
          assert.deepEqual(others(split), others(whole));
          const consumed = (events: Event[]) => results(events).reduce((n, e) => n + (e[1] as number), 0);
          assert.equal(consumed(split), consumed(whole));
          assert.equal(results(split).at(-1)![2], results(whole).at(-1)![2]);
        },
      ),
      { numRuns: 3000 },
    );
  });
}

test('clean-head fast path: the heads it takes and the ones it leaves to http-parser-js', () => {
  const cases: [kind: 'request' | 'response', text: string, expect: null | { headers: string[]; end: number }][] = [
    ['request', 'GET /a HTTP/1.1\r\nHost: x\r\nX-A:  v w \t\r\n\r\nbody', { headers: ['Host', 'x', 'X-A', 'v w'], end: 41 }],
    ['request', 'GET /a HTTP/1.1\nHost: x\n\n', { headers: ['Host', 'x'], end: 25 }],
    ['request', 'GET /a HTTP/1.1\r\nHost: x\r\n', null], // incomplete
    ['request', '\r\nGET /a HTTP/1.1\r\n\r\n', null], // leading empty line
    ['request', 'GET /a HTTP/1.1\r\nA: b\rc\r\n\r\n', null], // bare CR
    ['request', 'GET /a HTTP/1.1\r\nA: b\r\n folded\r\n\r\n', null], // obs-fold
    ['request', 'GET /a HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\n', null],
    ['request', 'FOO /a HTTP/1.1\r\n\r\n', null], // unknown method
    ['response', 'HTTP/1.1 200\r\n\r\n', { headers: [], end: 16 }],
  ];
  for (const [kind, text, expect] of cases) {
    const bytes = Buffer.from(text, 'latin1');
    const head = readCleanHead(kind, bytes, 0, bytes.length, 80 * 1024);
    assert.deepEqual(head && { headers: head.rawHeaders, end: head.end }, expect, text);
  }
});
