import { type DecodeContext, fail, readU16 } from './context.js';
import { decodeEtherType } from './ethernet.js';

const SLL_HEADER_LENGTH = 16;
const SLL2_HEADER_LENGTH = 20;

/**
 * Linux cooked capture v1 (DLT 113): packet type, ARPHRD type, address length, 8 address bytes,
 * protocol (an EtherType for the IP traffic we care about; the few non-EtherType values such as
 * 0x0004 for 802.2 LLC fall through to network 'other').
 */
export function decodeSll(ctx: DecodeContext, data: Uint8Array, end: number): void {
  if (end < SLL_HEADER_LENGTH) return fail(ctx.out, 'truncated-link-header');
  decodeEtherType(ctx, readU16(data, 14), data, SLL_HEADER_LENGTH, end, 0);
}

/** Linux cooked capture v2 (DLT 276): protocol first, then interface index, ARPHRD, type, address. */
export function decodeSll2(ctx: DecodeContext, data: Uint8Array, end: number): void {
  if (end < SLL2_HEADER_LENGTH) return fail(ctx.out, 'truncated-link-header');
  decodeEtherType(ctx, readU16(data, 0), data, SLL2_HEADER_LENGTH, end, 0);
}
