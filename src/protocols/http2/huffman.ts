/**
 * HPACK Huffman code (RFC 7541 Appendix B).
 *
 * The code is canonical, so the 257 code lengths define it completely; the codes are derived from them
 * (and checked against the RFC vectors in the tests). Decoding is table driven, one nibble per step:
 * a state is an inner node of the code tree, and each (state, nibble) entry gives the next state and
 * the symbol completed on the way, if any (codes are at least 5 bits long, so at most one per nibble).
 */

/** Code length in bits of each symbol 0..255 and EOS (256). */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

export const HUFFMAN_EOS = 256;

export interface HuffmanCode {
  /** Code of symbol i, right-aligned (the low `lengths[i]` bits). */
  readonly codes: Uint32Array;
  readonly lengths: Uint8Array;
}

function canonicalCode(): HuffmanCode {
  const lengths = Uint8Array.from(CODE_LENGTHS);
  const order = [...lengths.keys()].sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let prevLength = lengths[order[0]!]!;
  for (let i = 0; i < order.length; i++) {
    const sym = order[i]!;
    const len = lengths[sym]!;
    if (i > 0) code = (code + 1) * 2 ** (len - prevLength);
    codes[sym] = code;
    prevLength = len;
  }
  return { codes, lengths };
}

export const HUFFMAN_CODE: HuffmanCode = canonicalCode();

const EMITS = 0x100;
const FAILS = 0x200;

interface DecodeTables {
  /** [state * 16 + nibble] → next state (bits 0-7) | EMITS | FAILS | symbol << 16 */
  readonly transitions: Uint32Array;
  /** State may end the string: the bits since the last symbol are all ones and fewer than 8. */
  readonly accepting: Uint8Array;
}

function buildDecodeTables({ codes, lengths }: HuffmanCode): DecodeTables {
  // Code tree: node 0 is the root; children in child[2n], child[2n+1]; leaves carry symbol + 1.
  const maxNodes = 2 * codes.length;
  const child = new Int32Array(2 * maxNodes).fill(-1);
  const leafSymbol = new Int32Array(maxNodes).fill(-1);
  const depth = new Uint8Array(maxNodes);
  const allOnes = new Uint8Array(maxNodes);
  allOnes[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym < codes.length; sym++) {
    let node = 0;
    for (let b = lengths[sym]! - 1; b >= 0; b--) {
      const bit = Math.floor(codes[sym]! / 2 ** b) & 1;
      let next = child[2 * node + bit]!;
      if (next < 0) {
        next = nodes++;
        child[2 * node + bit] = next;
        depth[next] = depth[node]! + 1;
        allOnes[next] = allOnes[node]! & bit;
      }
      node = next;
    }
    leafSymbol[node] = sym;
  }
  const stateOf = new Int32Array(nodes).fill(-1);
  const inner: number[] = [];
  for (let n = 0; n < nodes; n++) {
    if (leafSymbol[n]! < 0) {
      stateOf[n] = inner.length;
      inner.push(n);
    }
  }
  const transitions = new Uint32Array(inner.length * 16);
  const accepting = new Uint8Array(inner.length);
  for (let s = 0; s < inner.length; s++) {
    const start = inner[s]!;
    accepting[s] = allOnes[start]! && depth[start]! < 8 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = start;
      let entry = 0;
      for (let b = 3; b >= 0; b--) {
        node = child[2 * node + ((nibble >> b) & 1)]!;
        const sym = leafSymbol[node]!;
        if (sym === HUFFMAN_EOS) {
          entry |= FAILS;
          node = 0;
          break;
        }
        if (sym >= 0) {
          entry |= EMITS | (sym << 16);
          node = 0;
        }
      }
      transitions[s * 16 + nibble] = entry | stateOf[node]!;
    }
  }
  return { transitions, accepting };
}

const TABLES: DecodeTables = buildDecodeTables(HUFFMAN_CODE);

/** Largest decoded length of `encodedLength` Huffman octets (shortest code is 5 bits). */
export function maxHuffmanDecodedLength(encodedLength: number): number {
  return Math.floor((encodedLength * 8) / 5);
}

/**
 * Decode `src[start, end)` into `out` (at least maxHuffmanDecodedLength(end - start) long).
 * Returns the decoded length, or -1 when the input is not a valid HPACK Huffman string
 * (EOS inside, padding longer than 7 bits or not all ones).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  const { transitions, accepting } = TABLES;
  let state = 0;
  let o = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let t = transitions[(state << 4) | (byte >> 4)]!;
    if (t & FAILS) return -1;
    if (t & EMITS) out[o++] = t >>> 16;
    state = t & 0xff;
    t = transitions[(state << 4) | (byte & 0x0f)]!;
    if (t & FAILS) return -1;
    if (t & EMITS) out[o++] = t >>> 16;
    state = t & 0xff;
  }
  return accepting[state] ? o : -1;
}
