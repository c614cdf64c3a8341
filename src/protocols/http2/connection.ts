/**
 * One HTTP/2 connection: frames → header blocks → streams → exchanges (one per stream).
 *
 * Start. Direction 0 starting with the client preface, or direction 1 starting (offset 0) with a
 * SETTINGS frame when the handshake or the client preface was seen, are followed from the beginning:
 * their HPACK state is exact. Otherwise the direction joined mid-connection: the reader hunts for a
 * frame boundary and the HPACK decoder reports entries from before the capture as unknown (hpack.ts).
 * Gaps inside DATA keep everything in place; other gaps make that direction hunt again and start a new
 * HPACK epoch.
 */
import type { Direction, EndReason, Flow, StreamHandler } from '../../tcp/types.js';
import type { Counters } from '../../util/counters.js';
import { GrpcMessageFramer } from '../grpc/message-framer.js';
import type { ProtoMessageDecoder } from '../grpc/proto-decoder.js';
import type { AnalyzerContext, HeaderField, ProtocolHandler } from '../types.js';
import { type FrameInfo, FrameReader, type FrameSink } from './frame-reader.js';
import { Flag, FrameType, SettingId, errorCodeName, readUint31, readUint32 } from './frames.js';
import { type DecodedBlock, type DecodedField, HpackDecoder } from './hpack.js';
import type { BlockPlace } from './block-place.js';
import { HeaderTable } from './header-table.js';
import { StreamState, buildExchange } from './stream.js';

/**
 * Note on the HTTP/1.1 exchange whose request an h2c upgrade made stream 1: the same request, counted
 * once (service map) as stream 1, which has its answer.
 */
export const H2C_ANSWERED_ON_STREAM_1 = 'answered on HTTP/2 stream 1 (Upgrade: h2c)';

/** The HTTP/1.1 request that a `101 Switching Protocols` to h2c answered: it is stream 1. */
export interface H2cUpgradeRequest {
  method: string;
  path: string;
  authority: string | null;
  /** Request headers (lower-case names, sensitive ones removed). */
  headers: HeaderField[];
  startUs: number;
  requestEndUs: number;
  requestSeq: number | null;
  bodyBytes: number;
  /** Bytes of the whole HTTP/1.1 request on the wire. */
  wireBytes: number;
  /** The `HTTP2-Settings` header value (base64url SETTINGS payload), if any. */
  http2Settings?: string | null;
}

export interface Http2ConnectionOptions {
  protoDecoder?: ProtoMessageDecoder | undefined;
  /** Largest header block (HEADERS + CONTINUATION) decoded. Default 1 MiB. */
  maxHeaderBlock?: number;
  /** Largest first gRPC message kept for --proto decoding. Default 64 KiB. */
  maxCapturedMessage?: number;
}

interface PendingBlock {
  kind: 'headers' | 'push';
  streamId: number;
  flags: number;
  startTs: number;
  offset: number;
  wireBytes: number;
  bytes: Uint8Array;
  length: number;
}

const DIRECTION_NAMES = ['client-to-server', 'server-to-client'] as const;
/** A first request message this small is kept for the values it carries (Exchange.linkValues). */
const REQUEST_MESSAGE_FOR_VALUES = 512;

export class Http2Connection implements ProtocolHandler, FrameSink {
  private readonly flow: Flow;
  private readonly counters: Counters;
  private readonly emitExchange: AnalyzerContext['emit'];
  private readonly readers: [FrameReader, FrameReader];
  private readonly tables: [HeaderTable, HeaderTable];
  private readonly started: [boolean, boolean] = [false, false];
  private readonly gaps: [number, number] = [0, 0];
  private readonly pending: [PendingBlock | null, PendingBlock | null] = [null, null];
  /** SETTINGS_HEADER_TABLE_SIZE values sent by each side, waiting for the peer's ACK (null: not in that frame). */
  private readonly unackedTableSizes: [(number | null)[], (number | null)[]] = [[], []];
  private readonly streams = new Map<number, StreamState>();
  private nextIndex = 0;
  /** Lowest and highest stream id whose request HEADERS were seen. */
  private firstOpened = -1;
  private maxOpened = 0;
  /** Streams that started before the capture (or in a gap) and have closed. */
  private readonly closedUnseen = new Set<number>();
  /** Stream offset of the DATA frame whose data was delivered (or lost) last, per direction. */
  private readonly dataFrameAt: [number, number] = [-1, -1];
  private clientPrefaceSeen = false;
  /** A request seen whole was gRPC: streams whose own request is unknown are taken as gRPC too. */
  private grpcSeen = false;
  private closedConnection = false;

  constructor(
    ctx: AnalyzerContext,
    private readonly opts: Http2ConnectionOptions = {},
  ) {
    this.flow = ctx.flow;
    this.counters = ctx.counters;
    this.emitExchange = ctx.emit;
    this.readers = [new FrameReader({ dir: 0, sink: this }), new FrameReader({ dir: 1, sink: this })];
    this.tables = [
      new HeaderTable(new HpackDecoder({ knownFromStart: false }), this.counters),
      new HeaderTable(new HpackDecoder({ knownFromStart: false }), this.counters),
    ];
  }

  /**
   * Continue a connection that an HTTP/1.1 `Upgrade: h2c` turned into HTTP/2. Call before any data:
   * the next client bytes are the preface, the next server bytes its SETTINGS, and stream 1 carries
   * the response to `request`.
   */
  acceptUpgrade(request: H2cUpgradeRequest): void {
    this.started[0] = this.started[1] = true;
    this.readers[0].begin('preface');
    this.readers[1].begin('frames');
    for (const table of this.tables) table.reset(new HpackDecoder({ knownFromStart: true }));
    const tableSize = request.http2Settings ? headerTableSizeOf(request.http2Settings) : null;
    if (tableSize !== null) this.tables[1].setSizeLimit(tableSize);
    const s = this.openStream(1, request.startUs);
    const pseudo: DecodedField[] = [
      { name: ':method', value: request.method, neverIndexed: false, unknown: false },
      { name: ':path', value: request.path, neverIndexed: false, unknown: false },
      { name: ':scheme', value: 'http', neverIndexed: false, unknown: false },
    ];
    if (request.authority !== null) pseudo.push({ name: ':authority', value: request.authority, neverIndexed: false, unknown: false });
    s.requestFields = [...pseudo, ...request.headers.map(([name, value]) => ({ name, value, neverIndexed: false, unknown: false }))];
    s.requestStartUs = request.startUs;
    s.requestEndUs = s.lastRequestUs = request.requestEndUs;
    s.requestSeq = request.requestSeq;
    s.ended[0] = true;
    s.dataBytes[0] = request.bodyBytes;
    s.wireBytes[0] = request.wireBytes;
    s.notes.add('request sent as HTTP/1.1 with Upgrade: h2c');
    this.firstOpened = this.maxOpened = 1;
  }

  // ---- StreamHandler ----

  data(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    if (this.closedConnection || bytes.length === 0) return;
    if (!this.started[dir]) this.startDirection(dir, bytes, offset);
    this.readers[dir].push(bytes, ts, offset);
  }

  gap(dir: Direction, lostBytes: number, ts: number, _offset: number): void {
    if (this.closedConnection) return;
    this.counters.add('http2.gaps');
    this.gaps[dir]++;
    if (!this.started[dir]) {
      this.started[dir] = true;
      this.readers[dir].begin('hunt');
      return;
    }
    const where = dir === 0 ? 'request' : 'response';
    for (const s of this.streams.values()) {
      if (s.ended[dir]) continue;
      s.notes.add(`gap in ${where} (${lostBytes < 0 ? 'unknown number of' : lostBytes} bytes)`);
      s.gapWhileOpen[dir] = true;
    }
    const hidden = this.readers[dir].hiddenBlockBytes(lostBytes) + (this.pending[dir]?.length ?? 0);
    if (this.readers[dir].gap(lostBytes)) return;
    if (this.pending[dir]) {
      this.pending[dir] = null;
      this.counters.add('http2.header-blocks-lost');
    }
    this.tables[dir].gap(hidden);
    void ts;
  }

  end(_dir: Direction, _reason: EndReason, _ts: number): void {
    // Streams are flushed on close: the other direction may still deliver.
  }

  oldestInFlightUs(): number | null {
    let oldest: number | null = null;
    for (const s of this.streams.values()) {
      const start = s.requestStartUs ?? s.firstSeenUs;
      if (oldest === null || start < oldest) oldest = start;
    }
    return oldest;
  }

  close(ts: number): void {
    if (this.closedConnection) return;
    this.readers[0].flush();
    this.readers[1].flush();
    this.closedConnection = true;
    const open = [...this.streams.values()].sort((a, b) => a.index - b.index);
    for (const s of open) {
      s.notes.add('stream still open at end of capture');
      this.emit(s);
    }
    void ts;
  }

  // ---- FrameSink ----

  onFrame(dir: Direction, f: FrameInfo, payload: Uint8Array, endTs: number): void {
    this.counters.add('http2.frames');
    const pending = this.pending[dir];
    if (pending && f.type !== FrameType.Continuation) {
      this.loseHeaderBlock(dir, 'http2.headers-interrupted');
    }
    switch (f.type) {
      case FrameType.Headers:
        return this.onHeaders(dir, f, payload, endTs);
      case FrameType.Continuation:
        return this.onContinuation(dir, f, payload, endTs);
      case FrameType.PushPromise:
        return this.onPushPromise(dir, f, payload, endTs);
      case FrameType.RstStream:
        return this.onRstStream(dir, f, payload, endTs);
      case FrameType.Settings:
        return this.onSettings(dir, f, payload);
      case FrameType.Goaway:
        return this.onGoaway(dir, f, payload, endTs);
      case FrameType.Priority:
      case FrameType.Ping:
      case FrameType.WindowUpdate:
        return;
      default:
        this.counters.add('http2.unknown-frame-types');
    }
  }

  onFrameSkipped(dir: Direction, f: FrameInfo): void {
    this.counters.add('http2.oversized-frames');
    if (f.type === FrameType.Headers || f.type === FrameType.Continuation || f.type === FrameType.PushPromise) {
      this.pending[dir] = null;
      this.tables[dir].resync();
    }
  }

  onData(dir: Direction, f: FrameInfo, bytes: Uint8Array, start: number, end: number, ts: number): void {
    const frameStart = this.dataFrameAt[dir] !== f.offset;
    this.dataFrameAt[dir] = f.offset;
    const s = this.streamForFrame(dir, f.streamId, f.startTs);
    if (!s) return;
    if (frameStart && s.dataBytes[dir] === 0 && s.framers[dir] === null && !this.headersSeen(s, dir)) {
      // The side's HEADERS are not in the capture: follow the framing from here, on trial (stream.ts).
      s.framers[dir] = new GrpcMessageFramer();
      s.framingJoined[dir] = true;
    }
    s.dataBytes[dir] += end - start;
    s.framers[dir]?.push(bytes, start, end);
    this.touch(s, dir, f.startTs, ts);
  }

  onDataLost(dir: Direction, f: FrameInfo, lost: number): void {
    this.dataFrameAt[dir] = f.offset;
    const s = this.streams.get(f.streamId);
    if (!s) return;
    s.dataBytes[dir] += lost;
    s.framers[dir]?.skip(lost);
  }

  onDataEnd(dir: Direction, f: FrameInfo, endTs: number): void {
    this.counters.add('http2.frames');
    if (this.pending[dir]) this.loseHeaderBlock(dir, 'http2.headers-interrupted');
    const s = this.streamForFrame(dir, f.streamId, f.startTs);
    if (!s) return;
    s.wireBytes[dir] += 9 + f.length;
    s.framers[dir]?.endOfFrame();
    this.touch(s, dir, f.startTs, endTs);
    if (f.flags & Flag.EndStream) this.endSide(s, dir, endTs);
  }

  onResync(dir: Direction, skipped: number, _ts: number): void {
    this.counters.add('http2.resync');
    if (skipped > 0) this.counters.add('http2.resync-skipped-bytes', skipped);
    this.tables[dir].skipped(skipped);
  }

  onPrefaceMismatch(dir: Direction): void {
    this.counters.add('http2.preface-mismatch');
    this.clientPrefaceSeen = false;
    this.tables[dir].reset(new HpackDecoder({ knownFromStart: false }));
  }

  // ---- frames ----

  private startDirection(dir: Direction, bytes: Uint8Array, offset: number): void {
    this.started[dir] = true;
    let fromStart: boolean;
    if (dir === 0) {
      fromStart = bytes[0] === 0x50; // 'P': the preface, confirmed byte by byte by the reader
      this.clientPrefaceSeen = fromStart;
      this.readers[0].begin(fromStart ? 'preface' : 'hunt');
    } else {
      fromStart =
        offset === 0 &&
        (this.flow.handshake || this.clientPrefaceSeen) &&
        bytes.length >= 4 &&
        bytes[3] === FrameType.Settings;
      this.readers[1].begin(fromStart ? 'frames' : 'hunt');
    }
    if (fromStart) this.tables[dir].reset(new HpackDecoder({ knownFromStart: true }));
  }

  private onHeaders(dir: Direction, f: FrameInfo, payload: Uint8Array, endTs: number): void {
    let start = 0;
    let end = payload.length;
    if (f.flags & Flag.Padded) {
      end -= payload[0] ?? 0;
      start = 1;
    }
    if (f.flags & Flag.Priority) start += 5;
    if (start > end) return this.malformed(dir, 'http2.malformed-headers');
    this.beginBlock(dir, 'headers', f, payload.subarray(start, end), endTs);
  }

  private onPushPromise(dir: Direction, f: FrameInfo, payload: Uint8Array, endTs: number): void {
    this.counters.add('http2.push-promised');
    let start = 4;
    let end = payload.length;
    if (f.flags & Flag.Padded) {
      end -= payload[0] ?? 0;
      start = 5;
    }
    if (start > end) return this.malformed(dir, 'http2.malformed-push-promise');
    this.beginBlock(dir, 'push', f, payload.subarray(start, end), endTs);
  }

  private beginBlock(dir: Direction, kind: PendingBlock['kind'], f: FrameInfo, fragment: Uint8Array, endTs: number): void {
    const block: PendingBlock = {
      kind,
      streamId: f.streamId,
      flags: f.flags,
      startTs: f.startTs,
      offset: f.offset,
      wireBytes: 9 + f.length,
      bytes: fragment,
      length: fragment.length,
    };
    if (f.flags & Flag.EndHeaders) return this.finishBlock(dir, block, endTs);
    block.bytes = new Uint8Array(Math.max(fragment.length * 2, 256));
    block.bytes.set(fragment);
    this.pending[dir] = block;
  }

  private onContinuation(dir: Direction, f: FrameInfo, payload: Uint8Array, endTs: number): void {
    const block = this.pending[dir];
    if (!block || block.streamId !== f.streamId) {
      if (block) this.loseHeaderBlock(dir, 'http2.headers-interrupted');
      // The start of this block is not in the capture: its insertions are lost with it.
      this.counters.add('http2.orphan-continuation');
      if (this.tables[dir].knowsEntries) this.tables[dir].resync();
      return;
    }
    const maxBlock = this.opts.maxHeaderBlock ?? 1 << 20;
    if (block.length + payload.length > maxBlock) return this.loseHeaderBlock(dir, 'http2.oversized-header-blocks');
    if (block.bytes.length < block.length + payload.length) {
      const grown = new Uint8Array(Math.max(block.length + payload.length, block.bytes.length * 2));
      grown.set(block.bytes.subarray(0, block.length));
      block.bytes = grown;
    }
    block.bytes.set(payload, block.length);
    block.length += payload.length;
    block.wireBytes += 9 + f.length;
    if (f.flags & Flag.EndHeaders) {
      this.pending[dir] = null;
      this.finishBlock(dir, block, endTs);
    }
  }

  private loseHeaderBlock(dir: Direction, counter: string): void {
    this.pending[dir] = null;
    this.counters.add(counter);
    this.tables[dir].resync();
  }

  /** What the block must be where it stands: null for server push, which is only kept in step. */
  private blockPlace(dir: Direction, block: PendingBlock): BlockPlace | null {
    if (block.kind === 'push' || block.streamId % 2 === 0) return null;
    const s = this.streams.get(block.streamId);
    const requestType = s?.requestFields?.find((f) => f.name === 'content-type' && !f.unknown)?.value;
    const grpc = requestType !== undefined ? requestType.startsWith('application/grpc') : this.grpcSeen;
    if (dir === 0) return { kind: s?.requestFields != null ? 'trailers' : 'request', grpc };
    if (s?.responseFields != null) return { kind: 'trailers', grpc };
    // Its response HEADERS may have been lost in the gap: this block may be the trailers.
    const maybeTrailers = s?.gapWhileOpen[1] || (s?.dataBytes[1] ?? 0) > 0;
    return { kind: maybeTrailers ? 'response-or-trailers' : 'response', grpc };
  }

  private finishBlock(dir: Direction, block: PendingBlock, endTs: number): void {
    const place = this.blockPlace(dir, block);
    // Client stream ids come in order: those skipped since the last request seen are requests lost.
    const skippedRequests =
      dir === 0 && place?.kind === 'request' && this.maxOpened > 0 ? Math.max(0, (block.streamId - this.maxOpened) / 2 - 1) : 0;
    const { block: decoded, epoch, realigned } = this.tables[dir].decode(block.bytes, 0, block.length, place, skippedRequests);
    if (dir === 0 && decoded.unknownFields === 0 && decoded.fields.some((f) => f.name === 'content-type' && f.value.startsWith('application/grpc'))) {
      this.grpcSeen = true;
    }
    this.counters.add('http2.header-blocks');
    if (decoded.error) this.counters.add('http2.hpack-errors');
    if (decoded.sizeUpdateOverLimit) this.counters.add('http2.hpack-size-update-over-limit');
    if (decoded.unknownFields > 0) this.counters.add('http2.hpack-unknown-fields', decoded.unknownFields);
    if (block.kind === 'push' || block.streamId % 2 === 0) {
      // Server push: decoded to keep HPACK in step, otherwise ignored.
      if (block.kind === 'headers') this.counters.add('http2.push-stream-frames');
      return;
    }
    const s = dir === 0 ? this.requestStream(block.streamId, block.startTs) : this.streamForFrame(1, block.streamId, block.startTs);
    if (!s) return;
    if (decoded.unknownFields > 0) {
      if (epoch === 0) s.unknownFields += decoded.unknownFields;
      else {
        s.unknownFieldsAfterGap += decoded.unknownFields;
        s.notes.add(`gap: HPACK state of ${DIRECTION_NAMES[dir]} not trusted`);
      }
    }
    if (decoded.error) s.notes.add(`${dir === 0 ? 'request' : 'response'} header block malformed (${decoded.error})`);
    if (realigned && decoded.unknownFields < decoded.fields.length) {
      s.notes.add(`${dir === 0 ? 'request' : 'response'} header fields read across a gap (HPACK realigned: inferred)`);
    }
    s.wireBytes[dir] += block.wireBytes;
    this.touch(s, dir, block.startTs, endTs);
    if (dir === 0) this.onRequestBlock(s, block, decoded);
    else this.onResponseBlock(s, block, decoded);
    if (block.flags & Flag.EndStream) this.endSide(s, dir, endTs);
  }

  private onRequestBlock(s: StreamState, block: PendingBlock, decoded: DecodedBlock): void {
    if (s.requestFields === null && s.opened === 'seen') {
      s.requestFields = decoded.fields;
      s.requestStartUs = block.startTs;
      const base = this.flow.baseSeq[0];
      s.requestSeq = base === null ? null : (base + block.offset) >>> 0;
      s.framers[0] = this.newFramer(REQUEST_MESSAGE_FOR_VALUES);
    } else {
      s.requestTrailers.push(...decoded.fields);
    }
  }

  private onResponseBlock(s: StreamState, block: PendingBlock, decoded: DecodedBlock): void {
    const status = decoded.fields.find((f) => f.name === ':status');
    if (s.responseFields === null && status) {
      const code = Number(status.value);
      if (code >= 100 && code < 200 && (block.flags & Flag.EndStream) === 0) {
        s.interim.push(code);
        return;
      }
      s.responseFields = decoded.fields;
      s.responseStartUs = block.startTs;
      s.framers[1] = this.newFramer();
      if (block.flags & Flag.EndStream) {
        s.responseEndedInHeaders = true;
        s.trailersOnly = decoded.fields.some((f) => f.name === 'grpc-status');
      }
      return;
    }
    if (s.responseFields === null) s.notes.add('response headers before capture');
    s.responseTrailers = [...(s.responseTrailers ?? []), ...decoded.fields];
  }

  /** `atLeast`: bytes of a first message kept whatever --proto says (a request's, for its values). */
  private newFramer(atLeast = 0): GrpcMessageFramer {
    return new GrpcMessageFramer({
      captureFirstUpTo: Math.max(atLeast, this.opts.protoDecoder ? (this.opts.maxCapturedMessage ?? 65536) : 0),
    });
  }

  private onRstStream(dir: Direction, f: FrameInfo, payload: Uint8Array, endTs: number): void {
    this.counters.add('http2.rst-stream');
    if (payload.length < 4) return this.malformed(dir, 'http2.malformed-rst-stream');
    if (f.streamId % 2 === 0) return;
    const s = this.streamForFrame(dir, f.streamId, f.startTs);
    if (!s) return;
    s.reset = errorCodeName(readUint32(payload, 0));
    s.wireBytes[dir] += 9 + f.length;
    if (dir === 0) {
      s.notes.add('reset by client');
      if (!s.ended[0]) s.requestEndUs = endTs;
    } else {
      s.responseStartUs ??= f.startTs;
      s.endUs = endTs;
    }
    this.emit(s);
  }

  private onSettings(dir: Direction, f: FrameInfo, payload: Uint8Array): void {
    const peer: Direction = dir === 0 ? 1 : 0;
    if (f.flags & Flag.Ack) {
      // `dir` acknowledges the peer's settings: the peer's table size now bounds `dir`'s encoder.
      const size = this.unackedTableSizes[peer].shift();
      if (size !== undefined && size !== null) {
        this.tables[dir].setSizeLimit(size);
      }
      return;
    }
    if (payload.length % 6 !== 0) return this.malformed(dir, 'http2.malformed-settings');
    let tableSize: number | null = null;
    for (let p = 0; p + 6 <= payload.length; p += 6) {
      const id = (payload[p]! << 8) | payload[p + 1]!;
      if (id === SettingId.HeaderTableSize) tableSize = readUint32(payload, p + 2);
    }
    this.unackedTableSizes[dir].push(tableSize);
    if (this.unackedTableSizes[dir].length > 16) this.unackedTableSizes[dir].shift();
  }

  private onGoaway(dir: Direction, _f: FrameInfo, payload: Uint8Array, endTs: number): void {
    this.counters.add('http2.goaway');
    if (payload.length < 8) return this.malformed(dir, 'http2.malformed-goaway');
    if (dir !== 1) return; // a client's GOAWAY only concerns pushed streams
    const lastStreamId = readUint31(payload, 0);
    const code = errorCodeName(readUint32(payload, 4));
    for (const s of [...this.streams.values()]) {
      if (s.id <= lastStreamId) continue;
      s.reset = 'GOAWAY';
      s.notes.add(`GOAWAY ${code} (last stream ${lastStreamId})`);
      s.endUs ??= endTs;
      this.emit(s);
    }
  }

  // ---- streams ----

  private openStream(id: number, ts: number): StreamState {
    const s = new StreamState(id, this.nextIndex++, ts);
    this.streams.set(id, s);
    return s;
  }

  /** The stream a request HEADERS block opens (or continues), null for a closed one. */
  private requestStream(id: number, ts: number): StreamState | null {
    const existing = this.streams.get(id);
    if (existing) return existing;
    if (this.isClosed(id)) {
      this.counters.add('http2.frames-on-closed-streams');
      return null;
    }
    if (this.firstOpened < 0 || id < this.firstOpened) this.firstOpened = id;
    if (id > this.maxOpened) this.maxOpened = id;
    return this.openStream(id, ts);
  }

  /** The stream of a frame; one that started before the capture is created; null when closed or pushed. */
  private streamForFrame(dir: Direction, id: number, ts: number): StreamState | null {
    const existing = this.streams.get(id);
    if (existing) return existing;
    if (id === 0 || id % 2 === 0) {
      if (id !== 0) this.counters.add('http2.push-stream-frames');
      return null;
    }
    if (this.isClosed(id)) {
      this.counters.add('http2.frames-on-closed-streams');
      return null;
    }
    const s = this.openStream(id, ts);
    s.opened = 'unseen';
    s.headersLostTo = this.gaps[0] > 0 ? 'gap' : 'capture';
    s.notes.add(s.headersLostTo === 'gap' ? 'request headers not seen (gap)' : 'request headers before capture');
    if (dir === 1 && s.responseFields === null) s.notes.add('response headers before capture');
    this.counters.add('http2.streams-started-before-capture');
    return s;
  }

  private isClosed(id: number): boolean {
    if (this.closedUnseen.has(id)) return true;
    return this.firstOpened >= 0 && id >= this.firstOpened && id <= this.maxOpened;
  }

  private touch(s: StreamState, dir: Direction, startTs: number, endTs: number): void {
    if (dir === 0) {
      s.lastRequestUs = endTs;
    } else {
      s.responseStartUs ??= startTs;
      s.lastResponseUs = endTs;
    }
  }

  private endSide(s: StreamState, dir: Direction, ts: number): void {
    s.ended[dir] = true;
    if (dir === 0) s.requestEndUs = ts;
    else s.endUs = ts;
    // A stream from before the capture with no request bytes in it: its request side ended unseen (or
    // idles); waiting for it would only report a finished response as still open.
    const requestIdleBeforeCapture = dir === 1 && s.opened === 'unseen' && s.lastRequestUs === null;
    if (s.closed || requestIdleBeforeCapture) this.emit(s);
  }

  private headersSeen(s: StreamState, dir: Direction): boolean {
    return dir === 0 ? s.requestFields !== null : s.responseFields !== null || s.interim.length > 0;
  }

  private emit(s: StreamState): void {
    if (!this.streams.delete(s.id)) return;
    if (s.opened === 'unseen') this.closedUnseen.add(s.id);
    this.emitExchange(buildExchange(s, { flow: this.flow, counters: this.counters, protoDecoder: this.opts.protoDecoder }));
  }

  private malformed(dir: Direction, counter: string): void {
    this.counters.add(counter);
    void dir;
  }
}

/** SETTINGS_HEADER_TABLE_SIZE inside an HTTP2-Settings header (base64url SETTINGS payload). */
function headerTableSizeOf(http2Settings: string): number | null {
  const payload = Buffer.from(http2Settings, 'base64url');
  let size: number | null = null;
  for (let p = 0; p + 6 <= payload.length; p += 6) {
    if (payload.readUInt16BE(p) === SettingId.HeaderTableSize) size = payload.readUInt32BE(p + 2);
  }
  return size;
}
