import type { SpanNode, TraceTree } from '../correlate/types.js';

/** The `--traces` document: every trace as a tree of spans (docs/formats.md). */
export interface TracesDocument {
  schema: 'wirespan-traces/1';
  traces: TraceJson[];
}

export interface TraceJson {
  traceId: string;
  startUs: number;
  endUs: number | null;
  durationUs: number | null;
  spans: number;
  root: SpanNode;
}

export function traceToJson(tree: TraceTree): TraceJson {
  return {
    traceId: tree.traceId,
    startUs: tree.startUs,
    endUs: tree.endUs,
    durationUs: tree.endUs === null ? null : tree.endUs - tree.startUs,
    spans: tree.spans,
    root: tree.root,
  };
}

/**
 * Streams the traces document: the opening, one trace per write, the closing; so a long capture
 * never holds every trace in memory to write the file.
 */
export class TracesJsonWriter {
  private first = true;

  constructor(private readonly write: (text: string) => void) {
    write('{"schema":"wirespan-traces/1","traces":[\n');
  }

  add(tree: TraceTree): void {
    this.write((this.first ? '' : ',\n') + JSON.stringify(traceToJson(tree)));
    this.first = false;
  }

  close(): void {
    this.write('\n]}\n');
  }
}
