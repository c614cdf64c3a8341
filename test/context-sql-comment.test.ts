import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Counters } from '../src/util/counters.js';
import { TraceContextExtractor } from '../src/correlate/context.js';
import { decodeSqlcommenterValue, extractSqlCommentFields, normalizeCommentKey } from '../src/correlate/sql-comment.js';
import { spanIdFrom, traceIdFromRequestId } from '../src/correlate/ids.js';

interface TruthExchange {
  id: string;
  protocol: string;
  sql?: string | null;
  sql_comment?: string | null;
  request_id: string | null;
  traceparent?: string | null;
}

const pairs = (sql: string) => extractSqlCommentFields(sql).map(({ key, value }) => [key, value]);

test('shop corpus: every sqlcommenter comment gives the truth request id and the traceparent written in it', () => {
  for (const name of ['shop-basic', 'shop-concurrent']) {
    const truth = JSON.parse(readFileSync(`../shared/corpus/${name}.truth.json`, 'utf8')) as { exchanges: TruthExchange[] };
    const tagged = truth.exchanges.filter((e) => e.sql_comment);
    assert.ok(tagged.length > 0, name);
    const counters = new Counters();
    const x = new TraceContextExtractor({ counters });
    for (const e of tagged) {
      const context = x.fromSql(e.sql!);
      assert.equal(context.requestId, e.request_id, e.id);
      assert.equal(context.requestIdSource, 'sql-comment:request-id', e.id);
      assert.equal(context.source, 'sql-comment:traceparent', e.id);
      // The truth records the comment text (its `traceparent` field is only set on orders→payments HTTP
      // calls), so the traceparent is checked against the comment's own text and the shop's id rules.
      const written = /traceparent='([^']*)'/.exec(e.sql_comment!)![1]!;
      assert.equal(`00-${context.traceId}-${context.parentSpanId}-01`, decodeURIComponent(written), e.id);
      assert.equal(context.traceId, traceIdFromRequestId(e.request_id!), e.id);
      assert.equal(context.parentSpanId, spanIdFrom([e.request_id!, 'mysql']), e.id);
      assert.equal(context.sampled, true);
      assert.deepEqual(context.invalid, []);
    }
    // The other statements carry no comment; their string literals (which hold request ids) are not one.
    for (const e of truth.exchanges.filter((e) => e.protocol === 'mysql' && e.sql && !e.sql_comment)) {
      const context = x.fromSql(e.sql!);
      assert.equal(context.requestId, null, e.sql!);
      assert.equal(context.traceId, null, e.sql!);
    }
    assert.deepEqual(counters.toJSON(), {}, name);
  }
});

const TP = '00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01';

const extraction: [string, string, string[][]][] = [
  [
    'sqlcommenter spec example',
    "SELECT * FROM FOO /*action='%2Fparam*d',controller='index',framework='spring',traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a-c532cb4098ac3dd2-01',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f067aa0ba902b7'*/",
    [['action', '/param*d'], ['controller', 'index'], ['framework', 'spring'], ['traceparent', TP], ['tracestate', 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7']],
  ],
  ['escaped quote in a value', "SELECT 1 /*route='it\\'s',db_driver='mysql2%3A3.9'*/", [['route', "it's"], ['db_driver', 'mysql2:3.9']]],
  ['%% doubled by a %-formatting driver', "SELECT 1 /*traceparent='00-5bd66ef5095369c7b0d1f8f4bd33716a%%2Dc532cb4098ac3dd2%%2D01'*/", [['traceparent', TP]]],
  ['bad escapes kept as written', "SELECT 1 /*a='100%',b='%zz',c='%E2%82',d='%E2%82%AC%FF'*/", [['a', '100%'], ['b', '%zz'], ['c', '%E2%82'], ['d', '€%FF']]],
  ['url-encoded key', "SELECT 1 /*request%5Fid='abc'*/", [['request_id', 'abc']]],
  ['empty quoted value', "SELECT 1 /*a='',b='x'*/", [['a', ''], ['b', 'x']]],
  ['key-value comment with colons', `SELECT 1 /* traceparent: ${TP}, x-request-id: abc */`, [['traceparent', TP], ['x-request-id', 'abc']]],
  ['key=value, space separated', '/* x-request-id=abc b3=0 */ SELECT 1', [['x-request-id', 'abc'], ['b3', '0']]],
  ['free text around pairs', '/* called from checkout, see x-request-id = abc */ SELECT 1', [['x-request-id', 'abc']]],
  ['double-quoted value', '/* x-request-id="a b" */ SELECT 1', [['x-request-id', 'a b']]],
  ['-- line comment', `SELECT 1 -- traceparent=${TP}\nFROM t`, [['traceparent', TP]]],
  ['-- line comment with CRLF', '-- x-request-id: abc\r\nSELECT 1', [['x-request-id', 'abc']]],
  ['# line comment (MySQL)', 'SELECT 1 # x-request-id: abc\nFROM t # b3: 0', [['x-request-id', 'abc'], ['b3', '0']]],
  ['--x is arithmetic, not a comment', 'SELECT 1--x=1', []],
  ['-- at the very end', 'SELECT 1 --', []],
  ['unterminated comment runs to the end', 'SELECT 1 /* x-request-id=abc', [['x-request-id', 'abc']]],
  ['comment in the middle', "SELECT /*request_id='r1'*/ 1 FROM t", [['request_id', 'r1']]],
  ['two comments', "/*a='1'*/ SELECT 1 /*b='2'*/", [['a', '1'], ['b', '2']]],
  ['/* in a string literal', "SELECT '/* x-request-id=abc */'", []],
  ['-- in a double-quoted string', 'SELECT "-- x-request-id=abc"', []],
  ['# in a backtick identifier', 'SELECT `# x-request-id=abc` FROM t', []],
  ['doubled quote keeps the string open', "SELECT 'it''s /* x-request-id=abc */'", []],
  ['backslash-escaped quote keeps the string open', "SELECT 'a\\' /* x-request-id=abc */'", []],
  ['escaped backslash closes the string', "SELECT 'a\\\\' /* x-request-id=abc */", [['x-request-id', 'abc']]],
  ['backtick does not take backslash escapes', 'SELECT `a\\` /* x-request-id=abc */', [['x-request-id', 'abc']]],
  ['string after the comment', "SELECT 1 /*a='x'*/, 'b=2'", [['a', 'x']]],
  ['unterminated string hides the rest', "SELECT 'abc /* x-request-id=abc */", []],
  ['MySQL executable comment', 'SELECT /*!40001 SQL_NO_CACHE */ 1 /*!50000 x-request-id=abc */', []],
  ['MariaDB executable comment', 'SELECT 1 /*M!100100 x-request-id=abc */', []],
  ['optimizer hint', 'SELECT /*+ x-request-id=abc */ 1', []],
  ['unterminated quoted value is dropped', "SELECT 1 /*a='x,b=y", []],
  ['a quote ends the value, whatever follows', "SELECT 1 /*a='x,b='y", [['a', 'x,b=']]],
  ['no comment at all', "INSERT INTO t VALUES ('x-request-id=abc')", []],
];

test('extractSqlCommentFields: sqlcommenter, key-value and line comments; quotes hide comments', () => {
  for (const [why, sql, expected] of extraction) assert.deepEqual(pairs(sql), expected, `${why}: ${sql}`);
});

test('decodeSqlcommenterValue and normalizeCommentKey', () => {
  assert.equal(decodeSqlcommenterValue("it\\'s%20ok"), "it's ok");
  assert.equal(decodeSqlcommenterValue('%%2D'), '-');
  assert.equal(decodeSqlcommenterValue('a%'), 'a%');
  assert.equal(normalizeCommentKey('Request_ID'), 'request-id');
  assert.equal(normalizeCommentKey('X_B3_TraceId'), 'x-b3-traceid');
});

test('fromSql: key matching, precedence and invalid values', () => {
  const counters = new Counters();
  const x = new TraceContextExtractor({ counters });
  const c1 = x.fromSql(`/* X_Request_ID='abc', traceparent='${TP}' */ SELECT 1`);
  assert.deepEqual([c1.requestId, c1.requestIdSource, c1.traceId, c1.source], ['abc', 'sql-comment:x-request-id', '5bd66ef5095369c7b0d1f8f4bd33716a', 'sql-comment:traceparent']);

  const c2 = x.fromSql(`SELECT 1 /*traceparent='00-nope',uber_trace_id='1f%3A2a%3A0%3A1',correlation='x'*/`);
  assert.deepEqual([c2.traceId, c2.source, c2.parentSpanId, c2.requestId], ['0000000000000000000000000000001f', 'sql-comment:uber-trace-id', '000000000000002a', null]);
  assert.deepEqual(c2.invalid, ['sql-comment:traceparent']);
  assert.equal(counters.get('context.invalid.sql-comment:traceparent'), 1);

  const c3 = x.fromSql(`SELECT 1 /*x_b3_traceid='a3ce929d0e0e4736',x_b3_spanid='00f067aa0ba902b7',x_b3_sampled='1'*/ -- request-id: r9`);
  assert.deepEqual([c3.traceId, c3.source, c3.sampled, c3.requestId, c3.requestIdSource], ['0000000000000000a3ce929d0e0e4736', 'sql-comment:b3', true, 'r9', 'sql-comment:request-id']);

  const c4 = x.fromSql(`SELECT 1 /*traceparent='${TP}',tracestate='congo%3Dt61rcWkgMzE%2Crojo%3D00f067aa0ba902b7'*/`);
  assert.equal(c4.tracestate, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');

  const configured = new TraceContextExtractor({ counters, requestIdHeaders: ['X-Correlation-ID'] });
  const c5 = configured.fromSql("SELECT 1 /*request_id='a',x_correlation_id='b'*/");
  assert.deepEqual([c5.requestId, c5.requestIdSource], ['b', 'sql-comment:x-correlation-id']);
});

test('fromSql and extractSqlCommentFields never throw on arbitrary text', () => {
  const x = new TraceContextExtractor({ counters: new Counters() });
  const sqlish = fc.stringOf(fc.constantFrom(...`/*-#'"\`\\=:, \n%!+Mab0`.split('')), { maxLength: 60 });
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.fullUnicodeString(), sqlish), (sql) => {
      extractSqlCommentFields(sql);
      x.fromSql(sql);
    }),
    { numRuns: 2000 },
  );
});

/** SQL before the comment: keywords, numbers and string literals that look like comments. */
const sqlToken = fc.oneof(
  fc.constantFrom('SELECT', 'INSERT INTO t VALUES (', ')', ',', '1', '-1', '*', 'FROM t', 'WHERE a = ', '\n'),
  fc.string().map((s) => `'${s.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`),
  fc.string().map((s) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`),
  fc.string().map((s) => `\`${s.replaceAll('`', '``')}\``),
  fc.constantFrom("'/* traceparent=00-11111111111111111111111111111111-1111111111111111-01 */'", "'-- x'", '"#"', "'it''s'"),
);

const lowerHex = (length: number) => fc.stringOf(fc.constantFrom(...'0123456789abcdef'), { minLength: length, maxLength: length });
const traceparentArb = fc
  .tuple(lowerHex(32), lowerHex(16), fc.constantFrom('00', '01'))
  .filter(([t, p]) => /[1-9a-f]/.test(t) && /[1-9a-f]/.test(p))
  .map(([t, p, f]) => `00-${t}-${p}-${f}`);

/** sqlcommenter serialisation: URL-encode key and value, escape `'`, quote the value. */
const serialize = (key: string, value: string, doublePercent: boolean) => {
  let encoded = encodeURIComponent(value).replaceAll("'", "\\'");
  if (doublePercent) encoded = encoded.replaceAll('%', '%%');
  return `${encodeURIComponent(key)}='${encoded}'`;
};

test('a valid traceparent in any sqlcommenter comment, after any SQL, is found', () => {
  const x = new TraceContextExtractor({ counters: new Counters() });
  const otherPair = fc.tuple(fc.stringMatching(/^[a-z][a-z_]{0,10}$/).map((k) => `k_${k}`), fc.fullUnicodeString());
  fc.assert(
    fc.property(
      fc.array(sqlToken, { maxLength: 8 }),
      fc.uniqueArray(otherPair, { maxLength: 4, selector: ([k]) => k }),
      traceparentArb,
      fc.nat(),
      fc.boolean(),
      fc.constantFrom('', ' ', '; ', ' FOR UPDATE'),
      (tokens, others, traceparent, position, doublePercent, tail) => {
        const fields = others.map(([k, v]) => serialize(k, v, doublePercent));
        fields.splice(position % (fields.length + 1), 0, serialize('traceparent', traceparent, doublePercent));
        const sql = `${tokens.join(' ')} /*${fields.join(',')}*/${tail}`;
        const context = x.fromSql(sql);
        assert.equal(context.source, 'sql-comment:traceparent', sql);
        assert.equal(`00-${context.traceId}-${context.parentSpanId}-${traceparent.slice(-2)}`, traceparent, sql);
        const decoded = new Map(extractSqlCommentFields(sql).map(({ key, value }) => [key, value]));
        for (const [k, v] of others) assert.equal(decoded.get(k), v, sql);
      },
    ),
    { numRuns: 500 },
  );
});

test('fromSql: values under other keys that could be ids are kept unnamed, for the linker to match', () => {
  const extractor = new TraceContextExtractor({ counters: new Counters() });
  const other = extractor.fromSql("/* rid=4bf92f3577b34da6, route=orders, n=12 */ SELECT 1");
  assert.deepEqual([other.requestId, other.unnamedValues, other.unnamedFrom], [null, ['4bf92f3577b34da6'], ['sql-comment:rid']]);
  const named = extractor.fromSql("/* request_id='req-000123', rid=4bf92f3577b34da6 */ SELECT 1");
  assert.deepEqual([named.requestId, named.unnamedValues], ['req-000123', []]);
});
