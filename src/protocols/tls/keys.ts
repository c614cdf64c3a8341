/**
 * Record keys from logged secrets: TLS 1.3 traffic keys (RFC 8446 §7.1, §7.3) and TLS 1.2 key blocks
 * (RFC 5246 §6.3, §5), for the AEAD suites and the AES-CBC ones (HMAC-SHA1/256/384, MAC-then-encrypt
 * or encrypt-then-MAC). Stream ciphers, 3DES, CCM and export suites are not decrypted.
 */
import { createHmac } from 'node:crypto';

export type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';
export type BlockCipher = 'aes-128-cbc' | 'aes-256-cbc';

export interface CipherSuite {
  id: number;
  name: string;
  /** An AEAD, or a block cipher with an HMAC (TLS 1.2 only). */
  cipher: Aead | BlockCipher;
  keyLength: number;
  /** The PRF's / HKDF's hash. */
  hash: 'sha256' | 'sha384';
  /** TLS 1.2 GCM: 4-byte implicit salt + 8-byte explicit nonce per record; otherwise a 12-byte IV. */
  explicitNonce: boolean;
  /** Block cipher suites: the record MAC. */
  mac: { hash: 'sha1' | 'sha256' | 'sha384'; length: number } | null;
}

const aead = (id: number, name: string, cipher: Aead, hash: 'sha256' | 'sha384', explicitNonce: boolean): CipherSuite => ({
  id,
  name,
  cipher,
  keyLength: cipher === 'aes-128-gcm' ? 16 : 32,
  hash,
  explicitNonce,
  mac: null,
});

const MAC_LENGTH = { sha1: 20, sha256: 32, sha384: 48 } as const;

const cbc = (id: number, name: string, cipher: BlockCipher, mac: 'sha1' | 'sha256' | 'sha384'): CipherSuite => ({
  id,
  name,
  cipher,
  keyLength: cipher === 'aes-128-cbc' ? 16 : 32,
  hash: mac === 'sha384' ? 'sha384' : 'sha256',
  explicitNonce: false,
  mac: { hash: mac, length: MAC_LENGTH[mac] },
});

const SUITES: readonly CipherSuite[] = [
  aead(0x1301, 'TLS_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', false),
  aead(0x1302, 'TLS_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', false),
  aead(0x1303, 'TLS_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  aead(0x009c, 'TLS_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  aead(0x009d, 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  aead(0x009e, 'TLS_DHE_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  aead(0x009f, 'TLS_DHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  aead(0xc02b, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  aead(0xc02c, 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  aead(0xc02f, 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', 'aes-128-gcm', 'sha256', true),
  aead(0xc030, 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', 'aes-256-gcm', 'sha384', true),
  aead(0xcca8, 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  aead(0xcca9, 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  aead(0xccaa, 'TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'chacha20-poly1305', 'sha256', false),
  cbc(0x002f, 'TLS_RSA_WITH_AES_128_CBC_SHA', 'aes-128-cbc', 'sha1'),
  cbc(0x0035, 'TLS_RSA_WITH_AES_256_CBC_SHA', 'aes-256-cbc', 'sha1'),
  cbc(0x003c, 'TLS_RSA_WITH_AES_128_CBC_SHA256', 'aes-128-cbc', 'sha256'),
  cbc(0x003d, 'TLS_RSA_WITH_AES_256_CBC_SHA256', 'aes-256-cbc', 'sha256'),
  cbc(0x0033, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA', 'aes-128-cbc', 'sha1'),
  cbc(0x0039, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA', 'aes-256-cbc', 'sha1'),
  cbc(0x0067, 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA256', 'aes-128-cbc', 'sha256'),
  cbc(0x006b, 'TLS_DHE_RSA_WITH_AES_256_CBC_SHA256', 'aes-256-cbc', 'sha256'),
  cbc(0xc009, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA', 'aes-128-cbc', 'sha1'),
  cbc(0xc00a, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA', 'aes-256-cbc', 'sha1'),
  cbc(0xc013, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', 'aes-128-cbc', 'sha1'),
  cbc(0xc014, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA', 'aes-256-cbc', 'sha1'),
  cbc(0xc023, 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'aes-128-cbc', 'sha256'),
  cbc(0xc024, 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384', 'aes-256-cbc', 'sha384'),
  cbc(0xc027, 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256', 'aes-128-cbc', 'sha256'),
  cbc(0xc028, 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'aes-256-cbc', 'sha384'),
];
const BY_ID = new Map(SUITES.map((s) => [s.id, s]));

/** The suite if wirespan can decrypt it, else undefined. */
export function cipherSuite(id: number): CipherSuite | undefined {
  return BY_ID.get(id);
}

export interface RecordKey {
  key: Buffer;
  /** TLS 1.3 and ChaCha20: the 12-byte IV; TLS 1.2 GCM: the 4-byte salt; CBC: empty (each record carries its IV). */
  iv: Buffer;
  /** CBC suites: the HMAC key. */
  macKey?: Buffer;
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

/** TLS 1.2 client and server write keys (and MAC keys, for CBC suites), from the key block (RFC 5246 §6.3). */
export function tls12Keys(s: CipherSuite, masterSecret: Buffer, clientRandom: Buffer, serverRandom: Buffer): [RecordKey, RecordKey] {
  const macLength = s.mac?.length ?? 0;
  // CBC records carry their own IV (TLS 1.1+): the key block's IVs are not used.
  const ivLength = s.mac ? 0 : s.explicitNonce ? 4 : 12;
  const k = s.keyLength;
  const block = prf(s.hash, masterSecret, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 2 * (macLength + k + ivLength));
  const keys = 2 * macLength;
  const ivs = keys + 2 * k;
  const side = (i: 0 | 1): RecordKey => ({
    key: block.subarray(keys + i * k, keys + (i + 1) * k),
    iv: block.subarray(ivs + i * ivLength, ivs + (i + 1) * ivLength),
    ...(s.mac ? { macKey: block.subarray(i * macLength, (i + 1) * macLength) } : {}),
  });
  return [side(0), side(1)];
}
