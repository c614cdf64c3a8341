import { openCaptureSource, type CaptureSourceOptions } from '../../src/capture/file-source.js';
import type { SpanRecord, TraceTree } from '../../src/correlate/types.js';
import { analyze, type AnalysisResult, type PipelineOptions } from '../../src/pipeline.js';
import { createAnalyzers } from '../../src/protocols/index.js';
import { Counters } from '../../src/util/counters.js';

export interface FileAnalysis {
  spans: SpanRecord[];
  traces: TraceTree[];
  result: AnalysisResult;
}

/** Runs captures through the whole library pipeline, as `wirespan read` does, and collects the output. */
export async function analyzeFiles(
  paths: string[],
  opts: Partial<PipelineOptions> = {},
  sourceOpts: Partial<CaptureSourceOptions> = {},
): Promise<FileAnalysis> {
  const spans: SpanRecord[] = [];
  const traces: TraceTree[] = [];
  const counters = opts.counters ?? new Counters();
  const result = await analyze(openCaptureSource(paths, { ...sourceOpts, counters }), {
    analyzers: createAnalyzers({}),
    counters,
    ...opts,
    onSpan: (s) => spans.push(s),
    onTrace: (t) => traces.push(t),
  });
  return { spans, traces, result };
}

/** Truth files of the corpus (schema in ../shared/corpus/README.md), the fields the tests use. */
export interface TruthExchange {
  id: string;
  protocol: 'http' | 'grpc' | 'mysql';
  client_service: string;
  server_service: string;
  client_ip: string;
  client_port: number;
  server_ip: string;
  server_port: number;
  method?: string;
  path?: string;
  grpc_method?: string;
  request_messages?: number;
  response_messages?: number;
  mysql_command?: string;
  sql?: string;
  rows?: number | null;
  affected_rows?: number | null;
  status: number | string | null;
  request_id: string | null;
  start_us: number;
  end_us: number;
  parent: string | null;
  root: string;
  in_capture?: 'full' | 'partial' | 'none';
}

export interface Truth {
  exchanges: TruthExchange[];
  service_map: { from: string; to: string; protocol: string; calls: number }[];
  traces: { root: string; request_id: string | null; exchanges: number }[];
}
