import type { ProtoMessageDecoder } from './grpc/proto-decoder.js';
import { Http1Analyzer } from './http1/analyzer.js';
import { Http2Analyzer } from './http2/analyzer.js';
import { MysqlAnalyzer } from './mysql/index.js';
import type { ProtocolAnalyzer, ProtocolName } from './types.js';

export interface AnalyzerSetOptions {
  /** `--proto`: decode the first gRPC request/response message of known methods. */
  protoDecoder?: ProtoMessageDecoder;
}

/** Every protocol wirespan understands, each configured by its own options. */
export function createAnalyzers(opts: AnalyzerSetOptions): ProtocolAnalyzer[] {
  return [new Http1Analyzer(), new Http2Analyzer({ protoDecoder: opts.protoDecoder }), new MysqlAnalyzer()];
}

const PROTOCOL_ALIASES: Record<string, ProtocolName> = { http: 'http', http1: 'http', http2: 'http2', h2c: 'http2', grpc: 'http2', mysql: 'mysql', mariadb: 'mysql' };

/** Parses `--port http=8080,9000` values into server port → protocol. */
export function parsePortHints(values: readonly string[]): Map<number, ProtocolName> {
  const hints = new Map<number, ProtocolName>();
  for (const value of values) {
    const m = /^([a-z0-9]+)=(\d+(?:,\d+)*)$/i.exec(value.trim());
    const protocol = m ? PROTOCOL_ALIASES[m[1]!.toLowerCase()] : undefined;
    if (!m || !protocol) {
      throw new Error(`--port expects PROTOCOL=PORT[,PORT...] with protocol http, http2, grpc or mysql; got '${value}'`);
    }
    for (const p of m[2]!.split(',')) {
      const port = Number(p);
      if (port < 1 || port > 65535) throw new Error(`--port: ${p} is not a TCP port`);
      hints.set(port, protocol);
    }
  }
  return hints;
}

export type { ProtocolAnalyzer, ProtocolName } from './types.js';
