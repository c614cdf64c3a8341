import type { Counters } from '../../util/counters.js';
import type { Direction, EndReason } from '../../tcp/types.js';
import { MessageParser, type AfterHead, type MessageParserEvents, type ParsedHead } from './message-parser.js';
import { findMessageStart, type MessageKind } from './start-line.js';

/** One message of one direction, as far as it has been read. */
export interface MessageProgress {
  head: ParsedHead | null;
  startTs: number;
  /** ts of the latest chunk that carried bytes of this message. */
  lastTs: number;
  /** Stream offset of the first byte as the assembler counts it; null after a gap of unknown size. */
  streamOffset: number | null;
  /** Wire bytes (head + body, known gap bytes included); final once the message completed or aborted. */
  wireBytes: number;
  /** Entity bytes (de-chunked), gap bytes inside a body of known length included. */
  bodyBytes: number;
  /** Set when bytes of the body were never captured. */
  bodyGap: boolean;
  /** A request's first body bytes (up to BODY_HEAD_BYTES, copied), for the values it carries; else null. */
  bodyHead: Uint8Array | null;
  /** Internal: this direction's stream position of the first byte. */
  startPosition: number;
}

/** How the body after a head is framed, and what the direction does once the message is complete. */
export interface HeadDecision {
  body: 'none' | 'sized' | 'chunked' | 'until-close' | 'invalid';
  /** For 'sized'. */
  length: number;
  /** 'divert': the rest of this direction is not HTTP/1 (or not yet known to be): hand it to the sink. */
  then: 'next' | 'divert';
}

export type LossCause = 'gap' | 'error' | 'end';
/** What cut a head short: a gap, the end of the direction, or the other side answering it ('answered'). */
export type HeadCutCause = 'gap' | 'answered' | EndReason;

export interface ReaderSink {
  head(dir: Direction, message: MessageProgress): HeadDecision;
  trailers(dir: Direction, raw: string[]): void;
  complete(dir: Direction, message: MessageProgress): void;
  /** A message whose head was delivered will never complete. */
  aborted(dir: Direction, message: MessageProgress, cause: LossCause): void;
  /**
   * A message whose start line was read will never finish its head: `message.head` holds the start
   * line and the header fields read so far (no `head` call came for it).
   */
  headCut(dir: Direction, message: MessageProgress, cause: HeadCutCause): void;
  /** The start of a message was lost: cut by a gap or the end, unparseable, or inside a gap between messages. */
  lost(dir: Direction, cause: LossCause): void;
  divertedData(dir: Direction, bytes: Uint8Array, ts: number, offset: number): void;
  divertedGap(dir: Direction, lostBytes: number, ts: number, offset: number): void;
  divertedEnd(dir: Direction, reason: EndReason, ts: number): void;
}

type Mode = 'resync' | 'parse' | 'sized-body' | 'diverted' | 'ended';

const LF = 0x0a;
/** Request body bytes kept for the values they carry (correlate/linking-values.ts). */
const BODY_HEAD_BYTES = 512;

/**
 * Reads the HTTP/1.x messages of one direction: a MessageParser while the stream is in step, and a
 * resynchronising scanner (for the next plausible start line at a line start) when it is not — at a
 * start that may be mid-connection, after a parse error, after a gap. Bodies of known length are counted
 * here rather than in the parser, so a gap inside one only shortens what is left to count.
 */
export class DirectionReader {
  private mode: Mode;
  private parser: MessageParser | null = null;
  private readonly parserEvents: MessageParserEvents;
  private current: MessageProgress | null = null;
  private decision: HeadDecision | null = null;
  private invalidHead = false;
  private bodyRemaining = 0;
  /** Resync: the next byte begins a line (or may begin a message). */
  private lineStart = true;
  /** The parser was started on a guess; failing before a head only means the guess was wrong. */
  private speculative: boolean;
  /** Own stream position: delivered bytes plus gap bytes of known size. */
  private position = 0;
  private offsetKnown = true;
  // The chunk being read (valid during data()).
  private chunkTs = 0;
  private chunkOffset = 0;
  private chunkBase = 0;
  private chunkLength = 0;
  private readonly kind: MessageKind;

  constructor(
    private readonly dir: Direction,
    private readonly sink: ReaderSink,
    private readonly counters: Counters,
    /** Offset 0 of the stream is known to be a message start (the handshake was seen). */
    startIsCertain: boolean,
  ) {
    this.kind = dir === 0 ? 'request' : 'response';
    this.mode = startIsCertain ? 'parse' : 'resync';
    this.speculative = !startIsCertain;
    this.parserEvents = {
      head: (head) => this.onHead(head),
      body: (chunk, offset, length) => {
        if (!this.current) return;
        this.current.bodyBytes += length;
        this.keepBodyHead(chunk, offset, offset + length);
      },
      trailers: (raw) => this.sink.trailers(this.dir, raw),
      complete: (endIndex) => this.onParserComplete(endIndex),
    };
  }

  /** Time of the first byte of the message being read, while its head is not complete; else null. */
  get messageStartUs(): number | null {
    return this.current !== null && this.current.head === null ? this.current.startTs : null;
  }

  /** Stream offset of the message being read while its head is not complete; else null (or unknown). */
  get unfinishedHeadOffset(): number | null {
    return this.current !== null && this.current.head === null ? this.current.streamOffset : null;
  }

  get diverted(): boolean {
    return this.mode === 'diverted';
  }

  data(bytes: Uint8Array, ts: number, offset: number): void {
    if (this.mode === 'ended') return this.counters.add('http.bytes-after-end', bytes.length);
    // Only the parser needs a Buffer; most chunks are body bytes that are just counted.
    let buf: Buffer | null = Buffer.isBuffer(bytes) ? bytes : null;
    const length = bytes.length;
    this.chunkTs = ts;
    this.chunkOffset = offset;
    this.chunkBase = this.position;
    this.chunkLength = length;
    this.position += length;
    let at = 0;
    while (at < length) {
      switch (this.mode) {
        case 'resync':
          at = this.scan(bytes, at);
          break;
        case 'parse':
          at = this.parse((buf ??= asBuffer(bytes)), at);
          break;
        case 'sized-body':
          at = this.countBody(bytes, at);
          break;
        case 'diverted':
          this.sink.divertedData(this.dir, (buf ??= asBuffer(bytes)).subarray(at), ts, offset + at);
          return;
        default:
          return; // 'ended' (a sink callback may end the direction)
      }
    }
  }

  gap(lostBytes: number, ts: number, offset: number): void {
    const known = lostBytes >= 0;
    const before = this.position;
    if (known) this.position += lostBytes;
    else this.offsetKnown = false;
    const msg = this.current;
    switch (this.mode) {
      case 'diverted':
        return this.sink.divertedGap(this.dir, lostBytes, ts, offset);
      case 'ended':
        return;
      case 'resync':
        this.lineStart = true;
        return;
      case 'sized-body':
        if (msg && known && lostBytes <= this.bodyRemaining) {
          msg.bodyBytes += lostBytes;
          msg.bodyGap = true;
          msg.lastTs = ts;
          this.bodyRemaining -= lostBytes;
          if (this.bodyRemaining === 0) this.finishMessage(this.position, -1);
          return;
        }
        if (msg) this.abort(msg, 'gap', before);
        return this.enterResync(true);
      case 'parse':
        if (msg?.head && this.parser?.readingUntilClose) {
          if (known) msg.bodyBytes += lostBytes;
          msg.bodyGap = true;
          msg.lastTs = ts;
          return;
        }
        if (msg?.head) this.abort(msg, 'gap', before);
        else if (msg && this.cutHead(msg, 'gap', before)) return this.enterResync(true);
        else if (msg && !this.parser?.idle && this.speculative) this.skipped(before - msg.startPosition);
        else if (!this.speculative) this.sink.lost(this.dir, 'gap');
        return this.enterResync(true);
    }
  }

  end(reason: EndReason, ts: number): void {
    const msg = this.current;
    switch (this.mode) {
      case 'diverted':
        this.sink.divertedEnd(this.dir, reason, ts);
        break;
      case 'sized-body':
        if (msg) this.abort(msg, 'end', this.position);
        break;
      case 'parse':
        if (msg?.head && this.parser?.readingUntilClose) {
          this.parser.finish();
        } else if (msg?.head) {
          this.abort(msg, 'end', this.position);
        } else if (msg && !this.parser?.idle && !this.cutHead(msg, reason, this.position)) {
          if (this.speculative) {
            this.skipped(this.position - msg.startPosition);
          } else {
            this.counters.add('http.incomplete-heads');
            this.sink.lost(this.dir, 'end');
          }
        }
        break;
      case 'resync':
      case 'ended':
        break;
    }
    this.mode = 'ended';
    this.current = null;
    this.parser = null;
  }

  /**
   * The other side answered while this head was still unfinished, so its rest will not come (lost from
   * the capture, or the peer did not wait for it): hand it on as a cut head and look for the next
   * message. False, changing nothing, unless a head is in progress whose start line was read.
   */
  cutUnfinishedHead(): boolean {
    const msg = this.current;
    if (this.mode !== 'parse' || !msg || msg.head || !this.cutHead(msg, 'answered', this.position)) return false;
    this.enterResync(false);
    return true;
  }

  /** Stop reading messages: from now on everything goes to the sink's diverted* methods. */
  divert(): void {
    if (this.mode === 'ended' || this.mode === 'diverted') return;
    if (this.current?.head) this.abort(this.current, 'end', this.position);
    this.mode = 'diverted';
    this.current = null;
    this.parser = null;
  }

  /** Read messages again after `divert`, starting at a message boundary. */
  resume(): void {
    if (this.mode !== 'diverted') return;
    this.mode = 'parse';
    this.speculative = false;
    this.parser = new MessageParser(this.kind, this.parserEvents);
  }

  private scan(bytes: Uint8Array, at: number): number {
    // Messages often begin with a segment, so a chunk start is a candidate as well as a line start.
    const found = findMessageStart(this.kind, bytes, at, bytes.length, this.lineStart || at === 0);
    if (found.found === 'none') {
      this.skipped(bytes.length - at);
      this.lineStart = found.lineStartAtEnd;
      return bytes.length;
    }
    this.skipped(found.at - at);
    this.mode = 'parse';
    this.parser = new MessageParser(this.kind, this.parserEvents);
    return found.at;
  }

  private parse(buf: Buffer, at: number): number {
    this.parser ??= new MessageParser(this.kind, this.parserEvents);
    if (!this.current) this.startMessage(at);
    this.current!.lastTs = this.chunkTs;
    const result = this.parser.execute(buf, at, buf.length);
    const next = at + result.consumed;
    if (this.invalidHead) {
      this.invalidHead = false;
      return this.failParse(buf, next, at);
    }
    if (result.error || result.consumed === 0) return this.failParse(buf, next, at);
    return next;
  }

  private countBody(bytes: Uint8Array, at: number): number {
    const msg = this.current!;
    const take = Math.min(this.bodyRemaining, bytes.length - at);
    this.keepBodyHead(bytes, at, at + take);
    msg.bodyBytes += take;
    msg.lastTs = this.chunkTs;
    this.bodyRemaining -= take;
    if (this.bodyRemaining === 0) this.finishMessage(this.chunkBase + at + take, at + take);
    return at + take;
  }

  private startMessage(at: number): void {
    this.current = {
      head: null,
      startTs: this.chunkTs,
      lastTs: this.chunkTs,
      streamOffset: this.offsetKnown ? this.chunkOffset + at : null,
      wireBytes: 0,
      bodyBytes: 0,
      bodyGap: false,
      bodyHead: null,
      startPosition: this.chunkBase + at,
    };
  }

  private onHead(head: ParsedHead): AfterHead {
    const msg = this.current!;
    msg.head = head;
    this.speculative = false;
    const decision = this.sink.head(this.dir, msg);
    this.decision = decision;
    switch (decision.body) {
      case 'invalid':
        msg.head = null;
        this.invalidHead = true;
        return 'stop';
      case 'sized':
        this.bodyRemaining = decision.length;
        return 'stop';
      case 'chunked':
      case 'until-close':
        return decision.body;
      case 'none':
        return 'stop';
    }
  }

  private onParserComplete(endIndex: number): void {
    if (this.invalidHead || !this.current) return;
    if (this.bodyRemaining > 0) {
      this.mode = 'sized-body';
      return;
    }
    this.finishMessage(endIndex >= 0 ? this.chunkBase + endIndex : this.position, endIndex);
  }

  /** `endIndex`: where in the current chunk the message ended, -1 when not in a chunk. */
  private finishMessage(endPosition: number, endIndex: number): void {
    const msg = this.current!;
    msg.wireBytes = endPosition - msg.startPosition;
    if (endIndex >= 0) msg.lastTs = this.chunkTs;
    this.current = null;
    const then = this.decision?.then ?? 'next';
    this.decision = null;
    this.mode = then === 'divert' ? 'diverted' : 'parse';
    if (then === 'divert') this.parser = null;
    this.sink.complete(this.dir, msg);
    // The parser may go on with a pipelined message in the same execute call: it starts here.
    if (this.mode === 'parse' && endIndex >= 0 && endIndex < this.chunkLength) this.startMessage(endIndex);
  }

  private abort(msg: MessageProgress, cause: LossCause, endPosition: number): void {
    msg.wireBytes = endPosition - msg.startPosition;
    this.current = null;
    this.decision = null;
    this.bodyRemaining = 0;
    this.sink.aborted(this.dir, msg, cause);
  }

  /** A head that will never end: handed on when its start line was read (true), else left as it is. */
  private cutHead(msg: MessageProgress, cause: HeadCutCause, endPosition: number): boolean {
    const head = this.parser?.unfinishedHead ?? null;
    if (!head) return false;
    msg.head = head;
    msg.wireBytes = endPosition - msg.startPosition;
    this.current = null;
    this.counters.add('http.incomplete-heads');
    this.sink.headCut(this.dir, msg, cause);
    return true;
  }

  private failParse(buf: Uint8Array, errorAt: number, executedFrom: number): number {
    const msg = this.current;
    const resumeAt = Math.max(errorAt, executedFrom + 1);
    if (msg?.head) {
      this.counters.add('http.parse-errors');
      this.abort(msg, 'error', this.chunkBase + resumeAt);
    } else if (msg && this.speculative) {
      this.skipped(this.chunkBase + resumeAt - msg.startPosition);
    } else {
      this.counters.add('http.parse-errors');
      this.sink.lost(this.dir, 'error');
    }
    this.enterResync(buf[resumeAt - 1] === LF);
    return resumeAt;
  }

  private enterResync(lineStart: boolean): void {
    this.mode = 'resync';
    this.parser = null;
    this.current = null;
    this.decision = null;
    this.bodyRemaining = 0;
    this.lineStart = lineStart;
    this.speculative = true;
  }

  /** A request body's first bytes, while fewer than BODY_HEAD_BYTES are kept and none were lost. */
  private keepBodyHead(bytes: Uint8Array, from: number, to: number): void {
    const msg = this.current;
    if (this.kind !== 'request' || !msg || msg.bodyGap || to <= from) return;
    const have = msg.bodyHead?.length ?? 0;
    if (have >= BODY_HEAD_BYTES) return;
    const piece = bytes.subarray(from, Math.min(to, from + BODY_HEAD_BYTES - have));
    const head = new Uint8Array(have + piece.length);
    if (msg.bodyHead) head.set(msg.bodyHead);
    head.set(piece, have);
    msg.bodyHead = head;
  }

  private skipped(bytes: number): void {
    if (bytes > 0) this.counters.add('http.resync-skipped-bytes', bytes);
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
