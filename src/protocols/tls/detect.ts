/**
 * Recognises TLS on the first bytes of a connection, so that encrypted traffic is reported as such
 * (with the server name the client asked for) instead of as an unknown protocol; and reads the two
 * hellos a decrypting session needs (the client's random, the server's choices).
 */

const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const SERVER_HELLO = 0x02;
const RECORD_HEADER = 5;
/** A record's largest length (2^14 plaintext + the 2048 bytes of expansion RFC 5246 allows). */
const MAX_RECORD = 16384 + 2048;
const SERVER_NAME = 0x0000;
const RANDOM_LENGTH = 32;
const HOST_NAME = 0x00;

export type TlsVerdict =
  | { tls: 'no' }
  | { tls: 'more' }
  /**
   * `serverName`: the ClientHello's SNI host name, null when absent (or this is the server side);
   * `clientRandom`: the ClientHello's random in lower-case hex (what key logs are keyed by), else null.
   */
  | { tls: 'yes'; serverName: string | null; clientRandom: string | null };

/**
 * Whether `bytes` (the first bytes of one direction) begin a TLS handshake: a handshake record
 * (SSL 3.0 to TLS 1.3 record versions) carrying a ClientHello or ServerHello. 'more' while the first
 * handshake message is incomplete; its server name is read once it is whole.
 */
export function detectTls(bytes: Uint8Array): TlsVerdict {
  if (bytes.length < 1) return { tls: 'more' };
  if (bytes[0] !== HANDSHAKE) return { tls: 'no' };
  if (bytes.length < RECORD_HEADER + 1) return plausiblePrefix(bytes) ? { tls: 'more' } : { tls: 'no' };
  if (!plausiblePrefix(bytes)) return { tls: 'no' };
  const recordLength = (bytes[3]! << 8) | bytes[4]!;
  const type = bytes[RECORD_HEADER]!;
  if (recordLength < 4 || recordLength > MAX_RECORD || (type !== CLIENT_HELLO && type !== SERVER_HELLO)) return { tls: 'no' };
  if (type === SERVER_HELLO) return { tls: 'yes', serverName: null, clientRandom: null };
  const hello = handshakeBody(bytes);
  if (hello === null) return { tls: 'more' };
  return { tls: 'yes', ...readClientHello(hello) };
}

/** 0x16, then record version 3.0-3.4. */
function plausiblePrefix(bytes: Uint8Array): boolean {
  if (bytes.length > 1 && bytes[1] !== 0x03) return false;
  return bytes.length <= 2 || bytes[2]! <= 0x04;
}

/**
 * The first handshake message's body, joined across the records that carry it (a large ClientHello,
 * post-quantum key shares for one, spans records); null until all of it is in `bytes`.
 */
function handshakeBody(bytes: Uint8Array): Uint8Array | null {
  const fragments: Uint8Array[] = [];
  let have = 0;
  let need = -1;
  for (let at = 0; ; ) {
    if (at + RECORD_HEADER > bytes.length) return null;
    if (bytes[at] !== HANDSHAKE) return null;
    const length = (bytes[at + 3]! << 8) | bytes[at + 4]!;
    const end = Math.min(bytes.length, at + RECORD_HEADER + length);
    fragments.push(bytes.subarray(at + RECORD_HEADER, end));
    have += end - (at + RECORD_HEADER);
    if (need < 0 && have >= 4) {
      const joined = join(fragments, have);
      need = 4 + ((joined[1]! << 16) | (joined[2]! << 8) | joined[3]!);
    }
    if (need >= 0 && have >= need) return join(fragments, have).subarray(4, need);
    if (end < at + RECORD_HEADER + length) return null;
    at = end;
  }
}

function join(parts: Uint8Array[], total: number): Uint8Array {
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/** The random (hex) and SNI host name of a ClientHello body (after its 4-byte handshake header). */
export function readClientHello(hello: Uint8Array): { clientRandom: string | null; serverName: string | null } {
  const clientRandom = hello.length >= 2 + RANDOM_LENGTH ? Buffer.from(hello.subarray(2, 2 + RANDOM_LENGTH)).toString('hex') : null;
  return { clientRandom, serverName: serverNameOf(hello) };
}

/** ServerHello extensions read: the version chosen (TLS 1.3 says it there) and encrypt-then-MAC. */
const SUPPORTED_VERSIONS = 0x002b;
/** RFC 7366: CBC records are MACed after encryption. */
const ENCRYPT_THEN_MAC = 0x0016;
/** ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3). */
const HELLO_RETRY_RANDOM = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c';

export interface ServerHello {
  random: Buffer;
  suiteId: number;
  /** The version chosen: supported_versions' when present (TLS 1.3), else legacy_version. */
  version: number;
  encryptThenMac: boolean;
  /** A HelloRetryRequest (same message type): the real ServerHello follows. */
  helloRetryRequest: boolean;
}

/** A ServerHello body (after its 4-byte handshake header), null when too short to hold one. */
export function readServerHello(hello: Uint8Array): ServerHello | null {
  if (hello.length < 38) return null;
  const view = Buffer.from(hello.buffer, hello.byteOffset, hello.byteLength);
  const random = Buffer.from(view.subarray(2, 2 + RANDOM_LENGTH));
  let at = 2 + RANDOM_LENGTH;
  at += 1 + view[at]!; // session id
  if (at + 3 > view.length) return null;
  const suiteId = view.readUInt16BE(at);
  at += 3; // cipher suite, compression method
  let version = view.readUInt16BE(0);
  let encryptThenMac = false;
  if (at + 2 <= view.length) {
    const end = Math.min(view.length, at + 2 + view.readUInt16BE(at));
    for (at += 2; at + 4 <= end; ) {
      const type = view.readUInt16BE(at);
      const length = view.readUInt16BE(at + 2);
      if (type === SUPPORTED_VERSIONS && length === 2 && at + 6 <= end) version = view.readUInt16BE(at + 4);
      else if (type === ENCRYPT_THEN_MAC) encryptThenMac = true;
      at += 4 + length;
    }
  }
  return { random, suiteId, version, encryptThenMac, helloRetryRequest: random.toString('hex') === HELLO_RETRY_RANDOM };
}

/** The host_name of the server_name extension (RFC 6066 §3) of a ClientHello body. */
function serverNameOf(hello: Uint8Array): string | null {
  let at = 2 + 32; // client_version, random
  const skip = (lengthBytes: number): boolean => {
    if (at + lengthBytes > hello.length) return false;
    let length = 0;
    for (let i = 0; i < lengthBytes; i++) length = (length << 8) | hello[at + i]!;
    at += lengthBytes + length;
    return at <= hello.length;
  };
  if (!skip(1) || !skip(2) || !skip(1)) return null; // session id, cipher suites, compression methods
  if (at + 2 > hello.length) return null;
  const extensionsEnd = Math.min(hello.length, at + 2 + ((hello[at]! << 8) | hello[at + 1]!));
  at += 2;
  while (at + 4 <= extensionsEnd) {
    const type = (hello[at]! << 8) | hello[at + 1]!;
    const length = (hello[at + 2]! << 8) | hello[at + 3]!;
    const body = at + 4;
    at = body + length;
    if (at > extensionsEnd) return null;
    if (type !== SERVER_NAME || length < 5) continue;
    const nameType = hello[body + 2];
    const nameLength = (hello[body + 3]! << 8) | hello[body + 4]!;
    if (nameType !== HOST_NAME || body + 5 + nameLength > at) return null;
    const name = Buffer.from(hello.buffer, hello.byteOffset + body + 5, nameLength).toString('latin1');
    return /^[\x21-\x7e]+$/.test(name) ? name.toLowerCase() : null;
  }
  return null;
}
