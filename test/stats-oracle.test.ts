/**
 * `wirespan stats` against tshark and capinfos as oracles, on every shared capture and on synthetic
 * ones that hold what the real ones lack (retransmissions, reordering, a lost segment, a reused
 * 4-tuple, IPv6). Each capture goes through the real CLI (`stats --json --flows`) and is compared on:
 * - packets: `capinfos -c -M`;
 * - TCP connections: distinct `tcp.stream` values, matched one to one by 4-tuple (in order of
 *   appearance when a 4-tuple is reused);
 * - payload bytes per connection and direction (client/server as wirespan decided them): tshark's
 *   sum of `tcp.len` without retransmissions; directions tshark flags as lossy are left out of that
 *   comparison (the reason is printed as a diagnostic) and checked for a gap instead.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { StatsDocument } from '../src/export/stats.js';
import type { FlowRecord } from '../src/pipeline.js';
import { type FixturePacket, writePcap } from './lib/capture-writer.js';
import { tcpPacket } from './lib/frames.js';
import {
  capinfosPacketCount,
  endpoint,
  lossFlags,
  missingTools,
  tsharkStreams,
  tsharkTcpPackets,
  tupleKey,
  type TsharkStream,
} from './lib/tshark.js';
import { statsJson } from './lib/wirespan-cli.js';

const skip = missingTools('tshark', 'capinfos');
const SHARED_DIRS = ['../shared/conformance', '../shared/corpus', '../shared/formats'];
const sharedCaptures = SHARED_DIRS.flatMap((dir) =>
  readdirSync(dir)
    .filter((name) => /\.(pcap|pcapng)(\.gz)?$/.test(name))
    .map((name) => join(dir, name)),
);

const dir = mkdtempSync(join(tmpdir(), 'wirespan-stats-oracle-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Comparison {
  doc: StatsDocument;
  capinfosPackets: number;
  streams: TsharkStream[];
  tsharkTcpPackets: number;
}

const comparisons = new Map<string, Promise<Comparison>>();

/** Runs the CLI and the oracles once per file; several tests read the same comparison. */
function compare(file: string): Promise<Comparison> {
  let comparison = comparisons.get(file);
  if (!comparison) {
    comparison = runComparison(file);
    comparisons.set(file, comparison);
  }
  return comparison;
}

async function runComparison(file: string): Promise<Comparison> {
  const [doc, packets] = await Promise.all([statsJson([file], { flows: true }), tsharkTcpPackets(file)]);
  return { doc, capinfosPackets: capinfosPacketCount(file), streams: tsharkStreams(packets), tsharkTcpPackets: packets.length };
}

const flowTuple = (f: FlowRecord): string => tupleKey(endpoint(f.client.ip, f.client.port), endpoint(f.server.ip, f.server.port));

/** Pairs each tshark stream with a wirespan flow of the same 4-tuple, the k-th with the k-th. */
function pairStreams(streams: readonly TsharkStream[], flows: readonly FlowRecord[]): [TsharkStream, FlowRecord][] {
  const byTuple = new Map<string, FlowRecord[]>();
  for (const flow of [...flows].sort((a, b) => a.startUs - b.startUs || a.id - b.id)) {
    const list = byTuple.get(flowTuple(flow)) ?? [];
    list.push(flow);
    byTuple.set(flowTuple(flow), list);
  }
  return streams.map((stream) => {
    const flow = byTuple.get(stream.tuple)?.shift();
    assert.ok(flow, `tshark stream ${stream.id} (${stream.tuple}) has no wirespan flow`);
    return [stream, flow];
  });
}

/**
 * The assertions every capture gets; `note` reports what was left out and why.
 *
 * Loss is decided by sequence coverage (TsharkStream.holeBytes), not by tshark's per-packet flags,
 * which both misfire on the shared captures: in deepflow-mysql-mysql-statement.pcap idle connections
 * start with TCP keep-alives (an empty ACK at next − 1: frame 3 seq 3932154545, which the server's
 * frame 7 acknowledges as 3932154546), so tshark flags "previous segment not captured" on the first
 * data at 3932154546 (frame 99) although no byte is missing; and a segment that overtakes its
 * predecessor is flagged the same way before the predecessor fills the hole (the synthetic
 * out-of-order capture). Where tshark flags loss and coverage shows none, the bytes are compared and
 * wirespan must report no gap; the flags are printed as diagnostics.
 */
function assertAgrees(c: Comparison, note: (message: string) => void): void {
  const { doc, streams } = c;
  assert.equal(doc.packets, c.capinfosPackets, 'packets = capinfos -c');
  assert.equal(doc.tcp.connections, streams.length, 'tcp.connections = distinct tcp.stream');
  assert.equal(doc.flows?.length, doc.tcp.connections, '--flows lists every connection');
  // Every TCP packet tshark saw is counted in a connection, or as a straggler after its close.
  const flowPackets = doc.flows!.reduce((n, f) => n + f.packets.client + f.packets.server, 0);
  assert.equal(flowPackets, c.tsharkTcpPackets, 'every TCP packet counted to its connection (late ones after teardown too)');

  const expectedTotals = { client: 0, server: 0 };
  let lossy = false;
  for (const [stream, flow] of pairStreams(streams, doc.flows!)) {
    for (const side of ['client', 'server'] as const) {
      const sender = endpoint(flow[side].ip, flow[side].port);
      const where = `stream ${stream.id} ${side} ${sender}`;
      const tsharkBytes = stream.bytes.get(sender) ?? 0;
      const holes = stream.holeBytes.get(sender) ?? 0;
      const flags = lossFlags(stream, sender);
      expectedTotals[side] += tsharkBytes;
      if (flags.length > 0) note(`${where}: tshark flags ${flags.join(', ')}; uncovered sequence space ${holes} bytes`);
      if (holes > 0) {
        // The capture lost bytes between captured ones: wirespan must declare exactly them.
        lossy = true;
        note(`${where}: bytes not compared (lossy); tshark ${tsharkBytes}, wirespan ${flow.payloadBytes[side]}`);
        assert.equal(flow.gapBytes[side], holes, `${where}: gap bytes = sequence space no captured segment covers`);
        continue;
      }
      assert.equal(flow.payloadBytes[side], tsharkBytes, `${where}: payload bytes = tshark sum of tcp.len without retransmissions`);
      assert.equal(flow.gapBytes[side], 0, `${where}: no gap where every byte was captured`);
    }
  }
  if (!lossy) assert.deepEqual(doc.tcp.payloadBytes, expectedTotals, 'payload byte totals per direction');
}

describe('stats vs tshark/capinfos on the shared captures', { skip, concurrency: 8 }, () => {
  for (const file of sharedCaptures) {
    it(basename(file), async (t) => {
      const c = await compare(file);
      assertAgrees(c, (m) => t.diagnostic(m));
    });
  }

  it('zeek-http-large-gap.pcap: the "large gap" is in the HTTP body, not in TCP', async () => {
    // The response is a 206 for "bytes 2147483648-2147483649/5037662208" with Content-Length 2: the
    // gap Zeek's file analysis reports is the skipped range of the file. Every TCP byte is in the
    // capture (tshark flags no loss either), so wirespan must report no TCP gap.
    const c = await compare('../shared/conformance/zeek-http-large-gap.pcap');
    assert.equal(c.doc.tcp.gaps.client + c.doc.tcp.gaps.server, 0);
    assert.ok(c.streams.every((s) => s.holeFrom.size === 0 && s.unseenFrom.size === 0));
    assert.deepEqual(c.doc.tcp.payloadBytes, { client: 158, server: 321 });
  });

  it('deepflow-mysql-mysql-statement.pcap: keep-alives make tshark guess loss; wirespan sees none', async () => {
    const c = await compare('../shared/conformance/deepflow-mysql-mysql-statement.pcap');
    const flagged = c.streams.filter((s) => s.holeFrom.size > 0);
    assert.equal(flagged.length, 7, 'tshark: previous segment not captured on 7 connections');
    assert.ok(flagged.every((s) => [...s.holeBytes.values()].every((n) => n === 0)), 'but every byte is covered');
    assert.deepEqual(c.doc.tcp.gaps, { client: 0, server: 0 });
  });

  it('deepflow-http-grpc-server-stream.pcap: segments missing between captured ones are gaps', async () => {
    const c = await compare('../shared/conformance/deepflow-http-grpc-server-stream.pcap');
    assert.ok(c.streams.some((s) => s.holeFrom.size > 0), 'tshark sees segments not captured');
    assert.ok(c.doc.tcp.gaps.server > 0, `server→client gaps: ${c.doc.tcp.gaps.server}`);
    assert.equal(c.doc.tcp.gapBytes.server, c.streams[0]!.holeBytes.get('127.0.0.1:9001'));
  });
});

// --- synthetic captures: what the shared ones do not hold --------------------------------------

const SYN = 0x02;
const FIN = 0x01;
const PSH_ACK = 0x18;
const ACK = 0x10;
const SYN_ACK = 0x12;
const FIN_ACK = 0x11;

interface Side {
  src: string;
  dst: string;
  sport: number;
  dport: number;
}

/** A connection's packets, written by sequence offsets relative to each side's ISN. */
class Conversation {
  readonly packets: FixturePacket[] = [];
  private readonly client: Side;
  private readonly server: Side;
  /** IPv4 ids per sender, one per packet sent, as a real stack numbers them. */
  private readonly ipIds = { client: 1, server: 1 };

  constructor(
    c: { ip: string; port: number },
    s: { ip: string; port: number },
    private readonly isn: { client: number; server: number },
    private ts: number,
  ) {
    this.client = { src: c.ip, dst: s.ip, sport: c.port, dport: s.port };
    this.server = { src: s.ip, dst: c.ip, sport: s.port, dport: c.port };
  }

  /** `offset` and `ackOffset` count from ISN (so the first data byte is offset 1 after a SYN). */
  send(from: 'client' | 'server', offset: number, flags: number, payload = '', ackOffset?: number): this {
    const peer = from === 'client' ? 'server' : 'client';
    const { data } = tcpPacket({
      ...this[from],
      seq: (this.isn[from] + offset) >>> 0,
      ack: ackOffset === undefined ? 0 : (this.isn[peer] + ackOffset) >>> 0,
      flags,
      payload,
      ipId: this.ipIds[from]++,
    });
    this.packets.push({ ts: this.ts, data });
    this.ts += 100; // 100 µs apart: reordering stays under tshark's 3 ms out-of-order threshold
    return this;
  }

  handshake(): this {
    return this.send('client', 0, SYN).send('server', 0, SYN_ACK, '', 1).send('client', 1, ACK, '', 1);
  }
}

const body = (n: number, fill = 'x'): string => fill.repeat(n);
const C = { ip: '10.1.0.1', port: 41000 };
const S = { ip: '10.1.0.2', port: 8080 };

const synthetic: Record<string, () => FixturePacket[]> = {
  retransmissions: () =>
    new Conversation(C, S, { client: 1000, server: 9_000_000 }, 1.7e15)
      .handshake()
      .send('client', 1, PSH_ACK, body(40, 'q'), 1)
      .send('client', 1, PSH_ACK, body(40, 'q'), 1) // exact retransmission
      .send('server', 1, PSH_ACK, body(500, 'a'), 41)
      .send('server', 501, PSH_ACK, body(700, 'b'), 41)
      .send('server', 501, PSH_ACK, body(700, 'b'), 41) // retransmission of the second segment
      .send('client', 41, FIN_ACK, '', 1201)
      .send('server', 1201, FIN_ACK, '', 42)
      .send('client', 42, ACK, '', 1202).packets,
  'out-of-order': () =>
    new Conversation(C, S, { client: 0xfffffff0, server: 77 }, 1.7e15) // client sequence numbers wrap
      .handshake()
      .send('client', 1, PSH_ACK, body(30, 'r'), 1)
      .send('server', 301, PSH_ACK, body(200, 'd'), 31) // arrives before the segment it follows
      .send('server', 1, PSH_ACK, body(300, 'c'), 31)
      .send('client', 31, FIN_ACK, '', 501)
      .send('server', 501, FIN_ACK, '', 32)
      .send('client', 32, ACK, '', 502).packets,
  'lost-segment': () =>
    new Conversation(C, S, { client: 5, server: 123_456 }, 1.7e15)
      .handshake()
      .send('client', 1, PSH_ACK, body(25, 'r'), 1)
      .send('server', 1, PSH_ACK, body(400, 'e'), 26)
      // 400..799 never captured
      .send('server', 801, PSH_ACK, body(400, 'g'), 26)
      .send('client', 26, ACK, '', 1201) // the client has everything: the capture lost the bytes
      .send('server', 1201, PSH_ACK, body(100, 'h'), 26)
      .send('client', 26, FIN_ACK, '', 1301)
      .send('server', 1301, FIN_ACK, '', 27)
      .send('client', 27, ACK, '', 1302).packets,
  'port-reuse': () => {
    const first = new Conversation(C, S, { client: 100, server: 200 }, 1.7e15)
      .handshake()
      .send('client', 1, PSH_ACK, body(10), 1)
      .send('server', 1, PSH_ACK, body(20), 11)
      .send('client', 11, FIN_ACK, '', 21)
      .send('server', 21, FIN_ACK, '', 12)
      .send('client', 12, ACK, '', 22);
    const second = new Conversation(C, S, { client: 50_000_000, server: 60_000_000 }, 1.7e15 + 5e6)
      .handshake()
      .send('client', 1, PSH_ACK, body(33), 1)
      .send('server', 1, PSH_ACK, body(44), 34)
      .send('server', 45, FIN_ACK, '', 34)
      .send('client', 34, FIN_ACK, '', 46)
      .send('server', 46, ACK, '', 35);
    return [...first.packets, ...second.packets];
  },
  'ipv6-and-midstream': () => {
    const v6 = new Conversation({ ip: '2001:db8::10', port: 50500 }, { ip: '2001:db8:0:0:0:0:0:20', port: 3306 }, { client: 1, server: 2 }, 1.7e15)
      .handshake()
      .send('server', 1, PSH_ACK, body(78, 'g'), 1)
      .send('client', 1, PSH_ACK, body(64, 'l'), 79)
      .send('client', 65, FIN_ACK, '', 79)
      .send('server', 79, FIN_ACK, '', 66)
      .send('client', 66, ACK, '', 80);
    // No handshake: the capture starts in the middle of this one.
    const midstream = new Conversation({ ip: '10.9.9.9', port: 52000 }, { ip: '10.9.9.1', port: 80 }, { client: 7000, server: 8000 }, 1.7e15 + 50)
      .send('client', 10, PSH_ACK, body(120, 'm'), 10)
      .send('server', 10, PSH_ACK, body(900, 'n'), 130)
      .send('client', 130, ACK, '', 910);
    return [...v6.packets, ...midstream.packets].sort((a, b) => a.ts - b.ts);
  },
};

describe('stats vs tshark on synthetic captures', { skip, concurrency: 8 }, () => {
  const files = new Map<string, string>();
  before(() => {
    for (const [name, build] of Object.entries(synthetic)) {
      const path = join(dir, `${name}.pcap`);
      writeFileSync(path, writePcap(build(), { linkType: 1 }));
      files.set(name, path);
    }
  });

  for (const name of Object.keys(synthetic)) {
    it(name, async (t) => {
      const c = await compare(files.get(name)!);
      assertAgrees(c, (m) => t.diagnostic(m));
    });
  }

  it('retransmissions: wirespan counts the retransmitted bytes tshark flags', async () => {
    const c = await compare(files.get('retransmissions')!);
    assert.deepEqual(c.doc.tcp.retransmittedBytes, { client: 40, server: 700 });
    assert.deepEqual(c.doc.tcp.payloadBytes, { client: 40, server: 1200 });
  });

  it('lost-segment: the 400 missing bytes are one gap', async () => {
    const c = await compare(files.get('lost-segment')!);
    assert.deepEqual(c.doc.tcp.gaps, { client: 0, server: 1 });
    assert.deepEqual(c.doc.tcp.gapBytes, { client: 0, server: 400 });
    assert.deepEqual(c.doc.tcp.payloadBytes, { client: 25, server: 900 });
    assert.deepEqual([...c.streams[0]!.holeFrom], [endpoint(S.ip, S.port)], 'tshark agrees a server segment is missing');
    assert.equal(c.streams[0]!.holeBytes.get(endpoint(S.ip, S.port)), 400);
  });

  it('out-of-order: tshark flags the overtaking segment as following a lost one; nothing is lost', async () => {
    const c = await compare(files.get('out-of-order')!);
    assert.ok(c.streams[0]!.holeFrom.has(endpoint(S.ip, S.port)), "tshark's per-packet flag");
    assert.equal(c.streams[0]!.holeBytes.get(endpoint(S.ip, S.port)), 0, 'the hole was filled');
    assert.deepEqual(c.doc.tcp.gaps, { client: 0, server: 0 });
    assert.deepEqual(c.doc.tcp.payloadBytes, { client: 30, server: 500 });
    assert.equal(c.doc.tcp.outOfOrderSegments.server, 1);
  });

  it('port-reuse: a new SYN on a closed 4-tuple is a second connection, as tshark sees it', async () => {
    const c = await compare(files.get('port-reuse')!);
    assert.equal(c.streams.length, 2);
    assert.equal(c.doc.tcp.connections, 2);
    assert.deepEqual(
      c.doc.flows!.map((f) => [f.payloadBytes.client, f.payloadBytes.server]),
      [
        [10, 20],
        [33, 44],
      ],
    );
  });
});
