import { createDecipheriv, createHmac, timingSafeEqual, type DecipherGCM } from 'node:crypto';
import type { CipherSuite, RecordKey } from './keys.js';

const TAG_LENGTH = 16;
const EXPLICIT_NONCE_LENGTH = 8;

const BLOCK = 16;

/**
 * Opens the protected records of one direction under one key (RFC 8446 §5.2, RFC 5288, RFC 7905;
 * CBC: RFC 5246 §6.2.3.2, RFC 7366). `seq` is the record sequence number under this key; the caller
 * counts records.
 */
export class RecordCipher {
  constructor(
    readonly suite: CipherSuite,
    private readonly key: RecordKey,
    /** 0x0304 for TLS 1.3 (the record header is the additional data), else TLS 1.2. */
    private readonly tls13: boolean,
    /** CBC: the ServerHello granted encrypt_then_mac (RFC 7366). */
    private readonly encryptThenMac = false,
  ) {}

  /** The plaintext of a record (for TLS 1.3 still with its content type and padding), or null when it does not authenticate. */
  open(type: number, header: Uint8Array, body: Uint8Array, seq: number): Buffer | null {
    if (this.suite.mac) return this.openCbc(type, header, body, seq);
    const explicit = !this.tls13 && this.suite.explicitNonce;
    const start = explicit ? EXPLICIT_NONCE_LENGTH : 0;
    if (body.length < start + TAG_LENGTH) return null;
    const nonce = explicit ? Buffer.concat([this.key.iv, body.subarray(0, EXPLICIT_NONCE_LENGTH)]) : xorSequence(this.key.iv, seq);
    const ciphertext = body.subarray(start, body.length - TAG_LENGTH);
    const aad = this.tls13 ? header : tls12Additional(seq, type, header, ciphertext.length);
    try {
      const decipher = createDecipheriv(this.suite.cipher as 'aes-128-gcm', this.key.key, nonce, { authTagLength: TAG_LENGTH }) as DecipherGCM;
      decipher.setAAD(aad, { plaintextLength: ciphertext.length });
      decipher.setAuthTag(body.subarray(body.length - TAG_LENGTH));
      const head = decipher.update(ciphertext);
      const tail = decipher.final();
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      return null;
    }
  }

  /** A CBC record: IV, then the encrypted content, MAC and padding (or, encrypt-then-MAC, the MAC after the encryption). */
  private openCbc(type: number, header: Uint8Array, body: Uint8Array, seq: number): Buffer | null {
    const mac = this.suite.mac!;
    const encrypted = this.encryptThenMac ? body.subarray(0, body.length - mac.length) : body;
    if (encrypted.length < 2 * BLOCK || encrypted.length % BLOCK !== 0) return null;
    if (this.encryptThenMac && !this.macMatches(seq, type, header, encrypted, body.subarray(encrypted.length))) return null;
    let plain: Buffer;
    try {
      const decipher = createDecipheriv(this.suite.cipher, this.key.key, encrypted.subarray(0, BLOCK));
      decipher.setAutoPadding(false);
      plain = Buffer.concat([decipher.update(encrypted.subarray(BLOCK)), decipher.final()]);
    } catch {
      return null;
    }
    const padding = plain[plain.length - 1]! + 1;
    const trailer = padding + (this.encryptThenMac ? 0 : mac.length);
    if (trailer > plain.length) return null;
    for (let i = plain.length - padding; i < plain.length; i++) if (plain[i] !== padding - 1) return null;
    const content = plain.subarray(0, plain.length - trailer);
    if (!this.encryptThenMac && !this.macMatches(seq, type, header, content, plain.subarray(content.length, content.length + mac.length))) return null;
    return content;
  }

  /** HMAC(seq ‖ type ‖ version ‖ length ‖ data) against the record's MAC. */
  private macMatches(seq: number, type: number, header: Uint8Array, data: Uint8Array, expected: Uint8Array): boolean {
    const prefix = tls12Additional(seq, type, header, data.length);
    const actual = createHmac(this.suite.mac!.hash, this.key.macKey!).update(prefix).update(data).digest();
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }
}

/** TLS 1.2's seq_num ‖ type ‖ version ‖ length: the AEAD additional data, and what a record MAC covers before the data. */
function tls12Additional(seq: number, type: number, header: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(13);
  writeSequence(out, seq);
  out[8] = type;
  out[9] = header[1]!;
  out[10] = header[2]!;
  out.writeUInt16BE(length, 11);
  return out;
}

function writeSequence(out: Buffer, seq: number): void {
  out.writeUInt32BE(Math.floor(seq / 2 ** 32), 0);
  out.writeUInt32BE(seq >>> 0, 4);
}

/** The per-record nonce: the IV with the 64-bit sequence number XORed into its last 8 bytes. */
function xorSequence(iv: Buffer, seq: number): Buffer {
  const nonce = Buffer.from(iv);
  const s = Buffer.alloc(8);
  writeSequence(s, seq);
  for (let i = 0; i < 8; i++) nonce[nonce.length - 8 + i]! ^= s[i]!;
  return nonce;
}
