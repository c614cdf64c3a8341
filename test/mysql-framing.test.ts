import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MysqlResponseInfo } from '../src/protocols/types.js';
import type { MysqlCommandInfo } from '../src/protocols/mysql/index.js';
import * as b from './lib/mysql-builder.js';
import { Conversation, drive } from './lib/mysql-driver.js';

const CAPS = b.BASE_CAPS | b.CAP.DEPRECATE_EOF;

function req(x: { request: unknown }): MysqlCommandInfo {
  return x.request as MysqlCommandInfo;
}
function res(x: { response: unknown }): MysqlResponseInfo {
  assert.ok(x.response, 'response expected');
  return x.response as MysqlResponseInfo;
}

function loggedIn(caps = CAPS): Conversation {
  return new Conversation().server(b.greeting()).client(b.handshakeResponse({ capabilities: caps })).server(b.ok(2));
}

test('a 17 MB query split over two packets (0xFFFFFF continuation) is one command', () => {
  const head = 'INSERT INTO blobs VALUES (\'';
  const sql = head + 'x'.repeat(17 * 1024 * 1024 - head.length - 2) + "')";
  const request = b.query(sql);
  assert.equal(request.readUIntLE(0, 3), 0xffffff, 'the builder really splits');
  const conversation = () =>
    loggedIn()
      .client(request.subarray(0, 1_000_000))
      .client(request.subarray(1_000_000))
      .server(b.ok(2, { affectedRows: 1 }))
      .client(b.command(b.COM.PING))
      .server(b.ok(1));
  const exact = drive(conversation().steps, { maxSqlBytes: 32 * 1024 * 1024 }).exchanges;
  assert.equal(exact.length, 3);
  assert.ok(req(exact[1]!).sql === sql, 'the whole text, joined across the continuation');
  assert.equal(exact[1]!.bytes.request, request.length);
  assert.equal(res(exact[1]!).affectedRows, 1);
  assert.equal(req(exact[2]!).command, 'PING');

  const capped = drive(conversation().steps).exchanges;
  assert.equal(req(capped[1]!).sql!.length, 1024 * 1024 + 4096 - 1);
  assert.deepEqual(capped[1]!.notes, ['sql truncated at 1048576 bytes']);
  assert.equal(req(capped[2]!).command, 'PING');
});

test('a packet of exactly 0xFFFFFF bytes ends with an empty continuation packet', () => {
  const sql = 'SELECT ' + '1'.repeat(0xffffff - 1 - 7);
  const request = b.query(sql);
  assert.equal(request.length, 4 + 0xffffff + 4);
  const c = loggedIn().client(request).server(b.ok(2)).client(b.command(b.COM.PING)).server(b.ok(1));
  const { exchanges } = drive(c.steps, { maxSqlBytes: 0x1000000 });
  assert.ok(req(exchanges[1]!).sql === sql);
  assert.equal(req(exchanges[2]!).command, 'PING');
});

test('compressed protocol: zlib frames, an inner packet spanning two frames, a stored frame', () => {
  const caps = CAPS | b.CAP.COMPRESS;
  const rows = Array.from({ length: 40 }, (_, i) => [String(i), 'row-' + 'y'.repeat(50)]);
  const result = b.resultSet(['id', 'label'], rows, { deprecateEof: true }).bytes;
  const cut = 700; // inside a row packet
  const c = new Conversation()
    .server(b.greeting())
    .client(b.handshakeResponse({ capabilities: caps }))
    .server(b.ok(2))
    .client(b.compressedFrame(0, b.query('SELECT id, label FROM t /* traceparent */')))
    .server(Buffer.concat([b.compressedFrame(1, result.subarray(0, cut)), b.compressedFrame(2, result.subarray(cut))]))
    .client(b.compressedFrame(0, b.command(b.COM.PING), true))
    .server(b.compressedFrame(1, b.ok(1), true))
    .client(b.compressedFrame(0, b.query('UPDATE t SET a = 2')))
    .server(b.compressedFrame(1, b.ok(1, { affectedRows: 3 })));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => [req(x).command, req(x).sql, res(x).rows, res(x).affectedRows]),
    [
      ['LOGIN', null, null, 0],
      ['QUERY', 'SELECT id, label FROM t /* traceparent */', 40, null],
      ['PING', null, null, 0],
      ['QUERY', 'UPDATE t SET a = 2', null, 3],
    ],
  );
  assert.equal(counters.get('mysql.compressed-connections'), 1);
  assert.equal(counters.get('mysql.inflate-failed'), 0);
});

test('compressed protocol: the OK ending the login and the first frame in one segment', () => {
  const caps = CAPS | b.CAP.COMPRESS;
  const c = new Conversation()
    .server(b.greeting())
    .client(b.handshakeResponse({ capabilities: caps }))
    .server(Buffer.concat([b.ok(2), b.compressedFrame(0, b.packet(0, Buffer.from('x')))])) // stray frame: counted, no crash
    .client(b.compressedFrame(0, b.query('SELECT 1')))
    .server(b.compressedFrame(1, b.ok(1)));
  const { exchanges, counters } = drive(c.steps);
  assert.equal(exchanges.length, 2);
  assert.equal(counters.get('mysql.responses-without-request'), 1, 'the stray packet read through the compressed framing');
  assert.equal(req(exchanges[1]!).sql, 'SELECT 1');
});

test('corrupt zlib payload is counted, not thrown', () => {
  const caps = CAPS | b.CAP.COMPRESS;
  const frame = b.compressedFrame(0, b.query('SELECT 1'));
  frame[frame.length - 3] ^= 0xff;
  frame[9] ^= 0x55;
  const c = new Conversation().server(b.greeting()).client(b.handshakeResponse({ capabilities: caps })).server(b.ok(2)).client(frame);
  const { exchanges, counters } = drive(c.steps);
  assert.equal(exchanges.length, 1);
  assert.equal(counters.get('mysql.inflate-failed') + counters.get('mysql.inflated-length-mismatch'), 1);
});

test('capture starting after login: responses without request are skipped, then commands are followed', () => {
  const c = new Conversation()
    .server(b.resultSet(['a'], [['1']], { deprecateEof: true }).bytes.subarray(9)) // tail of an earlier answer
    .client(b.query('select @@version_comment limit 1'))
    .server(b.resultSet(['@@version_comment'], [['MySQL']]).bytes)
    .client(b.command(b.COM.PING))
    .server(b.ok(1))
    .client(b.statementCommand(b.COM.STMT_CLOSE, 4));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => [req(x).command, req(x).database, x.response && res(x).rows]),
    [
      ['QUERY', null, 1],
      ['PING', null, null],
      ['STMT_CLOSE', null, null],
    ],
  );
  assert.equal(counters.get('mysql.responses-without-request'), 1);
  assert.equal(counters.get('mysql.midstream-connections'), 1);
});

test('capture starting inside a command: bytes are skipped until a command starts a segment', () => {
  const tail = b.query('SELECT a FROM t WHERE b = 1').subarray(10);
  const c = new Conversation()
    .client(tail)
    .server(b.ok(1))
    .client(b.query('SELECT 2'))
    .server(b.ok(1));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => req(x).sql),
    ['SELECT 2'],
  );
  assert.equal(counters.get('mysql.unsynced-request-bytes'), tail.length);
});

test('capture starting after a compressed login (no handshake): stored frames are recognised', () => {
  const c = new Conversation()
    .client(b.compressedFrame(0, b.query('use `test`'), true))
    .server(b.compressedFrame(1, b.ok(1), true))
    .client(b.compressedFrame(0, b.query('SELECT 1')))
    .server(b.compressedFrame(1, b.ok(1)));
  const { exchanges } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => [req(x).sql, req(x).database, res(x).ok]),
    [
      ['use `test`', null, true],
      ['SELECT 1', 'test', true],
    ],
  );
});

test('gap in the response: the pending exchange is emitted with a note, the next command resyncs', () => {
  const rs = b.resultSet(['a'], [['1'], ['2'], ['3']], { deprecateEof: true }).bytes;
  const c = loggedIn()
    .client(b.query('SELECT a FROM t'))
    .server(rs.subarray(0, 20))
    .gap(1, 15)
    .server(rs.subarray(35))
    .client(b.query('SELECT 2'))
    .server(b.ok(1));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(1).map((x) => [req(x).sql, x.notes, x.response && res(x).ok]),
    [
      ['SELECT a FROM t', ['gap in response stream', 'response incomplete'], true],
      ['SELECT 2', [], true],
    ],
  );
  assert.equal(counters.get('mysql.gaps'), 1);
});

test('gap in the requests: the pending exchange gets a note, resync at the next command', () => {
  const c = loggedIn()
    .client(b.query('SELECT 1'))
    .gap(0, 40)
    .client(b.query('SELECT b FROM t').subarray(6))
    .server(b.ok(1))
    .client(b.query('SELECT 3'))
    .server(b.ok(1));
  const { exchanges } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(1).map((x) => [req(x).sql, x.notes]),
    [
      ['SELECT 1', ['gap in request stream']],
      ['SELECT 3', []],
    ],
  );
});

test('a server-only stream that is not MySQL is counted and skipped without exchanges', () => {
  const c = new Conversation().server(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')).client(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(exchanges, []);
  assert.ok(counters.get('mysql.unsynced-request-bytes') > 0);
});
