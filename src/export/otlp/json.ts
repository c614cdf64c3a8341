import type { PartialAcceptance } from '../transport.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpTraceRequest } from './model.js';

/**
 * OTLP/JSON (the protobuf JSON mapping with OTLP's exceptions): camelCase field names, trace and span
 * ids as lower-case hex (not base64), enums as integers, 64-bit integers as decimal strings, fields
 * at their default value omitted.
 */
export function encodeOtlpJson(request: OtlpTraceRequest): string {
  return JSON.stringify(toOtlpJsonObject(request));
}

export function toOtlpJsonObject(request: OtlpTraceRequest): unknown {
  return {
    resourceSpans: request.resourceSpans.map((rs) => ({
      resource: { attributes: jsonAttributes(rs.resource.attributes) },
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: ss.scope.version ? { name: ss.scope.name, version: ss.scope.version } : { name: ss.scope.name },
        spans: ss.spans.map((span) => ({
          traceId: span.traceId,
          spanId: span.spanId,
          ...(span.traceState ? { traceState: span.traceState } : {}),
          ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
          ...(span.flags !== 0 ? { flags: span.flags } : {}),
          name: span.name,
          kind: span.kind,
          startTimeUnixNano: span.startTimeUnixNano.toString(),
          endTimeUnixNano: span.endTimeUnixNano.toString(),
          attributes: jsonAttributes(span.attributes),
          ...(span.events.length > 0
            ? {
                events: span.events.map((event) => ({
                  timeUnixNano: event.timeUnixNano.toString(),
                  name: event.name,
                  ...(event.attributes.length > 0 ? { attributes: jsonAttributes(event.attributes) } : {}),
                })),
              }
            : {}),
          status: span.status.message ? { code: span.status.code, message: span.status.message } : statusCodeOnly(span.status.code),
        })),
      })),
    })),
  };
}

/** An UNSET status is the default: `{}` says so without a redundant zero. */
function statusCodeOnly(code: number): { code?: number } {
  return code === 0 ? {} : { code };
}

function jsonAttributes(attributes: readonly OtlpKeyValue[]): { key: string; value: unknown }[] {
  return attributes.map(({ key, value }) => ({ key, value: jsonValue(value) }));
}

function jsonValue(value: OtlpAnyValue): unknown {
  return 'intValue' in value ? { intValue: String(value.intValue) } : value;
}

/**
 * An ExportTraceServiceResponse in OTLP/JSON → its partial success (null when absent). The 64-bit
 * count is a string in proto3 JSON; a number is accepted too.
 */
export function readOtlpJsonResponse(body: Buffer): PartialAcceptance | null {
  const doc = JSON.parse(body.toString('utf8')) as { partialSuccess?: { rejectedSpans?: unknown; errorMessage?: unknown } } | null;
  const partial = doc?.partialSuccess;
  if (!partial) return null;
  const rejected = Number(partial.rejectedSpans ?? 0);
  return { rejected: Number.isSafeInteger(rejected) ? rejected : 0, message: typeof partial.errorMessage === 'string' ? partial.errorMessage : '' };
}
