import type { ServiceMap } from '../../correlate/service-map.js';

export type ServiceMapFormat = 'json' | 'jaeger' | 'zipkin' | 'cytoscape' | 'dot' | 'mermaid';
export const SERVICE_MAP_FORMATS: readonly ServiceMapFormat[] = ['json', 'jaeger', 'zipkin', 'cytoscape', 'dot', 'mermaid'];

/** Renders the service map in one of the supported shapes (docs/formats.md). */
export function renderServiceMap(map: ServiceMap, format: ServiceMapFormat): string {
  switch (format) {
    case 'json':
      return JSON.stringify({ schema: 'wirespan-service-map/1', ...map }, null, 2) + '\n';
    case 'jaeger':
      return JSON.stringify(mergeByPair(map).map((e) => ({ parent: e.source, child: e.target, callCount: e.calls })), null, 2) + '\n';
    case 'zipkin':
      return (
        JSON.stringify(
          mergeByPair(map).map((e) => ({ parent: e.source, child: e.target, callCount: e.calls, errorCount: e.errors })),
          null,
          2,
        ) + '\n'
      );
    case 'cytoscape':
      return JSON.stringify(toCytoscape(map), null, 2) + '\n';
    case 'dot':
      return toDot(map);
    case 'mermaid':
      return toMermaid(map);
  }
}

/** Jaeger and Zipkin dependency links have no protocol: sum the edges of one caller/callee pair. */
function mergeByPair(map: ServiceMap): { source: string; target: string; calls: number; errors: number }[] {
  const pairs = new Map<string, { source: string; target: string; calls: number; errors: number }>();
  for (const e of map.edges) {
    const key = `${e.source}\u0000${e.target}`;
    const p = pairs.get(key) ?? { source: e.source, target: e.target, calls: 0, errors: 0 };
    p.calls += e.calls;
    p.errors += e.errors;
    pairs.set(key, p);
  }
  return [...pairs.values()];
}

/** Kiali-style cytoscape `elements`: nodes and edges with data objects. */
function toCytoscape(map: ServiceMap): unknown {
  return {
    elements: {
      nodes: map.nodes.map((n) => ({ data: { id: n.id, label: n.name, kind: n.kind, addresses: n.addresses, protocols: n.protocols } })),
      edges: map.edges.map((e, i) => ({
        data: {
          id: `e${i}`,
          source: e.source,
          target: e.target,
          protocol: e.protocol,
          calls: e.calls,
          errors: e.errors,
          errorRate: e.calls === 0 ? 0 : e.errors / e.calls,
          p50Ms: e.latencyMs.p50,
          p99Ms: e.latencyMs.p99,
        },
      })),
    },
  };
}

function label(e: ServiceMap['edges'][number]): string {
  return `${e.protocol} ${e.calls} calls${e.errors ? `, ${e.errors} errors` : ''}, p50 ${e.latencyMs.p50} ms`;
}

function toDot(map: ServiceMap): string {
  const q = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const shape: Record<string, string> = { database: 'cylinder', client: 'oval', service: 'box', external: 'diamond' };
  const lines = ['digraph wirespan {', '  rankdir=LR;'];
  for (const n of map.nodes) lines.push(`  ${q(n.id)} [shape=${shape[n.kind] ?? 'box'}];`);
  for (const e of map.edges) {
    lines.push(`  ${q(e.source)} -> ${q(e.target)} [label=${q(label(e))}${e.errors ? ', color=red' : ''}];`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

function toMermaid(map: ServiceMap): string {
  const ids = new Map(map.nodes.map((n, i) => [n.id, `n${i}`]));
  const text = (s: string): string => s.replace(/"/g, '#quot;');
  const lines = ['flowchart LR'];
  for (const n of map.nodes) {
    const id = ids.get(n.id)!;
    lines.push(n.kind === 'database' ? `  ${id}[("${text(n.name)}")]` : `  ${id}["${text(n.name)}"]`);
  }
  for (const e of map.edges) lines.push(`  ${ids.get(e.source)} -->|"${text(label(e))}"| ${ids.get(e.target)}`);
  return lines.join('\n') + '\n';
}
