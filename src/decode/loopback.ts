import { type DecodeContext, fail } from './context.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';

const AF_INET = 2;
/** AF_INET6 differs per BSD: NetBSD/OpenBSD 24, FreeBSD 28, Darwin 30. */
const AF_INET6_VALUES = [24, 28, 30];

const FAMILY_HEADER_LENGTH = 4;

/**
 * BSD loopback. DLT_NULL (0) stores the address family in the byte order of the machine that
 * captured, which the file does not say: the family is small, so whichever reading fits in 16 bits
 * is the right one. DLT_LOOP (108) is always big-endian.
 */
export function decodeLoopback(ctx: DecodeContext, data: Uint8Array, end: number, bigEndianOnly: boolean): void {
  if (end < FAMILY_HEADER_LENGTH) return fail(ctx.out, 'truncated-link-header');
  const bigEndian = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
  const littleEndian = ((data[3]! << 24) | (data[2]! << 16) | (data[1]! << 8) | data[0]!) >>> 0;
  const family = bigEndianOnly || bigEndian <= 0xffff ? bigEndian : littleEndian;
  if (family === AF_INET) return decodeIPv4(ctx, data, FAMILY_HEADER_LENGTH, end, 0);
  if (AF_INET6_VALUES.includes(family)) return decodeIPv6(ctx, data, FAMILY_HEADER_LENGTH, end, 0);
  ctx.out.network = 'other';
}
