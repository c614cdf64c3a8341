import type { TcpSegment } from './types.js';

/** How soon a copy follows its packet: µs apart on one host's interfaces, a little more through a SPAN session. */
export const COPY_WINDOW_US = 10_000;

interface Seen {
  ts: number;
  seq: number;
  ack: number;
  flags: number;
  length: number;
  ipId: number;
  checksum: number;
}

const unseen = (): Seen => ({ ts: -Infinity, seq: 0, ack: 0, flags: 0, length: 0, ipId: 0, checksum: 0 });

/**
 * The last two segments of one direction, to tell a copy of a packet from a retransmission.
 * `tcpdump -i any` on a host bridging containers sees each packet on the container's veth and on the
 * bridge (and on the overlay device and, tunnelled, on the uplink); a SPAN session mirroring both
 * ports of a conversation sends each packet twice. A copy is the same IP packet: the same IPv4 id,
 * TCP checksum (which covers the payload and the timestamp option), numbers, flags and length,
 * within COPY_WINDOW_US. A retransmission is a new packet: a new IPv4 id on every common stack, a
 * new timestamp. Segments without a checksum (given by a library user) are never copies.
 */
export class RecentSegments {
  private latest = unseen();
  private before = unseen();

  /** True when `s` repeats one of the last two segments seen; else it becomes the latest. */
  repeats(s: TcpSegment, ts: number): boolean {
    if (s.tcpChecksum === undefined) return false;
    const ipId = s.ipId ?? -1;
    if (same(this.latest, s, ipId, ts) || same(this.before, s, ipId, ts)) return true;
    const reused = this.before;
    this.before = this.latest;
    reused.ts = ts;
    reused.seq = s.seq;
    reused.ack = s.ack;
    reused.flags = s.flags;
    reused.length = s.payload.length;
    reused.ipId = ipId;
    reused.checksum = s.tcpChecksum;
    this.latest = reused;
    return false;
  }
}

function same(seen: Seen, s: TcpSegment, ipId: number, ts: number): boolean {
  return (
    seen.checksum === s.tcpChecksum &&
    seen.seq === s.seq &&
    seen.ack === s.ack &&
    seen.ipId === ipId &&
    seen.flags === s.flags &&
    seen.length === s.payload.length &&
    Math.abs(ts - seen.ts) <= COPY_WINDOW_US
  );
}
