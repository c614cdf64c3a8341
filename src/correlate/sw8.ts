import { isAllZeroHex, isHex, spanIdFrom, traceIdFromString } from './ids.js';
import { trimOws, type ParsedTraceContext } from './context-formats.js';

/**
 * Apache SkyWalking cross-process propagation v3 (`sw8`):
 *   `{sample}-{traceId}-{segmentId}-{spanId}-{parentService}-{parentInstance}-{parentEndpoint}-{address}`
 * sample is 0/1, spanId a decimal integer, the other six fields standard base64 (UTF-8 text), all of
 * them required and non-empty (SkyWalking's own ContextCarrier.isValid rule).
 *
 * SkyWalking trace ids are arbitrary strings (typically `<instance uuid hex>.<thread>.<timestamp+seq>`).
 * The W3C-shaped traceId is derived deterministically: the decoded id itself when it is 32 hex
 * (lower-cased), else the first 32 hex of sha256 of the decoded id. A "first 32 hex characters of
 * the id" rule would not do: the usual ids start with the agent instance's uuid, shared by every trace
 * from that instance. The caller's span is `segmentId` + `spanId`; parentSpanId is
 * spanIdFrom([segmentId, spanId]) and rawParentSpanId is `<segmentId>-<spanId>` (DeepFlow's spelling).
 */
export interface Sw8Context extends ParsedTraceContext {
  parentSpanId: string;
  sampled: boolean;
  /** The decoded SkyWalking trace id, always set for sw8. */
  rawTraceId: string;
  rawParentSpanId: string;
  segmentId: string;
  spanId: number;
  parentService: string;
  parentServiceInstance: string;
  parentEndpoint: string;
  /** The peer address the client used to reach the server (`host:port`). */
  addressUsedAtClient: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const DECIMAL_SPAN_ID = /^[0-9]{1,10}$/;

export function parseSw8(headerValue: string): Sw8Context | null {
  const fields = trimOws(headerValue).split('-');
  if (fields.length !== 8) return null;
  const [sample, traceField, segmentField, spanField, serviceField, instanceField, endpointField, addressField] =
    fields as [string, string, string, string, string, string, string, string];
  if (sample !== '0' && sample !== '1') return null;
  if (!DECIMAL_SPAN_ID.test(spanField)) return null;
  const spanId = Number(spanField);
  if (spanId > 0x7fffffff) return null;

  const rawTraceId = decodeBase64Text(traceField);
  const segmentId = decodeBase64Text(segmentField);
  const parentService = decodeBase64Text(serviceField);
  const parentServiceInstance = decodeBase64Text(instanceField);
  const parentEndpoint = decodeBase64Text(endpointField);
  const addressUsedAtClient = decodeBase64Text(addressField);
  if (
    rawTraceId === null ||
    segmentId === null ||
    parentService === null ||
    parentServiceInstance === null ||
    parentEndpoint === null ||
    addressUsedAtClient === null
  ) {
    return null;
  }

  return {
    traceId: traceIdFromSw8(rawTraceId),
    parentSpanId: spanIdFrom([segmentId, spanId]),
    sampled: sample === '1',
    rawTraceId,
    rawParentSpanId: `${segmentId}-${spanId}`,
    segmentId,
    spanId,
    parentService,
    parentServiceInstance,
    parentEndpoint,
    addressUsedAtClient,
  };
}

/** The 32-hex trace id wirespan uses for a decoded SkyWalking trace id (see the module comment). */
export function traceIdFromSw8(rawTraceId: string): string {
  if (rawTraceId.length === 32 && isHex(rawTraceId) && !isAllZeroHex(rawTraceId)) return rawTraceId.toLowerCase();
  return traceIdFromString(rawTraceId);
}

/** Strict base64 (with or without padding) decoded as UTF-8; null when malformed or empty. */
function decodeBase64Text(field: string): string | null {
  if (!BASE64.test(field) || field.length % 4 === 1 || (field.endsWith('=') && field.length % 4 !== 0)) return null;
  const text = Buffer.from(field, 'base64').toString('utf8');
  return text === '' ? null : text;
}
