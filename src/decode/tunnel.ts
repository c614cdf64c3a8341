import { type DecodeContext, fail, type InnerKind, readU16, resetLayers } from './context.js';
import { ETHERTYPE_ETHERNET, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethertypes.js';
import type { TunnelKind } from './types.js';

/** VXLAN's IANA port, and the one flannel and Cilium use by default (Cisco OTV too, same header). */
export const VXLAN_PORTS: readonly number[] = [4789, 8472];
export const GENEVE_PORT = 6081;
export const GTP_U_PORT = 2152;

const VXLAN_HEADER_LENGTH = 8;
const VXLAN_FLAG_VNI_VALID = 0x08;
const GENEVE_BASE_LENGTH = 8;
const GTP_HEADER_LENGTH = 8;
const GTP_OPTIONAL_LENGTH = 4;
const GTP_MESSAGE_G_PDU = 0xff;
const GTP_FLAGS_OPTIONAL = 0x07; // E, S, PN: any one adds the 4 optional bytes
const GTP_FLAG_EXTENSION = 0x04;

/** True when a UDP datagram to this port may carry a tunnel the decoder opens. */
export function isTunnelPort(dstPort: number): boolean {
  return dstPort === VXLAN_PORTS[0] || dstPort === GENEVE_PORT || dstPort === GTP_U_PORT || dstPort === VXLAN_PORTS[1];
}

/**
 * A UDP payload on a VXLAN (RFC 7348), GENEVE (RFC 8926) or GTP-U (3GPP TS 29.281) port. When the
 * header is recognised the outer layers are discarded and the inner frame decoded in their place
 * (`tunnel` says so); a datagram on those ports that does not look like the tunnel stays a plain
 * UDP datagram. A failure inside the tunnel is reported as 'tunnel-decode-failed' (a held inner
 * fragment stays 'ip-fragment-pending').
 */
export function decodeUdpTunnel(
  ctx: DecodeContext,
  port: number,
  data: Uint8Array,
  offset: number,
  capturedEnd: number,
  wireLength: number,
  depth: number,
): void {
  if (port === GTP_U_PORT) return decodeGtpU(ctx, data, offset, capturedEnd, wireLength, depth);
  const vxlan = port !== GENEVE_PORT;
  const minimumLength = vxlan ? VXLAN_HEADER_LENGTH : GENEVE_BASE_LENGTH;
  if (wireLength < minimumLength) return; // too short to be a tunnel at all
  if (capturedEnd - offset < minimumLength) return fail(ctx.out, 'tunnel-decode-failed');
  if (vxlan) {
    if ((data[offset]! & VXLAN_FLAG_VNI_VALID) === 0) return;
    return enterTunnel(ctx, 'vxlan', 'ethernet', data, offset + VXLAN_HEADER_LENGTH, capturedEnd, depth);
  }
  if (data[offset]! >> 6 !== 0) return; // GENEVE version 0 is the only one
  const kind = innerKindOfProtocolType(readU16(data, offset + 2));
  if (kind === null) return;
  const headerLength = GENEVE_BASE_LENGTH + (data[offset]! & 0x3f) * 4;
  if (headerLength > wireLength || offset + headerLength > capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
  enterTunnel(ctx, 'geneve', kind, data, offset + headerLength, capturedEnd, depth);
}

/** The EtherType-valued protocol fields of GENEVE and GRE that carry something decodable. */
export function innerKindOfProtocolType(protocolType: number): InnerKind | null {
  switch (protocolType) {
    case ETHERTYPE_ETHERNET:
      return 'ethernet';
    case ETHERTYPE_IPV4:
      return 'ipv4';
    case ETHERTYPE_IPV6:
      return 'ipv6';
    default:
      return null;
  }
}

/**
 * GTP-U, version 1: only G-PDUs (message type 255) carry user packets; echo, error indication and
 * end marker messages stay plain UDP. The optional fields and the extension header chain (PDU
 * session container of 5G, among others) are stepped over; the user packet is IPv4 or IPv6.
 */
function decodeGtpU(ctx: DecodeContext, data: Uint8Array, offset: number, capturedEnd: number, wireLength: number, depth: number): void {
  if (wireLength < GTP_HEADER_LENGTH || capturedEnd - offset < 2) return;
  const flags = data[offset]!;
  if (flags >> 5 !== 1 || (flags & 0x10) === 0 || data[offset + 1] !== GTP_MESSAGE_G_PDU) return;
  if (capturedEnd - offset < GTP_HEADER_LENGTH) return fail(ctx.out, 'tunnel-decode-failed');
  let position = offset + GTP_HEADER_LENGTH;
  if ((flags & GTP_FLAGS_OPTIONAL) !== 0) {
    position += GTP_OPTIONAL_LENGTH;
    if (position > capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
    let nextExtension = (flags & GTP_FLAG_EXTENSION) !== 0 ? data[position - 1]! : 0;
    while (nextExtension !== 0) {
      if (position >= capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
      const length = data[position]! * 4;
      if (length === 0 || position + length > capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
      nextExtension = data[position + length - 1]!;
      position += length;
    }
  }
  enterTunnel(ctx, 'gtp-u', 'ip', data, position, capturedEnd, depth);
}

/**
 * Leave the outer layers behind and decode what a tunnel carries as if it were a packet of its
 * own (`truncated` survives: the snaplen cut the outer packet, so the inner one too).
 */
export function enterTunnel(
  ctx: DecodeContext,
  tunnel: TunnelKind,
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
