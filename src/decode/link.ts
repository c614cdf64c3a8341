import { type DecodeContext, fail } from './context.js';
import { decodeEthernet } from './ethernet.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { decodeLoopback } from './loopback.js';
import { decodeSll, decodeSll2 } from './sll.js';

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
/** DLT_RAW as OpenBSD (14) and some Linux/BSD libpcaps (12) number it. */
export const LINKTYPE_RAW_12 = 12;
export const LINKTYPE_RAW_14 = 14;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** Link types the decoder understands. */
export const SUPPORTED_LINK_TYPES: readonly number[] = [
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW_12,
  LINKTYPE_RAW_14,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
];

export function decodeLink(ctx: DecodeContext, linkType: number, data: Uint8Array): void {
  const end = data.length;
  switch (linkType) {
    case LINKTYPE_ETHERNET:
      return decodeEthernet(ctx, data, 0, end, 0);
    case LINKTYPE_LINUX_SLL2:
      return decodeSll2(ctx, data, end);
    case LINKTYPE_LINUX_SLL:
      return decodeSll(ctx, data, end);
    case LINKTYPE_RAW:
    case LINKTYPE_RAW_12:
    case LINKTYPE_RAW_14:
      return decodeRawIP(ctx, data, 0, end, 0);
    case LINKTYPE_IPV4:
      return decodeIPv4(ctx, data, 0, end, 0);
    case LINKTYPE_IPV6:
      return decodeIPv6(ctx, data, 0, end, 0);
    case LINKTYPE_NULL:
      return decodeLoopback(ctx, data, end, false);
    case LINKTYPE_LOOP:
      return decodeLoopback(ctx, data, end, true);
    default:
      return fail(ctx.out, 'unsupported-link-type');
  }
}

/** An IP packet with no link header: the version nibble says which. */
export function decodeRawIP(ctx: DecodeContext, data: Uint8Array, offset: number, end: number, depth: number): void {
  if (end - offset < 1) return fail(ctx.out, 'truncated-ip-header');
  const version = data[offset]! >> 4;
  if (version === 4) return decodeIPv4(ctx, data, offset, end, depth);
  if (version === 6) return decodeIPv6(ctx, data, offset, end, depth);
  fail(ctx.out, 'bad-ip-version');
}
