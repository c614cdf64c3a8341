/**
 * Record keys from logged secrets: TLS 1.3 traffic keys (RFC 8446 §7.1, §7.3) and TLS 1.2 key blocks
 * (RFC 5246 §6.3, §5), for the AEAD cipher suites. CBC and stream suites are not decrypted.
 */
import { createHmac } from 'node:crypto';

export type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

export interface CipherSuite {
  id: number;
  name: string;
  aead: Aead;
  keyLength: number;
  hash: 'sha256' | 'sha384';
  /** TLS 1.2 GCM: 4-byte implicit salt + 8-byte explicit nonce per record; otherwise a 12-byte IV. */
  explicitNonce: boolean;
}

const suite = (id: number, name: string, aead: Aead, hash: 'sha256' | 'sha384', explicitNonce: boolean): CipherSuite => ({
  id,
  name,
  aead,
  keyLength: aead === 'aes-128-gcm' ? 16 : 32,
  hash,
  explicitNonce,
});

const SUITES: readonly CipherSuite[] = [
  suite(0x1301, 'TLS_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', false),
  suite(0x1302, 'TLS_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', false),
  suite(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  suite(0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  suite(0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  suite(0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  suite(0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  suite(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  suite(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  suite(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  suite(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  suite(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  suite(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  suite(0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
];
const BY_ID = new Map(SUITES.map((s) => [s.id, s]));

/** The suite if wirespan can decrypt it, else undefined. */
export function cipherSuite(id: number): CipherSuite | undefined {
  return BY_ID.get(id);
}

export interface RecordKey {
  key: Buffer;
  /** TLS 1.3 and ChaCha20: the 12-byte IV; TLS 1.2 GCM: the 4-byte salt. */
  iv: Buffer;
}

/** RFC 5869 HKDF-Expand. */
function hkdfExpand(hash: string, prk: Buffer, info: Buffer, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1, have = 0; have < length; i++) {
    previous = createHmac(hash, prk).update(previous).update(info).update(Buffer.of(i)).digest();
    blocks.push(previous);
    have += previous.length;
  }
  return Buffer.concat(blocks).subarray(0, length);
}

/** RFC 8446 §7.1 HKDF-Expand-Label with an empty context. */
export function hkdfExpandLabel(hash: string, secret: Buffer, label: string, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.concat([Buffer.of(length >> 8, length & 0xff, full.length), full, Buffer.of(0)]);
  return hkdfExpand(hash, secret, info, length);
}

/** TLS 1.3 record key and IV of a traffic secret. */
export function tls13Key(s: CipherSuite, secret: Buffer): RecordKey {
  return { key: hkdfExpandLabel(s.hash, secret, 'key', s.keyLength), iv: hkdfExpandLabel(s.hash, secret, 'iv', 12) };
}

/** The traffic secret after a KeyUpdate (RFC 8446 §7.2). */
export function nextTrafficSecret(s: CipherSuite, secret: Buffer): Buffer {
  return hkdfExpandLabel(s.hash, secret, 'traffic upd', secret.length);
}

/** RFC 5246 §5 PRF (P_SHA256 or P_SHA384). */
function prf(hash: string, secret: Buffer, label: string, seed: Buffer, length: number): Buffer {
  const labelled = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  const out: Buffer[] = [];
  let a = labelled;
  for (let have = 0; have < length; ) {
    a = createHmac(hash, secret).update(a).digest();
    const block = createHmac(hash, secret).update(a).update(labelled).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** TLS 1.2 client and server write keys of an AEAD suite (no MAC keys: AEAD suites have none). */
export function tls12Keys(s: CipherSuite, masterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer): [RecordKey, RecordKey] {
  const ivLength = s.explicitNonce ? 4 : 12;
  const block = prf(s.hash, masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (s.keyLength + ivLength));
  const k = s.keyLength;
  return [
    { key: block.subarray(0, k), iv: block.subarray(2 * k, 2 * k + ivLength) },
    { key: block.subarray(k, 2 * k), iv: block.subarray(2 * k + ivLength, 2 * k + 2 * ivLength) },
  ];
}
