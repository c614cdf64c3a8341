import type { CapturedPacket } from '../capture/types.js';
import type { Counters } from '../util/counters.js';
import { AddressFormatter } from './address.js';
import { type DecodeContext, type InnerKind, newDecodedPacket, resetLayers } from './context.js';
import { decodeEthernet } from './ethernet.js';
import { FragmentReassembler } from './fragments.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { decodeLink, decodeRawIP } from './link.js';
import { decodeMpls } from './mpls.js';
import type { DecodedPacket } from './types.js';

export interface PacketDecoderOptions {
  counters: Counters;
  /** Pending IP fragments older than this (packet time) are dropped. Default 30 s. */
  fragmentTimeoutUs?: number;
  /** Bytes of IP fragments held at most across all pending datagrams. Default 16 MiB. */
  maxFragmentBytes?: number;
}

export const DEFAULT_FRAGMENT_TIMEOUT_US = 30_000_000;
export const DEFAULT_MAX_FRAGMENT_BYTES = 16 * 1024 * 1024;

/**
 * Link → IP → TCP/UDP decoding, gopacket DecodingLayer style: one DecodedPacket is owned by the
 * decoder and overwritten by every call, so each call invalidates what the previous one returned
 * (copy what you keep). `payload` is a view into the packet data, or into a reassembled datagram.
 *
 * Failures never throw: the result has ok=false and the reason, counted as `decode.<reason>`;
 * a fragment held for reassembly is ok=false with 'ip-fragment-pending', counted as
 * `decode.fragments-held` (callers must not count it as malformed). Packets whose payload the
 * snaplen cut are ok with truncated=true, counted as `decode.truncated`.
 */
export class PacketDecoder {
  private readonly counters: Counters;
  private readonly fragments: FragmentReassembler;
  private readonly ctx: DecodeContext;

  constructor(options: PacketDecoderOptions) {
    this.counters = options.counters;
    this.fragments = new FragmentReassembler({
      counters: options.counters,
      timeoutUs: options.fragmentTimeoutUs ?? DEFAULT_FRAGMENT_TIMEOUT_US,
      maxBytes: options.maxFragmentBytes ?? DEFAULT_MAX_FRAGMENT_BYTES,
    });
    this.ctx = {
      out: newDecodedPacket(),
      addresses: new AddressFormatter(),
      fragments: this.fragments,
      ts: 0,
      decodeInner: decodeInnerFrame,
    };
  }

  decode(packet: CapturedPacket): DecodedPacket {
    const ctx = this.ctx;
    const out = ctx.out;
    resetLayers(out);
    out.truncated = false;
    out.tunnel = null;
    ctx.ts = packet.ts;
    this.fragments.expire(packet.ts);
    decodeLink(ctx, packet.linkType, packet.data);
    if (out.ok) {
      if (out.network !== 'ipv4' && out.network !== 'ipv6' && packet.origLen > packet.data.length) out.truncated = true;
      if (out.truncated) this.counters.add('decode.truncated');
    } else if (out.failure === 'ip-fragment-pending') {
      this.counters.add('decode.fragments-held');
    } else {
      this.counters.add(`decode.${out.failure}`);
    }
    return out;
  }

  /** Datagrams waiting for more fragments. */
  get pendingFragments(): number {
    return this.fragments.pendingDatagrams;
  }

  /** End of input: count every datagram still waiting for fragments as expired and drop it. */
  flush(): void {
    this.fragments.flush();
  }
}

function decodeInnerFrame(this: DecodeContext, kind: InnerKind, data: Uint8Array, offset: number, end: number, depth: number): void {
  switch (kind) {
    case 'ethernet':
      return decodeEthernet(this, data, offset, end, depth);
    case 'ipv4':
      return decodeIPv4(this, data, offset, end, depth);
    case 'ipv6':
      return decodeIPv6(this, data, offset, end, depth);
    case 'ip':
      return decodeRawIP(this, data, offset, end, depth);
    case 'mpls':
      return decodeMpls(this, data, offset, end, depth);
  }
}
