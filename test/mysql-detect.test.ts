import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { MysqlAnalyzer } from '../src/protocols/mysql/index.js';
import type { Detection } from '../src/protocols/types.js';
import * as b from './lib/mysql-builder.js';
import { Conversation, drive, type Step } from './lib/mysql-driver.js';

const hex = (s: string) => Buffer.from(s, 'hex');
/** First server segment of DeepFlow's mysql-login-error capture (MySQL 5.7.18 greeting). */
const REAL_GREETING = hex(
  '4a0000000a352e372e313800060000004f5b26424f54510100ffff080200ffc115000000000000000000006f774a395f531f4452213f70006d7973716c5f6e61746976655f70617373776f726400',
);
/** First client segment of DeepFlow's mysql-use capture: `use \`test\`` in a stored compressed frame. */
const REAL_COMPRESSED_USE = hex('0f0000000000000b0000000375736520607465737460');

const analyzer = new MysqlAnalyzer();

const cases: [name: string, bytes: Buffer, dir: 0 | 1, expected: Detection][] = [
  ['real greeting', REAL_GREETING, 1, 'yes'],
  ['built greeting (MariaDB style version)', b.greeting({ version: '5.5.5-10.11.6-MariaDB' }), 1, 'yes'],
  ['greeting cut inside the version', REAL_GREETING.subarray(0, 9), 1, 'more'],
  ['3 bytes', REAL_GREETING.subarray(0, 3), 1, 'more'],
  ['refusal ERR with sequence 0', b.packet(0, Buffer.concat([hex('ff6a04'), Buffer.from("Host '10.1.1.1' is not allowed to connect")])), 1, 'yes'],
  ['COM_QUERY', b.query('SELECT 1'), 0, 'yes'],
  ['COM_QUERY with a leading comment', b.query('/* app */ select now()'), 0, 'yes'],
  ['COM_QUERY with an empty attribute block', b.queryWithAttributes('select 1', []), 0, 'yes'],
  ['COM_PING', b.command(b.COM.PING), 0, 'yes'],
  ['COM_STMT_EXECUTE', b.execute(5, [1, 2]), 0, 'yes'],
  ['compressed stored frame (real)', REAL_COMPRESSED_USE, 0, 'yes'],
  ['compressed zlib frame', b.compressedFrame(0, b.query('SELECT id FROM t WHERE a = 1')), 0, 'yes'],
  ['COM_QUERY with non-SQL text', b.query('hello world'), 0, 'no'],
  ['COM_PING followed by garbage', Buffer.concat([b.command(b.COM.PING), hex('0000')]), 0, 'no'],
  ['HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 0, 'no'],
  ['HTTP response', Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), 1, 'no'],
  ['TLS ClientHello', hex('160301020001000200030301'), 0, 'no'],
  ['Redis PING', Buffer.from('*1\r\n$4\r\nPING\r\n'), 0, 'no'],
  ['PostgreSQL startup', hex('0000002c00030000757365720070670000'), 0, 'no'],
  ['HTTP/2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 0, 'no'],
  ['a MySQL response is not enough on its own', b.ok(1), 1, 'no'],
];

test('detect table', () => {
  for (const [name, bytes, dir, expected] of cases) assert.equal(analyzer.detect(bytes, dir), expected, name);
});

test('a greeting in the client direction is detected and reported as reversed', () => {
  assert.equal(analyzer.detect(REAL_GREETING, 0), 'yes');
  assert.equal(analyzer.reversed(REAL_GREETING, 0), true);
  assert.equal(analyzer.reversed(b.query('SELECT 1'), 0), false);
  assert.equal(analyzer.reversed(REAL_GREETING, 1), false);
});

test('random bytes are not claimed in the client direction', () => {
  const samples = fc.sample(fc.uint8Array({ minLength: 5, maxLength: 200 }), { seed: 42, numRuns: 5000 });
  const claimed = samples.filter((bytes) => analyzer.detect(bytes, 0) === 'yes' || analyzer.detect(bytes, 1) === 'yes');
  assert.deepEqual(claimed, []);
});

/** A session touching most paths: login, result sets, prepared statements, LOCAL INFILE, errors. */
function session(compress: boolean): Step[] {
  const caps = b.BASE_CAPS | b.CAP.DEPRECATE_EOF | (compress ? b.CAP.COMPRESS : 0);
  const wrap = (bytes: Buffer, seq: number) => (compress ? b.compressedFrame(seq, bytes, seq % 2 === 1) : bytes);
  const rows = Array.from({ length: 25 }, (_, i) => [String(i), 'v'.repeat(i * 3)]);
  return new Conversation()
    .server(b.greeting())
    .client(b.handshakeResponse({ capabilities: caps, user: 'u', database: 'd' }))
    .server(b.ok(2))
    .client(wrap(b.query("SELECT id, v FROM t WHERE v <> 'x'"), 0))
    .server(wrap(b.resultSet(['id', 'v'], rows, { deprecateEof: true }).bytes, 1))
    .client(wrap(b.command(b.COM.STMT_PREPARE, 'SELECT id FROM t WHERE id > ?'), 0))
    .server(wrap(b.prepareOk(3, 1, 1, { deprecateEof: true }), 1))
    .client(wrap(b.execute(3, [5]), 0))
    .server(wrap(b.resultSet(['id'], [['6'], ['7']], { deprecateEof: true, binary: true }).bytes, 1))
    .client(wrap(Buffer.concat([b.statementCommand(b.COM.STMT_CLOSE, 3), b.query('INSERT INTO t VALUES (1)')]), 0))
    .server(wrap(b.err(1, 1062, '23000', "Duplicate entry '1'"), 1))
    .client(wrap(b.query("LOAD DATA LOCAL INFILE 'f' INTO TABLE t"), 0))
    .server(wrap(b.packet(1, Buffer.from([0xfb, 0x66])), 1))
    .client(wrap(Buffer.concat([b.packet(2, Buffer.from('1\n2\n')), b.packet(3, Buffer.alloc(0))]), 0))
    .server(wrap(b.ok(4, { affectedRows: 2 }), 1))
    .client(wrap(b.command(b.COM.QUIT), 0)).steps;
}

function splitSteps(steps: Step[], cuts: number[][]): Step[] {
  const out: Step[] = [];
  steps.forEach((step, i) => {
    if (!('bytes' in step)) return void out.push(step);
    const points = [...new Set((cuts[i] ?? []).map((c) => c % (step.bytes.length + 1)))].sort((x, y) => x - y);
    let from = 0;
    for (const p of [...points, step.bytes.length]) {
      if (p > from) out.push({ dir: step.dir, bytes: step.bytes.subarray(from, p), ts: step.ts });
      from = Math.max(from, p);
    }
  });
  return out;
}

for (const compress of [false, true]) {
  test(`splitting both directions at any points changes nothing${compress ? ' (compressed protocol)' : ''}`, () => {
    const steps = session(compress);
    const whole = drive(steps);
    assert.deepEqual(
      whole.exchanges.map((x) => (x.request as { command: string }).command + ':' + (x.response ? 'answered' : 'none')),
      ['LOGIN:answered', 'QUERY:answered', 'STMT_PREPARE:answered', 'STMT_EXECUTE:answered', 'STMT_CLOSE:none', 'QUERY:answered', 'QUERY:answered', 'QUIT:none'],
    );
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat(4000), { maxLength: 6 }), { minLength: steps.length, maxLength: steps.length }), (cuts) => {
        const split = drive(splitSteps(steps, cuts));
        assert.deepEqual(split.exchanges, whole.exchanges);
        assert.deepEqual(split.counters.toJSON(), whole.counters.toJSON());
      }),
      { numRuns: 150 },
    );
  });
}
