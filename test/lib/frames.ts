/**
 * Frame builders for tests: every layer the decoder reads, byte-exact, with addresses as text.
 * Each builder returns a fresh Uint8Array; compose them inside out:
 *   ethernet({ type: 0x0800, payload: ipv4({ src, dst, proto: 6, payload: tcp({...}) }) })
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_ARP = 0x0806;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_LINUX_SLL2 = 276;

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function u16(value: number): number[] {
  return [(value >>> 8) & 0xff, value & 0xff];
}

function u32(value: number): number[] {
  return [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff];
}

export function parseIPv4(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`bad IPv4 address ${text}`);
  return Uint8Array.from(parts);
}

export function parseIPv6(text: string): Uint8Array {
  const out = new Uint8Array(16);
  let body = text;
  const groups: number[] = [];
  const lastColon = body.lastIndexOf(':');
  const tail = body.slice(lastColon + 1);
  let tailV4: Uint8Array | null = null;
  if (tail.includes('.')) {
    tailV4 = parseIPv4(tail);
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const halves = body.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address ${text}`);
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) throw new Error(`bad IPv6 address ${text}`);
  groups.push(...head, ...new Array<number>(fill).fill(0), ...rest);
  groups.forEach((g, i) => {
    out[2 * i] = g >>> 8;
    out[2 * i + 1] = g & 0xff;
  });
  if (tailV4) out.set(tailV4, 12);
  return out;
}

function parseMac(text: string): Uint8Array {
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)));
}

function internetChecksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i += 2) sum += (data[i]! << 8) | (data[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface EthernetOptions {
  src?: string;
  dst?: string;
  /** VLAN ids outer to inner. */
  vlans?: number[];
  /** Tag the outermost VLAN with 802.1ad (0x88a8) instead of 802.1Q. */
  qinq?: boolean;
  /** Override the TPID of every tag (e.g. 0x9100). */
  vlanTpid?: number;
  type: number;
  payload: Uint8Array;
  /** Pad the frame to this many bytes (Ethernet's 60-byte minimum, say). */
  padTo?: number;
}

export function ethernet(o: EthernetOptions): Uint8Array {
  const header = [...parseMac(o.dst ?? '02:00:00:00:00:02'), ...parseMac(o.src ?? '02:00:00:00:00:01')];
  (o.vlans ?? []).forEach((vid, i) => {
    const tpid = o.vlanTpid ?? (o.qinq && i === 0 ? 0x88a8 : 0x8100);
    header.push(...u16(tpid), ...u16(vid & 0x0fff));
  });
  header.push(...u16(o.type));
  const frame = concat(Uint8Array.from(header), o.payload);
  return o.padTo !== undefined && frame.length < o.padTo ? concat(frame, new Uint8Array(o.padTo - frame.length)) : frame;
}

export interface SllOptions {
  protocol: number;
  payload: Uint8Array;
  packetType?: number;
  arphrd?: number;
  address?: string;
  interfaceIndex?: number;
}

/** Linux cooked capture v1 (link type 113). */
export function sll(o: SllOptions): Uint8Array {
  const address = parseMac(o.address ?? '02:00:00:00:00:01');
  const header = [...u16(o.packetType ?? 0), ...u16(o.arphrd ?? 1), ...u16(address.length), ...address];
  while (header.length < 14) header.push(0);
  header.push(...u16(o.protocol));
  return concat(Uint8Array.from(header), o.payload);
}

/** Linux cooked capture v2 (link type 276). */
export function sll2(o: SllOptions): Uint8Array {
  const address = parseMac(o.address ?? '02:00:00:00:00:01');
  const header = [...u16(o.protocol), 0, 0, ...u32(o.interfaceIndex ?? 1), ...u16(o.arphrd ?? 1), o.packetType ?? 0, address.length, ...address];
  while (header.length < 20) header.push(0);
  return concat(Uint8Array.from(header), o.payload);
}

/** BSD loopback header: the address family as 4 bytes, little-endian unless `bigEndian` (DLT_LOOP). */
export function nullLoop(family: number, payload: Uint8Array, options: { bigEndian?: boolean } = {}): Uint8Array {
  const header = options.bigEndian ? u32(family) : u32(family).reverse();
  return concat(Uint8Array.from(header), payload);
}

export interface IPv4Options {
  src: string;
  dst: string;
  proto: number;
  payload: Uint8Array;
  id?: number;
  /** The 3 flag bits (0x2 = don't fragment, 0x1 = more fragments). */
  flags?: number;
  /** Fragment offset in BYTES (a multiple of 8). */
  fragOffset?: number;
  /** Options bytes (padded with zeros to a multiple of 4). */
  options?: Uint8Array;
  ttl?: number;
  /** Override the total length field (to test lying headers). */
  totalLength?: number;
  version?: number;
}

export function ipv4(o: IPv4Options): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  const optionsLength = Math.ceil(options.length / 4) * 4;
  const headerLength = 20 + optionsLength;
  const header = new Uint8Array(headerLength);
  header[0] = ((o.version ?? 4) << 4) | (headerLength / 4);
  header.set(u16(o.totalLength ?? headerLength + o.payload.length), 2);
  header.set(u16(o.id ?? 0), 4);
  header.set(u16(((o.flags ?? 0) << 13) | ((o.fragOffset ?? 0) / 8)), 6);
  header[8] = o.ttl ?? 64;
  header[9] = o.proto;
  header.set(parseIPv4(o.src), 12);
  header.set(parseIPv4(o.dst), 16);
  header.set(options, 20);
  header.set(u16(internetChecksum(header)), 10);
  return concat(header, o.payload);
}

export interface IPv6ExtensionHeader {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options, ... */
  type: number;
  /**
   * Header bytes after the next-header and length bytes: for hop-by-hop/routing/destination
   * options padded with zeros to a multiple of 8 in all; for AH to a multiple of 4; a fragment
   * header takes exactly 6 (offset/flags and id).
   */
  data: Uint8Array;
}

export interface IPv6Options {
  src: string;
  dst: string;
  nextHeader: number;
  payload: Uint8Array;
  extHeaders?: IPv6ExtensionHeader[];
  hopLimit?: number;
  payloadLength?: number;
}

export function ipv6ExtensionHeader(header: IPv6ExtensionHeader, nextHeader: number): Uint8Array {
  if (header.type === 44) return concat(Uint8Array.from([nextHeader, 0]), header.data.subarray(0, 6));
  const unit = header.type === 51 ? 4 : 8;
  const length = Math.max(unit, Math.ceil((header.data.length + 2) / unit) * unit);
  const out = new Uint8Array(length);
  out[0] = nextHeader;
  out[1] = header.type === 51 ? length / 4 - 2 : length / 8 - 1;
  out.set(header.data, 2);
  return out;
}

export function ipv6(o: IPv6Options): Uint8Array {
  const ext = o.extHeaders ?? [];
  const chain = ext.map((h, i) => ipv6ExtensionHeader(h, i + 1 < ext.length ? ext[i + 1]!.type : o.nextHeader));
  const body = concat(...chain, o.payload);
  const header = new Uint8Array(40);
  header[0] = 0x60;
  header.set(u16(o.payloadLength ?? body.length), 4);
  header[6] = ext.length > 0 ? ext[0]!.type : o.nextHeader;
  header[7] = o.hopLimit ?? 64;
  header.set(parseIPv6(o.src), 8);
  header.set(parseIPv6(o.dst), 24);
  return concat(header, body);
}

/** The 6 data bytes of an IPv6 fragment header. */
export function ipv6FragmentData(offset: number, more: boolean, id: number): Uint8Array {
  return Uint8Array.from([...u16(offset | (more ? 1 : 0)), ...u32(id)]);
}

/** Split `o.payload` (the transport bytes) into IPv4 fragments of at most `chunk` bytes (multiple of 8). */
export function ipv4Fragments(o: IPv4Options, chunk: number): Uint8Array[] {
  if (chunk % 8 !== 0) throw new Error('fragment size must be a multiple of 8');
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < o.payload.length; offset += chunk) {
    const more = offset + chunk < o.payload.length;
    out.push(ipv4({ ...o, payload: o.payload.subarray(offset, offset + chunk), fragOffset: offset, flags: (o.flags ?? 0) | (more ? 1 : 0) }));
  }
  return out;
}

/** Split `o.payload` into IPv6 fragments (fragment header after o.extHeaders) of at most `chunk` bytes. */
export function ipv6Fragments(o: IPv6Options & { id: number }, chunk: number): Uint8Array[] {
  if (chunk % 8 !== 0) throw new Error('fragment size must be a multiple of 8');
  const out: Uint8Array[] = [];
  for (let offset = 0; offset < o.payload.length; offset += chunk) {
    const more = offset + chunk < o.payload.length;
    const extHeaders = [...(o.extHeaders ?? []), { type: 44, data: ipv6FragmentData(offset, more, o.id) }];
    out.push(ipv6({ ...o, extHeaders, payload: o.payload.subarray(offset, offset + chunk) }));
  }
  return out;
}

export interface TcpOptions {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack?: number;
  flags: number;
  window?: number;
  /** TCP options bytes (padded with zeros, i.e. end-of-options, to a multiple of 4). */
  options?: Uint8Array;
  payload?: Uint8Array;
  /** Override the data offset field (in 32-bit words). */
  dataOffset?: number;
}

/** A TCP segment (checksum left 0: the decoder does not verify it). */
export function tcp(o: TcpOptions): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  const headerLength = 20 + Math.ceil(options.length / 4) * 4;
  const header = new Uint8Array(headerLength);
  header.set(u16(o.srcPort), 0);
  header.set(u16(o.dstPort), 2);
  header.set(u32(o.seq), 4);
  header.set(u32(o.ack ?? 0), 8);
  header[12] = (o.dataOffset ?? headerLength / 4) << 4;
  header[13] = o.flags;
  header.set(u16(o.window ?? 65535), 14);
  header.set(options, 20);
  return concat(header, o.payload ?? new Uint8Array(0));
}

export interface UdpOptions {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
  /** Override the length field. */
  length?: number;
}

export function udp(o: UdpOptions): Uint8Array {
  const header = Uint8Array.from([...u16(o.srcPort), ...u16(o.dstPort), ...u16(o.length ?? 8 + o.payload.length), 0, 0]);
  return concat(header, o.payload);
}

/** VXLAN header (I flag set) + inner Ethernet frame: the payload of a UDP datagram to port 4789. */
export function vxlan(innerFrame: Uint8Array, vni: number): Uint8Array {
  return concat(Uint8Array.from([0x08, 0, 0, 0, (vni >>> 16) & 0xff, (vni >>> 8) & 0xff, vni & 0xff, 0]), innerFrame);
}

/** GENEVE header + inner frame (protocol type 0x6558 Ethernet by default): the payload of a UDP datagram to port 6081. */
export function geneve(inner: Uint8Array, o: { protocolType?: number; vni?: number; options?: Uint8Array } = {}): Uint8Array {
  const options = o.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0) throw new Error('GENEVE options are a multiple of 4 bytes');
  const vni = o.vni ?? 0;
  const header = Uint8Array.from([options.length / 4, 0, ...u16(o.protocolType ?? 0x6558), (vni >>> 16) & 0xff, (vni >>> 8) & 0xff, vni & 0xff, 0]);
  return concat(header, options, inner);
}

export interface GreOptions {
  /** The EtherType-valued protocol field (0x0800 IPv4, 0x86dd IPv6, 0x6558 Ethernet, 0x8847 MPLS, 0x88be/0x22eb ERSPAN). */
  protocolType: number;
  checksum?: boolean;
  key?: number;
  sequence?: number;
  /** The low 3 bits of the second byte (1 = PPTP's enhanced GRE). */
  version?: number;
  /** Set the R bit (RFC 1701 source routing), which nothing decodes. */
  routing?: boolean;
}

/** A GRE header (RFC 2784/2890) and its payload: the payload of IP protocol 47. */
export function gre(payload: Uint8Array, o: GreOptions): Uint8Array {
  const flags = (o.checksum ? 0x80 : 0) | (o.routing ? 0x40 : 0) | (o.key !== undefined ? 0x20 : 0) | (o.sequence !== undefined ? 0x10 : 0);
  const header = [flags, o.version ?? 0, ...u16(o.protocolType)];
  if (o.checksum || o.routing) header.push(0, 0, 0, 0);
  if (o.key !== undefined) header.push(...u32(o.key));
  if (o.sequence !== undefined) header.push(...u32(o.sequence));
  return concat(Uint8Array.from(header), payload);
}

/** ERSPAN type II header (version 1) + mirrored Ethernet frame: the payload of GRE 0x88be with a sequence number. */
export function erspan2(frame: Uint8Array, o: { session?: number; vlan?: number; index?: number } = {}): Uint8Array {
  const word1 = (1 << 28) | ((o.vlan ?? 0) << 16) | (o.session ?? 1);
  return concat(Uint8Array.from([...u32(word1), ...u32(o.index ?? 0)]), frame);
}

/**
 * ERSPAN type III header (version 2) + mirrored frame: the payload of GRE 0x22eb. frameType 0 is
 * Ethernet, 2 raw IP; `platform` adds the optional 8-byte platform-specific subheader (O flag).
 */
export function erspan3(frame: Uint8Array, o: { session?: number; frameType?: number; platform?: boolean; timestamp?: number } = {}): Uint8Array {
  const word1 = (2 << 28) | (o.session ?? 1);
  const ft = o.frameType ?? 0;
  const header = [...u32(word1), ...u32(o.timestamp ?? 0x01020304), 0x12, 0x34, (ft & 0x1f) << 2, o.platform ? 0x01 : 0];
  if (o.platform) header.push(0x08, 0, 0, 0, 0, 0, 0, 0);
  return concat(Uint8Array.from(header), frame);
}

/** An MPLS label stack (outermost first, bottom-of-stack set on the last) in front of `payload`. */
export function mpls(labels: number[], payload: Uint8Array, o: { controlWord?: boolean } = {}): Uint8Array {
  const stack = labels.flatMap((label, i) => [(label >>> 12) & 0xff, (label >>> 4) & 0xff, ((label & 0x0f) << 4) | (i === labels.length - 1 ? 1 : 0), 64]);
  return concat(Uint8Array.from(stack), o.controlWord ? new Uint8Array(4) : new Uint8Array(0), payload);
}

/** A PPPoE session header and PPP protocol field (0x0021 IPv4, 0x0057 IPv6) in front of `payload`. */
export function pppoe(pppProtocol: number, payload: Uint8Array, session = 0x1234): Uint8Array {
  return concat(Uint8Array.from([0x11, 0x00, ...u16(session), ...u16(payload.length + 2), ...u16(pppProtocol)]), payload);
}

/**
 * A GTP-U v1 header: a G-PDU (type 255) carrying `packet` by default. `extensions` adds the
 * optional fields and that chain of extension headers (each given as its content, padded to 4n-2).
 */
export function gtpu(packet: Uint8Array, o: { teid?: number; messageType?: number; sequence?: boolean; extensions?: Uint8Array[] } = {}): Uint8Array {
  const extensions = o.extensions ?? [];
  const optional = o.sequence || extensions.length > 0;
  const flags = 0x30 | (extensions.length > 0 ? 0x04 : 0) | (o.sequence ? 0x02 : 0);
  const tail: number[] = [];
  if (optional) tail.push(0, 1, 0, extensions.length > 0 ? 0x85 : 0);
  extensions.forEach((content, i) => {
    const units = Math.ceil((content.length + 2) / 4);
    const body = new Uint8Array(units * 4 - 2);
    body.set(content);
    tail.push(units, ...body, i === extensions.length - 1 ? 0 : 0x85);
  });
  const length = tail.length + packet.length;
  return concat(Uint8Array.from([flags, o.messageType ?? 0xff, ...u16(length), ...u32(o.teid ?? 7), ...tail]), packet);
}

export type LinkKind = 'ether' | 'sll' | 'sll2' | 'null' | 'raw';

export interface TcpPacketOptions {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: number;
  payload?: Uint8Array | string;
  window?: number;
  ipVersion?: 4 | 6;
  link?: LinkKind;
  /** IPv4 identification (0 by default): a real stack gives each packet it sends a new one, retransmissions too. */
  ipId?: number;
}

/** A whole TCP packet on the chosen link (Ethernet and IPv4 by default). */
export function tcpPacket(o: TcpPacketOptions): { data: Uint8Array; linkType: number } {
  const payload = typeof o.payload === 'string' ? bytes(o.payload) : (o.payload ?? new Uint8Array(0));
  const segment = tcp({ srcPort: o.sport, dstPort: o.dport, seq: o.seq, ack: o.ack ?? 0, flags: o.flags, window: o.window ?? 65535, payload });
  const version = o.ipVersion ?? (o.src.includes(':') ? 6 : 4);
  const ip =
    version === 4
      ? ipv4({ src: o.src, dst: o.dst, proto: PROTO_TCP, payload: segment, id: o.ipId ?? 0 })
      : ipv6({ src: o.src, dst: o.dst, nextHeader: PROTO_TCP, payload: segment });
  return onLink(ip, version, o.link ?? 'ether');
}

/** Put an IP packet on a link: returns the frame and its link type. */
export function onLink(ip: Uint8Array, version: 4 | 6, link: LinkKind): { data: Uint8Array; linkType: number } {
  const type = version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6;
  switch (link) {
    case 'ether':
      return { data: ethernet({ type, payload: ip }), linkType: LINKTYPE_ETHERNET };
    case 'sll':
      return { data: sll({ protocol: type, payload: ip }), linkType: LINKTYPE_LINUX_SLL };
    case 'sll2':
      return { data: sll2({ protocol: type, payload: ip }), linkType: LINKTYPE_LINUX_SLL2 };
    case 'null':
      return { data: nullLoop(version === 4 ? 2 : 30, ip), linkType: LINKTYPE_NULL };
    case 'raw':
      return { data: ip, linkType: LINKTYPE_RAW };
  }
}

/** A CapturedPacket for a frame (ts in µs; origLen defaults to the frame length). */
export function captured(data: Uint8Array, linkType: number, ts = 0, origLen = data.length) {
  return { ts, linkType, data, origLen, interfaceId: 0, sourceIndex: 0 };
}
