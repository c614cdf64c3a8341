import type { SpanRecord } from '../../correlate/types.js';
import {
  BatchingSpanExporter,
  FileTransport,
  HttpTransport,
  isUrlTarget,
  resolveEndpoint,
  type BatchEncoder,
  type BatchingOptions,
  type EncodedBatch,
  type FileFraming,
  type HttpTransportOptions,
  type Transport,
} from '../transport.js';
import { toZipkinSpans, type ZipkinTransformOptions } from './transform.js';

export const ZIPKIN_SPANS_PATH = '/api/v2/spans';

/** SpanRecords → one Zipkin v2 JSON array per batch (the body of POST /api/v2/spans). */
export class ZipkinBatchEncoder implements BatchEncoder<SpanRecord> {
  constructor(private readonly options: ZipkinTransformOptions = {}) {}

  encode(records: readonly SpanRecord[]): EncodedBatch {
    const spans = toZipkinSpans(records, this.options);
    return { body: Buffer.from(JSON.stringify(spans), 'utf8'), spans: spans.length };
  }
}

/** A file holds one JSON array of all spans: batches' arrays are joined as they come. */
export function zipkinFileFraming(): FileFraming {
  const comma = Buffer.from(',\n');
  return {
    begin: Buffer.from('['),
    // The body is our own JSON.stringify of a non-empty array: its first and last bytes are the brackets.
    frame: (body, index) => {
      const inner = body.subarray(1, body.byteLength - 1);
      return index === 0 ? [inner] : [comma, inner];
    },
    end: Buffer.from(']\n'),
  };
}

export interface ZipkinExporterOptions extends ZipkinTransformOptions, BatchingOptions {
  /** `--zipkin URL|FILE` */
  target: string;
  headers?: Readonly<Record<string, string>>;
  http?: Omit<HttpTransportOptions, 'url' | 'contentType' | 'headers'>;
}

/** `--zipkin`: a batching exporter to a Zipkin collector (`/api/v2/spans` added when the URL has no path) or a file. */
export function createZipkinExporter(options: ZipkinExporterOptions): BatchingSpanExporter<SpanRecord> {
  let transport: Transport;
  let maxInFlight = options.maxInFlight;
  if (isUrlTarget(options.target)) {
    transport = new HttpTransport({
      ...options.http,
      url: resolveEndpoint(options.target, ZIPKIN_SPANS_PATH),
      contentType: 'application/json',
      headers: options.headers ?? {},
    });
  } else {
    transport = new FileTransport(options.target, zipkinFileFraming());
    maxInFlight = 1;
  }
  return new BatchingSpanExporter(new ZipkinBatchEncoder(options), transport, { ...options, maxInFlight });
}
