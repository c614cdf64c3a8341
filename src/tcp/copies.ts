import type { TcpSegment } from './types.js';

/** How soon a copy follows its packet: µs apart on one host's interfaces, a little more through a SPAN session. */
export const COPY_WINDOW_US = 10_000;

/** Per remembered segment: time, seq, ack, flags, payload length, IPv4 id (-1: none), TCP checksum. */
const FIELDS = 7;
const SLOTS = 2;

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
  /** SLOTS records of FIELDS numbers (one flat array: no per-field boxing, ~130 bytes per direction). */
  private readonly seen = new Float64Array(FIELDS * SLOTS).fill(-Infinity);
  private latest = 0;

  /** True when `s` repeats one of the last two segments seen; else it becomes the latest. */
  repeats(s: TcpSegment, ts: number): boolean {
    if (s.tcpChecksum === undefined) return false;
    const ipId = s.ipId ?? -1;
    const seen = this.seen;
    for (let slot = 0; slot < SLOTS; slot++) {
      const at = slot * FIELDS;
      if (
        seen[at + 6] === s.tcpChecksum &&
        seen[at + 1] === s.seq &&
        seen[at + 2] === s.ack &&
        seen[at + 5] === ipId &&
        seen[at + 3] === s.flags &&
        seen[at + 4] === s.payload.length &&
        Math.abs(ts - seen[at]!) <= COPY_WINDOW_US
      ) {
        return true;
      }
    }
    this.latest = (this.latest + 1) % SLOTS;
    const at = this.latest * FIELDS;
    seen[at] = ts;
    seen[at + 1] = s.seq;
    seen[at + 2] = s.ack;
    seen[at + 3] = s.flags;
    seen[at + 4] = s.payload.length;
    seen[at + 5] = ipId;
    seen[at + 6] = s.tcpChecksum;
    return false;
  }
}
