// Several capture hosts exporting into one backend: each host's spans must join the others' there.
// shop-concurrent is split into what orders' host (127.0.0.3) and inventory's host (127.0.0.4) would
// have captured, each exported with --local set to its own address.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { missingTools } from './lib/tshark.js';

const CAPTURE = '../shared/corpus/shop-concurrent.pcap';
const ORDERS = '127.0.0.3';
const INVENTORY = '127.0.0.4';

interface JsonSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  kind: number;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

function exportHost(dir: string, ip: string): { service: string; span: JsonSpan }[] {
  const split = join(dir, `${ip}.pcap`);
  execFileSync('tshark', ['-r', CAPTURE, '-Y', `ip.addr==${ip}`, '-w', split, '-F', 'pcap'], { stdio: 'ignore' });
  const out = join(dir, `${ip}.jsonl`);
  execFileSync(process.execPath, ['bin/wirespan.js', 'read', split, '--local', ip, '--otlp', out, '--no-report']);
  const spans: { service: string; span: JsonSpan }[] = [];
  for (const line of readFileSync(out, 'utf8').split('\n').filter(Boolean)) {
    for (const rs of JSON.parse(line).resourceSpans) {
      const service = rs.resource.attributes.find((a: { key: string }) => a.key === 'service.name').value.stringValue;
      for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, span });
    }
  }
  return spans;
}

const attr = (s: JsonSpan, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};

describe('multi-host OTLP export', { skip: missingTools('tshark') }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wirespan-multihost-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every orders→inventory call has one CLIENT span from orders and one SERVER span from inventory, joined', () => {
    const fromOrders = exportHost(dir, ORDERS);
    const fromInventory = exportHost(dir, INVENTORY);
    const CLIENT = 3;
    const SERVER = 2;
    const isGrpcToInventory = (s: JsonSpan): boolean => attr(s, 'rpc.system') === 'grpc' && attr(s, 'server.address') === INVENTORY;
    const clients = fromOrders.filter((x) => x.span.kind === CLIENT && isGrpcToInventory(x.span));
    const servers = fromInventory.filter((x) => x.span.kind === SERVER && isGrpcToInventory(x.span));
    // The hosts export only their own halves.
    assert.equal(fromOrders.filter((x) => x.span.kind === SERVER && isGrpcToInventory(x.span)).length, 0);
    assert.equal(fromInventory.filter((x) => x.span.kind === CLIENT && isGrpcToInventory(x.span)).length, 0);

    const truth = JSON.parse(readFileSync('../shared/corpus/shop-concurrent.truth.json', 'utf8'));
    const calls = truth.exchanges.filter((x: { protocol: string; server_ip: string }) => x.protocol === 'grpc' && x.server_ip === INVENTORY).length;
    assert.equal(clients.length, calls, 'one CLIENT span per call');
    assert.equal(servers.length, calls, 'one SERVER span per call');

    const clientById = new Map(clients.map((c) => [c.span.spanId, c]));
    assert.equal(clientById.size, calls, 'client span ids are distinct');
    for (const server of servers) {
      const client = clientById.get(server.span.parentSpanId ?? '');
      assert.ok(client, `SERVER span ${server.span.spanId} has its CLIENT span as parent`);
      assert.equal(server.span.traceId, client.span.traceId, 'both halves carry the same trace id');
      // Unnamed, each host names the caller by the service it also runs, and the callee by its address.
      assert.equal(client.service, `${ORDERS}:8080`);
      assert.equal(server.service, `${INVENTORY}:50051`);
      clientById.delete(client.span.spanId);
    }
    assert.equal(clientById.size, 0, 'every CLIENT span is matched by exactly one SERVER span');
  });
});
