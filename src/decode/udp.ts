import { type DecodeContext, fail, MAX_TUNNEL_DEPTH, readU16 } from './context.js';
import { decodeUdpTunnel, isTunnelPort } from './tunnel.js';

const HEADER_LENGTH = 8;

/**
 * UDP header at `offset`. The UDP length wins over the IP length when it is shorter (and sane);
 * datagrams to the VXLAN, GENEVE and GTP-U ports are opened and their inner packet decoded instead.
 */
export function decodeUdp(
  ctx: DecodeContext,
  data: Uint8Array,
  offset: number,
  capturedEnd: number,
  wireLength: number,
  depth: number,
): void {
  const out = ctx.out;
  out.transport = 'udp';
  if (capturedEnd - offset < HEADER_LENGTH) return fail(out, 'truncated-transport-header');
  const udpLength = readU16(data, offset + 4);
  const datagramLength = udpLength >= HEADER_LENGTH && udpLength <= wireLength ? udpLength : wireLength;
  const payloadStart = offset + HEADER_LENGTH;
  const payloadEnd = Math.min(capturedEnd, offset + datagramLength);
  out.srcPort = readU16(data, offset);
  out.dstPort = readU16(data, offset + 2);
  out.payload = data.subarray(payloadStart, payloadEnd);
  out.payloadWireLength = datagramLength - HEADER_LENGTH;
  if (isTunnelPort(out.dstPort) && depth < MAX_TUNNEL_DEPTH) {
    decodeUdpTunnel(ctx, out.dstPort, data, payloadStart, payloadEnd, out.payloadWireLength, depth);
  }
}
