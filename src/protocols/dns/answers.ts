import { formatIPv4, formatIPv6 } from '../../decode/address.js';

/**
 * The addresses a DNS response gave for the name that was asked (RFC 1035 §4; AAAA from RFC 3596).
 * Services are then named after what their clients looked up, as Wireshark does with "resolve network
 * addresses from captured DNS packets". Only what names addresses is read: the first question and the
 * A/AAAA records of the answer section, whatever name (a CNAME's target) they are filed under.
 */
export interface DnsAnswer {
  /** The name asked, lower-case, without the root dot. */
  name: string;
  addresses: string[];
}

const HEADER = 12;
const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
/** Compression pointers followed before a name is called malformed (a loop otherwise). */
const MAX_POINTERS = 32;

/** Null when `payload` is not a successful response with at least one address. */
export function readDnsAnswer(payload: Uint8Array): DnsAnswer | null {
  if (payload.length < HEADER) return null;
  const flags = (payload[2]! << 8) | payload[3]!;
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0x0f;
  const rcode = flags & 0x000f;
  const questions = (payload[4]! << 8) | payload[5]!;
  const answers = (payload[6]! << 8) | payload[7]!;
  if (!isResponse || opcode !== 0 || rcode !== 0 || questions < 1 || answers < 1) return null;
  const question = readName(payload, HEADER);
  if (!question || question.name === '') return null;
  let at = question.end + 4; // QTYPE, QCLASS
  for (let q = 1; q < questions; q++) {
    const next = readName(payload, at);
    if (!next) return null;
    at = next.end + 4;
  }
  const addresses: string[] = [];
  for (let a = 0; a < answers; a++) {
    const owner = readName(payload, at);
    if (!owner || owner.end + 10 > payload.length) return null;
    at = owner.end;
    const type = (payload[at]! << 8) | payload[at + 1]!;
    const klass = (payload[at + 2]! << 8) | payload[at + 3]!;
    const length = (payload[at + 8]! << 8) | payload[at + 9]!;
    at += 10;
    if (at + length > payload.length) return null;
    if (klass === CLASS_IN && type === TYPE_A && length === 4) addresses.push(formatIPv4(payload, at));
    else if (klass === CLASS_IN && type === TYPE_AAAA && length === 16) addresses.push(formatIPv6(payload, at));
    at += length;
  }
  return addresses.length > 0 ? { name: question.name, addresses } : null;
}

/** A (possibly compressed) domain name at `at`: its text and where the bytes after it begin. */
function readName(payload: Uint8Array, at: number): { name: string; end: number } | null {
  const labels: string[] = [];
  let end = -1;
  let pointers = 0;
  let total = 0;
  for (;;) {
    if (at >= payload.length) return null;
    const length = payload[at]!;
    if (length === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((length & 0xc0) === 0xc0) {
      if (at + 1 >= payload.length || ++pointers > MAX_POINTERS) return null;
      if (end < 0) end = at + 2;
      at = ((length & 0x3f) << 8) | payload[at + 1]!;
      continue;
    }
    if (length > 63 || at + 1 + length > payload.length) return null;
    total += length + 1;
    if (total > 255) return null;
    labels.push(Buffer.from(payload.buffer, payload.byteOffset + at + 1, length).toString('latin1'));
    at += 1 + length;
  }
  const name = labels.join('.').toLowerCase();
  return /^[\x21-\x7e]*$/.test(name) ? { name, end } : null;
}
