/**
 * TCP sequence-number arithmetic (RFC 793 §3.3, RFC 1982): 32-bit values that wrap around,
 * compared by their signed distance, valid while the two numbers are less than 2^31 apart.
 */

/** Signed distance from `from` to `to`: > 0 when `to` comes after `from`. */
export function seqDiff(to: number, from: number): number {
  return (to - from) | 0;
}

/** `seq + n` modulo 2^32 (n may be any safe integer). */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) >>> 0;
}
