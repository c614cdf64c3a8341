import type { Direction, EndReason, StreamHandler } from '../../tcp/types.js';
import type { AnalyzerContext, ProtocolHandler } from '../types.js';
import {
  DirectionReader,
  type HeadCutCause,
  type HeadDecision,
  type LossCause,
  type MessageProgress,
  type ReaderSink,
} from './direction-reader.js';
import { summarizeHead, type HeaderLimits, type HeadSummary } from './headers.js';
import { PendingExchange } from './pending-exchange.js';
import { H2C_ANSWERED_ON_STREAM_1, type H2cUpgradeRequest } from '../http2/connection.js';

export interface Http1ConnectionOptions {
  headerLimits: HeaderLimits;
  /** Client bytes held after an Upgrade/CONNECT request until its response decides (beyond: dropped). */
  maxHeldBytes: number;
}

type HeldEvent =
  | { kind: 'data'; bytes: Uint8Array; ts: number; offset: number }
  | { kind: 'gap'; lost: number; ts: number; offset: number; dropped: boolean }
  | { kind: 'end'; reason: EndReason; ts: number };

const INVALID: HeadDecision = { body: 'invalid', length: 0, then: 'next' };

/** Notes for a head cut short, after "request head " / "response head ". */
const CUT_HEAD_NOTES: Record<HeadCutCause, string> = {
  gap: 'cut by a gap',
  answered: 'incomplete (lost in capture)',
  eof: 'incomplete at end of capture',
  idle: 'incomplete at end of connection',
  fin: 'incomplete at end of connection',
  rst: 'incomplete at end of connection',
};

/**
 * One HTTP/1.x connection: pairs the requests and responses its two DirectionReaders produce (FIFO,
 * so pipelining pairs in order) into Exchanges, and hands the connection over after a switch
 * (`101` to `Upgrade: h2c` → the http2 analyzer; a CONNECT tunnel → detection as for a new
 * connection, TLS included; WebSocket → not analysed).
 */
export class Http1Connection implements ProtocolHandler, ReaderSink {
  private readonly readers: [DirectionReader, DirectionReader];
  private readonly ended = [false, false];
  private closed = false;
  private nextIndex = 0;
  /** Exchanges not emitted yet, in request order (emitted in that order too). */
  private readonly unemitted: PendingExchange[] = [];
  /**
   * Requests still waiting for their final response head, oldest first; null stands for a request that
   * was there but could not be read (unparseable head, head inside a gap): its response is skipped.
   */
  private readonly awaitingResponse: (PendingExchange | null)[] = [];
  private requestInProgress: PendingExchange | null = null;
  /** The exchange of the response being read; null for a response without a request. */
  private responseTarget: PendingExchange | null = null;
  private responseIsFinal = false;
  private responseUpgrade: string | null = null;
  private noteForNextRequest: string | null = null;
  private responseLossBefore = false;
  /** The Upgrade/CONNECT request whose response decides what the held client bytes are. */
  private holdFor: PendingExchange | null = null;
  private held: HeldEvent[] = [];
  private heldBytes = 0;
  /** After a switch: the next protocol's handler, or 'tunnel' when the bytes are not analysed. */
  private next: ProtocolHandler | 'tunnel' | null = null;
  /**
   * The Host and User-Agent of the last request: the requests of a connection nearly always repeat
   * them, and an exchange held by the correlator then shares one string instead of its own copy.
   */
  private lastHost: string | null = null;
  private lastUserAgent: string | null = null;

  constructor(
    private readonly ctx: AnalyzerContext,
    private readonly options: Http1ConnectionOptions,
  ) {
    const certain = ctx.flow.handshake;
    this.readers = [
      new DirectionReader(0, this, ctx.counters, certain),
      new DirectionReader(1, this, ctx.counters, certain),
    ];
  }

  oldestInFlightUs(): number | null {
    const own = this.unemitted[0]?.startUs ?? this.readers[0].messageStartUs;
    const after = this.next !== null && this.next !== 'tunnel' ? this.next.oldestInFlightUs() : null;
    return own === null ? after : after === null ? own : Math.min(own, after);
  }

  // StreamHandler

  data(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    if (!this.closed) this.readers[dir].data(bytes, ts, offset);
  }

  gap(dir: Direction, lostBytes: number, ts: number, offset: number): void {
    if (!this.closed) this.readers[dir].gap(lostBytes, ts, offset);
  }

  end(dir: Direction, reason: EndReason, ts: number): void {
    if (this.closed || this.ended[dir]) return;
    this.ended[dir] = true;
    this.readers[dir].end(reason, ts);
  }

  close(ts: number): void {
    if (this.closed) return;
    if (!this.ended[0]) this.end(0, 'eof', ts);
    if (!this.ended[1]) this.end(1, 'eof', ts);
    this.closed = true;
    for (const x of this.unemitted) {
      if (!x.requestDone) x.note('request incomplete');
      if (!x.responseDone) {
        x.note(x.response ? 'response incomplete' : x.interim.length > 0 ? 'no final response' : 'no response seen');
      }
      this.emit(x);
    }
    this.unemitted.length = 0;
    const heldData = this.held.reduce((n, e) => n + (e.kind === 'data' ? e.bytes.length : 0), 0);
    if (heldData > 0) this.ctx.counters.add('http.held-bytes-dropped', heldData);
    this.held = [];
    if (this.next && this.next !== 'tunnel') this.next.close(ts);
  }

  // ReaderSink

  head(dir: Direction, message: MessageProgress): HeadDecision {
    const summary = summarizeHead(message.head!.rawHeaders);
    if (Number.isNaN(summary.contentLength)) {
      this.ctx.counters.add('http.invalid-content-length');
      return INVALID;
    }
    return dir === 0 ? this.requestHead(message, summary) : this.responseHead(message, summary);
  }

  trailers(dir: Direction, raw: string[]): void {
    const x = dir === 0 ? this.requestInProgress : this.responseIsFinal ? this.responseTarget : null;
    (dir === 0 ? x?.requestHeaders : x?.responseHeaders)?.addAll(raw);
  }

  complete(dir: Direction, message: MessageProgress): void {
    if (dir === 0) return this.requestEnded(message, null);
    const x = this.responseTarget;
    this.responseTarget = null;
    if (!x) {
      if (this.readers[1].diverted) this.switchProtocol(null);
      return;
    }
    x.responseBytes += message.wireBytes;
    if (!this.responseIsFinal) return;
    this.responseEnded(x, message, null);
    if (this.readers[1].diverted) this.switchProtocol(x);
    this.flush();
  }

  aborted(dir: Direction, message: MessageProgress, cause: LossCause): void {
    if (dir === 0) return this.requestEnded(message, cause);
    const x = this.responseTarget;
    this.responseTarget = null;
    if (!x || !this.responseIsFinal) return;
    x.responseBytes += message.wireBytes;
    this.responseEnded(x, message, cause);
    this.flush();
  }

  headCut(dir: Direction, message: MessageProgress, cause: HeadCutCause): void {
    const note = `${dir === 0 ? 'request' : 'response'} head ${CUT_HEAD_NOTES[cause]}`;
    const summary = summarizeHead(message.head!.rawHeaders);
    if (dir === 0) {
      const x = this.openExchange(message, summary);
      x.requestBytes = message.wireBytes;
      x.note(note);
      x.requestDone = true;
      if (cause === 'gap') this.noteForNextRequest = 'gap before request';
    } else {
      this.responseHead(message, summary);
      const x = this.responseTarget;
      this.responseTarget = null;
      if (x && this.responseIsFinal) {
        x.responseBytes += message.wireBytes;
        x.endUs = message.lastTs;
        x.note(note);
        x.responseDone = true;
        if (x === this.holdFor) this.releaseHold();
      }
      if (cause === 'gap') this.responseLossBefore = true;
    }
    this.flush();
  }

  lost(dir: Direction, cause: LossCause): void {
    if (dir === 0) {
      if (cause === 'gap') this.noteForNextRequest = 'gap before request';
      if (cause !== 'end') this.awaitingResponse.push(null);
      return;
    }
    const x = this.awaitingResponse.shift();
    if (!x) return; // nothing awaited, or the request itself was lost
    x.note(cause === 'gap' ? 'response lost in gap' : cause === 'error' ? 'response unparseable' : 'response incomplete');
    x.responseDone = true;
    this.responseLossBefore = cause !== 'end';
    if (x === this.holdFor) this.releaseHold();
    this.flush();
  }

  divertedData(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void {
    if (this.next && this.next !== 'tunnel') return this.next.data(dir, bytes, ts, offset);
    if (dir === 0 && this.holdFor) return this.hold(bytes, ts, offset);
    this.ctx.counters.add('http.tunnel-bytes', bytes.length);
  }

  divertedGap(dir: Direction, lostBytes: number, ts: number, offset: number): void {
    if (this.next && this.next !== 'tunnel') return this.next.gap(dir, lostBytes, ts, offset);
    if (dir === 0 && this.holdFor) this.held.push({ kind: 'gap', lost: lostBytes, ts, offset, dropped: false });
  }

  divertedEnd(dir: Direction, reason: EndReason, ts: number): void {
    if (this.next && this.next !== 'tunnel') return this.next.end(dir, reason, ts);
    if (dir === 0 && this.holdFor) this.held.push({ kind: 'end', reason, ts });
  }

  // Requests

  private requestHead(message: MessageProgress, summary: HeadSummary): HeadDecision {
    const x = this.openExchange(message, summary);
    this.requestInProgress = x;
    const length = summary.contentLength ?? 0;
    // http-parser-js frames an Upgrade/CONNECT request by Content-Length only; so do we.
    if (x.isConnect || x.upgradeOffer !== null) {
      this.holdFor = x;
      return { body: length > 0 ? 'sized' : 'none', length, then: 'divert' };
    }
    if (summary.chunked) return { body: 'chunked', length: 0, then: 'next' };
    return { body: length > 0 ? 'sized' : 'none', length, then: 'next' };
  }

  /** The exchange of a request whose head (or start line, when the head was cut) was read. */
  private openExchange(message: MessageProgress, summary: HeadSummary): PendingExchange {
    if (summary.host === this.lastHost) summary.host = this.lastHost;
    else this.lastHost = summary.host;
    if (summary.userAgent === this.lastUserAgent) summary.userAgent = this.lastUserAgent;
    else this.lastUserAgent = summary.userAgent;
    const x = new PendingExchange(
      this.nextIndex++,
      message.head!,
      summary,
      message,
      this.ctx.flow.baseSeq[0],
      this.options.headerLimits,
    );
    x.upgradeOffer = summary.connectionUpgrade ? summary.upgrade : null;
    if (this.noteForNextRequest) x.note(this.noteForNextRequest);
    this.noteForNextRequest = null;
    this.unemitted.push(x);
    this.awaitingResponse.push(x);
    return x;
  }

  private requestEnded(message: MessageProgress, cause: LossCause | null): void {
    const x = this.requestInProgress;
    this.requestInProgress = null;
    if (!x) return;
    x.requestEndUs = message.lastTs;
    x.requestBytes = message.wireBytes;
    x.request.bodyBytes = message.bodyBytes;
    if (message.bodyHead !== null) {
      const contentType = x.requestHeaders.fields.find(([name]) => name === 'content-type')?.[1] ?? null;
      x.bodyHead = { bytes: message.bodyHead, contentType };
    }
    if (message.bodyGap || cause === 'gap') x.note('gap in request body');
    if (cause) x.note('request incomplete');
    x.requestDone = true;
    this.flush();
  }

  // Responses

  private responseHead(message: MessageProgress, summary: HeadSummary): HeadDecision {
    const head = message.head!;
    const status = head.status;
    const interim = status >= 100 && status < 200 && status !== 101;
    // No request awaits, but one's head is unfinished: answered, the rest of that head is not coming
    // (unless this answer left before the server had any of that head: it answers an earlier request).
    if (this.awaitingResponse.length === 0 && !this.sentBeforeOffset(this.readers[0].unfinishedHeadOffset)) {
      this.readers[0].cutUnfinishedHead();
    }
    let awaited: PendingExchange | null | undefined = this.awaitingResponse[0];
    if (awaited && this.sentBeforeOffset(awaited.requestOffset)) {
      // It answers a request from before the capture (or lost): pipelined ahead of the one awaited.
      awaited = undefined;
      this.ctx.counters.add('http.responses-to-unseen-requests');
    }
    const x = awaited ?? null;
    this.responseTarget = x;
    this.responseIsFinal = !interim;
    this.responseUpgrade = summary.upgrade;
    if (awaited === undefined) {
      this.ctx.counters.add('http.responses-without-request');
    } else if (awaited === null) {
      if (!interim) this.awaitingResponse.shift();
      this.ctx.counters.add('http.responses-to-lost-requests');
    } else {
      awaited.responseStartUs ??= message.startTs;
      if (interim) {
        awaited.interim.push(status);
      } else {
        this.awaitingResponse.shift();
        awaited.setResponse(head);
        if (this.responseLossBefore) awaited.note('response paired after a gap');
        this.responseLossBefore = false;
      }
    }
    if (interim) return { body: 'none', length: 0, then: 'next' };
    const switching = status === 101 || (x !== null && x.isConnect && status >= 200 && status < 300);
    if (switching) return { body: 'none', length: 0, then: 'divert' };
    if (x !== null && x === this.holdFor) this.releaseHold();
    if (x?.request.method === 'HEAD' || status === 204 || status === 304) {
      return { body: 'none', length: 0, then: 'next' };
    }
    if (summary.chunked) return { body: 'chunked', length: 0, then: 'next' };
    // A response transfer-coded without chunked last ends with the connection (RFC 9112 §6.3 rule 4).
    if (summary.transferCoded) return { body: 'until-close', length: 0, then: 'next' };
    if (summary.contentLength !== null) {
      const length = summary.contentLength;
      return { body: length > 0 ? 'sized' : 'none', length, then: 'next' };
    }
    return { body: 'until-close', length: 0, then: 'next' };
  }

  /**
   * The response beginning now was sent before the server had any byte of the request starting at
   * client stream `offset` (its acknowledgments stop short of it): it cannot be that request's answer.
   * Seen when a capture starts, or a gap falls, inside a pipelined burst: the answers to the requests
   * before it come first.
   */
  private sentBeforeOffset(offset: number | null): boolean {
    if (offset === null) return false;
    const acknowledged = this.ctx.flow.acknowledgedOffset?.(0) ?? null;
    return acknowledged !== null && acknowledged <= offset;
  }

  private responseEnded(x: PendingExchange, message: MessageProgress, cause: LossCause | null): void {
    x.endUs = message.lastTs;
    if (x.response) x.response.bodyBytes = message.bodyBytes;
    if (message.bodyGap || cause === 'gap') x.note('gap in response body');
    if (cause) x.note('response incomplete');
    x.responseDone = true;
  }

  // Switching protocols

  /** The response just read switched the connection (101, or 2xx to CONNECT): stop reading HTTP/1. */
  private switchProtocol(x: PendingExchange | null): void {
    const offer = this.responseUpgrade ?? x?.upgradeOffer ?? null;
    const toHttp2 = !x?.isConnect && offer !== null && offer.split(',').some((p) => p.trim() === 'h2c');
    const upgrade = toHttp2 && x ? h2cUpgradeOf(x) : undefined;
    const tunnel = x?.isConnect === true && this.ctx.openTunnel ? this.ctx.openTunnel() : null;
    this.next = (toHttp2 ? this.ctx.switchProtocol('http2', upgrade) : tunnel) ?? 'tunnel';
    if (upgrade && this.next !== 'tunnel') x!.note(H2C_ANSWERED_ON_STREAM_1);
    this.holdFor = null;
    this.readers[0].divert();
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const e of held) {
      if (e.kind === 'data') this.divertedData(0, e.bytes, e.ts, e.offset);
      else if (e.kind === 'gap') this.divertedGap(0, e.lost, e.ts, e.offset);
      else this.divertedEnd(0, e.reason, e.ts);
    }
  }

  /** The Upgrade/CONNECT request was answered without a switch: read the held client bytes as HTTP/1. */
  private releaseHold(): void {
    this.holdFor = null;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    const reader = this.readers[0];
    reader.resume();
    for (const e of held) {
      if (e.kind === 'data') reader.data(e.bytes, e.ts, e.offset);
      else if (e.kind === 'gap') reader.gap(e.lost, e.ts, e.offset);
      else reader.end(e.reason, e.ts);
    }
  }

  private hold(bytes: Uint8Array, ts: number, offset: number): void {
    if (this.heldBytes + bytes.length <= this.options.maxHeldBytes) {
      // A copy (Buffer#slice would only be a view of bytes the assembler may reuse).
      this.held.push({ kind: 'data', bytes: Uint8Array.prototype.slice.call(bytes), ts, offset });
      this.heldBytes += bytes.length;
      return;
    }
    this.ctx.counters.add('http.held-bytes-dropped', bytes.length);
    const last = this.held[this.held.length - 1];
    if (last?.kind === 'gap' && last.dropped) last.lost += bytes.length;
    else this.held.push({ kind: 'gap', lost: bytes.length, ts, offset, dropped: true });
  }

  // Emission

  private flush(): void {
    while (this.unemitted.length > 0 && this.unemitted[0]!.requestDone && this.unemitted[0]!.responseDone) {
      this.emit(this.unemitted.shift()!);
    }
  }

  private emit(x: PendingExchange): void {
    if (x.requestHeaders.capped) this.ctx.counters.add('http.headers-capped');
    if (x.responseHeaders.capped) this.ctx.counters.add('http.headers-capped');
    this.ctx.emit(x.toExchange(this.ctx.flow));
  }
}

/** HTTP/1.1 fields that are about the connection, not the request (RFC 9113 §8.2.2), or become `:authority`. */
const NOT_CARRIED_TO_HTTP2 = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'host']);

/** The request a `101` to `Upgrade: h2c` answered: the http2 analyzer makes it stream 1 (RFC 7540 §3.2). */
function h2cUpgradeOf(x: PendingExchange): H2cUpgradeRequest {
  const fields = x.requestHeaders.fields;
  return {
    method: x.request.method,
    path: x.request.path,
    authority: x.request.host,
    headers: fields.filter(([name]) => !NOT_CARRIED_TO_HTTP2.has(name)),
    startUs: x.startUs,
    requestEndUs: x.requestEndUs,
    requestSeq: x.requestSeq,
    bodyBytes: x.request.bodyBytes,
    wireBytes: x.requestBytes,
    http2Settings: fields.find(([name]) => name === 'http2-settings')?.[1] ?? null,
  };
}
