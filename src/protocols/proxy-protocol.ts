import { formatIPv4, formatIPv6 } from '../decode/address.js';
import type { Endpoint } from '../tcp/types.js';

/**
 * The PROXY protocol header (HAProxy's specification, versions 1 and 2) that load balancers (HAProxy,
 * AWS NLB, nginx `proxy_protocol`, Envoy) put before the first byte of a connection to a backend: it
 * names the client the balancer accepted. It is no part of the application protocol behind it.
 */
export type ProxyHeader =
  /** `length` bytes to skip; `source`: the original client, null for LOCAL / UNKNOWN / non-TCP. */
  | { kind: 'header'; version: 1 | 2; length: number; source: Endpoint | null }
  | { kind: 'more' }
  | { kind: 'none' };

const V2_SIGNATURE = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Uint8Array.from([0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]); // "PROXY "
/** A v1 line is at most 107 bytes, CRLF included. */
const V1_MAX = 107;
const V2_FIXED = 16;

/** Reads a PROXY header at the start of `bytes` (the first bytes of the client's stream). */
export function readProxyHeader(bytes: Uint8Array): ProxyHeader {
  if (startsWith(bytes, V2_SIGNATURE)) return readV2(bytes);
  if (startsWith(bytes, V1_PREFIX)) return readV1(bytes);
  return { kind: 'none' };
}

/** True when `bytes` match `prefix` as far as both go: 'more' is possible while it is shorter. */
function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function readV1(bytes: Uint8Array): ProxyHeader {
  if (bytes.length < V1_PREFIX.length) return { kind: 'more' };
  const limit = Math.min(bytes.length, V1_MAX);
  let lf = -1;
  for (let i = V1_PREFIX.length; i < limit; i++) {
    if (bytes[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf < 0) return bytes.length < V1_MAX ? { kind: 'more' } : { kind: 'none' };
  if (bytes[lf - 1] !== 0x0d) return { kind: 'none' };
  const line = Buffer.from(bytes.buffer, bytes.byteOffset, lf - 1).toString('latin1');
  const fields = line.split(' ');
  if (fields[1] === 'UNKNOWN') return { kind: 'header', version: 1, length: lf + 1, source: null };
  if (fields.length !== 6 || (fields[1] !== 'TCP4' && fields[1] !== 'TCP6')) return { kind: 'none' };
  const port = Number(fields[4]);
  if (!/^\d{1,5}$/.test(fields[4]!) || port > 65535 || !/^\d{1,5}$/.test(fields[5]!)) return { kind: 'none' };
  const ip = fields[2]!;
  if (fields[1] === 'TCP4' ? !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip) : !/^[0-9a-fA-F:.]+$/.test(ip)) return { kind: 'none' };
  return { kind: 'header', version: 1, length: lf + 1, source: { ip: ip.toLowerCase(), port } };
}

function readV2(bytes: Uint8Array): ProxyHeader {
  if (bytes.length < V2_FIXED) return { kind: 'more' };
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return { kind: 'none' };
  const command = versionCommand & 0x0f;
  if (command > 1) return { kind: 'none' };
  const family = bytes[13]!;
  const length = V2_FIXED + ((bytes[14]! << 8) | bytes[15]!);
  if (bytes.length < length) return { kind: 'more' };
  if (command === 0) return { kind: 'header', version: 2, length, source: null }; // LOCAL: the balancer's own health check
  const u16 = (at: number): number => (bytes[at]! << 8) | bytes[at + 1]!;
  if (family === 0x11 && length >= V2_FIXED + 12) {
    return { kind: 'header', version: 2, length, source: { ip: formatIPv4(bytes, V2_FIXED), port: u16(V2_FIXED + 8) } };
  }
  if (family === 0x21 && length >= V2_FIXED + 36) {
    return { kind: 'header', version: 2, length, source: { ip: formatIPv6(bytes, V2_FIXED), port: u16(V2_FIXED + 32) } };
  }
  return { kind: 'header', version: 2, length, source: null };
}
