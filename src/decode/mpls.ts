import { type DecodeContext, fail, MAX_TUNNEL_DEPTH } from './context.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';

const LABEL_LENGTH = 4;
const BOTTOM_OF_STACK = 0x01;
const CONTROL_WORD_LENGTH = 4;

/**
 * An MPLS label stack (RFC 3032), popped to its bottom label. What follows has no type field: like
 * Wireshark, the first nibble decides: 4 is IPv4, 6 is IPv6, 0 is a pseudowire control word
 * (RFC 4385) and the Ethernet frame of an L2VPN behind it. Anything else stays network 'other'.
 */
export function decodeMpls(ctx: DecodeContext, data: Uint8Array, offset: number, end: number, depth: number): void {
  for (;;) {
    if (end - offset < LABEL_LENGTH) return fail(ctx.out, 'truncated-link-header');
    const bottom = (data[offset + 2]! & BOTTOM_OF_STACK) !== 0;
    offset += LABEL_LENGTH;
    if (bottom) break;
  }
  if (end - offset < 1) return fail(ctx.out, 'truncated-link-header');
  switch (data[offset]! >> 4) {
    case 4:
      return decodeIPv4(ctx, data, offset, end, depth);
    case 6:
      return decodeIPv6(ctx, data, offset, end, depth);
    case 0:
      if (depth >= MAX_TUNNEL_DEPTH) break;
      if (end - offset < CONTROL_WORD_LENGTH) return fail(ctx.out, 'truncated-link-header');
      return ctx.decodeInner('ethernet', data, offset + CONTROL_WORD_LENGTH, end, depth + 1);
  }
  ctx.out.network = 'other';
}
