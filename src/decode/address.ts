/**
 * Text forms of IP addresses, cached per decoder: the same few addresses appear in almost every
 * packet of a capture, so a small direct-mapped cache turns formatting into a hash and a compare.
 * Both caches are bounded (a collision simply overwrites the slot); nothing grows with the capture.
 */

const DECIMAL: readonly string[] = Array.from({ length: 256 }, (_, i) => String(i));

const IPV4_SLOTS = 4096; // power of two
const IPV6_SLOTS = 1024; // power of two

export class AddressFormatter {
  private readonly ipv4Keys = new Int32Array(IPV4_SLOTS);
  private readonly ipv4Text: (string | undefined)[] = new Array<string | undefined>(IPV4_SLOTS).fill(undefined);
  private readonly ipv6Keys = new Uint8Array(IPV6_SLOTS * 16);
  private readonly ipv6Text: (string | undefined)[] = new Array<string | undefined>(IPV6_SLOTS).fill(undefined);

  /** Dotted quad of the 4 bytes at `offset`. */
  ipv4(data: Uint8Array, offset: number): string {
    const key = (data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!;
    const slot = Math.imul(key, 0x9e3779b1) >>> (32 - 12);
    const cached = this.ipv4Text[slot];
    if (cached !== undefined && this.ipv4Keys[slot] === key) return cached;
    const text = formatIPv4(data, offset);
    this.ipv4Keys[slot] = key;
    this.ipv4Text[slot] = text;
    return text;
  }

  /** RFC 5952 canonical text of the 16 bytes at `offset`. */
  ipv6(data: Uint8Array, offset: number): string {
    let hash = 0;
    for (let i = 0; i < 16; i += 4) {
      const word = (data[offset + i]! << 24) | (data[offset + i + 1]! << 16) | (data[offset + i + 2]! << 8) | data[offset + i + 3]!;
      hash = Math.imul(hash ^ word, 0x9e3779b1);
    }
    const slot = (hash >>> (32 - 10)) & (IPV6_SLOTS - 1);
    const cached = this.ipv6Text[slot];
    const base = slot * 16;
    if (cached !== undefined && sameBytes(this.ipv6Keys, base, data, offset, 16)) return cached;
    const text = formatIPv6(data, offset);
    this.ipv6Keys.set(data.subarray(offset, offset + 16), base);
    this.ipv6Text[slot] = text;
    return text;
  }
}

function sameBytes(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aOffset + i] !== b[bOffset + i]) return false;
  return true;
}

export function formatIPv4(data: Uint8Array, offset: number): string {
  return `${DECIMAL[data[offset]!]}.${DECIMAL[data[offset + 1]!]}.${DECIMAL[data[offset + 2]!]}.${DECIMAL[data[offset + 3]!]}`;
}

/**
 * RFC 5952: lower-case hex without leading zeros, the longest run of two or more zero groups
 * compressed to "::" (the first one on a tie), IPv4-mapped addresses as ::ffff:a.b.c.d.
 */
export function formatIPv6(data: Uint8Array, offset: number): string {
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never compressed
  let runStart = -1;
  for (let g = 0; g < 8; g++) {
    const zero = data[offset + 2 * g] === 0 && data[offset + 2 * g + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = g;
      const runLength = g - runStart + 1;
      if (runLength > bestLength) {
        bestStart = runStart;
        bestLength = runLength;
      }
    } else {
      runStart = -1;
    }
  }
  if (bestStart === 0 && bestLength === 5 && data[offset + 10] === 0xff && data[offset + 11] === 0xff) {
    return `::ffff:${formatIPv4(data, offset + 12)}`;
  }
  let text = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      text += '::';
      g += bestLength - 1;
      continue;
    }
    if (text.length > 0 && !text.endsWith(':')) text += ':';
    text += ((data[offset + 2 * g]! << 8) | data[offset + 2 * g + 1]!).toString(16);
  }
  return text;
}
