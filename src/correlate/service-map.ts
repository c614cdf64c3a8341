import { LogHistogram } from '../util/histogram.js';
import { isSubscription, isUpgradedRequest } from './outcome.js';
import { endpointKey } from './naming.js';
import type { ServiceKind, SpanRecord } from './types.js';

export interface ServiceMapNode {
  id: string;
  name: string;
  addresses: string[];
  kind: ServiceKind;
  protocols: string[];
}

export interface ServiceMapEdge {
  source: string;
  target: string;
  protocol: string;
  calls: number;
  errors: number;
  /** Calls without a response in the capture. */
  incomplete: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number };
  bytes: { request: number; response: number };
}

export interface ServiceMap {
  nodes: ServiceMapNode[];
  edges: ServiceMapEdge[];
}

interface NodeAcc {
  name: string;
  addresses: Set<string>;
  kinds: Set<ServiceKind>;
  protocols: Set<string>;
}

interface EdgeAcc {
  source: string;
  target: string;
  protocol: string;
  calls: number;
  errors: number;
  incomplete: number;
  latency: LogHistogram;
  requestBytes: number;
  responseBytes: number;
}

/** One end of an edge: the node's name, the address seen for it, its kind. */
export interface EdgeEnd {
  name: string;
  address: string;
  kind: ServiceKind;
}

export interface TlsConnectionEdge {
  source: EdgeEnd;
  target: EdgeEnd;
  failed: boolean;
  /** ClientHello to ServerHello, null when the server never answered. */
  helloMs: number | null;
  bytes: { client: number; server: number };
}

/** Who calls whom, how often, how fast, how often it fails: aggregated from spans as they are emitted. */
export class ServiceMapBuilder {
  private readonly nodes = new Map<string, NodeAcc>();
  private readonly edges = new Map<string, EdgeAcc>();

  add(span: SpanRecord): void {
    if (isUpgradedRequest(span)) return;
    const edge = this.edge(
      { name: span.peerService, address: span.client.ip, kind: span.peerServiceKind ?? 'client' },
      { name: span.service, address: endpointKey(span.server), kind: span.serviceKind },
      span.protocol,
    );
    edge.calls++;
    if (span.error) edge.errors++;
    if (span.durationUs === null) edge.incomplete++;
    else if (!isSubscription(span)) edge.latency.record(span.durationUs / 1000);
    edge.requestBytes += span.bytes.request;
    edge.responseBytes += span.bytes.response;
  }

  /**
   * A TLS connection that was not decrypted: an edge of protocol `tls` whose calls are connections,
   * errors the handshakes that failed, incomplete those the server never answered, and latency the
   * time to the ServerHello.
   */
  addTlsConnection(c: TlsConnectionEdge): void {
    const edge = this.edge(c.source, c.target, 'tls');
    edge.calls++;
    if (c.failed) edge.errors++;
    if (c.helloMs === null) edge.incomplete++;
    else edge.latency.record(c.helloMs);
    edge.requestBytes += c.bytes.client;
    edge.responseBytes += c.bytes.server;
  }

  private edge(source: EdgeEnd, target: EdgeEnd, protocol: string): EdgeAcc {
    const to = this.node(target.name);
    to.addresses.add(target.address);
    to.kinds.add(target.kind);
    to.protocols.add(protocol);
    const from = this.node(source.name);
    from.addresses.add(source.address);
    from.kinds.add(source.kind);
    const key = `${source.name}\u0000${target.name}\u0000${protocol}`;
    let edge = this.edges.get(key);
    if (!edge) {
      edge = {
        source: source.name,
        target: target.name,
        protocol,
        calls: 0,
        errors: 0,
        incomplete: 0,
        latency: new LogHistogram(),
        requestBytes: 0,
        responseBytes: 0,
      };
      this.edges.set(key, edge);
    }
    return edge;
  }

  build(): ServiceMap {
    const nodes = [...this.nodes.values()]
      .map((n) => ({
        id: n.name,
        name: n.name,
        addresses: [...n.addresses].sort(),
        kind: kindOf(n.kinds),
        protocols: [...n.protocols].sort(),
      }))
      .sort((a, b) => compare(a.id, b.id));
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    const edges = [...this.edges.values()]
      .map((e) => ({
        source: e.source,
        target: e.target,
        protocol: e.protocol,
        calls: e.calls,
        errors: e.errors,
        incomplete: e.incomplete,
        latencyMs: {
          p50: round(e.latency.quantile(0.5)),
          p95: round(e.latency.quantile(0.95)),
          p99: round(e.latency.quantile(0.99)),
          max: round(e.latency.max),
        },
        bytes: { request: e.requestBytes, response: e.responseBytes },
      }))
      .sort((a, b) => compare(a.source, b.source) || compare(a.target, b.target) || compare(a.protocol, b.protocol));
    return { nodes, edges };
  }

  private node(name: string): NodeAcc {
    let n = this.nodes.get(name);
    if (!n) this.nodes.set(name, (n = { name, addresses: new Set(), kinds: new Set(), protocols: new Set() }));
    return n;
  }
}

/** A node that serves anything is a service or database; one that only calls is a client. */
function kindOf(kinds: Set<ServiceKind>): ServiceKind {
  if (kinds.has('database')) return 'database';
  if (kinds.has('service')) return 'service';
  if (kinds.has('external')) return 'external';
  return 'client';
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
