/** What the connection handler knows about one HTTP/2 stream, and how it becomes an Exchange. */
import { forwardedClient } from '../forwarded.js';
import { messageScalars } from '../grpc/message-values.js';
import type { Flow } from '../../tcp/types.js';
import type { Counters } from '../../util/counters.js';
import { GrpcMessageFramer } from '../grpc/message-framer.js';
import {
  callKindFromCounts,
  decodeGrpcMessage,
  isGrpcContentType,
  parseGrpcTimeout,
  splitGrpcPath,
} from '../grpc/metadata.js';
import type { ProtoMessageDecoder } from '../grpc/proto-decoder.js';
import type {
  Exchange,
  GrpcRequestInfo,
  GrpcResponseInfo,
  HeaderField,
  Http2RequestInfo,
  Http2ResponseInfo,
} from '../types.js';
import { isUnknownMarker, type DecodedField } from './hpack.js';
import { redactTarget } from '../redact.js';

export const UNKNOWN = '<unknown>';

/** Never written out, whatever the sender marked (never-indexed fields are dropped as well). */
const SENSITIVE_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);

export class StreamState {
  /** When the stream's request HEADERS were seen: 'seen'; else it started before the capture (or in a gap). */
  opened: 'seen' | 'unseen' = 'seen';
  requestStartUs: number | null = null;
  firstSeenUs: number;
  requestEndUs: number | null = null;
  lastRequestUs: number | null = null;
  responseStartUs: number | null = null;
  endUs: number | null = null;
  lastResponseUs: number | null = null;
  requestSeq: number | null = null;

  requestFields: DecodedField[] | null = null;
  requestTrailers: DecodedField[] = [];
  responseFields: DecodedField[] | null = null;
  responseTrailers: DecodedField[] | null = null;
  interim: number[] = [];
  trailersOnly = false;
  /** The first response HEADERS ended the stream (for gRPC, a trailers-only response). */
  responseEndedInHeaders = false;

  ended: [boolean, boolean] = [false, false];
  /** A gap came while this side was open: its HEADERS (or more) may be among what was lost. */
  gapWhileOpen: [boolean, boolean] = [false, false];
  reset: string | null = null;
  wireBytes: [number, number] = [0, 0];
  dataBytes: [number, number] = [0, 0];
  framers: [GrpcMessageFramer | null, GrpcMessageFramer | null] = [null, null];
  /** That side's framer began at the first DATA frame seen, its HEADERS unseen (see joinedFramingHolds). */
  framingJoined: [boolean, boolean] = [false, false];
  /** What took the header blocks this stream is missing, if any. */
  headersLostTo: 'capture' | 'gap' = 'gap';
  readonly notes = new Set<string>();
  unknownFields = 0;
  unknownFieldsAfterGap = 0;

  constructor(
    readonly id: number,
    readonly index: number,
    firstSeenUs: number,
  ) {
    this.firstSeenUs = firstSeenUs;
  }

  get closed(): boolean {
    return this.reset !== null || (this.ended[0] && this.ended[1]);
  }
}

export interface ExchangeContext {
  flow: Flow;
  counters: Counters;
  protoDecoder?: ProtoMessageDecoder | undefined;
}

function field(fields: readonly DecodedField[] | null, name: string): string | null {
  if (!fields) return null;
  for (const f of fields) if (f.name === name) return f.value;
  return null;
}

function keptHeaders(...lists: (readonly DecodedField[] | null)[]): HeaderField[] {
  const out: HeaderField[] = [];
  for (const list of lists) {
    if (!list) continue;
    for (const f of list) {
      if (f.name.startsWith(':') || f.neverIndexed || SENSITIVE_HEADERS.has(f.name)) continue;
      out.push([f.name, f.value]);
    }
  }
  return out;
}

/** gRPC status codes run from 0 (OK) to 16 (UNAUTHENTICATED). */
const GRPC_STATUS_CODE = /^(?:[0-9]|1[0-6])$/;

/**
 * The gRPC status of a trailer block whose `grpc-status` name is unknown (an HPACK entry from before
 * the capture, every later one naming it after the one before, so the name never reaches the wire
 * again): gRPC puts Status first in trailers (after :status and content-type in a trailers-only
 * response, then Status-Message, then custom metadata), so the first other field, its name unknown and
 * its value a status code, is taken for it. Null when any of that does not hold.
 */
function statusFromUnnamedTrailer(block: readonly DecodedField[] | null): string | null {
  if (!block) return null;
  for (const f of block) {
    if (f.name === ':status' || f.name === 'content-type') continue;
    return isUnknownMarker(f.name) && GRPC_STATUS_CODE.test(f.value) ? f.value : null;
  }
  return null;
}

function unknownOrAbsent(value: string | null): boolean {
  return value === null || isUnknownMarker(value);
}

function statusNumber(value: string | null): number | null {
  return value !== null && /^\d{1,3}$/.test(value) ? Number(value) : null;
}

/**
 * Framing picked up at the first DATA frame seen of a side whose HEADERS are not in the capture is
 * believed only when it is flawless to the end of what was seen (flags 0/1, no lost sync, not cut short
 * by END_STREAM) and at least one DATA frame ended exactly where a message did: a first byte in the
 * middle of a message would have to fake a prefix whose lengths then chain to a frame end.
 */
function joinedFramingHolds(framer: GrpcMessageFramer, sideEnded: boolean): boolean {
  return (
    framer.messages > 0 &&
    !framer.badFlag &&
    !framer.lostSync &&
    framer.alignedFrameEnds > 0 &&
    !(sideEnded && framer.partial)
  );
}

/** The framer whose counts are reported for side `i`, null when nothing can be counted. */
function countedFramer(s: StreamState, i: 0 | 1): GrpcMessageFramer | null {
  const framer = s.framers[i];
  if (!framer || (s.framingJoined[i] && !joinedFramingHolds(framer, s.ended[i]))) return null;
  return framer;
}

/** What side `i`'s DATA says about gRPC: null when it says nothing either way. */
function framingVote(s: StreamState, i: 0 | 1): 'grpc' | 'not-grpc' | null {
  const framer = s.framers[i];
  if (!framer) return null;
  if (s.framingJoined[i]) return joinedFramingHolds(framer, s.ended[i]) ? 'grpc' : null;
  if (framer.messages === 0 && !framer.badFlag && !framer.lostSync) return null;
  return framer.looksLikeGrpc ? 'grpc' : 'not-grpc';
}

export function buildExchange(s: StreamState, ctx: ExchangeContext): Exchange {
  const { flow } = ctx;
  const req = s.requestFields;
  const trailers = s.responseTrailers ?? (s.trailersOnly ? s.responseFields : null);
  const requestContentType = field(req, 'content-type');
  const responseContentType = field(s.responseFields, 'content-type');
  let grpcStatusText = field(trailers, 'grpc-status') ?? field(s.responseFields, 'grpc-status');
  let grpc = isGrpcContentType(requestContentType) || isGrpcContentType(responseContentType) || grpcStatusText !== null;
  const headersMissing = s.opened === 'unseen' || s.framingJoined[1];
  if (
    !grpc &&
    unknownOrAbsent(requestContentType) &&
    unknownOrAbsent(responseContentType) &&
    (headersMissing || s.unknownFields + s.unknownFieldsAfterGap > 0)
  ) {
    // Mid-stream, content-type is often an entry from before the capture (or a block not in it):
    // judge by the DATA framing.
    const votes = [framingVote(s, 0), framingVote(s, 1)];
    grpc = votes.includes('grpc') && !votes.includes('not-grpc');
    if (grpc) s.notes.add('gRPC recognised from message framing (content-type unknown)');
  }

  const path = redactTarget(field(req, ':path') ?? UNKNOWN);
  const authority = field(req, ':authority') ?? field(req, 'host');
  const forwardedFor = forwardedClient(field(req, 'forwarded'), field(req, 'x-forwarded-for'));
  const sawResponse =
    s.responseFields !== null || s.responseTrailers !== null || s.lastResponseUs !== null || s.reset !== null;
  const notes = [...s.notes];
  if (s.unknownFields > 0) notes.push(`${s.unknownFields} header fields unknown (HPACK state before capture)`);
  if (s.unknownFieldsAfterGap > 0) notes.push(`${s.unknownFieldsAfterGap} header fields unknown (HPACK state lost in gap)`);
  if (!sawResponse) notes.push('no response seen');

  const startUs = s.requestStartUs ?? s.firstSeenUs;
  const base = {
    connectionId: flow.id,
    client: flow.client,
    server: flow.server,
    index: s.index,
    requestSeq: s.requestSeq,
    streamId: s.id,
    startUs,
    requestEndUs: s.requestEndUs ?? s.lastRequestUs ?? startUs,
    responseStartUs: s.responseStartUs,
    endUs: s.endUs ?? s.lastResponseUs,
    requestHeaders: keptHeaders(req, s.requestTrailers),
    responseHeaders: keptHeaders(s.trailersOnly ? null : s.responseFields, trailers),
    contextText: null,
    bytes: { request: s.wireBytes[0], response: s.wireBytes[1] },
    notes,
  };

  if (!grpc) {
    const request: Http2RequestInfo = {
      method: field(req, ':method') ?? UNKNOWN,
      path,
      authority,
      scheme: field(req, ':scheme'),
      streamId: s.id,
      bodyBytes: s.dataBytes[0],
      forwardedFor,
    };
    const response: Http2ResponseInfo | null = sawResponse
      ? { status: statusNumber(field(s.responseFields, ':status')), bodyBytes: s.dataBytes[1], reset: s.reset }
      : null;
    return { protocol: 'http2', ...base, request, response };
  }

  const headersSeen = [req !== null, s.responseFields !== null];
  for (const i of [0, 1] as const) {
    const side = i === 0 ? 'request' : 'response';
    const framer = s.framers[i];
    if (!headersSeen[i] && (i === 0 || sawResponse)) {
      notes.push(`${side} messages before ${s.headersLostTo} unknown`);
      if (!framer) {
        if (s.dataBytes[i] > 0) notes.push(`${side} messages not counted (first DATA frame seen was not whole)`);
        continue;
      }
      if (!countedFramer(s, i)) {
        notes.push(`${side} messages not counted (DATA seen may start mid-message)`);
        continue;
      }
    }
    if (!framer) {
      if (s.dataBytes[i] > 0) notes.push(`${side} messages not counted (message framing before capture)`);
    } else if (framer.lostSync) {
      notes.push(`${side} messages undercounted (gap in message framing)`);
    } else if (framer.partial) {
      notes.push(`incomplete ${side} message`);
    }
  }
  const reqFramer = countedFramer(s, 0);
  const respFramer = countedFramer(s, 1);
  const requestMessages = reqFramer?.messages ?? 0;
  const responseMessages = respFramer?.messages ?? 0;
  if (!headersSeen[0] || (sawResponse && !headersSeen[1])) notes.push('call kind judged from the messages seen');
  const timeoutText = field(req, 'grpc-timeout');
  let timeoutMs: number | null = null;
  if (timeoutText !== null) {
    timeoutMs = parseGrpcTimeout(timeoutText);
    if (timeoutMs === null && !isUnknownMarker(timeoutText)) ctx.counters.add('grpc.bad-timeout');
  }
  const parts = path === UNKNOWN || isUnknownMarker(path) ? null : splitGrpcPath(path);
  const request: GrpcRequestInfo = {
    service: parts?.[0] ?? UNKNOWN,
    method: parts?.[1] ?? UNKNOWN,
    path,
    authority,
    streamId: s.id,
    messages: requestMessages,
    messageBytes: reqFramer?.messageBytes ?? 0,
    compressedMessages: reqFramer?.compressedMessages ?? 0,
    timeoutMs,
    callKind: callKindFromCounts(requestMessages, responseMessages),
    forwardedFor,
  };
  let response: GrpcResponseInfo | null = null;
  let trailersOnly = s.trailersOnly;
  if (sawResponse && grpcStatusText === null) {
    grpcStatusText = statusFromUnnamedTrailer(s.responseTrailers ?? (s.responseEndedInHeaders ? s.responseFields : null));
    if (grpcStatusText !== null) {
      trailersOnly = s.responseTrailers === null;
      notes.push('grpc-status inferred: first trailer field, its name unknown (HPACK state before capture)');
      ctx.counters.add('grpc.status-from-unnamed-trailer');
    }
  }
  if (sawResponse) {
    const grpcMessage = field(trailers, 'grpc-message') ?? (grpcStatusText !== null ? field(s.responseFields, 'grpc-message') : null);
    response = {
      httpStatus: statusNumber(field(s.responseFields, ':status')),
      grpcStatus: grpcStatusText !== null && /^\d+$/.test(grpcStatusText) ? Number(grpcStatusText) : null,
      grpcMessage: grpcMessage === null || isUnknownMarker(grpcMessage) ? grpcMessage : decodeGrpcMessage(grpcMessage),
      messages: responseMessages,
      messageBytes: respFramer?.messageBytes ?? 0,
      compressedMessages: respFramer?.compressedMessages ?? 0,
      trailersOnly,
      reset: s.reset,
    };
  }
  const linkValues = reqFramer?.firstMessage ? messageScalars(reqFramer.firstMessage) : undefined;
  const decoder = ctx.protoDecoder;
  if (decoder && parts) {
    if (reqFramer?.firstMessage) {
      const m = decoder.decode(path, 'request', reqFramer.firstMessage);
      if (m !== undefined) request.message = m;
    }
    if (response && respFramer?.firstMessage) {
      const m = decoder.decode(path, 'response', respFramer.firstMessage);
      if (m !== undefined) response.message = m;
    }
  }
  return { protocol: 'grpc', ...base, request, response, linkValues };
}
