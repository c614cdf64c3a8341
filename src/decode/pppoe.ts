import { type DecodeContext, fail, readU16 } from './context.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';

const PPPOE_HEADER_LENGTH = 6;
const PPP_PROTOCOL_LENGTH = 2;
const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;

/** A PPPoE session frame (RFC 2516): the PPP protocol field says IPv4, IPv6 or something else. */
export function decodePppoeSession(ctx: DecodeContext, data: Uint8Array, offset: number, end: number, depth: number): void {
  if (end - offset < PPPOE_HEADER_LENGTH + PPP_PROTOCOL_LENGTH) return fail(ctx.out, 'truncated-link-header');
  const start = offset + PPPOE_HEADER_LENGTH + PPP_PROTOCOL_LENGTH;
  switch (readU16(data, offset + PPPOE_HEADER_LENGTH)) {
    case PPP_IPV4:
      return decodeIPv4(ctx, data, start, end, depth);
    case PPP_IPV6:
      return decodeIPv6(ctx, data, start, end, depth);
    default:
      ctx.out.network = 'other';
  }
}
