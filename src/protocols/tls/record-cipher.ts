import { createDecipheriv, type DecipherGCM } from 'node:crypto';
import type { CipherSuite, RecordKey } from './keys.js';

const TAG_LENGTH = 16;
const EXPLICIT_NONCE_LENGTH = 8;

/**
 * Opens the protected records of one direction under one key (RFC 8446 §5.2, RFC 5288, RFC 7905).
 * `seq` is the record sequence number under this key; the caller counts records.
 */
export class RecordCipher {
  constructor(
    readonly suite: CipherSuite,
    private readonly key: RecordKey,
    /** 0x0304 for TLS 1.3 (the record header is the additional data), else TLS 1.2. */
    private readonly tls13: boolean,
  ) {}

  /** The plaintext of a record (for TLS 1.3 still with its content type and padding), or null when it does not authenticate. */
  open(type: number, header: Uint8Array, body: Uint8Array, seq: number): Buffer | null {
    const explicit = !this.tls13 && this.suite.explicitNonce;
    const start = explicit ? EXPLICIT_NONCE_LENGTH : 0;
    if (body.length < start + TAG_LENGTH) return null;
    const nonce = explicit ? Buffer.concat([this.key.iv, body.subarray(0, EXPLICIT_NONCE_LENGTH)]) : xorSequence(this.key.iv, seq);
    const ciphertext = body.subarray(start, body.length - TAG_LENGTH);
    let aad: Uint8Array;
    if (this.tls13) aad = header;
    else {
      const a = Buffer.alloc(13);
      writeSequence(a, seq);
      a[8] = type;
      a[9] = header[1]!;
      a[10] = header[2]!;
      a.writeUInt16BE(ciphertext.length, 11);
      aad = a;
    }
    try {
      const decipher = createDecipheriv(this.suite.aead as 'aes-128-gcm', this.key.key, nonce, { authTagLength: TAG_LENGTH }) as DecipherGCM;
      decipher.setAAD(aad, { plaintextLength: ciphertext.length });
      decipher.setAuthTag(body.subarray(body.length - TAG_LENGTH));
      const head = decipher.update(ciphertext);
      const tail = decipher.final();
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch {
      return null;
    }
  }
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
