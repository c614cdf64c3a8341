import { isAllZeroHex, isHex } from './ids.js';
import { trimOws, type ParsedTraceContext } from './context-formats.js';

/**
 * AWS X-Ray's `X-Amzn-Trace-Id: Root=1-{8 hex epoch s}-{24 hex};Parent={16 hex};Sampled={0|1|?}`,
 * which AWS load balancers add to every request they forward. The trace id is the two hex parts
 * joined (as OpenTelemetry's X-Ray propagator maps it); the fields come in any order, unknown ones
 * (`Self=`, `Lineage=`, custom) are ignored. A header whose Root is missing or malformed is invalid.
 */
export interface XrayTraceId extends ParsedTraceContext {
  /** The Root field as sent (`1-5759e988-bd862e3fe1be46a994272793`). */
  root: string;
}

export function parseXrayTraceId(headerValue: string): XrayTraceId | null {
  let root: string | null = null;
  let parent: string | null = null;
  let sampled: boolean | null = null;
  for (const part of trimOws(headerValue).split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = trimOws(part.slice(0, eq));
    const value = trimOws(part.slice(eq + 1));
    if (key === 'Root') root ??= value;
    else if (key === 'Parent') parent ??= value;
    else if (key === 'Sampled') sampled ??= value === '1' ? true : value === '0' ? false : null;
  }
  if (root === null) return null;
  const m = /^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$/.exec(root);
  if (!m) return null;
  const traceId = (m[1]! + m[2]!).toLowerCase();
  if (isAllZeroHex(traceId)) return null;
  if (parent !== null && (parent.length !== 16 || !isHex(parent) || isAllZeroHex(parent))) return null;
  return {
    traceId,
    parentSpanId: parent === null ? null : parent.toLowerCase(),
    sampled,
    rawTraceId: root,
    rawParentSpanId: null,
    root,
  };
}
