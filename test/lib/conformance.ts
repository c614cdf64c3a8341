/**
 * The external conformance corpus (../shared/conformance, schema in its README.md): loading the
 * `<id>.expected.json` files, running wirespan over their captures, and putting both sides in one shape
 * so tests can compare them field by field.
 *
 *   const entry = loadConformance('zeek-http-get');
 *   const run = await runConformance(entry);
 *   assert.deepEqual(pick(httpView(run.spans[0]), keysOf(peerHttpView(entry.http[0]))), peerHttpView(entry.http[0]));
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SpanRecord } from '../../src/correlate/types.js';
import type { Exchange, GrpcRequestInfo, GrpcResponseInfo, Http2RequestInfo, Http2ResponseInfo, HttpRequestInfo, HttpResponseInfo } from '../../src/protocols/types.js';
import type { Endpoint } from '../../src/tcp/types.js';
import type { AnalysisResult } from '../../src/pipeline.js';
import { analyzeFiles } from './analyze-file.js';
import { readPcapSimple } from './read-pcap-simple.js';

/** Relative to the repository root (tests run with cwd = repo root). */
export const CONFORMANCE_DIR = '../shared/conformance';

export type ConformanceProtocol = 'http' | 'http2' | 'mysql';

/** One entry of the peer's `http` array (HTTP/1.x, or HTTP/2 that is not gRPC with version "2"). */
export interface PeerHttp {
  client: string | null;
  server: string | null;
  method: string | null;
  host: string | null;
  uri: string | null;
  status: number | null;
  version?: string;
  // Zeek
  statusMsg?: string | null;
  infoCode?: number | null;
  transDepth?: number;
  requestBodyLen?: number | null;
  responseBodyLen?: number | null;
  userAgent?: string | null;
  // DeepFlow
  streamId?: number;
  requestId?: string;
  requestId2?: string;
  clientIp?: string;
  traceIds?: string[];
  spanId?: string;
}

export interface PeerGrpc {
  client: string | null;
  server: string | null;
  streamId: number;
  path: string | null;
  authority: string | null;
  service: string | null;
  httpStatus: number | null;
  grpcStatus: number | null;
  streamedRequestFrames?: number;
  streamedResponseFrames?: number;
  responseComplete?: boolean;
}

export interface TsharkHttp {
  frame: number;
  client: string;
  server: string;
  method: string | null;
  host: string | null;
  uri: string | null;
  version: string | null;
  status: number | null;
}

export interface TsharkHttp2 {
  frame: number;
  streamId: number;
  from: string;
  to: string;
  method: string | null;
  path: string | null;
  authority: string | null;
  status: string | null;
  contentType: string | null;
  grpcStatus: string | null;
  headerCount: number;
}

export interface ConformanceEntry {
  id: string;
  capture: string;
  protocol: ConformanceProtocol;
  peer: 'zeek' | 'deepflow';
  expectationFrom: string;
  order: string | null;
  counts: { http: number | null; grpc: number | null; mysql: number | null };
  http: PeerHttp[] | null;
  grpc: PeerGrpc[] | null;
  peerFacts: Record<string, unknown>;
  tshark: {
    counts: Record<string, number>;
    http: TsharkHttp[] | null;
    http2: TsharkHttp2[] | null;
    relaxed?: { requests: { frame: number; method: string; uri: string }[]; responses: { frame: number; status: number }[] } | null;
  };
  notes: string[];
  edgeCases: string[];
}

/** Every entry of the corpus (optionally of one protocol), sorted by id. */
export function listConformance(protocol?: ConformanceProtocol): ConformanceEntry[] {
  return readdirSync(CONFORMANCE_DIR)
    .filter((name) => name.endsWith('.expected.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(CONFORMANCE_DIR, name), 'utf8')) as ConformanceEntry)
    .filter((entry) => protocol === undefined || entry.protocol === protocol);
}

export function loadConformance(id: string): ConformanceEntry {
  return JSON.parse(readFileSync(join(CONFORMANCE_DIR, `${id}.expected.json`), 'utf8')) as ConformanceEntry;
}

export function capturePath(entry: ConformanceEntry): string {
  return join(CONFORMANCE_DIR, entry.capture);
}

/** The corpus' endpoint spelling: `ip:port`, IPv6 as `[addr]:port`. */
export function formatEndpoint(e: Endpoint): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** wirespan's output for one capture: the spans, the exchanges they were made from, the counters. */
export interface ConformanceRun {
  spans: SpanRecord[];
  exchanges: Exchange[];
  counters: Record<string, number>;
  result: AnalysisResult;
  /** The exchange a span was made from (same protocol, connection, index). */
  exchangeOf(span: SpanRecord): Exchange;
}

export async function runConformance(entry: ConformanceEntry): Promise<ConformanceRun> {
  const exchanges: Exchange[] = [];
  const { spans, result } = await analyzeFiles([capturePath(entry)], { onExchange: (x) => exchanges.push(x) });
  const key = (x: { protocol: string; connectionId: number; index: number }): string => `${x.protocol}/${x.connectionId}/${x.index}`;
  const byKey = new Map(exchanges.map((x) => [key(x), x]));
  return {
    spans: inCaptureOrder(spans),
    exchanges,
    counters: result.counters.toJSON(),
    result,
    exchangeOf(span) {
      const x = byKey.get(key(span));
      if (!x) throw new Error(`no exchange for span ${key(span)}`);
      return x;
    },
  };
}

/** Spans in the order their requests began on the wire (the corpus' `order` for HTTP/1). */
export function inCaptureOrder(spans: readonly SpanRecord[]): SpanRecord[] {
  return [...spans].sort((a, b) => a.startUs - b.startUs || a.connectionId - b.connectionId || a.index - b.index);
}

/** What an HTTP exchange looks like in the corpus' terms. */
export interface HttpView {
  client: string;
  server: string;
  method: string;
  host: string | null;
  uri: string;
  status: number | null;
}

export function httpView(span: SpanRecord): HttpView {
  const base = { client: formatEndpoint(span.client), server: formatEndpoint(span.server) };
  if (span.protocol === 'http') {
    const req = span.request as HttpRequestInfo;
    const res = span.response as HttpResponseInfo | null;
    return { ...base, method: req.method, host: req.host, uri: req.path, status: res?.status ?? null };
  }
  if (span.protocol === 'http2') {
    const req = span.request as Http2RequestInfo;
    const res = span.response as Http2ResponseInfo | null;
    return { ...base, method: req.method, host: req.authority, uri: req.path, status: res?.status ?? null };
  }
  throw new Error(`httpView: ${span.protocol} span`);
}

/** The peer's compared fields that it actually gives (null = no verdict, left out). */
export function peerHttpView(peer: Pick<PeerHttp, keyof HttpView>): Partial<HttpView> {
  const view: Partial<HttpView> = {};
  if (peer.client !== null) view.client = peer.client;
  if (peer.server !== null) view.server = peer.server;
  if (peer.method !== null) view.method = peer.method;
  if (peer.host !== null) view.host = peer.host;
  if (peer.uri !== null) view.uri = peer.uri;
  if (peer.status !== null) view.status = peer.status;
  return view;
}

/** What a gRPC exchange looks like in the corpus' terms. */
export interface GrpcView {
  client: string;
  server: string;
  streamId: number;
  path: string;
  authority: string | null;
  service: string;
  httpStatus: number | null;
  grpcStatus: number | null;
}

export function grpcView(span: SpanRecord): GrpcView {
  if (span.protocol !== 'grpc') throw new Error(`grpcView: ${span.protocol} span`);
  const req = span.request as GrpcRequestInfo;
  const res = span.response as GrpcResponseInfo | null;
  return {
    client: formatEndpoint(span.client),
    server: formatEndpoint(span.server),
    streamId: req.streamId,
    path: req.path,
    authority: req.authority,
    service: req.service,
    httpStatus: res?.httpStatus ?? null,
    grpcStatus: res?.grpcStatus ?? null,
  };
}

/** The peer's gRPC fields it gives a verdict on (nulls left out). */
export function peerGrpcView(peer: PeerGrpc): Partial<GrpcView> {
  const view: Partial<GrpcView> = {};
  for (const key of ['client', 'server', 'streamId', 'path', 'authority', 'service', 'httpStatus', 'grpcStatus'] as const) {
    if (peer[key] !== null) (view as Record<string, unknown>)[key] = peer[key];
  }
  return view;
}

/** `source` restricted to the keys `like` has (for comparing only what the peer gives). */
export function pickLike<T extends object>(source: T, like: Partial<T>): Partial<T> {
  const out: Partial<T> = {};
  for (const key of Object.keys(like) as (keyof T)[]) out[key] = source[key];
  return out;
}

/** First value of a header on an exchange (names are lower-case). */
export function headerValue(fields: readonly [string, string][], name: string): string | null {
  return fields.find(([n]) => n === name)?.[1] ?? null;
}

// ---- Raw bytes, for checking a verdict against the capture itself ----

export interface TcpPayload {
  src: string;
  dst: string;
  payload: Uint8Array;
}

/** TCP payloads of an Ethernet (optionally 802.1Q) IPv4 capture, packet by packet, no reassembly. */
export function tcpPayloads(path: string): TcpPayload[] {
  const out: TcpPayload[] = [];
  for (const record of readPcapSimple(path)) {
    const d = record.data;
    let at = 12;
    let type = (d[at]! << 8) | d[at + 1]!;
    while (type === 0x8100 || type === 0x88a8) {
      at += 4;
      type = (d[at]! << 8) | d[at + 1]!;
    }
    at += 2;
    if (type !== 0x0800 || d[at + 9] !== 6) continue; // the corpus is IPv4 only
    const src = d.subarray(at + 12, at + 16).join('.');
    const dst = d.subarray(at + 16, at + 20).join('.');
    const tcpAt = at + (d[at]! & 0x0f) * 4;
    const end = at + ((d[at + 2]! << 8) | d[at + 3]!);
    const sport = (d[tcpAt]! << 8) | d[tcpAt + 1]!;
    const dport = (d[tcpAt + 2]! << 8) | d[tcpAt + 3]!;
    const payload = d.subarray(tcpAt + (d[tcpAt + 12]! >> 4) * 4, Math.min(end, d.length));
    if (payload.length > 0) out.push({ src: `${src}:${sport}`, dst: `${dst}:${dport}`, payload });
  }
  return out;
}

export interface H2Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Uint8Array;
}

/** HTTP/2 frames of one segment that begins at a frame boundary; a last frame cut short is left out. */
export function http2FramesOf(segment: Uint8Array): H2Frame[] {
  const frames: H2Frame[] = [];
  for (let at = 0; at + 9 <= segment.length; ) {
    const length = (segment[at]! << 16) | (segment[at + 1]! << 8) | segment[at + 2]!;
    if (at + 9 + length > segment.length) break;
    const streamId = ((segment[at + 5]! & 0x7f) << 24) | (segment[at + 6]! << 16) | (segment[at + 7]! << 8) | segment[at + 8]!;
    frames.push({ type: segment[at + 3]!, flags: segment[at + 4]!, streamId, payload: segment.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return frames;
}

/** True when a DATA payload is exactly one uncompressed gRPC length-prefixed message. */
export function isOneGrpcMessage(data: Uint8Array): boolean {
  if (data.length < 5 || data[0] !== 0) return false;
  const length = ((data[1]! << 24) >>> 0) + (data[2]! << 16) + (data[3]! << 8) + data[4]!;
  return length === data.length - 5;
}
