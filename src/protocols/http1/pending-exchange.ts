import { forwardedClient } from '../forwarded.js';
import type { Flow } from '../../tcp/types.js';
import type { Exchange, HttpRequestInfo, HttpResponseInfo, RequestBodyHead } from '../types.js';
import type { MessageProgress } from './direction-reader.js';
import { HeaderCollector, utf8FromLatin1, type HeadSummary, type HeaderLimits } from './headers.js';
import type { ParsedHead } from './message-parser.js';
import { redactTarget } from '../redact.js';

/** One request on a connection, from its head until its exchange is emitted. */
export class PendingExchange {
  readonly request: HttpRequestInfo;
  readonly requestHeaders: HeaderCollector;
  readonly responseHeaders: HeaderCollector;
  readonly notes: string[] = [];
  readonly startUs: number;
  readonly requestSeq: number | null;
  /** Stream offset of the request's first byte, null when unknown (after a gap). */
  readonly requestOffset: number | null;
  requestEndUs: number;
  requestBytes = 0;
  /** The request body's first bytes (Exchange.requestBodyHead); never written out. */
  bodyHead: RequestBodyHead | undefined = undefined;
  /** The request message is over (complete or given up on). */
  requestDone = false;
  /** 1xx statuses before the final response. */
  readonly interim: number[] = [];
  /** Upgrade offered by the request (lower-case header value), null when none. */
  upgradeOffer: string | null = null;
  response: HttpResponseInfo | null = null;
  responseStartUs: number | null = null;
  endUs: number | null = null;
  responseBytes = 0;
  /** No more response bytes will be attributed to this exchange. */
  responseDone = false;

  constructor(
    readonly index: number,
    head: ParsedHead,
    summary: HeadSummary,
    message: MessageProgress,
    baseSeq: number | null,
    limits: HeaderLimits,
  ) {
    this.request = {
      method: head.method,
      path: redactTarget(utf8FromLatin1(head.target)),
      host: summary.host,
      version: head.version,
      bodyBytes: 0,
      userAgent: summary.userAgent,
      forwardedFor: forwardedClient(summary.forwarded, summary.xForwardedFor),
    };
    this.requestHeaders = new HeaderCollector(limits);
    this.requestHeaders.addAll(head.rawHeaders);
    this.responseHeaders = new HeaderCollector(limits);
    this.startUs = message.startTs;
    this.requestEndUs = message.lastTs;
    this.requestOffset = message.streamOffset;
    this.requestSeq =
      baseSeq === null || message.streamOffset === null ? null : (baseSeq + message.streamOffset) >>> 0;
  }

  get isConnect(): boolean {
    return this.request.method === 'CONNECT';
  }

  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }

  /** Record the final response head (1xx statuses go to `interim` instead). */
  setResponse(head: ParsedHead): void {
    const response: HttpResponseInfo = {
      status: head.status,
      reason: utf8FromLatin1(head.reason),
      version: head.version,
      bodyBytes: 0,
    };
    if (this.interim.length > 0) response.interim = this.interim;
    this.response = response;
    this.responseHeaders.addAll(head.rawHeaders);
  }

  toExchange(flow: Flow): Exchange {
    return {
      protocol: 'http',
      connectionId: flow.id,
      client: flow.client,
      server: flow.server,
      index: this.index,
      requestSeq: this.requestSeq,
      streamId: null,
      startUs: this.startUs,
      requestEndUs: this.requestEndUs,
      responseStartUs: this.responseStartUs,
      endUs: this.endUs,
      request: this.request,
      response: this.response,
      requestHeaders: this.requestHeaders.fields,
      responseHeaders: this.responseHeaders.fields,
      contextText: null,
      bytes: { request: this.requestBytes, response: this.responseBytes },
      notes: this.notes,
      ...(this.bodyHead ? { requestBodyHead: this.bodyHead } : {}),
    };
  }
}
