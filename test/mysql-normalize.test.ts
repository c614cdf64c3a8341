import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeSql } from '../src/protocols/mysql/index.js';

const cases: [string, string][] = [
  ['SELECT 1', 'SELECT ?'],
  ["SELECT * FROM t WHERE name = 'O\\'Brien' AND x = 'it''s'", 'SELECT * FROM t WHERE name = ? AND x = ?'],
  ['SELECT "double \\" quoted"', 'SELECT ?'],
  ['SELECT a FROM t WHERE id IN (1, 2, 3)', 'SELECT a FROM t WHERE id IN (?)'],
  ["SELECT a FROM t WHERE id in ('a','b') OR b IN (4)", 'SELECT a FROM t WHERE id in (?) OR b IN (?)'],
  ['SELECT a FROM t WHERE id IN (SELECT id FROM u WHERE k = 5)', 'SELECT a FROM t WHERE id IN (SELECT id FROM u WHERE k = ?)'],
  ['UPDATE t SET a = 1.5e-3, b = .25, c = 0x1F, d = X\'0A\', e = b\'101\', f = 0b11', 'UPDATE t SET a = ?, b = ?, c = ?, d = ?, e = ?, f = ?'],
  ['SELECT t1.col2, `tbl 3`.x FROM t1 JOIN `tbl 3`', 'SELECT t1.col2, `tbl 3`.x FROM t1 JOIN `tbl 3`'],
  ["INSERT INTO t (a, b)\n  VALUES\t(1,   'x')", 'INSERT INTO t (a, b) VALUES (?, ?)'],
  ["INSERT INTO orders (sku) VALUES ('a') /*request_id='r-1',traceparent='00-ab-cd-01'*/", 'INSERT INTO orders (sku) VALUES (?)'],
  ['SELECT 1 -- trailing\nFROM dual # other\n', 'SELECT ? FROM dual'],
  ['SELECT a--1 FROM t', 'SELECT a--? FROM t'], // `--` without a space is minus minus, not a comment
  ['SELECT * FROM t WHERE qty > ? ORDER BY sku LIMIT 10', 'SELECT * FROM t WHERE qty > ? ORDER BY sku LIMIT ?'],
  ['SELECT NULL, TRUE, -7', 'SELECT NULL, TRUE, -?'],
  ["SELECT 'unterminated", 'SELECT ?'],
  ['  ', ''],
];

test('normalizeSql table', () => {
  for (const [input, expected] of cases) assert.equal(normalizeSql(input), expected, input);
});

test('normalizeSql: statements differing only in literals share one shape', () => {
  const a = normalizeSql("SELECT * FROM users WHERE id = 42 AND email = 'a@b.c'");
  const b = normalizeSql("SELECT  *  FROM users WHERE id = 7 AND email = 'x@y.z' /* from web */");
  assert.equal(a, b);
});
