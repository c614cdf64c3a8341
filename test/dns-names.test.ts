// DNS answers in a capture name the services their clients looked up: `db.shop:3306` rather than
// `10.4.0.6:3306`. tshark is the oracle for the DNS bytes the fixture builds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CapturedPacket } from '../src/capture/types.js';
import type { SpanRecord } from '../src/correlate/types.js';
import { Pipeline } from '../src/pipeline.js';
import { readDnsAnswer } from '../src/protocols/dns/answers.js';
import { createAnalyzers } from '../src/protocols/index.js';
import { writePcap } from './lib/capture-writer.js';
import { LINKTYPE_ETHERNET, PROTO_UDP, captured, ethernet, ETHERTYPE_IPV4, ipv4, tcpPacket, udp } from './lib/frames.js';
import * as mysql from './lib/mysql-builder.js';
import { missingTools } from './lib/tshark.js';

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const name = (text: string): number[] => [...text.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]), 0];

/**
 * A response to `question`: a CNAME from the question to `alias` (written with a compression pointer
 * to the question), then A/AAAA records filed under the alias.
 */
function dnsResponse(question: string, alias: string, v4: number[][], v6: number[][] = [], rcode = 0): Buffer {
  const header = [0x12, 0x34, 0x81, 0x80 | rcode, ...u16(1), ...u16(1 + v4.length + v6.length), 0, 0, 0, 0];
  const q = [...name(question), ...u16(1), ...u16(1)];
  const aliasName = name(alias);
  const cname = [0xc0, 12, ...u16(5), ...u16(1), 0, 0, 0, 60, ...u16(aliasName.length), ...aliasName];
  const aliasAt = 12 + q.length + 12;
  const records = [
    ...v4.flatMap((a) => [0xc0, aliasAt, ...u16(1), ...u16(1), 0, 0, 0, 60, ...u16(4), ...a]),
    ...v6.flatMap((a) => [0xc0, aliasAt, ...u16(28), ...u16(1), 0, 0, 0, 60, ...u16(16), ...a]),
  ];
  return Buffer.from([...header, ...q, ...cname, ...records]);
}

function dnsPacket(payload: Buffer, ts: number): CapturedPacket {
  const frame = ethernet({ type: ETHERTYPE_IPV4, payload: ipv4({ src: '10.4.0.53', dst: '10.4.0.2', proto: PROTO_UDP, payload: udp({ srcPort: 53, dstPort: 40053, payload }) }) });
  return captured(frame, LINKTYPE_ETHERNET, ts);
}

const T0 = 1_700_000_000_000_000;
const V6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x06];

describe('DNS answers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-dns-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the asked name and every A/AAAA address, through CNAMEs and compression, as tshark reads them', { skip: missingTools('tshark') }, () => {
    const payload = dnsResponse('db.shop.svc.cluster.local', 'mariadb-0.db.shop.svc.cluster.local', [[10, 4, 0, 6], [10, 4, 0, 7]], [V6]);
    const file = join(dir, 'dns.pcap');
    writeFileSync(file, writePcap([dnsPacket(payload, T0)], { linkType: LINKTYPE_ETHERNET }));
    const r = spawnSync('tshark', ['-r', file, '-n', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'dns.qry.name', '-e', 'dns.a', '-e', 'dns.aaaa'], { encoding: 'utf8' });
    const [qname, a, aaaa] = r.stdout.trim().split('\t');
    assert.deepEqual(readDnsAnswer(payload), { name: qname, addresses: [...a!.split(','), ...aaaa!.split(',')] });
    assert.deepEqual(readDnsAnswer(payload), { name: 'db.shop.svc.cluster.local', addresses: ['10.4.0.6', '10.4.0.7', '2001:db8::6'] });
  });

  it('no names from queries, failures, or malformed answers', () => {
    const ok = dnsResponse('a.example', 'b.example', [[10, 0, 0, 1]]);
    const query = Buffer.from(ok);
    query[2] = 0x01;
    const loop = Buffer.from(ok);
    loop.writeUInt16BE(0xc000 | 12, 12); // the question's name points at itself
    assert.equal(readDnsAnswer(query), null);
    assert.equal(readDnsAnswer(dnsResponse('a.example', 'b.example', [[10, 0, 0, 1]], [], 3)), null, 'NXDOMAIN');
    assert.equal(readDnsAnswer(loop), null);
    for (let cut = 0; cut < ok.length; cut++) assert.equal(readDnsAnswer(ok.subarray(0, cut)), null, `cut at ${cut}`);
  });
});

describe('services named from the capture\'s DNS answers', () => {
  /** A MySQL connection from the orders service (10.4.0.3) to `server`, one query. */
  function mysqlConnection(server: string, sport: number, t0: number): CapturedPacket[] {
    const c = { src: '10.4.0.3', dst: server, sport, dport: 3306 };
    const s = { src: server, dst: '10.4.0.3', sport: 3306, dport: sport };
    const steps: [0 | 1, Buffer][] = [
      [1, mysql.greeting()],
      [0, mysql.handshakeResponse({ user: 'orders' })],
      [1, mysql.ok(2)],
      [0, mysql.query('SELECT 1')],
      [1, mysql.resultSet(['1'], [['1']], { deprecateEof: true }).bytes],
    ];
    const seq = [1001, 5001];
    let t = t0;
    const out = [tcpPacket({ ...c, seq: 1000, flags: 0x02 }), tcpPacket({ ...s, seq: 5000, ack: 1001, flags: 0x12 }), tcpPacket({ ...c, seq: 1001, ack: 5001, flags: 0x10 })].map((p) =>
      captured(p.data, p.linkType, (t += 100)),
    );
    for (const [dir, bytes] of steps) {
      const p = tcpPacket({ ...(dir === 0 ? c : s), seq: seq[dir]!, ack: seq[1 - dir]!, flags: 0x18, payload: bytes });
      out.push(captured(p.data, p.linkType, (t += 100)));
      seq[dir]! += bytes.length;
    }
    return out;
  }

  it('a database is named after the name its client looked up; one resolved later keeps its address name', () => {
    const spans: SpanRecord[] = [];
    const pipeline = new Pipeline({ analyzers: createAnalyzers({}), onSpan: (s) => spans.push(s) });
    const packets = [
      dnsPacket(dnsResponse('db.shop', 'db.shop', [[10, 4, 0, 6]]), T0),
      ...mysqlConnection('10.4.0.6', 41000, T0 + 1000),
      ...mysqlConnection('10.4.0.7', 41001, T0 + 5000),
      // 10.4.0.7 is looked up only after its first spans went out (3 s later): its name must not
      // change mid-run.
      dnsPacket(dnsResponse('other.shop', 'other.shop', [[10, 4, 0, 99]]), T0 + 2_000_000),
      dnsPacket(dnsResponse('replica.shop', 'replica.shop', [[10, 4, 0, 7]]), T0 + 3_000_000),
      ...mysqlConnection('10.4.0.7', 41002, T0 + 4_000_000),
    ];
    for (const p of packets) pipeline.packet(p);
    const result = pipeline.finish();
    const services = spans.filter((s) => (s.request as { command: string }).command === 'QUERY').sort((a, b) => a.startUs - b.startUs).map((s) => s.service);
    assert.deepEqual(services, ['mysql@db.shop:3306', 'mysql@10.4.0.7:3306', 'mysql@10.4.0.7:3306']);
    assert.deepEqual(result.serviceMap.nodes.map((n) => n.id).sort(), ['10.4.0.3', 'mysql@10.4.0.7:3306', 'mysql@db.shop:3306']);
    assert.equal(result.counters.get('dns.answers'), 3);
  });

  it('a --names entry and a Host header still come first', () => {
    const spans: SpanRecord[] = [];
    const pipeline = new Pipeline({ analyzers: createAnalyzers({}), names: { '10.4.0.6': 'primary-db' }, onSpan: (s) => spans.push(s) });
    for (const p of [dnsPacket(dnsResponse('db.shop', 'db.shop', [[10, 4, 0, 6]]), T0), ...mysqlConnection('10.4.0.6', 41000, T0 + 1000)]) pipeline.packet(p);
    pipeline.finish();
    assert.deepEqual([...new Set(spans.map((s) => s.service))], ['primary-db']);
  });
});
