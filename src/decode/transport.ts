import type { DecodeContext } from './context.js';
import { decodeTcp } from './tcp.js';
import { decodeUdp } from './udp.js';

const PROTOCOL_ICMP = 1;
const PROTOCOL_TCP = 6;
const PROTOCOL_UDP = 17;
const PROTOCOL_ICMPV6 = 58;

/**
 * The IP payload: bytes [offset, capturedEnd) were captured of the `wireLength` the IP header
 * announces (capturedEnd - offset <= wireLength, always).
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
    default: {
      const out = ctx.out;
      out.transport = protocol === PROTOCOL_ICMP ? 'icmp' : protocol === PROTOCOL_ICMPV6 ? 'icmpv6' : 'other';
      out.payload = data.subarray(offset, capturedEnd);
      out.payloadWireLength = wireLength;
    }
  }
}
