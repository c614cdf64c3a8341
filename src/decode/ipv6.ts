import { type DecodeContext, fail, readU16, readU32 } from './context.js';
import { FragmentStatus } from './fragments.js';
import { decodeTransport } from './transport.js';

const HEADER_LENGTH = 40;
const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const ESP = 50;
const AUTHENTICATION = 51;
const NO_NEXT_HEADER = 59;
const DESTINATION_OPTIONS = 60;
const FRAGMENT_HEADER_LENGTH = 8;

/**
 * IPv6 fixed header, then the extension header chain. A payload length of 0 (jumbogram or TSO)
 * means "as captured". Fragments are reassembled (keyed by src, dst, id: RFC 8200 leaves the next
 * header out of the key and takes it from the offset-0 fragment); the walk continues inside the
 * reassembled datagram, which may start with more extension headers.
 */
export function decodeIPv6(ctx: DecodeContext, data: Uint8Array, offset: number, end: number, depth: number): void {
  const out = ctx.out;
  out.network = 'ipv6';
  if (end - offset < 1) return fail(out, 'truncated-ip-header');
  if (data[offset]! >> 4 !== 6) return fail(out, 'bad-ip-version');
  if (end - offset < HEADER_LENGTH) return fail(out, 'truncated-ip-header');
  let payloadLength = readU16(data, offset + 4);
  if (payloadLength === 0) payloadLength = end - offset - HEADER_LENGTH;

  out.src = ctx.addresses.ipv6(data, offset + 8);
  out.dst = ctx.addresses.ipv6(data, offset + 24);
  const payloadStart = offset + HEADER_LENGTH;
  const wireEnd = payloadStart + payloadLength;
  const capturedEnd = Math.min(end, wireEnd);
  if (capturedEnd < wireEnd) out.truncated = true;
  walkExtensionHeaders(ctx, data[offset + 6]!, data, payloadStart, capturedEnd, wireEnd, depth, true);
}

function walkExtensionHeaders(
  ctx: DecodeContext,
  nextHeader: number,
  data: Uint8Array,
  position: number,
  capturedEnd: number,
  wireEnd: number,
  depth: number,
  fragmentsAllowed: boolean,
): void {
  const out = ctx.out;
  for (;;) {
    let headerLength: number;
    switch (nextHeader) {
      case HOP_BY_HOP:
      case ROUTING:
      case DESTINATION_OPTIONS:
      case AUTHENTICATION:
        if (position + 2 > wireEnd) return fail(out, 'bad-ip-header-length');
        if (position + 2 > capturedEnd) return fail(out, 'truncated-ip-header');
        headerLength = nextHeader === AUTHENTICATION ? (data[position + 1]! + 2) * 4 : (data[position + 1]! + 1) * 8;
        break;
      case FRAGMENT:
        headerLength = FRAGMENT_HEADER_LENGTH;
        break;
      case ESP:
        out.transport = 'other';
        out.payload = data.subarray(position, capturedEnd);
        out.payloadWireLength = wireEnd - position;
        return;
      case NO_NEXT_HEADER:
        return;
      default:
        return decodeTransport(ctx, nextHeader, data, position, capturedEnd, wireEnd - position, depth);
    }
    if (position + headerLength > wireEnd) return fail(out, 'bad-ip-header-length');
    if (position + headerLength > capturedEnd) return fail(out, 'truncated-ip-header');
    const following = data[position]!;
    if (nextHeader !== FRAGMENT) {
      nextHeader = following;
      position += headerLength;
      continue;
    }

    const fragmentOffset = readU16(data, position + 2) & 0xfff8;
    const more = (data[position + 3]! & 1) !== 0;
    const id = readU32(data, position + 4);
    position += FRAGMENT_HEADER_LENGTH;
    if (fragmentOffset === 0 && !more) {
      nextHeader = following; // an atomic fragment (RFC 6946): nothing to reassemble
      continue;
    }
    if (!fragmentsAllowed) return fail(out, 'fragment-reassembly-failed');
    const key = `6 ${out.src} ${out.dst} ${id}`;
    const fragment = data.subarray(position, capturedEnd);
    const status = ctx.fragments.add(key, ctx.ts, fragmentOffset, more, fragment, wireEnd - position, following);
    if (status === FragmentStatus.Held) return fail(out, 'ip-fragment-pending');
    if (status === FragmentStatus.Failed) return fail(out, 'fragment-reassembly-failed');
    const datagram = ctx.fragments.datagram;
    out.truncated = false; // every fragment of a reassembled datagram was captured whole
    return walkExtensionHeaders(ctx, ctx.fragments.protocol, datagram, 0, datagram.length, datagram.length, depth, false);
  }
}
