import type { TcpSegment } from './types.js';

/** How soon a copy follows its packet: µs apart on one host's interfaces, a little more through a SPAN session. */
export const COPY_WINDOW_US = 10_000;
/**
 * IPv6 has no id to tell a copy from a retransmission sent at once (a fast retransmit on a LAN, the
 * sender's own capture where checksum offload leaves the checksum covering no payload): closer only.
 */
export const COPY_WINDOW_NO_ID_US = 1_000;

const TWO_20 = 2 ** 20;
const TWO_17 = 2 ** 17;

/**
 * The last two segments of one direction, to tell a copy of a packet from a retransmission.
 * `tcpdump -i any` on a host bridging containers sees each packet on the container's veth and on the
 * bridge (and on the overlay device and, tunnelled, on the uplink); a SPAN session mirroring both
 * ports of a conversation sends each packet twice, the two copies of a burst interleaved. A copy is
 * the same IP packet: the same IPv4 id, TCP checksum (which covers the payload and the timestamp
 * option), numbers, flags and length, within COPY_WINDOW_US (COPY_WINDOW_NO_ID_US for IPv6). A
 * retransmission is a new packet: a new IPv4 id on every common stack, a new timestamp. Segments
 * without a checksum (given by a library user) are never copies.
 *
 * Every flow has two of these, so each segment is kept in four numbers (exact: sequence number and
 * length, acknowledgment and id, checksum and flags packed below 2^53), not an array or an object.
 */
export class RecentSegments {
  private latestTs = -Infinity;
  private latestSeqLength = 0;
  private latestAckId = 0;
  private latestChecksumFlags = -1;
  private beforeTs = -Infinity;
  private beforeSeqLength = 0;
  private beforeAckId = 0;
  private beforeChecksumFlags = -1;

  /** True when `s` repeats one of the last two segments seen; else it becomes the latest. */
  repeats(s: TcpSegment, ts: number): boolean {
    if (s.tcpChecksum === undefined) return false;
    const checksumFlags = s.tcpChecksum * 256 + s.flags;
    const seqLength = s.seq * TWO_20 + (s.payload.length % TWO_20);
    const ipId = s.ipId ?? -1;
    const ackId = s.ack * TWO_17 + (ipId + 1);
    const windowUs = ipId < 0 ? COPY_WINDOW_NO_ID_US : COPY_WINDOW_US;
    if (checksumFlags === this.latestChecksumFlags && seqLength === this.latestSeqLength && ackId === this.latestAckId && Math.abs(ts - this.latestTs) <= windowUs) {
      return true;
    }
    if (checksumFlags === this.beforeChecksumFlags && seqLength === this.beforeSeqLength && ackId === this.beforeAckId && Math.abs(ts - this.beforeTs) <= windowUs) {
      return true;
    }
    this.beforeTs = this.latestTs;
    this.beforeSeqLength = this.latestSeqLength;
    this.beforeAckId = this.latestAckId;
    this.beforeChecksumFlags = this.latestChecksumFlags;
    this.latestTs = ts;
    this.latestSeqLength = seqLength;
    this.latestAckId = ackId;
    this.latestChecksumFlags = checksumFlags;
    return false;
  }
}
