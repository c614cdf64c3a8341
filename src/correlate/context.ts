import type { Counters } from '../util/counters.js';
import type { HeaderField } from '../protocols/types.js';
import type { TraceContext } from './types.js';
import { B3_MULTI_HEADERS, TRACE_CONTEXT_NAMES, trimOws, type ParsedTraceContext } from './context-formats.js';
import { combineTracestate, isValidTracestate, parseTraceparent } from './traceparent.js';
import { parseB3Multi, parseB3Single, type B3Result } from './b3.js';
import { parseUberTraceId } from './jaeger.js';
import { parseSw8 } from './sw8.js';
import { parseXrayTraceId } from './xray.js';
import { extractSqlCommentFields, normalizeCommentKey } from './sql-comment.js';

export const DEFAULT_REQUEST_ID_HEADERS: readonly string[] = ['x-request-id', 'x-correlation-id', 'request-id'];

export interface TraceContextExtractorOptions {
  /** Request-id header names, most preferred first; matched case-insensitively. */
  requestIdHeaders?: readonly string[];
  counters: Counters;
}

/**
 * TraceContext plus what the fixed interface has no field for yet: the ids as the wire carried them
 * when they are not W3C-shaped (a SkyWalking trace id string, a 64-bit B3/Jaeger trace id).
 */
export interface ExtractedTraceContext extends TraceContext {
  rawTraceId: string | null;
  rawParentSpanId: string | null;
}

/** Values per (lower-case) name, in wire order. */
type FieldValues = Map<string, string[]>;

const SQL_SOURCE_PREFIX = 'sql-comment:';
/** Lengths of an unnamed value worth matching against request ids (shorter ones recur by chance). */
const MIN_UNNAMED_ID = 8;
const MAX_UNNAMED_ID = 200;
const B3_MULTI_LABEL = 'x-b3-*';

/**
 * Finds the trace context and request id of one exchange.
 *
 * Trace id precedence (first format that yields a valid trace id wins; later ones are not read):
 * `traceparent` > `b3` > `X-B3-*` > `uber-trace-id` > `sw8` > `X-Amzn-Trace-Id` (AWS X-Ray, which AWS
 * load balancers add to every request and services often pass on unchanged: last). W3C first because it is the standard
 * that today's instrumentation emits next to any legacy header it keeps for old peers. A repeated
 * header gives its first valid value (the W3C test suite would restart the trace on a repeated
 * traceparent; an observer prefers the id the caller most likely meant) and the repetition is counted
 * as `context.repeated.<name>`. An invalid value is skipped, its name put in `invalid` and counted as
 * `context.invalid.<name>`. `tracestate` is kept only with a valid traceparent (as the spec says);
 * several tracestate headers are joined. A `b3: 0`-style sampling-only header gives `sampled` when no
 * format gives a trace id.
 *
 * Request id: the first configured name present on the request with a non-empty value, else on the
 * response (gateways echo it: nginx `add_header X-Request-ID $request_id always`). requestIdSource is
 * the header name either way.
 *
 * From SQL (fromSql) the same rules apply to the keys of the statement's comments (normalised: lower
 * case, `_` → `-`, so sqlcommenter's `request_id` matches `request-id`); `source`, `requestIdSource`
 * and `invalid` names are prefixed `sql-comment:` (`sql-comment:traceparent`, `sql-comment:request-id`).
 */
export class TraceContextExtractor {
  private readonly counters: Counters;
  private readonly requestIdNames: readonly string[];
  private readonly wantedRequestNames: ReadonlySet<string>;
  private readonly wantedResponseNames: ReadonlySet<string>;

  constructor(options: TraceContextExtractorOptions) {
    this.counters = options.counters;
    this.requestIdNames = (options.requestIdHeaders ?? DEFAULT_REQUEST_ID_HEADERS).map((name) => name.toLowerCase());
    this.wantedResponseNames = new Set(this.requestIdNames);
    this.wantedRequestNames = new Set([...TRACE_CONTEXT_NAMES, ...this.requestIdNames]);
  }

  fromHeaders(request: readonly HeaderField[], response: readonly HeaderField[]): ExtractedTraceContext {
    const requestFields = collect(request, this.wantedRequestNames);
    const context = this.resolve(requestFields, '');
    if (context.requestId === null && response.length > 0) {
      this.resolveRequestId(collect(response, this.wantedResponseNames), '', context);
    }
    if (context.traceId === null || context.requestId === null) this.readUnnamed(request, context);
    return context;
  }

  /**
   * Fields whose name is unknown (HPACK) but whose value was read: a value that is a valid W3C
   * traceparent is one (no other header has that exact form: version, 32 and 16 hex ids, flags);
   * other values that could be ids are kept for the linker to match against request ids.
   */
  private readUnnamed(request: readonly HeaderField[], context: ExtractedTraceContext): void {
    for (const [name, value] of request) {
      if (!name.startsWith('<unknown:') || value.startsWith('<unknown:')) continue;
      const traceparent = context.traceId === null && value.startsWith('00-') ? parseTraceparent(value) : null;
      if (traceparent !== null) {
        adopt(context, 'traceparent (name unknown)', traceparent);
        this.counters.add('context.unnamed-traceparent');
      } else if (context.requestId === null && couldBeId(value)) {
        context.unnamedValues.push(value);
        context.unnamedFrom.push(null);
      }
    }
  }

  /**
   * Trace context in the SQL's comments. Values under other keys that could be ids are kept as
   * unnamed values (a comment `rid=4bf9...`): the linker believes one only if it is the request id of an
   * exchange that could be the statement's parent.
   */
  fromSql(sql: string): ExtractedTraceContext {
    const fields: FieldValues = new Map();
    const others: [string, string][] = [];
    for (const { key, value } of extractSqlCommentFields(sql)) {
      const name = normalizeCommentKey(key);
      if (this.wantedRequestNames.has(name)) append(fields, name, value);
      else others.push([key, value]);
    }
    const context = this.resolve(fields, SQL_SOURCE_PREFIX);
    if (context.requestId === null && context.traceId === null) {
      for (const [key, value] of others) {
        if (!couldBeId(value)) continue;
        context.unnamedValues.push(value);
        context.unnamedFrom.push(SQL_SOURCE_PREFIX + key);
      }
    }
    return context;
  }

  private resolve(fields: FieldValues, labelPrefix: string): ExtractedTraceContext {
    const context = emptyContext();
    const found = this.resolveTraceId(fields, labelPrefix, context);
    if (found !== null) {
      const { source, parsed } = found;
      adopt(context, source, parsed);
      if (source === labelPrefix + 'traceparent') this.resolveTracestate(fields, labelPrefix, context);
    }
    this.resolveRequestId(fields, labelPrefix, context);
    return context;
  }

  /** Tries each format in precedence order; a sampling-only B3 header sets `context.sampled`. */
  private resolveTraceId(
    fields: FieldValues,
    labelPrefix: string,
    context: ExtractedTraceContext,
  ): { source: string; parsed: ParsedTraceContext } | null {
    const traceparent = this.firstValid(fields, 'traceparent', labelPrefix, context, parseTraceparent);
    if (traceparent !== null) return { source: labelPrefix + 'traceparent', parsed: traceparent };

    const b3 = this.firstValid(fields, 'b3', labelPrefix, context, parseB3Single);
    if (b3?.kind === 'context') return { source: labelPrefix + 'b3', parsed: b3 };
    if (b3?.kind === 'sampling') context.sampled = b3.sampled;

    const b3Multi = this.b3Multi(fields, labelPrefix, context);
    if (b3Multi?.kind === 'context') return { source: labelPrefix + 'b3', parsed: b3Multi };
    if (b3Multi?.kind === 'sampling') context.sampled ??= b3Multi.sampled;

    const jaeger = this.firstValid(fields, 'uber-trace-id', labelPrefix, context, parseUberTraceId);
    if (jaeger !== null) return { source: labelPrefix + 'uber-trace-id', parsed: jaeger };

    const sw8 = this.firstValid(fields, 'sw8', labelPrefix, context, parseSw8);
    if (sw8 !== null) return { source: labelPrefix + 'sw8', parsed: sw8 };

    const xray = this.firstValid(fields, 'x-amzn-trace-id', labelPrefix, context, parseXrayTraceId);
    if (xray !== null) return { source: labelPrefix + 'x-amzn-trace-id', parsed: xray };
    return null;
  }

  private b3Multi(fields: FieldValues, labelPrefix: string, context: ExtractedTraceContext): B3Result | null {
    const [traceId, spanId, parentSpanId, sampled, flags] = B3_MULTI_HEADERS.map((name) => fields.get(name)?.[0]);
    if (traceId === undefined && spanId === undefined && parentSpanId === undefined && sampled === undefined && flags === undefined) {
      return null;
    }
    const parsed = parseB3Multi({ traceId, spanId, parentSpanId, sampled, flags });
    if (parsed === null) this.markInvalid(context, labelPrefix + B3_MULTI_LABEL);
    return parsed;
  }

  private firstValid<T>(
    fields: FieldValues,
    name: string,
    labelPrefix: string,
    context: ExtractedTraceContext,
    parse: (value: string) => T | null,
  ): T | null {
    const values = fields.get(name);
    if (values === undefined) return null;
    for (const value of values) {
      const parsed = parse(value);
      if (parsed !== null) {
        if (values.length > 1) this.counters.add(`context.repeated.${labelPrefix}${name}`);
        return parsed;
      }
      this.markInvalid(context, labelPrefix + name);
    }
    return null;
  }

  private resolveTracestate(fields: FieldValues, labelPrefix: string, context: ExtractedTraceContext): void {
    const values = fields.get('tracestate');
    if (values === undefined) return;
    const combined = combineTracestate(values);
    if (combined === '') return;
    if (isValidTracestate(combined)) context.tracestate = combined;
    else this.markInvalid(context, labelPrefix + 'tracestate');
  }

  private resolveRequestId(fields: FieldValues, labelPrefix: string, context: ExtractedTraceContext): void {
    for (const name of this.requestIdNames) {
      const values = fields.get(name);
      if (values === undefined) continue;
      for (const value of values) {
        const id = trimOws(value);
        if (id !== '') {
          context.requestId = id;
          context.requestIdSource = labelPrefix + name;
          return;
        }
        this.markInvalid(context, labelPrefix + name);
      }
    }
  }

  private markInvalid(context: ExtractedTraceContext, label: string): void {
    if (!context.invalid.includes(label)) context.invalid.push(label);
    this.counters.add(`context.invalid.${label}`);
  }
}

/** The ids a header gave become the exchange's trace context. */
function adopt(context: ExtractedTraceContext, source: string, parsed: ParsedTraceContext): void {
  context.source = source;
  context.traceId = parsed.traceId;
  context.parentSpanId = parsed.parentSpanId;
  context.rawTraceId = parsed.rawTraceId;
  context.rawParentSpanId = parsed.rawParentSpanId;
  context.sampled = parsed.sampled ?? context.sampled;
}

function emptyContext(): ExtractedTraceContext {
  return {
    traceId: null,
    parentSpanId: null,
    sampled: null,
    source: null,
    tracestate: null,
    requestId: null,
    requestIdSource: null,
    invalid: [],
    unnamedValues: [],
    unnamedFrom: [],
    rawTraceId: null,
    rawParentSpanId: null,
  };
}

function collect(headers: readonly HeaderField[], wanted: ReadonlySet<string>): FieldValues {
  const fields: FieldValues = new Map();
  for (const [rawName, value] of headers) {
    const name = rawName.toLowerCase();
    if (wanted.has(name)) append(fields, name, value);
  }
  return fields;
}

function append(fields: FieldValues, name: string, value: string): void {
  const values = fields.get(name);
  if (values === undefined) fields.set(name, [value]);
  else values.push(value);
}

/** A value long enough, and without spaces, to be taken for an id if it equals one (ids this long do not recur by chance). */
function couldBeId(value: string): boolean {
  return value.length >= MIN_UNNAMED_ID && value.length <= MAX_UNNAMED_ID && !/\s/.test(value);
}
