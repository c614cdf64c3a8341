import type { SpanRecord } from '../../correlate/types.js';
import type { Counters } from '../../util/counters.js';
import type { SqlText } from './exchange.js';
import {
  SpanKind,
  intAttr,
  isValidHexId,
  microsToNanos,
  stringAttr,
  type OtlpEvent,
  type OtlpKeyValue,
  type OtlpResourceSpans,
  type OtlpSpan,
  type OtlpTraceRequest,
} from './model.js';
import { describeExchange, type HttpSpanName, type SideOutcome } from './semconv.js';

export type SpanSide = 'client' | 'server';

export interface SpanSelection {
  /** Which halves of each exchange to emit (default both). */
  spanKinds?: ReadonlySet<SpanSide>;
  /**
   * `--local`: addresses of the capturing host. A CLIENT span is emitted only when the record's client
   * ip is local, a SERVER span only when its server ip is local. Empty or absent: no filter.
   */
  localAddresses?: ReadonlySet<string>;
}

export interface OtlpTransformOptions extends SpanSelection {
  sqlText?: SqlText;
  httpSpanName?: HttpSpanName;
  /** InstrumentationScope (default name "wirespan", version empty). */
  scopeName?: string;
  scopeVersion?: string;
  /** Records skipped for invalid ids are counted here: `export.otlp.invalid_ids`. */
  counters?: Counters;
}

export const SCOPE_NAME = 'wirespan';
const BOTH_SIDES: ReadonlySet<SpanSide> = new Set(['client', 'server']);
/** W3C trace flags: the sampled bit. */
const W3C_SAMPLED = 0x01;
/** opentelemetry-proto SpanFlags: whether the parent is remote is known (bit 8), and it is (bit 9). */
const SPAN_FLAGS_HAS_IS_REMOTE = 0x100;
const SPAN_FLAGS_IS_REMOTE = 0x200;

/** Which sides of `record` the selection keeps. */
export function selectedSides(record: SpanRecord, selection: SpanSelection): { client: boolean; server: boolean } {
  const kinds = selection.spanKinds ?? BOTH_SIDES;
  const local = selection.localAddresses;
  const filterLocal = local !== undefined && local.size > 0;
  return {
    client: kinds.has('client') && (!filterLocal || local.has(record.client.ip)),
    server: kinds.has('server') && (!filterLocal || local.has(record.server.ip)),
  };
}

/** A span together with the service it belongs to (its resource). */
export interface ServiceSpan {
  service: string;
  span: OtlpSpan;
}

/**
 * One exchange → the spans instrumented services would have produced: a CLIENT span in the caller
 * (id clientSpanId, parent = the caller's enclosing span) and a SERVER span in the callee (id spanId,
 * parent = the CLIENT span). Both cover the exchange as seen from the capture point: first request
 * byte to last response byte. When CLIENT spans are not wanted at all (`spanKinds`), the SERVER span
 * hangs from the caller's enclosing span instead, so the exported tree stays connected; `--local`
 * keeps ids unchanged, because the missing half is expected from another capture point.
 */
export function exchangeToSpans(record: SpanRecord, options: OtlpTransformOptions = {}): ServiceSpan[] {
  if (!isValidHexId(record.traceId, 32) || !isValidHexId(record.spanId, 16) || !isValidHexId(record.clientSpanId, 16)) {
    options.counters?.add('export.otlp.invalid_ids');
    return [];
  }
  const sides = selectedSides(record, options);
  if (!sides.client && !sides.server) return [];

  const semantics = describeExchange(record, {
    sqlText: options.sqlText ?? 'normalized',
    httpSpanName: options.httpSpanName ?? 'method-path',
  });
  const parentSpanId = isValidHexId(record.parentSpanId, 16) ? record.parentSpanId : null;
  const startTimeUnixNano = microsToNanos(record.startUs);
  const endTimeUnixNano = record.endUs !== null ? microsToNanos(record.endUs) : startTimeUnixNano;
  const events = notesToEvents(record);
  const common = [...semantics.attributes, ...wirespanAttributes(record)];

  const spans: ServiceSpan[] = [];
  const base = { traceId: record.traceId, traceState: record.tracestate ?? '', name: semantics.name, startTimeUnixNano, endTimeUnixNano, events };
  // Every exported span was recorded: sampled, unless the wire said the caller decided otherwise.
  const traceFlags = record.sampled === false ? 0 : W3C_SAMPLED;
  if (sides.client) {
    spans.push({
      service: record.peerService,
      span: {
        ...base,
        spanId: record.clientSpanId,
        parentSpanId,
        // The caller's enclosing span is in the caller's own process.
        flags: traceFlags | SPAN_FLAGS_HAS_IS_REMOTE,
        kind: SpanKind.CLIENT,
        attributes: [
          ...common,
          stringAttr('peer.service', record.service),
          stringAttr('network.peer.address', record.server.ip),
          intAttr('network.peer.port', record.server.port),
          ...errorType(semantics.client),
        ],
        status: semantics.client.status,
      },
    });
  }
  if (sides.server) {
    const clientSpansWanted = (options.spanKinds ?? BOTH_SIDES).has('client');
    const serverParent = clientSpansWanted ? record.clientSpanId : parentSpanId;
    spans.push({
      service: record.service,
      span: {
        ...base,
        spanId: record.spanId,
        parentSpanId: serverParent,
        // A server's parent is in the calling process: remote.
        flags: traceFlags | SPAN_FLAGS_HAS_IS_REMOTE | (serverParent !== null ? SPAN_FLAGS_IS_REMOTE : 0),
        kind: SpanKind.SERVER,
        attributes: [
          ...common,
          stringAttr('network.peer.address', record.client.ip),
          intAttr('network.peer.port', record.client.port),
          ...errorType(semantics.server),
        ],
        status: semantics.server.status,
      },
    });
  }
  return spans;
}

/** SpanRecords → one ExportTraceServiceRequest: one ResourceSpans per service, in order of appearance. */
export function toOtlpRequest(records: Iterable<SpanRecord>, options: OtlpTransformOptions = {}): OtlpTraceRequest {
  const scope = { name: options.scopeName ?? SCOPE_NAME, version: options.scopeVersion ?? '' };
  const byService = new Map<string, OtlpResourceSpans>();
  for (const record of records) {
    for (const { service, span } of exchangeToSpans(record, options)) {
      let resourceSpans = byService.get(service);
      if (!resourceSpans) {
        resourceSpans = { resource: { attributes: [stringAttr('service.name', service)] }, scopeSpans: [{ scope, spans: [] }] };
        byService.set(service, resourceSpans);
      }
      resourceSpans.scopeSpans[0]!.spans.push(span);
    }
  }
  return { resourceSpans: [...byService.values()] };
}

export function countSpans(request: OtlpTraceRequest): number {
  let n = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

function wirespanAttributes(record: SpanRecord): OtlpKeyValue[] {
  const out = [intAttr('wirespan.connection_id', record.connectionId)];
  if (record.link) out.push(stringAttr('wirespan.link', record.link));
  if (record.requestId) out.push(stringAttr('wirespan.request_id', record.requestId));
  if (record.traceContextSource) out.push(stringAttr('wirespan.trace_context_source', record.traceContextSource));
  if (record.streamId !== null) out.push(intAttr('wirespan.stream_id', record.streamId));
  return out;
}

/** Notes are things learnt once the exchange was over (gaps, missing response): stamped at its end. */
function notesToEvents(record: SpanRecord): OtlpEvent[] {
  const timeUnixNano = microsToNanos(record.endUs ?? record.startUs);
  return record.notes.map((name) => ({ timeUnixNano, name, attributes: [] }));
}

function errorType(outcome: SideOutcome): OtlpKeyValue[] {
  return outcome.errorType === null ? [] : [stringAttr('error.type', outcome.errorType)];
}
