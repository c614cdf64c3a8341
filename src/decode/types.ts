/** Why a packet could not be decoded; counted per reason, the packet is skipped. */
export type DecodeFailure =
  | 'unsupported-link-type'
  | 'truncated-link-header'
  | 'truncated-ip-header'
  | 'bad-ip-version'
  | 'bad-ip-header-length'
  | 'truncated-transport-header'
  | 'bad-tcp-header-length'
  | 'ip-fragment-pending' // not a failure: a fragment held for reassembly
  | 'fragment-reassembly-failed'
  | 'tunnel-decode-failed';

/** Tunnels whose outer headers the decoder takes off (MPLS labels and PPPoE are framing, like VLAN tags). */
export type TunnelKind = 'vxlan' | 'geneve' | 'gtp-u' | 'gre' | 'erspan' | 'ip-in-ip';

export type NetworkProtocol = 'ipv4' | 'ipv6' | 'arp' | 'other';
export type TransportProtocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'other';

/** TCP flag bits as in the header. */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;

/**
 * The result of decoding one packet. The decoder owns one instance and overwrites it on every
 * call (gopacket's DecodingLayer habit): copy what you keep. `payload` is a view into the packet
 * data (or into a reassembled-fragment buffer owned by the decoder until the next call).
 */
export interface DecodedPacket {
  ok: boolean;
  /** Set when ok is false. */
  failure: DecodeFailure | null;
  /** The capture's snaplen cut the packet: headers may be complete but payload is short. */
  truncated: boolean;
  network: NetworkProtocol;
  transport: TransportProtocol | null;
  /** IP addresses in canonical text form (IPv6 compressed as RFC 5952). */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** VLAN ids from outer to inner (802.1Q / 802.1ad); empty when untagged. */
  vlans: number[];
  /** The innermost tunnel the packet was taken out of (its outer headers discarded), or null. */
  tunnel: TunnelKind | null;
  /** TCP fields (valid when transport === 'tcp'). seq/ack are unsigned 32-bit. */
  seq: number;
  ack: number;
  flags: number;
  window: number;
  /** IPv4 identification of the (innermost) IP header; -1 for IPv6. */
  ipId: number;
  /** The TCP checksum field as captured (not verified). */
  tcpChecksum: number;
  /** Payload bytes of the transport layer actually captured. */
  payload: Uint8Array;
  /** Payload length announced by the IP/TCP headers (> payload.length when truncated). */
  payloadWireLength: number;
}
