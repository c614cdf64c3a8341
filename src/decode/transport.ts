import { type DecodeContext, MAX_TUNNEL_DEPTH } from './context.js';
import { decodeGre } from './gre.js';
import { decodeTcp } from './tcp.js';
import { enterTunnel } from './tunnel.js';
import { decodeUdp } from './udp.js';

const PROTOCOL_ICMP = 1;
const PROTOCOL_IPV4 = 4;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
const PROTOCOL_IPV6 = 41;
const PROTOCOL_GRE = 47;
const PROTOCOL_ICMPV6 = 58;

/**
 * The IP payload: bytes [offset, capturedEnd) were captured of the `wireLength` the IP header
 * announces (capturedEnd - offset <= wireLength, always). IP in IP (Calico's IPIP mode, 6in4,
 * 4in6) and GRE are opened and their inner packet decoded in place of the outer one.
 */
export function decodeTransport(
  ctx: DecodeContext,
  protocol: number,
  data: Uint8Array,
  offset: number,
  capturedEnd: number,
  wireLength: number,
  depth: number,
): void {
  switch (protocol) {
    case PROTOCOL_TCP:
      return decodeTcp(ctx, data, offset, capturedEnd, wireLength);
    case PROTOCOL_UDP:
      return decodeUdp(ctx, data, offset, capturedEnd, wireLength, depth);
  }
  const out = ctx.out;
  out.transport = protocol === PROTOCOL_ICMP ? 'icmp' : protocol === PROTOCOL_ICMPV6 ? 'icmpv6' : 'other';
  out.payload = data.subarray(offset, capturedEnd);
  out.payloadWireLength = wireLength;
  if (depth >= MAX_TUNNEL_DEPTH) return;
  if (protocol === PROTOCOL_IPV4) return enterTunnel(ctx, 'ip-in-ip', 'ipv4', data, offset, capturedEnd, depth);
  if (protocol === PROTOCOL_IPV6) return enterTunnel(ctx, 'ip-in-ip', 'ipv6', data, offset, capturedEnd, depth);
  if (protocol === PROTOCOL_GRE) return decodeGre(ctx, data, offset, capturedEnd, wireLength, depth);
}
