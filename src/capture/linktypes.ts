/**
 * Link-layer header types as they appear in capture files (LINKTYPE_*, https://www.tcpdump.org/linktypes.html),
 * with the DLT_* names libpcap prints. A few DLT values that differ between platforms (RAW as 12 or 14)
 * appear in old files as is, so they are named too.
 */

export const LinkType = {
  NULL: 0,
  ETHERNET: 1,
  PPP: 9,
  RAW_DLT12: 12,
  RAW_DLT14: 14,
  RAW: 101,
  IEEE802_11: 105,
  LOOP: 108,
  LINUX_SLL: 113,
  IEEE802_11_RADIOTAP: 127,
  IPV4: 228,
  IPV6: 229,
  NFLOG: 239,
  LINUX_SLL2: 276,
} as const;

interface LinkTypeEntry {
  name: string;
  description: string;
}

const LINK_TYPES: ReadonlyMap<number, LinkTypeEntry> = new Map([
  [0, { name: 'NULL', description: 'BSD loopback' }],
  [1, { name: 'EN10MB', description: 'Ethernet' }],
  [6, { name: 'IEEE802', description: 'Token Ring' }],
  [9, { name: 'PPP', description: 'PPP' }],
  [10, { name: 'FDDI', description: 'FDDI' }],
  [12, { name: 'RAW', description: 'Raw IP (DLT 12, Linux and most BSDs)' }],
  [14, { name: 'RAW', description: 'Raw IP (DLT 14, OpenBSD)' }],
  [50, { name: 'PPP_HDLC', description: 'PPP in HDLC-like framing' }],
  [51, { name: 'PPP_ETHER', description: 'PPPoE' }],
  [101, { name: 'RAW', description: 'Raw IP' }],
  [104, { name: 'C_HDLC', description: 'Cisco HDLC' }],
  [105, { name: 'IEEE802_11', description: '802.11' }],
  [108, { name: 'LOOP', description: 'OpenBSD loopback' }],
  [113, { name: 'LINUX_SLL', description: 'Linux cooked v1' }],
  [119, { name: 'PRISM_HEADER', description: '802.11 plus Prism header' }],
  [127, { name: 'IEEE802_11_RADIO', description: '802.11 plus radiotap header' }],
  [192, { name: 'PPI', description: 'Per-Packet Information' }],
  [201, { name: 'BLUETOOTH_HCI_H4_WITH_PHDR', description: 'Bluetooth HCI UART' }],
  [220, { name: 'USB_LINUX_MMAPPED', description: 'USB with Linux header' }],
  [228, { name: 'IPV4', description: 'Raw IPv4' }],
  [229, { name: 'IPV6', description: 'Raw IPv6' }],
  [239, { name: 'NFLOG', description: 'Linux netfilter log' }],
  [249, { name: 'USBPCAP', description: 'USB with USBPcap header' }],
  [274, { name: 'ETHERNET_MPACKET', description: '802.3br mPackets' }],
  [276, { name: 'LINUX_SLL2', description: 'Linux cooked v2' }],
]);

/** libpcap's DLT name without the prefix ("EN10MB"); `LINKTYPE_<n>` for numbers it does not know. */
export function linkTypeName(linkType: number): string {
  return LINK_TYPES.get(linkType)?.name ?? `LINKTYPE_${linkType}`;
}

/** A human description ("Ethernet"); `link type <n>` for numbers it does not know. */
export function linkTypeDescription(linkType: number): string {
  return LINK_TYPES.get(linkType)?.description ?? `link type ${linkType}`;
}
