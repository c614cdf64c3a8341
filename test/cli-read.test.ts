// `wirespan read` as a user runs it: the real CLI on the shipped demo capture.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { readPcapSimple } from './lib/read-pcap-simple.js';

const DEMO = 'fixtures/demo-shop.pcap';
const NAMES = 'fixtures/demo-shop.names.yaml';
const run = (args: string[]): ReturnType<typeof spawnSync> =>
  spawnSync(process.execPath, ['bin/wirespan.js', ...args], { encoding: 'utf8' });

describe('wirespan read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-read-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the report: protocols, the named service map and the slowest traces as trees', () => {
    const r = run(['read', DEMO, '--names', NAMES]);
    assert.equal(r.status, 0, String(r.stderr));
    const out = String(r.stdout);
    assert.match(out, /^ {2}http {6}160\b/m);
    assert.match(out, /^ {2}grpc {6}46\b/m);
    // The pool's two COM_QUITs get no reply by protocol: not counted as unanswered.
    assert.match(out, /^ {2}mysql {5}97 +0 +0$/m);
    assert.match(out, /^ {2}loadgen +gateway +http +60 /m);
    assert.match(out, /^ {2}orders +inventory +grpc +46 /m);
    assert.match(out, /Slowest traces/);
    // Where failures start (payments refusing cards) and where they are only passed on.
    assert.match(out, /^ {2}orders +payments +POST \/charge +502 +8 +8$/m);
    assert.match(out, /^ {2}gateway +orders +POST \/orders +502 +8 +0$/m);
    assert.match(out, /^ {2}loadgen +gateway +POST \/orders +502 +8 +0$/m);
    assert.match(out, /orders → inventory {2}\/shop\.Inventory\/Reserve/);
  });

  it('writes exchanges, traces and every service-map format', () => {
    const ex = join(dir, 'x.ndjson');
    const tr = join(dir, 't.json');
    const r = run(['read', DEMO, '--names', NAMES, '--exchanges', ex, '--traces', tr, '--service-map', join(dir, 'map.json'), '--no-report']);
    assert.equal(r.status, 0, String(r.stderr));
    assert.equal(String(r.stdout), '', '--no-report prints nothing');
    const records = readFileSync(ex, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const traces = JSON.parse(readFileSync(tr, 'utf8'));
    assert.equal(traces.schema, 'wirespan-traces/1');
    const count = (n: { children: unknown[] }): number => 1 + n.children.reduce((s: number, c) => s + count(c as never), 0);
    assert.equal(traces.traces.reduce((s: number, t: { root: never }) => s + count(t.root), 0), records.length, 'every span in one tree');
    for (const rec of records) {
      for (const key of ['protocol', 'client', 'server', 'startUs', 'endUs', 'request', 'response', 'requestId', 'traceId', 'spanId', 'parentSpanId', 'service', 'peerService', 'link', 'notes']) {
        assert.ok(key in rec, `record has ${key}`);
      }
      assert.match(rec.traceId, /^[0-9a-f]{32}$/);
      assert.match(rec.spanId, /^[0-9a-f]{16}$/);
      assert.ok(!JSON.stringify(rec).toLowerCase().includes('"authorization"'), 'sensitive headers never written');
    }
    const map = JSON.parse(readFileSync(join(dir, 'map.json'), 'utf8'));
    assert.deepEqual(Object.keys(map).sort(), ['edges', 'nodes', 'schema']);
    assert.equal(map.nodes.find((n: { id: string }) => n.id === 'db').kind, 'database');
    assert.equal(map.nodes.find((n: { id: string }) => n.id === 'loadgen').kind, 'client');

    const shape = (format: string): string => {
      const file = join(dir, `map.${format}`);
      const res = run(['read', DEMO, '--names', NAMES, '--service-map', file, '--service-map-format', format, '--no-report']);
      assert.equal(res.status, 0, String(res.stderr));
      return readFileSync(file, 'utf8');
    };
    const jaeger = JSON.parse(shape('jaeger'));
    assert.deepEqual(jaeger.find((d: { parent: string; child: string }) => d.parent === 'orders' && d.child === 'inventory'), { parent: 'orders', child: 'inventory', callCount: 46 });
    const zipkin = JSON.parse(shape('zipkin'));
    assert.equal(zipkin.find((d: { parent: string; child: string }) => d.parent === 'gateway' && d.child === 'orders').errorCount, 8);
    const cy = JSON.parse(shape('cytoscape'));
    assert.ok(cy.elements.nodes.length >= 6 && cy.elements.edges.length >= 6);
    assert.match(shape('dot'), /^digraph wirespan \{[\s\S]*"orders" -> "inventory" \[label="grpc 46 calls/);
    assert.match(shape('mermaid'), /^flowchart LR\n[\s\S]*-->\|"grpc 46 calls/);
    if (spawnSync('sh', ['-c', 'command -v dot'], { stdio: 'ignore' }).status === 0) {
      execFileSync('dot', ['-Tsvg', join(dir, 'map.dot')], { stdio: 'ignore' });
    }
  });

  it('says in the report how many HTTP/2 header fields a mid-connection capture left unknown', () => {
    const r = run(['read', '../shared/corpus/midstream.pcap', '--slowest', '0']);
    assert.equal(r.status, 0, String(r.stderr));
    const m = /^ {2}(\d+) HTTP\/2 header fields unknown \(HPACK state from before the capture, or lost in a gap\)$/m.exec(String(r.stdout));
    assert.ok(m, String(r.stdout));
    const ex = run(['read', '../shared/corpus/midstream.pcap', '--exchanges', '-', '--no-report']);
    const perExchange = String(ex.stdout).trim().split('\n').map((l) => JSON.parse(l) as { notes: string[] })
      .flatMap((rec) => rec.notes.map((n) => /^(\d+) header fields unknown/.exec(n)?.[1]).filter(Boolean).map(Number));
    assert.equal(perExchange.reduce((a, b) => a + b, 0), Number(m[1]), 'the total is the sum of the per-exchange notes');
    // The gRPC trailers refer to entries from before the capture: those calls are not counted as errors.
    const records = String(ex.stdout).trim().split('\n').map((l) => JSON.parse(l) as { protocol: string; response: { grpcStatus?: number | null } | null });
    const unknownStatus = records.filter((rec) => rec.protocol === 'grpc' && rec.response !== null && rec.response.grpcStatus === null).length;
    assert.ok(unknownStatus > 0);
    assert.match(String(r.stdout), new RegExp(`^ {2}${unknownStatus} HTTP/2 or gRPC answers whose status could not be read \\(HPACK state from before the capture or lost in a gap\\): not counted as errors$`, 'm'));
  });

  it('--exchanges - writes NDJSON to stdout and the report to stderr', () => {
    const r = run(['read', DEMO, '--exchanges', '-']);
    assert.equal(r.status, 0);
    const lines = String(r.stdout).trim().split('\n');
    assert.equal(lines.length, 160 + 46 + 97);
    lines.forEach((l) => JSON.parse(l));
    assert.match(String(r.stderr), /Service map/);
  });

  it('a reader that stops early (`| head -1`) ends it quietly with 141, as SIGPIPE ends tcpdump or tshark', () => {
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" bin/wirespan.js read ${DEMO} --exchanges - --no-report | head -1; echo "exit=$?"`], {
      encoding: 'utf8',
    });
    const [first, status] = String(r.stdout).trim().split('\n');
    assert.match(JSON.parse(first!).protocol, /^(http|grpc|mysql)$/, 'the first record came through');
    assert.equal(status, 'exit=141', 'the status a pipeline expects of a writer whose reader left');
    assert.equal(String(r.stderr), '', 'no stack trace, no message');
  });

  it('a capture cut by a small snapshot length still gives every HTTP exchange, and the report says why bytes are missing', () => {
    const cut = join(dir, 'snaplen-120.pcap');
    // Every packet kept to its first 120 bytes, as `tcpdump -s 120` would.
    const whole = readFileSync(DEMO);
    const out: Buffer[] = [Buffer.from(whole.subarray(0, 24))];
    out[0]!.writeUInt32LE(120, 16);
    let cutPackets = 0;
    for (let at = 24; at < whole.length; ) {
      const incl = whole.readUInt32LE(at + 8);
      const keep = Math.min(incl, 120);
      if (keep < incl) cutPackets++;
      const header = Buffer.from(whole.subarray(at, at + 16));
      header.writeUInt32LE(keep, 8);
      out.push(header, whole.subarray(at + 16, at + 16 + keep));
      at += 16 + incl;
    }
    writeFileSync(cut, Buffer.concat(out));
    const r = run(['read', cut, '--slowest', '0']);
    assert.equal(r.status, 0, String(r.stderr));
    assert.match(String(r.stdout), /^ {2}http {6}160\b/m, 'requests and statuses fit in 120 bytes');
    assert.match(String(r.stdout), new RegExp(`^ {2}${cutPackets} packets cut short by the capture's snapshot length`, 'm'));
  });

  it('says what it cannot see: MySQL switched to TLS, bytes of a WebSocket', () => {
    const mysqlTls = run(['read', '../shared/conformance/zeek-mysql-encrypted.pcap', '--slowest', '0']);
    assert.match(String(mysqlTls.stdout), /^ {2}1 MySQL connections switched to TLS after the greeting: their commands are not visible without the session secrets \(--tls-keylog\)$/m);
    const ws = run(['read', '../shared/conformance/zeek-http-websocket.pcap', '--slowest', '0']);
    assert.match(String(ws.stdout), /^ {2}\d+ bytes after an HTTP upgrade or CONNECT \(WebSocket, tunnels\) not analysed$/m);
  });

  it('Ctrl-C finishes what was read: outputs and report written, exit 130, even with stdin still open', async () => {
    const out = join(dir, 'interrupted.ndjson');
    const child = spawn(process.execPath, ['bin/wirespan.js', 'read', '-', '--exchanges', out, '--slowest', '0'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdin.write(readFileSync(DEMO)); // and the pipe stays open, as a live tcpdump's would
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGINT');
    assert.equal(await exited, 130);
    const packets = [...readPcapSimple(DEMO)].length;
    assert.match(stdout, new RegExp(`^ {2}interrupted after ${packets} packets: what came later was not read$`, 'm'));
    assert.match(stdout, /^ {2}http {6}160\b/m);
    assert.equal(readFileSync(out, 'utf8').trim().split('\n').length, 160 + 46 + 97, 'every exchange read, decided and written');
    assert.match(stderr, /interrupted, finishing what was read/);
  });

  it('puts packets written out of timestamp order back in order, and says so; --reorder-window 0 keeps file order', () => {
    const swapped = join(dir, 'out-of-order.pcap');
    // Records of neighbouring packets exchanged in the file, each keeping its own timestamp, as a
    // capture of several queues writes them.
    const whole = readFileSync(DEMO);
    const records: Buffer[] = [];
    for (let at = 24; at < whole.length; ) {
      const end = at + 16 + whole.readUInt32LE(at + 8);
      records.push(whole.subarray(at, end));
      at = end;
    }
    let swaps = 0;
    for (let i = 0; i + 1 < records.length; i += 4, swaps++) [records[i], records[i + 1]] = [records[i + 1]!, records[i]!];
    writeFileSync(swapped, Buffer.concat([whole.subarray(0, 24), ...records]));
    const sorted = run(['read', swapped, '--slowest', '0']);
    assert.equal(sorted.status, 0, String(sorted.stderr));
    assert.match(String(sorted.stdout), new RegExp(`^ {2}${swaps} packets that came out of timestamp order \\(several queues or interfaces\\) were put back in order$`, 'm'));
    assert.doesNotMatch(String(sorted.stdout), /TCP gaps/);
    const asWritten = run(['read', swapped, '--slowest', '0', '--reorder-window', '0']);
    assert.equal(asWritten.status, 0, String(asWritten.stderr));
    assert.doesNotMatch(String(asWritten.stdout), /put back in order/);
    const bad = run(['read', swapped, '--reorder-window', '-1']);
    assert.equal(bad.status, 2);
    assert.equal(String(bad.stderr), 'wirespan: --reorder-window must be a number of milliseconds, got -1\n');
  });

  it('bad input: one line, exit 2', () => {
    const text = join(dir, 'not-a-capture.txt');
    writeFileSync(text, 'GET / HTTP/1.1\r\n\r\n');
    for (const args of [['read', text], ['read', join(dir, 'missing.pcap')], ['read', DEMO, '--port', 'smtp=25'], ['read', DEMO, '--names', text]]) {
      const r = run(args);
      assert.equal(r.status, 2, `${args.join(' ')} → exit 2`);
      assert.equal(String(r.stderr).trim().split('\n').length, 1, `one line: ${r.stderr}`);
      assert.match(String(r.stderr), /^wirespan: /);
    }
    assert.match(String(run(['read', text]).stderr), /magic 0x47455420/);
  });
});

describe('wirespan read --otlp', () => {
  const execAsync = promisify(execFile);

  async function receiver(answers: number[]): Promise<{ url: string; spans: () => number; close: () => void }> {
    let calls = 0;
    let spans = 0;
    const server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const status = answers[Math.min(calls++, answers.length - 1)]!;
        if (status === 200) {
          const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
          const doc = JSON.parse(body.toString('utf8'));
          for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length;
        }
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, spans: () => spans, close: () => server.close() };
  }

  it('delivers every span exactly once through 503 answers', async () => {
    const rx = await receiver([503, 503, 200]);
    try {
      await execAsync(process.execPath, ['bin/wirespan.js', 'read', DEMO, '--otlp', rx.url, '--otlp-format', 'json', '--no-report']);
      assert.equal(rx.spans(), 2 * (160 + 46 + 97), 'a CLIENT and a SERVER span per exchange');
    } finally {
      rx.close();
    }
  });

  it('a receiver that refuses reports the undelivered spans and exits non-zero', async () => {
    const rx = await receiver([400]);
    try {
      const err = await execAsync(process.execPath, ['bin/wirespan.js', 'read', DEMO, '--otlp', rx.url]).then(
        () => null,
        (e: { code: number; stderr: string; stdout: string }) => e,
      );
      assert.ok(err, 'exit status is non-zero');
      assert.equal(err.code, 1);
      assert.match(err.stderr, /606 spans were not delivered/);
      assert.match(err.stdout, /OTLP: 606 spans NOT delivered/);
    } finally {
      rx.close();
    }
  });
});
