import type { AddressFormatter } from './address.js';
import type { FragmentReassembler } from './fragments.js';
import type { DecodeFailure, DecodedPacket } from './types.js';

/** What a tunnel header says follows it ('ip': IPv4 or IPv6, the version nibble says which). */
export type InnerKind = 'ethernet' | 'ipv4' | 'ipv6' | 'ip' | 'mpls';

/**
 * Per-decoder state shared by the layer functions. One instance per PacketDecoder, reused for
 * every packet; the layer files stay free functions so each can be read (and tested) on its own.
 */
export interface DecodeContext {
  readonly out: DecodedPacket;
  readonly addresses: AddressFormatter;
  readonly fragments: FragmentReassembler;
  /** Capture time of the packet being decoded (µs). */
  ts: number;
  /**
   * Decode the frame a tunnel carries, as if it were a packet of its own. Provided by the decoder
   * so that the transport layer does not import the link layer (which imports it).
   */
  decodeInner(kind: InnerKind, data: Uint8Array, offset: number, end: number, depth: number): void;
}

export const EMPTY_PAYLOAD = new Uint8Array(0);

/** Tunnels inside tunnels are followed this deep, no deeper. */
export const MAX_TUNNEL_DEPTH = 4;

export function fail(out: DecodedPacket, failure: DecodeFailure): void {
  out.ok = false;
  out.failure = failure;
}

export function readU16(data: Uint8Array, offset: number): number {
  return (data[offset]! << 8) | data[offset + 1]!;
}

export function readU32(data: Uint8Array, offset: number): number {
  return ((data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!) >>> 0;
}

export function newDecodedPacket(): DecodedPacket {
  return {
    ok: true,
    failure: null,
    truncated: false,
    network: 'other',
    transport: null,
    src: '',
    dst: '',
    srcPort: 0,
    dstPort: 0,
    vlans: [],
    tunnel: null,
    seq: 0,
    ack: 0,
    flags: 0,
    window: 0,
    ipId: -1,
    tcpChecksum: 0,
    payload: EMPTY_PAYLOAD,
    payloadWireLength: 0,
  };
}

/** Clear the layers a (possibly inner) frame will fill in; `tunnel` and `truncated` survive. */
export function resetLayers(out: DecodedPacket): void {
  out.ok = true;
  out.failure = null;
  out.network = 'other';
  out.transport = null;
  out.src = '';
  out.dst = '';
  out.srcPort = 0;
  out.dstPort = 0;
  if (out.vlans.length !== 0) out.vlans.length = 0;
  out.seq = 0;
  out.ack = 0;
  out.flags = 0;
  out.window = 0;
  out.ipId = -1;
  out.tcpChecksum = 0;
  out.payload = EMPTY_PAYLOAD;
  out.payloadWireLength = 0;
}
