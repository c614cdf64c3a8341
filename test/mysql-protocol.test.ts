import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MysqlResponseInfo } from '../src/protocols/types.js';
import type { MysqlCommandInfo } from '../src/protocols/mysql/index.js';
import * as b from './lib/mysql-builder.js';
import { BASE_SEQ, Conversation, drive } from './lib/mysql-driver.js';

const CAPS = b.BASE_CAPS | b.CAP.DEPRECATE_EOF;

function loggedIn(caps = CAPS, serverCaps?: number): Conversation {
  return new Conversation()
    .server(b.greeting(serverCaps === undefined ? {} : { capabilities: serverCaps }))
    .client(b.handshakeResponse({ capabilities: caps }))
    .server(b.ok(2));
}

function req(x: { request: unknown }): MysqlCommandInfo {
  return x.request as MysqlCommandInfo;
}
function res(x: { response: unknown }): MysqlResponseInfo {
  assert.ok(x.response, 'response expected');
  return x.response as MysqlResponseInfo;
}

test('login OK is one LOGIN exchange with user and initial schema, no auth data', () => {
  const c = new Conversation()
    .server(b.greeting())
    .client(b.handshakeResponse({ user: 'alice', database: 'shop', authData: Buffer.from('SECRET-AUTH-RESPONSE') }))
    .server(b.ok(2));
  const { exchanges } = drive(c.steps);
  assert.equal(exchanges.length, 1);
  const [x] = exchanges;
  assert.deepEqual(req(x!), { command: 'LOGIN', sql: null, normalizedSql: null, statementId: null, database: 'shop', argument: 'alice' });
  assert.equal(res(x!).ok, true);
  assert.equal(x!.startUs, c.steps[1]!.ts);
  assert.equal(x!.responseStartUs, c.steps[2]!.ts);
  assert.equal(x!.requestSeq, BASE_SEQ[0]);
  assert.equal(x!.contextText, null);
  assert.ok(!JSON.stringify(x).includes('SECRET'), 'auth response never written out');
  assert.deepEqual(x!.notes, []);
});

test('login rejected with ERR; connection refused before login', () => {
  const rejected = drive(
    new Conversation().server(b.greeting()).client(b.handshakeResponse({ user: 'bob' })).server(b.err(2, 1045, '28000', "Access denied for user 'bob'")).steps,
  ).exchanges;
  assert.equal(rejected.length, 1);
  assert.equal(req(rejected[0]!).argument, 'bob');
  assert.deepEqual(
    { ok: res(rejected[0]!).ok, code: res(rejected[0]!).errorCode, state: res(rejected[0]!).sqlState },
    { ok: false, code: 1045, state: '#28000' },
  );
  const refused = drive(new Conversation().server(b.packet(0, Buffer.concat([Buffer.from([0xff, 0x10, 0x04]), Buffer.from('Too many connections')]))).steps)
    .exchanges;
  assert.equal(refused.length, 1);
  assert.equal(req(refused[0]!).command, 'LOGIN');
  assert.equal(res(refused[0]!).errorCode, 1040);
  assert.equal(res(refused[0]!).errorMessage, 'Too many connections');
});

test('auth switch and auth-more-data rounds stay inside the LOGIN exchange', () => {
  const switchRequest = b.packet(2, Buffer.concat([Buffer.from([0xfe]), Buffer.from('caching_sha2_password\0'), Buffer.from('0123456789abcdefghij\0')]));
  const c = new Conversation()
    .server(b.greeting())
    .client(b.handshakeResponse())
    .server(switchRequest)
    .client(b.packet(3, Buffer.from('scrambled-password-32-bytes-long')))
    .server(b.packet(4, Buffer.from([0x01, 0x03])))
    .server(b.ok(5))
    .client(b.query('SELECT 1'))
    .server(b.resultSet(['1'], [['1']], { deprecateEof: true }).bytes);
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => [req(x).command, res(x).ok]),
    [
      ['LOGIN', true],
      ['QUERY', true],
    ],
  );
  assert.equal(exchanges[0]!.requestEndUs, c.steps[3]!.ts);
  assert.equal(exchanges[0]!.endUs, c.steps[5]!.ts);
  assert.equal(exchanges[0]!.bytes.request, b.handshakeResponse().length + 4 + 32);
  assert.equal(counters.get('mysql.unexpected-client-packets'), 0);
});

test('SSL request marks the connection encrypted and nothing is parsed after it', () => {
  const c = new Conversation()
    .server(b.greeting())
    .client(b.sslRequest())
    .client(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
    .server(Buffer.from([0x16, 0x03, 0x03, 0x00, 0x7a, 0x02]));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(exchanges, []);
  assert.equal(counters.get('mysql.encrypted-connections'), 1);
  assert.equal(counters.get('mysql.responses-without-request'), 0);
});

interface CommandCase {
  name: string;
  request: Buffer;
  response: Buffer | null;
  command: string;
  expect: Partial<MysqlCommandInfo>;
  response_?: Partial<MysqlResponseInfo>;
}

const commandCases: CommandCase[] = [
  { name: 'QUERY', request: b.query('SELECT 1'), response: b.resultSet(['1'], [['1']], { deprecateEof: true }).bytes, command: 'QUERY', expect: { sql: 'SELECT 1', normalizedSql: 'SELECT ?' }, response_: { rows: 1, columns: 1 } },
  { name: 'INIT_DB', request: b.command(b.COM.INIT_DB, 'inventory'), response: b.ok(1), command: 'INIT_DB', expect: { argument: 'inventory', sql: null } },
  { name: 'PING', request: b.command(b.COM.PING), response: b.ok(1), command: 'PING', expect: {} },
  { name: 'STATISTICS', request: b.command(b.COM.STATISTICS), response: b.packet(1, Buffer.from('Uptime: 5  Threads: 1')), command: 'STATISTICS', expect: {} },
  { name: 'PROCESS_KILL', request: b.command(b.COM.PROCESS_KILL, Buffer.from([7, 0, 0, 0])), response: b.ok(1), command: 'PROCESS_KILL', expect: { argument: '7' } },
  { name: 'RESET_CONNECTION', request: b.command(b.COM.RESET_CONNECTION), response: b.ok(1), command: 'RESET_CONNECTION', expect: {} },
  { name: 'DEBUG', request: b.command(b.COM.DEBUG), response: b.eof(1), command: 'DEBUG', expect: {} },
  { name: 'SET_OPTION', request: b.command(b.COM.SET_OPTION, Buffer.from([1, 0])), response: b.eof(1), command: 'SET_OPTION', expect: { argument: '1' } },
  { name: 'STMT_RESET', request: b.statementCommand(b.COM.STMT_RESET, 3), response: b.ok(1), command: 'STMT_RESET', expect: { statementId: 3 } },
  {
    name: 'FIELD_LIST',
    request: b.command(b.COM.FIELD_LIST, 'agent\0'),
    response: Buffer.concat([b.columnDefinition(1, 'id'), b.columnDefinition(2, 'name'), b.eof(3)]),
    command: 'FIELD_LIST',
    expect: { argument: 'agent' },
    response_: { columns: 2, rows: null },
  },
  { name: 'CHANGE_USER', request: b.changeUser('carol', 'reports'), response: b.ok(1), command: 'CHANGE_USER', expect: { argument: 'carol' } },
  { name: 'unknown command', request: b.command(0x42, 'xx'), response: b.err(1, 1047, '08S01', 'Unknown command'), command: 'UNKNOWN_0x42', expect: {}, response_: { ok: false, errorCode: 1047 } },
  { name: 'QUIT', request: b.command(b.COM.QUIT), response: null, command: 'QUIT', expect: {} },
  { name: 'STMT_SEND_LONG_DATA', request: b.command(b.COM.STMT_SEND_LONG_DATA, Buffer.concat([Buffer.from([3, 0, 0, 0, 0, 0]), Buffer.from('blob')])), response: null, command: 'STMT_SEND_LONG_DATA', expect: { statementId: 3 } },
];

for (const tc of commandCases) {
  test(`command ${tc.name}`, () => {
    const c = loggedIn().client(tc.request);
    if (tc.response) c.server(tc.response);
    c.client(b.query('SELECT 2')).server(b.resultSet(['2'], [['2']], { deprecateEof: true }).bytes);
    const { exchanges, counters } = drive(c.steps);
    assert.equal(exchanges.length, 3, 'login, the command, the next query');
    const x = exchanges.find((e) => e.index === 1)!;
    assert.equal(req(x).command, tc.command);
    for (const [k, v] of Object.entries(tc.expect)) assert.deepEqual(req(x)[k as keyof MysqlCommandInfo], v, k);
    if (tc.response) {
      assert.equal(x.responseStartUs, c.steps[4]!.ts);
      assert.equal(x.endUs, c.steps[4]!.ts);
      assert.equal(x.bytes.response, tc.response.length);
      for (const [k, v] of Object.entries(tc.response_ ?? { ok: true })) assert.deepEqual(res(x)[k as keyof MysqlResponseInfo], v, k);
    } else {
      assert.equal(x.response, null);
      assert.equal(x.endUs, null);
    }
    assert.equal(x.bytes.request, tc.request.length);
    assert.equal(x.requestSeq, BASE_SEQ[0] + b.handshakeResponse({ capabilities: CAPS }).length);
    assert.deepEqual(x.notes.filter((n) => n !== 'statement prepared before capture'), []);
    const next = exchanges.find((e) => e.index === 2)!;
    assert.equal(res(next).rows, 1, 'the following command is still matched to its response');
    assert.equal(counters.get('mysql.responses-without-request'), 0);
  });
}

test('OK packet: affected rows, insert id above 2^32, warnings as lenenc', () => {
  const c = loggedIn()
    .client(b.query('INSERT INTO t VALUES (1), (2)'))
    .server(b.ok(1, { affectedRows: 70000, lastInsertId: 2 ** 32 + 5, warnings: 2 }));
  const x = drive(c.steps).exchanges[1]!;
  assert.deepEqual(res(x), {
    ok: true,
    errorCode: null,
    sqlState: null,
    errorMessage: null,
    rows: null,
    columns: null,
    affectedRows: 70000,
    lastInsertId: 2 ** 32 + 5,
    warnings: 2,
  });
  assert.equal(req(x).normalizedSql, 'INSERT INTO t VALUES (?), (?)');
});

test('ERR packet: code, #state, message', () => {
  const c = loggedIn().client(b.query('SELEC 1')).server(b.err(1, 1064, '42000', 'You have an error in your SQL syntax'));
  const r = res(drive(c.steps).exchanges[1]!);
  assert.deepEqual([r.ok, r.errorCode, r.sqlState, r.errorMessage], [false, 1064, '#42000', 'You have an error in your SQL syntax']);
});

for (const deprecateEof of [false, true]) {
  test(`result set ${deprecateEof ? 'with' : 'without'} CLIENT_DEPRECATE_EOF: rows and columns`, () => {
    const caps = deprecateEof ? CAPS : b.BASE_CAPS;
    const rs = b.resultSet(['id', 'name', 'note'], [['1', 'a', null], ['2', 'b', ''], ['3', 'c', 'x']], { deprecateEof });
    const empty = b.resultSet(['id'], [], { deprecateEof });
    const c = loggedIn(caps)
      .client(b.query('SELECT id, name, note FROM t'))
      .server(rs.bytes)
      .client(b.query('SELECT id FROM t WHERE 0'))
      .server(empty.bytes)
      .client(b.command(b.COM.PING))
      .server(b.ok(1));
    const { exchanges } = drive(c.steps);
    assert.deepEqual(
      exchanges.map((x) => [req(x).command, res(x).rows, res(x).columns]),
      [
        ['LOGIN', null, null],
        ['QUERY', 3, 3],
        ['QUERY', 0, 1],
        ['PING', null, null],
      ],
    );
    assert.equal(exchanges[1]!.bytes.response, rs.bytes.length);
  });
}

test('multi-result: rows of every result set summed, "N result sets" noted', () => {
  const first = b.resultSet(['a'], [['1'], ['2']], { status: b.STATUS_MORE_RESULTS | 2 });
  const second = b.resultSet(['b', 'c'], [['3', '4']], { firstSeq: first.nextSeq, status: b.STATUS_MORE_RESULTS | 2 });
  const final = b.ok(second.nextSeq, { affectedRows: 0 });
  const c = loggedIn(b.BASE_CAPS).client(b.query('CALL two_results()')).server(Buffer.concat([first.bytes, second.bytes])).server(final).client(b.command(b.COM.PING)).server(b.ok(1));
  const { exchanges } = drive(c.steps);
  const x = exchanges[1]!;
  assert.equal(res(x).rows, 3);
  assert.equal(res(x).columns, 1);
  assert.deepEqual(x.notes, ['3 result sets']);
  assert.equal(x.endUs, c.steps[5]!.ts, 'the final OK ends it');
  assert.equal(req(exchanges[2]!).command, 'PING');
});

test('LOCAL INFILE: the file contents are request bytes, the final OK ends the exchange', () => {
  const c = loggedIn()
    .client(b.query("LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t"))
    .server(b.packet(1, Buffer.concat([Buffer.from([0xfb]), Buffer.from('/tmp/x.csv')])))
    .client(b.packet(2, Buffer.from('1,a\n2,b\n')))
    .client(b.packet(3, Buffer.alloc(0)))
    .server(b.ok(4, { affectedRows: 2 }));
  const { exchanges, counters } = drive(c.steps);
  assert.equal(exchanges.length, 2);
  const x = exchanges[1]!;
  assert.equal(x.responseStartUs, c.steps[4]!.ts);
  assert.equal(x.requestEndUs, c.steps[6]!.ts);
  assert.equal(x.endUs, c.steps[7]!.ts);
  assert.equal(res(x).affectedRows, 2);
  assert.equal(x.bytes.request, (c.steps[3] as { bytes: Uint8Array }).bytes.length + 12 + 4);
  assert.equal(counters.get('mysql.unexpected-client-packets'), 0);
});

for (const deprecateEof of [false, true]) {
  test(`PREPARE / EXECUTE with binary rows / CLOSE, ${deprecateEof ? '' : 'no '}DEPRECATE_EOF`, () => {
    const sql = "SELECT id, qty FROM stock WHERE qty > ? AND sku = 'x'";
    const c = loggedIn(deprecateEof ? CAPS : b.BASE_CAPS)
      .client(b.command(b.COM.STMT_PREPARE, sql))
      .server(b.prepareOk(9, 1, 2, { deprecateEof }))
      .client(b.execute(9, [10]))
      .server(b.resultSet(['id', 'qty'], [['1', '11'], ['2', null]], { deprecateEof, binary: true }).bytes)
      .client(b.statementCommand(b.COM.STMT_CLOSE, 9))
      .client(b.command(b.COM.PING))
      .server(b.ok(1));
    const { exchanges } = drive(c.steps);
    assert.deepEqual(
      exchanges.map((x) => [req(x).command, req(x).sql, req(x).statementId, x.response && res(x).rows, x.notes]),
      [
        ['LOGIN', null, null, null, []],
        ['STMT_PREPARE', sql, 9, null, []],
        ['STMT_EXECUTE', sql, 9, 2, []],
        ['STMT_CLOSE', sql, 9, null, []],
        ['PING', null, null, null, []],
      ],
    );
    assert.equal(res(exchanges[1]!).columns, 2);
    assert.equal(exchanges[1]!.endUs, c.steps[4]!.ts);
    assert.equal(req(exchanges[2]!).normalizedSql, 'SELECT id, qty FROM stock WHERE qty > ? AND sku = ?');
    assert.equal(exchanges[2]!.contextText, null, 'the prepared text is not this request\'s context');
    assert.equal(exchanges[3]!.response, null);
  });
}

/**
 * MariaDB's cached metadata (MARIADB_CLIENT_CACHE_METADATA) and MySQL 8's optional metadata put a
 * "metadata follows" byte after the column count; with 0 the column definitions are left out.
 */
function resultSetWithMetadataFlag(columns: string[], rows: string[][], follows: boolean, deprecateEof: boolean): Buffer {
  let seq = 1;
  const parts = [b.packet(seq++, Buffer.from([columns.length, follows ? 1 : 0]))];
  if (follows) for (const c of columns) parts.push(b.columnDefinition(seq++, c));
  if (!deprecateEof) parts.push(b.eof(seq++));
  for (const r of rows) parts.push(b.binaryRow(seq++, r.map(Number)));
  parts.push(deprecateEof ? b.ok(seq++, { header: 0xfe, status: b.STATUS_AUTOCOMMIT }) : b.eof(seq++));
  return Buffer.concat(parts);
}

for (const deprecateEof of [true, false]) {
  for (const loginSeen of [true, false]) {
    test(`cached result-set metadata: EXECUTE answered without column definitions${deprecateEof ? '' : ', no DEPRECATE_EOF'}${loginSeen ? '' : ', login not captured'}`, () => {
      const sql = 'SELECT id, qty FROM stock WHERE qty > ?';
      const c = (loginSeen ? loggedIn(deprecateEof ? CAPS : b.BASE_CAPS) : new Conversation())
        .client(b.command(b.COM.STMT_PREPARE, sql))
        .server(b.prepareOk(5, 1, 2, { deprecateEof }))
        .client(b.execute(5, [1]))
        .server(resultSetWithMetadataFlag(['id', 'qty'], [['1', '7'], ['2', '9']], true, deprecateEof))
        .client(b.execute(5, [2]))
        .server(resultSetWithMetadataFlag(['id', 'qty'], [['3', '4']], false, deprecateEof))
        .client(b.query('SELECT 1'))
        .server(b.resultSet(['1'], [['1']], { deprecateEof }).bytes);
      const { exchanges, counters } = drive(c.steps);
      assert.deepEqual(
        exchanges.filter((x) => req(x).command !== 'LOGIN').map((x) => [req(x).command, res(x).ok, res(x).rows, res(x).columns, x.notes]),
        [
          ['STMT_PREPARE', true, null, 2, []],
          ['STMT_EXECUTE', true, 2, 2, []],
          ['STMT_EXECUTE', true, 1, 2, []],
          ['QUERY', true, 1, 1, []],
        ],
      );
      assert.equal(counters.get('mysql.malformed-responses'), 0);
    });
  }
}

test('EXECUTE and CLOSE of a statement prepared before the capture', () => {
  const c = loggedIn()
    .client(b.execute(77))
    .server(b.ok(1, { affectedRows: 1 }))
    .client(b.statementCommand(b.COM.STMT_CLOSE, 77));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(1).map((x) => [req(x).command, req(x).sql, req(x).statementId, x.notes]),
    [
      ['STMT_EXECUTE', null, 77, ['statement prepared before capture']],
      ['STMT_CLOSE', null, 77, ['statement prepared before capture']],
    ],
  );
  assert.equal(counters.get('mysql.statements-prepared-before-capture'), 2);
});

test('PREPARE failing with ERR stores nothing', () => {
  const c = loggedIn()
    .client(b.command(b.COM.STMT_PREPARE, 'SELECT * FROM nope WHERE id = ?'))
    .server(b.err(1, 1146, '42S02', "Table 'shop.nope' doesn't exist"))
    .client(b.execute(1))
    .server(b.err(1, 1243, 'HY000', 'Unknown prepared statement handler'));
  const { exchanges } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(1).map((x) => [req(x).command, req(x).statementId, res(x).errorCode]),
    [
      ['STMT_PREPARE', null, 1146],
      ['STMT_EXECUTE', 1, 1243],
    ],
  );
});

test('current database follows the handshake, INIT_DB and a successful USE', () => {
  const c = loggedIn()
    .client(b.command(b.COM.INIT_DB, 'inventory'))
    .server(b.ok(1))
    .client(b.query('SELECT 1'))
    .server(b.ok(1))
    .client(b.query('USE `payments`'))
    .server(b.ok(1))
    .client(b.query('USE missing'))
    .server(b.err(1, 1049, '42000', "Unknown database 'missing'"))
    .client(b.command(b.COM.PING))
    .server(b.ok(1));
  const { exchanges } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => req(x).database),
    ['shop', 'shop', 'inventory', 'inventory', 'payments', 'payments'],
  );
});

test('query attributes: the SQL text after the attribute block', () => {
  const caps = CAPS | b.CAP.QUERY_ATTRIBUTES;
  const c = loggedIn(caps)
    .client(b.queryWithAttributes('SELECT 1 /* a */', [['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'], ['n', null]]))
    .server(b.ok(1))
    .client(b.queryWithAttributes('select now()', []))
    .server(b.ok(1));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(1).map((x) => [req(x).sql, x.contextText]),
    [
      ['SELECT 1 /* a */', 'SELECT 1 /* a */'],
      ['select now()', 'select now()'],
    ],
  );
  assert.equal(counters.get('mysql.malformed-query-attributes'), 0);
});

test('query attributes are not assumed when the server does not offer them', () => {
  const c = loggedIn(CAPS | b.CAP.QUERY_ATTRIBUTES, b.BASE_CAPS).client(b.query('SELECT 1')).server(b.ok(1));
  assert.equal(req(drive(c.steps).exchanges[1]!).sql, 'SELECT 1');
});

test('pipelined commands are answered in order', () => {
  const c = loggedIn()
    .client(Buffer.concat([b.query('SELECT 1'), b.query('UPDATE t SET a = 1'), b.command(b.COM.PING)]))
    .server(Buffer.concat([b.resultSet(['1'], [['1']], { deprecateEof: true }).bytes, b.ok(1, { affectedRows: 4 }), b.ok(1)]));
  const { exchanges } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(1).map((x) => [x.index, req(x).command, res(x).rows, res(x).affectedRows]),
    [
      [1, 'QUERY', 1, null],
      [2, 'QUERY', null, 4],
      [3, 'PING', null, 0],
    ],
  );
  const second = exchanges[2]!;
  assert.equal(second.requestSeq, BASE_SEQ[0] + b.handshakeResponse({ capabilities: CAPS }).length + b.query('SELECT 1').length);
});

test('a command left without an answer at the end gets "no response seen"', () => {
  const c = loggedIn().client(b.query('SELECT SLEEP(100)'));
  const x = drive(c.steps).exchanges[1]!;
  assert.equal(x.response, null);
  assert.deepEqual(x.notes, ['no response seen']);
});

test('a PREPARE whose answer the capture lost: its statement gets the id the server numbers next', () => {
  const first = 'SELECT qty FROM stock WHERE sku = ?';
  const second = 'UPDATE stock SET qty = qty - ? WHERE sku = ?';
  const lostAnswer = b.prepareOk(2, 2, 0, { deprecateEof: true });
  const c = loggedIn()
    .client(b.command(b.COM.STMT_PREPARE, 'SELECT * FROM nope WHERE id = ?'))
    .server(b.err(1, 1146, '42S02', "Table 'shop.nope' doesn't exist")) // id 1, used all the same
    .client(b.command(b.COM.STMT_PREPARE, first))
    .gap(1, lostAnswer.length) // its answer (id 2) is not in the capture
    .client(b.execute(2, [7]))
    .server(b.ok(1, { affectedRows: 0 }))
    .client(b.command(b.COM.STMT_PREPARE, second))
    .server(b.prepareOk(3, 2, 0, { deprecateEof: true }))
    .client(b.execute(3, [1, 2]))
    .server(b.ok(1, { affectedRows: 1 }));
  const { exchanges, counters } = drive(c.steps);
  assert.deepEqual(
    exchanges.slice(2).map((x) => [req(x).command, req(x).statementId, req(x).sql, x.notes.filter((n) => n.includes('inferred'))]),
    [
      ['STMT_PREPARE', 2, first, ['statement id inferred: the answer was lost']],
      ['STMT_EXECUTE', 2, first, ['statement id inferred: the answer to its PREPARE was lost']],
      ['STMT_PREPARE', 3, second, []],
      ['STMT_EXECUTE', 3, second, []],
    ],
  );
  assert.equal(counters.get('mysql.statement-ids-inferred'), 1);
});

test('after an SQL-level PREPARE the numbering is not followed: a lost answer leaves the statement unknown', () => {
  const c = loggedIn()
    .client(b.query("PREPARE s1 FROM 'SELECT 1'"))
    .server(b.ok(1))
    .client(b.command(b.COM.STMT_PREPARE, 'SELECT qty FROM stock WHERE sku = ?'))
    .gap(1, 40)
    .client(b.execute(2, [7]))
    .server(b.ok(1));
  const { exchanges } = drive(c.steps);
  const execute = exchanges.find((x) => req(x).command === 'STMT_EXECUTE')!;
  assert.deepEqual([req(execute).sql, execute.notes], [null, ['statement prepared before capture']]);
});

test('a PREPARE answer cut after its first packet still gives the statement its id', () => {
  const sql = 'SELECT qty FROM stock WHERE sku = ?';
  const answer = b.prepareOk(4, 1, 1, { deprecateEof: true });
  const first = 4 + answer.readUIntLE(0, 3); // the PREPARE_OK packet itself
  const c = loggedIn()
    .client(b.command(b.COM.STMT_PREPARE, sql))
    .server(answer.subarray(0, first))
    .gap(1, answer.length - first) // the parameter and column definitions are not in the capture
    .client(b.execute(4, [7]))
    .server(b.ok(1));
  const { exchanges } = drive(c.steps);
  const execute = exchanges.find((x) => req(x).command === 'STMT_EXECUTE')!;
  assert.deepEqual([req(execute).statementId, req(execute).sql, execute.notes], [4, sql, []]);
});

test('MariaDB STMT_BULK_EXECUTE: the statement it runs for a batch, and the rows it changed', () => {
  const sql = 'INSERT INTO bulk_t (v) VALUES (?)';
  // 0xfa, statement id, bulk flags (send types), then per row: type, indicator, value.
  const bulkBody = Buffer.concat([Buffer.from([4, 0, 0, 0]), Buffer.from([0x80, 0x00]), Buffer.from([0xfd, 0x00]), Buffer.from([0, 1, 0x61]), Buffer.from([0, 1, 0x62])]);
  const c = loggedIn(b.BASE_CAPS)
    .client(b.command(b.COM.STMT_PREPARE, sql))
    .server(b.prepareOk(4, 1, 0))
    .client(b.command(0xfa, bulkBody))
    .server(b.ok(1, { affectedRows: 2, lastInsertId: 7 }));
  const { exchanges } = drive(c.steps);
  assert.deepEqual(
    exchanges.map((x) => [req(x).command, req(x).sql, req(x).statementId, x.response && res(x).affectedRows]),
    [
      ['LOGIN', null, null, 0],
      ['STMT_PREPARE', sql, 4, null],
      ['STMT_BULK_EXECUTE', sql, 4, 2],
    ],
  );
});
