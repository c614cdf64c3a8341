import type { SpanRecord } from '../../correlate/types.js';
import {
  BatchingSpanExporter,
  ExportConfigError,
  FileTransport,
  HttpTransport,
  isUrlTarget,
  resolveEndpoint,
  type BatchEncoder,
  type BatchingOptions,
  type EncodedBatch,
  type FileFraming,
  type HttpTransportOptions,
  type PartialAcceptance,
  type Transport,
} from '../transport.js';
import { encodeOtlpJson, readOtlpJsonResponse } from './json.js';
import { OtlpProtobufEncoder, readOtlpProtobufResponse } from './proto.js';
import type { SqlText } from './exchange.js';
import { countSpans, toOtlpRequest, type OtlpTransformOptions, type SpanSide } from './transform.js';

export type OtlpFormat = 'protobuf' | 'json';

export const OTLP_TRACES_PATH = '/v1/traces';
const CONTENT_TYPES: Record<OtlpFormat, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

/** SpanRecords → one ExportTraceServiceRequest per batch, in the chosen encoding. */
export class OtlpBatchEncoder implements BatchEncoder<SpanRecord> {
  private readonly protobuf: OtlpProtobufEncoder | null;

  constructor(
    readonly format: OtlpFormat,
    private readonly transformOptions: OtlpTransformOptions = {},
  ) {
    this.protobuf = format === 'protobuf' ? new OtlpProtobufEncoder() : null;
  }

  /** Reads a receiver's 2xx answer, in the encoding of the request (OTLP/HTTP). */
  readAccepted(body: Buffer): PartialAcceptance | null {
    return this.protobuf ? readOtlpProtobufResponse(this.protobuf.root, body) : readOtlpJsonResponse(body);
  }

  encode(records: readonly SpanRecord[]): EncodedBatch {
    const request = toOtlpRequest(records, this.transformOptions);
    const spans = countSpans(request);
    if (spans === 0) return { body: new Uint8Array(0), spans };
    const body = this.protobuf ? this.protobuf.encode(request) : Buffer.from(encodeOtlpJson(request), 'utf8');
    return { body, spans };
  }
}

/**
 * File layouts of the OpenTelemetry Collector's file exporter (and file receiver):
 * json: one ExportTraceServiceRequest per line (JSON lines);
 * protobuf: each message preceded by its length, 4 bytes big-endian.
 */
export function otlpFileFraming(format: OtlpFormat): FileFraming {
  if (format === 'json') {
    const newline = Buffer.from('\n');
    return { frame: (body) => [body, newline] };
  }
  return {
    frame: (body) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(body.byteLength);
      return [length, body];
    },
  };
}

/** The format of `--otlp TARGET`: the explicit one, else JSON for a .json/.jsonl file, else protobuf. */
export function otlpFormatFor(target: string, explicit?: OtlpFormat): OtlpFormat {
  if (explicit) return explicit;
  return !isUrlTarget(target) && /\.jsonl?$/i.test(target) ? 'json' : 'protobuf';
}

export interface OtlpExporterOptions extends OtlpTransformOptions, BatchingOptions {
  /** `--otlp URL|FILE` */
  target: string;
  /** `--otlp-format`; see otlpFormatFor for the default. */
  format?: OtlpFormat;
  /** `--otlp-header K=V` (HTTP only). */
  headers?: Readonly<Record<string, string>>;
  /** Timeouts, retries, compression (HTTP only). */
  http?: Omit<HttpTransportOptions, 'url' | 'contentType' | 'headers'>;
}

/** `--otlp`: a batching exporter to an OTLP/HTTP endpoint or an OTLP file. */
export function createOtlpExporter(options: OtlpExporterOptions): BatchingSpanExporter<SpanRecord> {
  const format = otlpFormatFor(options.target, options.format && parseOtlpFormat(options.format));
  const encoder = new OtlpBatchEncoder(format, options);
  let transport: Transport;
  let maxInFlight = options.maxInFlight;
  if (isUrlTarget(options.target)) {
    transport = new HttpTransport({
      ...options.http,
      url: resolveEndpoint(options.target, OTLP_TRACES_PATH),
      contentType: CONTENT_TYPES[format],
      headers: options.headers ?? {},
      readAccepted: (body) => encoder.readAccepted(body),
    });
  } else {
    transport = new FileTransport(options.target, otlpFileFraming(format));
    maxInFlight = 1;
  }
  return new BatchingSpanExporter(encoder, transport, { ...options, maxInFlight });
}

/** `--span-kinds client,server` → the set; throws ExportConfigError on anything else or an empty list. */
export function parseSpanKinds(value: string): Set<SpanSide> {
  const kinds = new Set<SpanSide>();
  for (const part of value.split(',').map((p) => p.trim().toLowerCase())) {
    if (part !== 'client' && part !== 'server') throw new ExportConfigError(`--span-kinds takes client and/or server, not "${part}"`);
    kinds.add(part);
  }
  return kinds;
}

/** `--sql-text normalized|full` */
export function parseSqlText(value: string): SqlText {
  if (value !== 'normalized' && value !== 'full') throw new ExportConfigError(`--sql-text must be normalized or full, not "${value}"`);
  return value;
}

/** `--otlp-format protobuf|json` */
export function parseOtlpFormat(value: string): OtlpFormat {
  if (value !== 'protobuf' && value !== 'json') throw new ExportConfigError(`--otlp-format must be protobuf or json, not "${value}"`);
  return value;
}
