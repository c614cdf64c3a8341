import { type DecodeContext, fail, type InnerKind, readU16 } from './context.js';
import { ETHERTYPE_ERSPAN_I_II, ETHERTYPE_ERSPAN_III, ETHERTYPE_MPLS_MULTICAST, ETHERTYPE_MPLS_UNICAST } from './ethertypes.js';
import { enterTunnel, innerKindOfProtocolType } from './tunnel.js';

const BASE_LENGTH = 4;
const FLAG_CHECKSUM = 0x80;
const FLAG_ROUTING = 0x40;
const FLAG_KEY = 0x20;
const FLAG_SEQUENCE = 0x10;
const ERSPAN_II_LENGTH = 8;
const ERSPAN_III_LENGTH = 12;
const ERSPAN_III_PLATFORM_LENGTH = 8;
const ERSPAN_III_FRAME_ETHERNET = 0;
const ERSPAN_III_FRAME_IP = 2;

/**
 * GRE version 0 (RFC 2784, with RFC 2890's key and sequence number) carrying IPv4, IPv6, Ethernet
 * (transparent bridging), MPLS, or a port mirror: ERSPAN type I, II or III, the way switches and
 * hypervisors send a SPAN session to a remote collector. PPTP's enhanced GRE (version 1) and
 * RFC 1701 source routes are left as an undecoded IP payload, as is any other protocol type.
 */
export function decodeGre(ctx: DecodeContext, data: Uint8Array, offset: number, capturedEnd: number, wireLength: number, depth: number): void {
  if (wireLength < BASE_LENGTH) return;
  if (capturedEnd - offset < BASE_LENGTH) return fail(ctx.out, 'tunnel-decode-failed');
  const flags = data[offset]!;
  if ((data[offset + 1]! & 0x07) !== 0 || (flags & FLAG_ROUTING) !== 0) return;
  const protocolType = readU16(data, offset + 2);
  let length = BASE_LENGTH;
  if ((flags & FLAG_CHECKSUM) !== 0) length += 4;
  if ((flags & FLAG_KEY) !== 0) length += 4;
  const sequenced = (flags & FLAG_SEQUENCE) !== 0;
  if (sequenced) length += 4;

  let kind: InnerKind | null = innerKindOfProtocolType(protocolType);
  let tunnel: 'gre' | 'erspan' = 'gre';
  if (protocolType === ETHERTYPE_MPLS_UNICAST || protocolType === ETHERTYPE_MPLS_MULTICAST) kind = 'mpls';
  else if (protocolType === ETHERTYPE_ERSPAN_I_II || protocolType === ETHERTYPE_ERSPAN_III) {
    tunnel = 'erspan';
    kind = 'ethernet';
    // Type I has no header of its own and no sequence number; type II has both.
    if (protocolType === ETHERTYPE_ERSPAN_I_II && sequenced) length += ERSPAN_II_LENGTH;
    if (protocolType === ETHERTYPE_ERSPAN_III) {
      if (offset + length + ERSPAN_III_LENGTH > capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
      const last = offset + length + ERSPAN_III_LENGTH - 1;
      const frameType = (data[last - 1]! >> 2) & 0x1f;
      if (frameType !== ERSPAN_III_FRAME_ETHERNET && frameType !== ERSPAN_III_FRAME_IP) return;
      if (frameType === ERSPAN_III_FRAME_IP) kind = 'ip';
      length += ERSPAN_III_LENGTH + ((data[last]! & 1) !== 0 ? ERSPAN_III_PLATFORM_LENGTH : 0);
    }
  }
  if (kind === null || length > wireLength) return;
  if (offset + length > capturedEnd) return fail(ctx.out, 'tunnel-decode-failed');
  enterTunnel(ctx, tunnel, kind, data, offset + length, capturedEnd, depth);
}
