// wirespan as a library: the same pipeline the CLI runs, stage by stage or whole.
export { Pipeline, analyze } from './pipeline.js';
export type { PipelineOptions, AnalysisResult, CaptureTotals, TcpTotals, FlowRecord } from './pipeline.js';

export { openCaptureSource } from './capture/file-source.js';
export { CaptureParser } from './capture/parser.js';
export { CaptureFormatError } from './capture/errors.js';
export { linkTypeName } from './capture/linktypes.js';
export type { CapturedPacket, CaptureFileInfo, PacketSource } from './capture/types.js';

export { PacketDecoder } from './decode/decoder.js';
export type { DecodedPacket, DecodeFailure } from './decode/types.js';

export { TcpAssembler } from './tcp/assembler.js';
export type { Direction, Endpoint, EndReason, Flow, StreamFactory, StreamHandler, TcpSegment } from './tcp/types.js';

export { createAnalyzers, parsePortHints } from './protocols/index.js';
export { ProtocolDispatcher } from './protocols/registry.js';
export { Http1Analyzer } from './protocols/http1/analyzer.js';
export { Http2Analyzer } from './protocols/http2/analyzer.js';
export { MysqlAnalyzer } from './protocols/mysql/index.js';
export { ProtoMessageDecoder } from './protocols/grpc/proto-decoder.js';
export { TlsKeyLog, readKeyLogFiles, TLS_KEY_LOG_SECRETS } from './protocols/tls/keylog.js';
export type { SessionSecrets } from './protocols/tls/keylog.js';
export type * from './protocols/types.js';
export type { UnanalysedConnection } from './protocols/registry.js';
export type { UnanalysedGroup } from './protocols/unanalysed.js';

export { Correlator } from './correlate/correlator.js';
export { TraceContextExtractor } from './correlate/context.js';
export { ServiceNamer, loadNamesFile } from './correlate/naming.js';
export { ServiceMapBuilder } from './correlate/service-map.js';
export type { ServiceMap, ServiceMapEdge, ServiceMapNode } from './correlate/service-map.js';
export type { SpanRecord, SpanNode, TraceTree, TraceContext, LinkRule, ServiceKind } from './correlate/types.js';

export { NdjsonExchangeWriter } from './export/ndjson.js';
export { TracesJsonWriter, traceToJson } from './export/traces.js';
export { renderServiceMap, SERVICE_MAP_FORMATS } from './export/service-map/formats.js';
export type { ServiceMapFormat } from './export/service-map/formats.js';
export { renderReport, SlowestTraces } from './export/report.js';
export { buildStatsDocument, renderStats } from './export/stats.js';
export { createOtlpExporter } from './export/otlp/exporter.js';
export { createZipkinExporter } from './export/zipkin/exporter.js';

export { Counters } from './util/counters.js';
export { VERSION } from './version.js';
