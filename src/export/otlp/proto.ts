import protobuf from 'protobufjs';
import type { PartialAcceptance } from '../transport.js';
import type { OtlpAnyValue, OtlpKeyValue, OtlpTraceRequest } from './model.js';

/*
 * The subset of opentelemetry-proto that an OTLP trace export needs, field numbers exactly as in
 * opentelemetry/proto/{common,resource,trace}/v1/*.proto and collector/trace/v1/trace_service.proto.
 * One source per package (protobufjs parses one package per source), all into one Root, so type
 * names match the official ones.
 */
const COMMON_PROTO = `
syntax = "proto3";

package opentelemetry.proto.common.v1;

message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue {
  string key = 1;
  AnyValue value = 2;
}
message InstrumentationScope {
  string name = 1;
  string version = 2;
  repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
`;

const RESOURCE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.resource.v1;
message Resource {
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 1;
  uint32 dropped_attributes_count = 2;
}
`;

const TRACE_PROTO = `
syntax = "proto3";
package opentelemetry.proto.trace.v1;
message ResourceSpans {
  reserved 1000;
  opentelemetry.proto.resource.v1.Resource resource = 1;
  repeated ScopeSpans scope_spans = 2;
  string schema_url = 3;
}
message ScopeSpans {
  opentelemetry.proto.common.v1.InstrumentationScope scope = 1;
  repeated Span spans = 2;
  string schema_url = 3;
}
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  fixed32 flags = 16;
  string name = 5;
  enum SpanKind {
    SPAN_KIND_UNSPECIFIED = 0;
    SPAN_KIND_INTERNAL = 1;
    SPAN_KIND_SERVER = 2;
    SPAN_KIND_CLIENT = 3;
    SPAN_KIND_PRODUCER = 4;
    SPAN_KIND_CONSUMER = 5;
  }
  SpanKind kind = 6;
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated opentelemetry.proto.common.v1.KeyValue attributes = 9;
  uint32 dropped_attributes_count = 10;
  message Event {
    fixed64 time_unix_nano = 1;
    string name = 2;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 3;
    uint32 dropped_attributes_count = 4;
  }
  repeated Event events = 11;
  uint32 dropped_events_count = 12;
  message Link {
    bytes trace_id = 1;
    bytes span_id = 2;
    string trace_state = 3;
    repeated opentelemetry.proto.common.v1.KeyValue attributes = 4;
    uint32 dropped_attributes_count = 5;
    fixed32 flags = 6;
  }
  repeated Link links = 13;
  uint32 dropped_links_count = 14;
  Status status = 15;
}
message Status {
  reserved 1;
  string message = 2;
  enum StatusCode {
    STATUS_CODE_UNSET = 0;
    STATUS_CODE_OK = 1;
    STATUS_CODE_ERROR = 2;
  }
  StatusCode code = 3;
}
`;

const COLLECTOR_PROTO = `
syntax = "proto3";
package opentelemetry.proto.collector.trace.v1;
message ExportTraceServiceRequest {
  repeated opentelemetry.proto.trace.v1.ResourceSpans resource_spans = 1;
}
message ExportTraceServiceResponse {
  ExportTracePartialSuccess partial_success = 1;
}
message ExportTracePartialSuccess {
  int64 rejected_spans = 1;
  string error_message = 2;
}
`;

/** The schema sources, one per package, in dependency order. */
export const OTLP_TRACE_PROTO_FILES: readonly string[] = [
  COMMON_PROTO,
  RESOURCE_PROTO,
  TRACE_PROTO,
  COLLECTOR_PROTO,
];

/** Builds the protobufjs Root of the OTLP trace schema (a fresh one per call). */
export function loadOtlpTraceRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const source of OTLP_TRACE_PROTO_FILES) protobuf.parse(source, root, { keepCase: false });
  root.resolveAll();
  return root;
}

/** {low, high} halves accepted by protobufjs for 64-bit fields, from an unsigned bigint. */
function fixed64(value: bigint): { low: number; high: number; unsigned: boolean } {
  return { low: Number(value & 0xffffffffn), high: Number((value >> 32n) & 0xffffffffn), unsigned: true };
}

function hexBytes(hex: string): Buffer {
  return Buffer.from(hex, 'hex');
}

/** The model's AnyValue is already in protobufjs' shape (an int is a safe number). */
function protoAttributes(attributes: readonly OtlpKeyValue[]): readonly { key: string; value: OtlpAnyValue }[] {
  return attributes;
}

/** OTLP/protobuf serializer. Parses the schema once, at construction. */
export class OtlpProtobufEncoder {
  private readonly requestType: protobuf.Type;
  /** Also used by readers (tests, tools) to decode what was written. */
  readonly root: protobuf.Root;

  constructor() {
    this.root = loadOtlpTraceRoot();
    this.requestType = this.root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  }

  encode(request: OtlpTraceRequest): Uint8Array {
    return this.requestType.encode(toProtoObject(request)).finish();
  }
}

/** An ExportTraceServiceResponse in OTLP/protobuf → its partial success (null when absent). */
export function readOtlpProtobufResponse(root: protobuf.Root, body: Uint8Array): PartialAcceptance | null {
  const type = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
  const response = type.toObject(type.decode(body), { longs: Number }) as {
    partialSuccess?: { rejectedSpans?: number; errorMessage?: string };
  };
  const partial = response.partialSuccess;
  if (!partial) return null;
  return { rejected: partial.rejectedSpans ?? 0, message: partial.errorMessage ?? '' };
}

/** Convenience for one-off use; an exporter keeps one OtlpProtobufEncoder instead. */
export function encodeOtlpProtobuf(request: OtlpTraceRequest, encoder = new OtlpProtobufEncoder()): Uint8Array {
  return encoder.encode(request);
}

/** The model → the plain object protobufjs encodes (ids as bytes, times as 64-bit halves). */
function toProtoObject(request: OtlpTraceRequest): Record<string, unknown> {
  return {
    resourceSpans: request.resourceSpans.map((rs) => ({
      resource: { attributes: protoAttributes(rs.resource.attributes) },
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: ss.scope.version ? { name: ss.scope.name, version: ss.scope.version } : { name: ss.scope.name },
        spans: ss.spans.map((span) => ({
          traceId: hexBytes(span.traceId),
          spanId: hexBytes(span.spanId),
          ...(span.traceState ? { traceState: span.traceState } : {}),
          ...(span.parentSpanId ? { parentSpanId: hexBytes(span.parentSpanId) } : {}),
          ...(span.flags !== 0 ? { flags: span.flags } : {}),
          name: span.name,
          kind: span.kind,
          startTimeUnixNano: fixed64(span.startTimeUnixNano),
          endTimeUnixNano: fixed64(span.endTimeUnixNano),
          attributes: protoAttributes(span.attributes),
          events: span.events.map((event) => ({
            timeUnixNano: fixed64(event.timeUnixNano),
            name: event.name,
            attributes: protoAttributes(event.attributes),
          })),
          status: span.status.message ? { code: span.status.code, message: span.status.message } : { code: span.status.code },
        })),
      })),
    })),
  };
}
