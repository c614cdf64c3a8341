import { type DecodeContext, fail, readU16 } from './context.js';
import {
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_MPLS_MULTICAST,
  ETHERTYPE_MPLS_UNICAST,
  ETHERTYPE_PPPOE_SESSION,
  ETHERTYPE_QINQ,
  ETHERTYPE_QINQ_LEGACY,
  ETHERTYPE_VLAN,
} from './ethertypes.js';
import { decodeIPv4 } from './ipv4.js';
import { decodeIPv6 } from './ipv6.js';
import { decodeMpls } from './mpls.js';
import { decodePppoeSession } from './pppoe.js';

const ETHERNET_HEADER_LENGTH = 14;
const VLAN_TAG_LENGTH = 4;

/** Ethernet II (DLT 1): destination, source, EtherType; then any stack of VLAN tags. */
export function decodeEthernet(ctx: DecodeContext, data: Uint8Array, offset: number, end: number, depth: number): void {
  if (end - offset < ETHERNET_HEADER_LENGTH) return fail(ctx.out, 'truncated-link-header');
  decodeEtherType(ctx, readU16(data, offset + 12), data, offset + ETHERNET_HEADER_LENGTH, end, depth);
}

/**
 * Everything after an EtherType field (Ethernet, SLL, SLL2): VLAN tags outer to inner, then the
 * network layer (possibly behind MPLS labels or a PPPoE session header). VLAN id 0 (a priority
 * tag) is recorded like any other id. An EtherType <= 1500 is an 802.3 length (LLC follows):
 * reported as network 'other'.
 */
export function decodeEtherType(
  ctx: DecodeContext,
  etherType: number,
  data: Uint8Array,
  offset: number,
  end: number,
  depth: number,
): void {
  while (etherType === ETHERTYPE_VLAN || etherType === ETHERTYPE_QINQ || etherType === ETHERTYPE_QINQ_LEGACY) {
    if (end - offset < VLAN_TAG_LENGTH) return fail(ctx.out, 'truncated-link-header');
    ctx.out.vlans.push(readU16(data, offset) & 0x0fff);
    etherType = readU16(data, offset + 2);
    offset += VLAN_TAG_LENGTH;
  }
  switch (etherType) {
    case ETHERTYPE_IPV4:
      return decodeIPv4(ctx, data, offset, end, depth);
    case ETHERTYPE_IPV6:
      return decodeIPv6(ctx, data, offset, end, depth);
    case ETHERTYPE_MPLS_UNICAST:
    case ETHERTYPE_MPLS_MULTICAST:
      return decodeMpls(ctx, data, offset, end, depth);
    case ETHERTYPE_PPPOE_SESSION:
      return decodePppoeSession(ctx, data, offset, end, depth);
    case ETHERTYPE_ARP:
      ctx.out.network = 'arp';
      return;
    default:
      ctx.out.network = 'other';
  }
}
