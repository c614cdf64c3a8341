/**
 * On-disk constants of classic pcap (draft-ietf-opsawg-pcap) and pcapng (draft-ietf-opsawg-pcapng),
 * format detection from the first four bytes, and the pcapng interface description.
 */
import { unitsPerSecondFromTsresol } from './timestamps.js';

export const MAGIC_PCAP_MICROS = 0xa1b2c3d4;
export const MAGIC_PCAP_NANOS = 0xa1b23c4d;
/** Alexey Kuznetzov's patched libpcap: 8 more bytes per record header (ifindex, protocol, pkt_type). */
export const MAGIC_PCAP_MODIFIED = 0xa1b2cd34;
export const PCAP_FILE_HEADER_BYTES = 24;
export const PCAP_RECORD_HEADER_BYTES = 16;
export const PCAP_MODIFIED_RECORD_HEADER_BYTES = 24;
/** libpcap's LT_LINKTYPE: the upper bits carry FCS information. */
export const PCAP_LINK_TYPE_MASK = 0x03ffffff;

export const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
export const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
export const BLOCK_OBSOLETE_PACKET = 0x00000002;
export const BLOCK_SIMPLE_PACKET = 0x00000003;
export const BLOCK_ENHANCED_PACKET = 0x00000006;
/** Decryption Secrets Block: secrets type, length, secrets (draft-ietf-opsawg-pcapng §4.7). */
export const BLOCK_DECRYPTION_SECRETS = 0x0000000a;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const BYTE_ORDER_MAGIC_SWAPPED = 0x4d3c2b1a;
/** type + length + trailing length */
export const MIN_BLOCK_BYTES = 12;
export const SECTION_HEADER_MIN_BYTES = 28;
export const INTERFACE_DESCRIPTION_MIN_BYTES = 20;
/** EPB and OPB: 28 bytes before the packet data, 4 after. */
export const PACKET_BLOCK_FIXED_BYTES = 32;
export const SIMPLE_PACKET_FIXED_BYTES = 16;
export const OPTION_END = 0;
export const OPTION_IF_TSRESOL = 9;
export const OPTION_IF_TSOFFSET = 14;

export type CaptureFormat = 'pcap' | 'pcap-nsec' | 'pcap-modified' | 'pcapng';

/** gzip's magic (RFC 1952): a compressed capture, which is read through gunzip. */
export function isGzipMagic(first: number | undefined, second: number | undefined): boolean {
  return first === 0x1f && second === 0x8b;
}

/** The format from the first four bytes; null when they are no capture magic. */
export function detectCaptureFormat(
  buf: Uint8Array,
  position: number,
): { format: CaptureFormat; littleEndian: boolean } | null {
  const bigEndian = ((buf[position]! << 24) | (buf[position + 1]! << 16) | (buf[position + 2]! << 8) | buf[position + 3]!) >>> 0;
  const littleEndian = ((buf[position + 3]! << 24) | (buf[position + 2]! << 16) | (buf[position + 1]! << 8) | buf[position]!) >>> 0;
  // A pcapng section header's type reads the same either way; its byte order comes later.
  if (bigEndian === BLOCK_SECTION_HEADER) return { format: 'pcapng', littleEndian: true };
  for (const [magic, isLittle] of [
    [littleEndian, true],
    [bigEndian, false],
  ] as const) {
    if (magic === MAGIC_PCAP_MICROS) return { format: 'pcap', littleEndian: isLittle };
    if (magic === MAGIC_PCAP_NANOS) return { format: 'pcap-nsec', littleEndian: isLittle };
    if (magic === MAGIC_PCAP_MODIFIED) return { format: 'pcap-modified', littleEndian: isLittle };
  }
  return null;
}

export interface PcapngInterface {
  linkType: number;
  /** 0 = no limit */
  snaplen: number;
  unitsPerSecond: number;
  offsetMicros: number;
}

/** An IDB: link type, snaplen, and the if_tsresol / if_tsoffset options; null if too short. */
export function parseInterfaceDescription(
  view: DataView,
  position: number,
  length: number,
  littleEndian: boolean,
): PcapngInterface | null {
  if (length < INTERFACE_DESCRIPTION_MIN_BYTES) return null;
  const description: PcapngInterface = {
    linkType: view.getUint16(position + 8, littleEndian),
    snaplen: view.getUint32(position + 12, littleEndian),
    unitsPerSecond: 1e6,
    offsetMicros: 0,
  };
  const optionsEnd = position + length - 4;
  let option = position + 16;
  while (optionsEnd - option >= 4) {
    const code = view.getUint16(option, littleEndian);
    const valueLength = view.getUint16(option + 2, littleEndian);
    if (code === OPTION_END || option + 4 + valueLength > optionsEnd) break;
    if (code === OPTION_IF_TSRESOL && valueLength >= 1) {
      description.unitsPerSecond = unitsPerSecondFromTsresol(view.getUint8(option + 4));
    } else if (code === OPTION_IF_TSOFFSET && valueLength >= 8) {
      description.offsetMicros = Number(view.getBigInt64(option + 4, littleEndian)) * 1e6;
    }
    option += 4 + ((valueLength + 3) & ~3);
  }
  return description;
}
