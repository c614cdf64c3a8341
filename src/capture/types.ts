/**
 * One captured packet as a capture source hands it on.
 *
 * `data` is a view into the reader's chunk buffer. Sources allocate a fresh chunk per read and never
 * overwrite it, so a view stays valid for as long as the consumer keeps a reference; consumers that
 * only decode during the callback need not copy.
 */
export interface CapturedPacket {
  /** Capture time, microseconds since the Unix epoch; fractional part carries sub-µs resolution where the file has it. */
  ts: number;
  /** DLT / LINKTYPE number of the interface the packet was captured on. */
  linkType: number;
  /** Captured bytes (may be shorter than origLen when the snaplen cut the packet). */
  data: Uint8Array;
  /** Length of the packet on the wire. */
  origLen: number;
  /** Interface index within the file (pcapng IDB index; 0 for classic pcap). */
  interfaceId: number;
  /** Index of the source among several merged ones (0 for a single source). */
  sourceIndex: number;
}

/** What a reader learned about one capture file or stream. */
export interface CaptureFileInfo {
  name: string;
  /** "pcap" | "pcap-nsec" | "pcapng", with "+gzip" when decompressed on the fly. */
  format: string;
  /** Byte order of the file header. */
  byteOrder: 'little' | 'big';
  /** Link types seen in the file (one for pcap, one per interface for pcapng). */
  linkTypes: number[];
  snaplen: number;
  packets: number;
  bytes: number;
  warnings: string[];
}

/** A source of packets: a file, several merged files, stdin, or a live capture. */
export interface PacketSource {
  /** Async batches of packets in capture order; a batch is typically one read chunk. */
  batches(): AsyncIterable<CapturedPacket[]>;
  /** Per-file information; complete once iteration has finished. */
  info(): CaptureFileInfo[];
}
