import { type DecodeContext, fail, readU16 } from './context.js';
import { FragmentStatus } from './fragments.js';
import { decodeTransport } from './transport.js';

const MIN_HEADER_LENGTH = 20;
const FLAG_MORE_FRAGMENTS = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

/**
 * IPv4 header at `offset`, options skipped. The total length bounds everything after the header,
 * which trims Ethernet padding; a total length of 0 is what TSO captures show before the NIC fills
 * it in, so the captured bytes are taken at their word there.
 */
export function decodeIPv4(ctx: DecodeContext, data: Uint8Array, offset: number, end: number, depth: number): void {
  const out = ctx.out;
  out.network = 'ipv4';
  if (end - offset < 1) return fail(out, 'truncated-ip-header');
  if (data[offset]! >> 4 !== 4) return fail(out, 'bad-ip-version');
  if (end - offset < MIN_HEADER_LENGTH) return fail(out, 'truncated-ip-header');
  const headerLength = (data[offset]! & 0x0f) * 4;
  if (headerLength < MIN_HEADER_LENGTH) return fail(out, 'bad-ip-header-length');
  let totalLength = readU16(data, offset + 2);
  if (totalLength !== 0 && totalLength < headerLength) return fail(out, 'bad-ip-header-length');
  if (end - offset < headerLength) return fail(out, 'truncated-ip-header');
  if (totalLength === 0) totalLength = end - offset;

  out.src = ctx.addresses.ipv4(data, offset + 12);
  out.dst = ctx.addresses.ipv4(data, offset + 16);
  out.ipId = readU16(data, offset + 4);
  const protocol = data[offset + 9]!;
  const payloadStart = offset + headerLength;
  const wireEnd = offset + totalLength;
  const capturedEnd = Math.min(end, wireEnd);
  if (capturedEnd < wireEnd) out.truncated = true;

  const flagsAndOffset = readU16(data, offset + 6);
  const more = (flagsAndOffset & FLAG_MORE_FRAGMENTS) !== 0;
  const fragmentOffset = (flagsAndOffset & FRAGMENT_OFFSET_MASK) * 8;
  if (!more && fragmentOffset === 0) {
    return decodeTransport(ctx, protocol, data, payloadStart, capturedEnd, wireEnd - payloadStart, depth);
  }

  const key = `4 ${out.src} ${out.dst} ${readU16(data, offset + 4)} ${protocol}`;
  const fragment = data.subarray(payloadStart, capturedEnd);
  const status = ctx.fragments.add(key, ctx.ts, fragmentOffset, more, fragment, wireEnd - payloadStart, protocol);
  if (status === FragmentStatus.Held) return fail(out, 'ip-fragment-pending');
  if (status === FragmentStatus.Failed) return fail(out, 'fragment-reassembly-failed');
  const datagram = ctx.fragments.datagram;
  out.truncated = false; // every fragment of a reassembled datagram was captured whole
  decodeTransport(ctx, protocol, datagram, 0, datagram.length, datagram.length, depth);
}
