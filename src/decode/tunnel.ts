import { type DecodeContext, fail, type InnerKind, readU16, resetLayers } from './context.js';

export const VXLAN_PORT = 4789;
export const GENEVE_PORT = 6081;

const VXLAN_HEADER_LENGTH = 8;
const VXLAN_FLAG_VNI_VALID = 0x08;
const GENEVE_BASE_LENGTH = 8;
const GENEVE_PROTOCOL_ETHERNET = 0x6558;
const GENEVE_PROTOCOL_IPV4 = 0x0800;
const GENEVE_PROTOCOL_IPV6 = 0x86dd;

/**
 * A UDP payload on the VXLAN (RFC 7348) or GENEVE (RFC 8926) port. When the header is recognised
 * the outer layers are discarded and the inner frame decoded in their place (`tunnel` says so);
 * a datagram on those ports that does not look like the tunnel stays a plain UDP datagram. A
 * failure inside the tunnel is reported as 'tunnel-decode-failed' (a held inner fragment stays
 * 'ip-fragment-pending').
 */
export function decodeTunnel(
  ctx: DecodeContext,
  port: number,
  data: Uint8Array,
  offset: number,
  capturedEnd: number,
  wireLength: number,
  depth: number,
): void {
  const minimumLength = port === VXLAN_PORT ? VXLAN_HEADER_LENGTH : GENEVE_BASE_LENGTH;
  if (wireLength < minimumLength) return; // too short to be a tunnel at all
  if (capturedEnd - offset < minimumLength) return fail(ctx.out, 'tunnel-decode-failed');
  if (port === VXLAN_PORT) {
    if ((data[offset]! & VXLAN_FLAG_VNI_VALID) === 0) return;
    return decodeInner(ctx, 'vxlan', 'ethernet', data, offset + VXLAN_HEADER_LENGTH, capturedEnd, depth);
  }
  if (data[offset]! >> 6 !== 0) return; // GENEVE version 0 is the only one
  const kind = innerKindOfGeneve(readU16(data, offset + 2));
  if (kind === null) return;
  const headerLength = GENEVE_BASE_LENGTH + (data[offset]! & 0x3f) * 4;
  if (headerLength > wireLength || offset + headerLength > capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
  decodeInner(ctx, 'geneve', kind, data, offset + headerLength, capturedEnd, depth);
}

function innerKindOfGeneve(protocolType: number): InnerKind | null {
  switch (protocolType) {
    case GENEVE_PROTOCOL_ETHERNET:
      return 'ethernet';
    case GENEVE_PROTOCOL_IPV4:
      return 'ipv4';
    case GENEVE_PROTOCOL_IPV6:
      return 'ipv6';
    default:
      return null;
  }
}

function decodeInner(
  ctx: DecodeContext,
  tunnel: 'vxlan' | 'geneve',
  kind: InnerKind,
  data: Uint8Array,
  offset: number,
  capturedEnd: number,
  depth: number,
): void {
  const out = ctx.out;
  resetLayers(out);
  out.tunnel = tunnel;
  ctx.decodeInner(kind, data, offset, capturedEnd, depth + 1);
  if (!out.ok && out.failure !== 'ip-fragment-pending') out.failure = 'tunnel-decode-failed';
}
