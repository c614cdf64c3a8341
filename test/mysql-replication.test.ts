// A MariaDB replica reading its primary's binary log (fixtures/replication/run.sh): the dump is one
// exchange whose answer is a stream of events, from its start or from the middle of it (a replica's
// connection lives for months, so a capture usually starts inside the stream).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { MysqlRequestInfo, MysqlResponseInfo } from '../src/protocols/types.js';
import { ServiceMapBuilder } from '../src/correlate/service-map.js';
import { SlowestTraces } from '../src/export/report.js';
import { MysqlAnalyzer } from '../src/protocols/mysql/index.js';
import { Counters } from '../src/util/counters.js';
import { analyzeFiles } from './lib/analyze-file.js';
import { writePcap } from './lib/capture-writer.js';
import * as my from './lib/mysql-builder.js';
import { fakeFlow } from './lib/mysql-driver.js';
import { readPcapSimple } from './lib/read-pcap-simple.js';
import { missingTools, tsharkFields } from './lib/tshark.js';

const FIXTURE = 'fixtures/mariadb-replica.pcap';
const truth = JSON.parse(readFileSync('fixtures/mariadb-replica.truth.json', 'utf8')) as { binlogFile: string; rowsOnReplica: number };
const dir = mkdtempSync(join(tmpdir(), 'wirespan-replica-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** MySQL packets tshark finds from the server after frame `after` (each binlog event is one). */
function serverPacketsAfter(file: string, after: number): number {
  const args = ['-r', file, '-Y', 'tcp.srcport == 3306 && mysql', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', '-e', 'mysql.packet_length'];
  const rows = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n');
  return rows.map((row) => row.split('\t')).filter(([frame]) => Number(frame) > after).reduce((n, [, lengths]) => n + lengths!.split(',').length, 0);
}

describe('a replica reading the binary log: mariadb-replica.pcap', { skip: missingTools('tshark') }, () => {
  it('the replica\'s setup, REGISTER_SLAVE, then one BINLOG_DUMP answered by every event streamed', async () => {
    const { spans, result } = await analyzeFiles([FIXTURE]);
    const commands = spans.map((s) => (s.request as MysqlRequestInfo).command);
    assert.deepEqual(commands, ['LOGIN', ...Array(7).fill('QUERY'), 'REGISTER_SLAVE', 'BINLOG_DUMP']);
    assert.match((spans[7]!.request as MysqlRequestInfo).sql!, new RegExp(`binlog_gtid_pos\\('${truth.binlogFile.replace('.', '\\.')}',4\\)`));
    const dump = spans.at(-1)!;
    const [dumpFrame] = tsharkFields(FIXTURE, ['frame.number'], { filter: 'mysql.command == 18' });
    const events = serverPacketsAfter(FIXTURE, Number(dumpFrame![0]));
    assert.ok(events > 20, `${events} events: the writes (${truth.rowsOnReplica} rows reached the replica), heartbeats, the log's own`);
    assert.deepEqual([(dump.response as MysqlResponseInfo).rows, dump.notes], [events, ['binlog stream still open']]);
    assert.ok(dump.durationUs! > 2_000_000, 'the stream lasts until the capture ends');
    assert.equal(result.counters.get('mysql.responses-without-request'), 0);
    // How long a replica listens is not how slow the primary answers.
    const map = new ServiceMapBuilder();
    const slowest = new SlowestTraces(3);
    for (const s of spans) {
      map.add(s);
      slowest.add({ traceId: s.traceId, startUs: s.startUs, endUs: s.endUs, spans: 1, root: { span: s, children: [] } });
    }
    const [edge] = map.build().edges;
    assert.deepEqual([edge!.calls, edge!.latencyMs.max < 10], [spans.length, true]);
    assert.ok(slowest.list().every((t) => (t.root.span.request as MysqlRequestInfo).command !== 'BINLOG_DUMP'));
  });

  it('captured from the middle of the stream: still the dump, its request before the capture', async () => {
    const packets = [...readPcapSimple(FIXTURE)];
    const [dumpFrame] = tsharkFields(FIXTURE, ['frame.number'], { filter: 'mysql.command == 18' });
    const from = Number(dumpFrame![0]) + 8; // a few events in
    const cut = join(dir, 'midstream.pcap');
    writeFileSync(cut, writePcap(packets.slice(from - 1).map((p) => ({ ts: p.ts, data: p.data })), { linkType: packets[0]!.linkType }));
    const { spans, result } = await analyzeFiles([cut]);
    assert.deepEqual(
      spans.map((s) => [(s.request as MysqlRequestInfo).command, (s.response as MysqlResponseInfo).rows, s.notes]),
      [['BINLOG_DUMP', serverPacketsAfter(cut, 0), ['request before capture', 'binlog stream still open']]],
    );
    assert.equal(result.counters.get('mysql.binlog-streams-before-capture'), 1);
    assert.equal(result.counters.get('mysql.responses-without-request'), 0);
  });
});

describe('a binary log stream and the correlator', () => {
  it('is not in flight: nothing waits for a database to make calls while it streams', () => {
    const handler = new MysqlAnalyzer().open({ flow: fakeFlow(), counters: new Counters(), emit: () => {}, switchProtocol: () => null });
    const event = (seq: number, type: number): Buffer => {
      const header = Buffer.alloc(19);
      header.writeUInt32LE(1_700_000_000, 0);
      header[4] = type;
      header.writeUInt32LE(2, 5);
      header.writeUInt32LE(19 + 8, 9);
      return my.packet(seq, Buffer.concat([Buffer.from([0]), header, Buffer.alloc(8)]));
    };
    const steps: [0 | 1, Buffer, number][] = [
      [1, my.greeting(), 10],
      [0, my.handshakeResponse(), 20],
      [1, my.ok(2), 30],
      [0, my.query('SELECT 1'), 40],
    ];
    const offsets = [0, 0];
    const feed = (d: 0 | 1, bytes: Buffer, ts: number): void => {
      handler.data(d, bytes, ts, offsets[d]!);
      offsets[d]! += bytes.length;
    };
    for (const [d, bytes, ts] of steps) feed(d, bytes, ts);
    assert.equal(handler.oldestInFlightUs(), 40, 'a query waiting for its answer is in flight');
    feed(1, my.resultSet(['1'], [['1']]).bytes, 50);
    feed(0, my.command(0x12, Buffer.from([4, 0, 0, 0, 0, 0, 2, 0, 0, 0])), 60);
    assert.equal(handler.oldestInFlightUs(), 60, 'the dump request itself, until its stream begins');
    feed(1, Buffer.concat([event(1, 4), event(2, 15)]), 70);
    assert.equal(handler.oldestInFlightUs(), null);
  });
});
