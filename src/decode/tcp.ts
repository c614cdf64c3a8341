import { type DecodeContext, fail, readU16, readU32 } from './context.js';

const MIN_HEADER_LENGTH = 20;

/** TCP header at `offset`; options are skipped, the payload is bounded by the IP length. */
export function decodeTcp(ctx: DecodeContext, data: Uint8Array, offset: number, capturedEnd: number, wireLength: number): void {
  const out = ctx.out;
  out.transport = 'tcp';
  const captured = capturedEnd - offset;
  if (captured < MIN_HEADER_LENGTH) {
    return fail(out, wireLength < MIN_HEADER_LENGTH && captured === wireLength ? 'bad-tcp-header-length' : 'truncated-transport-header');
  }
  const headerLength = (data[offset + 12]! >> 4) * 4;
  if (headerLength < MIN_HEADER_LENGTH || headerLength > wireLength) return fail(out, 'bad-tcp-header-length');
  if (headerLength > captured) return fail(out, 'truncated-transport-header');
  out.srcPort = readU16(data, offset);
  out.dstPort = readU16(data, offset + 2);
  out.seq = readU32(data, offset + 4);
  out.ack = readU32(data, offset + 8);
  out.flags = data[offset + 13]!;
  out.window = readU16(data, offset + 14);
  out.tcpChecksum = readU16(data, offset + 16);
  out.payload = data.subarray(offset + headerLength, capturedEnd);
  out.payloadWireLength = wireLength - headerLength;
}
