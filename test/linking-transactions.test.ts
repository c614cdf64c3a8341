// A MySQL transaction is made for one request: its statements share one parent, found by timing and
// by the values any of them carries; a pool's checkout PING goes with the command after it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { transactionStep } from '../src/correlate/linking.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { normalizeSql } from '../src/protocols/mysql/normalize.js';
import type { Exchange } from '../src/protocols/types.js';
import { correlateAll, exchangeOf } from './lib/exchange-fixtures.js';
import { T0 } from './lib/span-fixtures.js';

const SERVICE = { ip: '10.0.0.3', port: 8080 };
const DB = { ip: '10.0.0.6', port: 3306 };

/** A request into the service, µs after T0, answered at `to`. */
function into(n: number, path: string, from: number, to: number): Exchange {
  return exchangeOf({
    connectionId: n,
    client: { ip: '10.0.0.2', port: 40000 + n },
    server: SERVICE,
    requestSeq: n,
    startUs: T0 + from,
    requestEndUs: T0 + from + 10,
    responseStartUs: T0 + to - 10,
    endUs: T0 + to,
    request: { method: 'POST', path, host: null, version: '1.1', bodyBytes: 20 },
  });
}

/** A command on database connection `connection`, its `index`-th, from `from` µs for 30 µs. */
function command(connection: number, index: number, from: number, sql: string | null, name = 'QUERY'): Exchange {
  return exchangeOf({
    protocol: 'mysql',
    connectionId: 100 + connection,
    client: { ip: SERVICE.ip, port: 50000 + connection },
    server: DB,
    index,
    requestSeq: connection * 1000 + index,
    startUs: T0 + from,
    requestEndUs: T0 + from + 5,
    responseStartUs: T0 + from + 25,
    endUs: T0 + from + 30,
    request: { command: name, sql, normalizedSql: sql === null ? null : normalizeSql(sql), statementId: null, database: 'shop' },
    response: { ok: true, errorCode: null, sqlState: null, errorMessage: null, rows: null, columns: null, affectedRows: 1, lastInsertId: null, warnings: 0 },
  });
}

const parentPaths = (spans: SpanRecord[], connection: number): (string | null)[] => {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  return spans
    .filter((s) => s.connectionId === 100 + connection)
    .sort((a, b) => a.index - b.index)
    .map((s) => (s.parentSpanId ? ((byId.get(s.parentSpanId)?.request as { path: string }).path ?? null) : null));
};

describe('transaction continuity', () => {
  // Two reservations at once, each in a transaction on its own pooled connection; their statements
  // interleave in time, and only the statements after START TRANSACTION name the item the request is
  // for: the request that arrived second began its transaction first.
  const exchanges = [
    into(1, '/reserve/101', 0, 2000),
    into(2, '/reserve/202', 100, 2100),
    command(1, 0, 300, 'START TRANSACTION'),
    command(2, 0, 400, 'START TRANSACTION'),
    command(2, 1, 600, 'UPDATE items SET stock = stock - 1 WHERE id = 101'),
    command(1, 1, 700, 'UPDATE items SET stock = stock - 1 WHERE id = 202'),
    command(1, 2, 900, 'INSERT INTO reservations (item_id) VALUES (202)'),
    command(2, 2, 1000, 'INSERT INTO reservations (item_id) VALUES (101)'),
    command(2, 3, 1200, 'COMMIT'),
    command(1, 3, 1300, 'ROLLBACK'),
  ];

  it('every statement of a transaction has the parent the values of any of them name', () => {
    const { spans, counters } = correlateAll(exchanges);
    assert.deepEqual(parentPaths(spans, 1), Array(4).fill('/reserve/202'));
    assert.deepEqual(parentPaths(spans, 2), Array(4).fill('/reserve/101'));
    assert.equal(counters.get('correlate.timing-continued'), 6);
  });

  it('after COMMIT the connection is free: the next statement is a call of its own', () => {
    const later = [into(3, '/reserve/303', 1500, 3000), command(2, 4, 1600, 'SELECT stock FROM items WHERE id = 303')];
    const { spans } = correlateAll([...exchanges, ...later]);
    assert.deepEqual(parentPaths(spans, 2), [...Array(4).fill('/reserve/101'), '/reserve/303']);
  });

  it('out of autocommit, every statement opens a transaction that COMMIT ends', () => {
    const { spans } = correlateAll([
      into(1, '/a/11', 0, 1000),
      into(2, '/b/22', 100, 2000),
      command(1, 0, 50, 'SET autocommit=0'),
      command(1, 1, 200, 'SELECT stock FROM items WHERE id = 11 FOR UPDATE'),
      command(1, 2, 400, 'UPDATE items SET stock = 0 WHERE sku = "x"'),
      command(1, 3, 600, 'COMMIT'),
      command(1, 4, 1200, 'UPDATE items SET stock = 1 WHERE id = 22'),
      command(1, 5, 1500, 'COMMIT'),
    ]);
    assert.deepEqual(parentPaths(spans, 1), ['/a/11', '/a/11', '/a/11', '/a/11', '/b/22', '/b/22']);
  });

  it('a pool\'s `SELECT 1` just before the next command goes with it too', () => {
    const { spans } = correlateAll([
      into(1, '/a/11', 0, 1000),
      into(2, '/b/22', 100, 2000),
      command(1, 0, 200, 'SELECT 1'),
      command(1, 1, 300, 'SELECT stock FROM items WHERE id = 22'),
    ]);
    assert.deepEqual(parentPaths(spans, 1), ['/b/22', '/b/22']);
  });

  it('a pool\'s PING just before the transaction goes with it', () => {
    const { spans } = correlateAll([command(1, 0, 250, null, 'PING'), ...exchanges]);
    const ping = spans.find((s) => (s.request as { command: string }).command === 'PING')!;
    const start = spans.find((s) => s.connectionId === 101 && s.index === 0 && s !== ping)!;
    assert.equal(ping.parentSpanId, start.parentSpanId);
  });

  it('the statements that move a transaction', () => {
    const step = (sql: string): string | null => transactionStep(command(1, 0, 0, sql));
    assert.deepEqual(
      ['BEGIN', 'begin work;', 'START TRANSACTION READ ONLY', 'COMMIT', 'rollback', 'COMMIT AND NO CHAIN', 'ROLLBACK TO SAVEPOINT s1', 'SAVEPOINT s1'].map(step),
      ['begin', 'begin', 'begin', 'end', 'end', 'end', null, null],
    );
    assert.deepEqual(
      ['SET autocommit=0', 'set autocommit = OFF', "SET @@session.autocommit = 'ON'", 'SET autocommit=1', 'SET NAMES utf8mb4'].map(step),
      ['autocommit-off', 'autocommit-off', 'autocommit-on', 'autocommit-on', null],
    );
  });
});
