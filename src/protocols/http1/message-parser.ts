import { HTTPParser } from 'http-parser-js';
import { readCleanHead } from './clean-head.js';

/**
 * http-parser-js wrapped for sniffing: one instance per direction and message run, reporting heads,
 * body sizes, trailers and message ends with their positions in the chunk being executed.
 *
 * The typings of http-parser-js 0.5.x do not declare the fields below; they are used here and only
 * here: `offset` (the parser's position in the current chunk: where a message ended or an error was
 * hit), `state`/`line` (is the parser between messages?), `info` (the start line and fields read so
 * far, for a head that never ends), `headerSize`/`maxHeaderSize` (kept as the parser would when a head
 * is read without it, clean-head.ts) and `consumeLine`, replaced per instance to
 * decode as latin1 — the library decodes with the module-wide `HTTPParser.encoding` ('ascii', which
 * clears the high bit and so destroys UTF-8), and changing that static would change it for everyone.
 */
interface ParserInternals {
  offset: number;
  isChunked: boolean;
  body_bytes: number | null;
  headerSize: number;
  maxHeaderSize: number;
  end: number;
  chunk: Buffer | null;
  line: string;
  state: string;
  info: HeadInfo;
  consumeLine(): string | undefined;
}

/** The part of http-parser-js's `info` argument of kOnHeadersComplete that is read here. */
interface HeadInfo {
  versionMajor: number;
  versionMinor: number;
  headers: string[];
  method: number;
  url?: string;
  statusCode: number;
  statusMessage?: string;
}

interface Parser extends ParserInternals {
  execute(chunk: Buffer, start: number, length: number): number | Error;
  finish(): void | Error;
  [HTTPParser.kOnHeadersComplete]: (info: HeadInfo) => number;
  [HTTPParser.kOnBody]: (chunk: Buffer, offset: number, length: number) => void;
  [HTTPParser.kOnHeaders]: (trailers: string[], url: string) => void;
  [HTTPParser.kOnMessageComplete]: () => void;
}

const LF = 0x0a;

/** consumeLine of http-parser-js 0.5.10, with latin1 (byte-preserving) instead of 'ascii'. */
function consumeLineLatin1(this: ParserInternals): string | undefined {
  const chunk = this.chunk!;
  const lf = chunk.indexOf(LF, this.offset);
  if (lf >= 0 && lf < this.end) {
    let line = this.line + chunk.toString('latin1', this.offset, lf);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    this.line = '';
    this.offset = lf + 1;
    return line;
  }
  this.line += chunk.toString('latin1', this.offset, this.end);
  this.offset = this.end;
  return undefined;
}

export interface ParsedHead {
  /** Request method ('' for responses). */
  method: string;
  /** Request target as sent, latin1 (see utf8FromLatin1). */
  target: string;
  /** Response status (0 for requests). */
  status: number;
  reason: string;
  version: string;
  /** Alternating names and values, latin1. */
  rawHeaders: string[];
}

/**
 * What to do after a head: let the parser frame the body, chunked or until the connection closes (the
 * caller decides which, RFC 9112 §6.3, not http-parser-js), or stop right there.
 */
export type AfterHead = 'chunked' | 'until-close' | 'stop';

export interface MessageParserEvents {
  head(head: ParsedHead, endIndex: number): AfterHead;
  /** `chunk[offset, offset + length)` of the body (valid during the call only). */
  body(chunk: Uint8Array, offset: number, length: number): void;
  trailers(raw: string[]): void;
  /** The message ended at `endIndex` of the chunk being executed (for `finish`: -1). */
  complete(endIndex: number): void;
}

export type ExecuteResult = { consumed: number; error: null } | { consumed: number; error: Error };

/** Returned from onHeadersComplete: http-parser-js then ends the message and returns from execute. */
const SKIP_BODY_AND_PAUSE = 2;

export class MessageParser {
  private readonly parser: Parser;
  /** The head being re-read by http-parser-js was already reported by the fast path (see execute), with this answer. */
  private reportedAnswer: AfterHead | null = null;

  constructor(
    private readonly kind: 'request' | 'response',
    private readonly events: MessageParserEvents,
  ) {
    const parser = new HTTPParser(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE) as unknown as Parser;
    parser.consumeLine = consumeLineLatin1;
    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      const answer = this.reportedAnswer ?? events.head(headOf(kind, info), parser.offset);
      this.reportedAnswer = null;
      if (answer === 'stop') return SKIP_BODY_AND_PAUSE;
      // http-parser-js frames by `Transfer-Encoding: chunked` exactly; the caller's framing is
      // RFC 9112's (chunked when it is the final coding, else until close, over any Content-Length).
      parser.isChunked = answer === 'chunked';
      if (answer === 'until-close') parser.body_bytes = null;
      return 0;
    };
    parser[HTTPParser.kOnBody] = (chunk, offset, length) => events.body(chunk, offset, length);
    parser[HTTPParser.kOnHeaders] = (trailers) => events.trailers(trailers);
    parser[HTTPParser.kOnMessageComplete] = () => events.complete(parser.chunk ? parser.offset : -1);
    this.parser = parser;
  }

  /** Parse `chunk[start, end)`. Callbacks fire during the call. Never throws on malformed input. */
  execute(chunk: Buffer, start: number, end: number): ExecuteResult {
    if (this.idle) {
      const parser = this.parser;
      const clean = readCleanHead(this.kind, chunk, start, end, parser.maxHeaderSize || HTTPParser.maxHeaderSize);
      if (clean !== null) {
        const head: ParsedHead = {
          method: clean.method,
          target: clean.target,
          status: clean.status,
          reason: clean.reason,
          version: clean.version,
          rawHeaders: clean.rawHeaders,
        };
        const answer = this.events.head(head, clean.end);
        if (answer === 'stop') {
          // As http-parser-js after SKIP_BODY_AND_PAUSE: message over, parser reset, head bytes counted.
          parser.headerSize = clean.end - start;
          this.events.complete(clean.end);
          return { consumed: clean.end - start, error: null };
        }
        // The parser frames the body (chunked, until close): it reads the head again, silently.
        this.reportedAnswer = answer;
        const result = this.executeParser(chunk, start, end);
        this.reportedAnswer = null;
        return result;
      }
    }
    return this.executeParser(chunk, start, end);
  }

  private executeParser(chunk: Buffer, start: number, end: number): ExecuteResult {
    const result = this.parser.execute(chunk, start, end - start);
    if (result instanceof Error) {
      const at = Math.min(Math.max(this.parser.offset, start), end);
      this.parser.chunk = null;
      return { consumed: at - start, error: result };
    }
    return { consumed: result, error: null };
  }

  /** End of stream: completes a body delimited by the close. False when a message was cut short. */
  finish(): boolean {
    return this.parser.finish() === undefined;
  }

  /** Between messages, with no partial line buffered (leading CR LF is all it has seen, if anything). */
  get idle(): boolean {
    return (this.parser.state === 'REQUEST_LINE' || this.parser.state === 'RESPONSE_LINE') && this.parser.line === '';
  }

  /**
   * A head whose start line was read (complete and well-formed) but whose end was not: the start line
   * and the header fields whose lines ended. Null otherwise (between messages, inside a start line,
   * after the head).
   */
  get unfinishedHead(): ParsedHead | null {
    return this.parser.state === 'HEADER' ? headOf(this.kind, this.parser.info) : null;
  }

  /** Reading a body that only the end of the connection delimits. */
  get readingUntilClose(): boolean {
    return this.parser.state === 'BODY_RAW';
  }
}

function headOf(kind: 'request' | 'response', info: HeadInfo): ParsedHead {
  return {
    method: kind === 'request' ? (HTTPParser.methods[info.method] ?? '') : '',
    target: info.url ?? '',
    status: kind === 'response' ? info.statusCode : 0,
    reason: info.statusMessage ?? '',
    version: `${info.versionMajor}.${info.versionMinor}`,
    rawHeaders: info.headers,
  };
}
