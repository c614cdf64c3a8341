/** EtherType values (IEEE registry): in Ethernet and Linux cooked headers, and as GRE's and GENEVE's protocol type. */
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETHERTYPE_VLAN = 0x8100; // 802.1Q
export const ETHERTYPE_QINQ = 0x88a8; // 802.1ad
export const ETHERTYPE_QINQ_LEGACY = 0x9100; // pre-standard QinQ, still common
export const ETHERTYPE_MPLS_UNICAST = 0x8847;
export const ETHERTYPE_MPLS_MULTICAST = 0x8848;
export const ETHERTYPE_PPPOE_SESSION = 0x8864;
/** Transparent Ethernet bridging: a whole Ethernet frame follows (gretap, GENEVE). */
export const ETHERTYPE_ETHERNET = 0x6558;
/** ERSPAN type I and II, and type III, as GRE carries them. */
export const ETHERTYPE_ERSPAN_I_II = 0x88be;
export const ETHERTYPE_ERSPAN_III = 0x22eb;
