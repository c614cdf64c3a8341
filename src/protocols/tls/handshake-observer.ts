/**
 * A TLS connection that cannot be decrypted still says, in the clear, how its handshake went: how
 * long the server took to answer the ClientHello, the version it chose, and the alerts sent before
 * encryption began (an untrusted certificate, no cipher suite in common: the classic incidents).
 * Records are followed each way until that side encrypts; nothing is decrypted.
 */
import type { Direction, EndReason } from '../../tcp/types.js';
import type { Counters } from '../../util/counters.js';
import type { ProtocolHandler } from '../types.js';
import { readServerHello } from './detect.js';

export interface TlsHandshakeOutcome {
  /** ServerHello's arrival after the ClientHello's, µs; null when no ServerHello was seen. */
  helloUs: number | null;
  /** 'TLS 1.3', 'TLS 1.2', ..., null without a ServerHello. */
  version: string | null;
  /** The handshake failed: a fatal alert in the clear (its name, and who sent it), or no answer. */
  failure: string | null;
  /** Bytes each side sent over the connection. */
  bytes: { client: number; server: number };
}

const HEADER = 5;
/** Bytes of a direction followed before giving up on finding its hellos (a long certificate chain fits). */
const MAX_FOLLOWED = 64 * 1024;
const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
const FATAL = 2;

/** Alert descriptions (RFC 8446 §6, RFC 5246 §7.2). */
const ALERTS: Record<number, string> = {
  0: 'close_notify', 10: 'unexpected_message', 20: 'bad_record_mac', 22: 'record_overflow', 40: 'handshake_failure',
  42: 'bad_certificate', 43: 'unsupported_certificate', 44: 'certificate_revoked', 45: 'certificate_expired',
  46: 'certificate_unknown', 47: 'illegal_parameter', 48: 'unknown_ca', 49: 'access_denied', 50: 'decode_error',
  51: 'decrypt_error', 70: 'protocol_version', 71: 'insufficient_security', 80: 'internal_error',
  86: 'inappropriate_fallback', 90: 'user_canceled', 109: 'missing_extension', 110: 'unsupported_extension',
  112: 'unrecognized_name', 113: 'bad_certificate_status_response', 115: 'unknown_psk_identity',
  116: 'certificate_required', 120: 'no_application_protocol',
};

const VERSIONS: Record<number, string> = { 0x0300: 'SSL 3.0', 0x0301: 'TLS 1.0', 0x0302: 'TLS 1.1', 0x0303: 'TLS 1.2', 0x0304: 'TLS 1.3' };

export class TlsHandshakeObserver implements ProtocolHandler {
  private readonly pending: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  private readonly sent = [0, 0];
  private readonly encrypted = [false, false];
  private clientHelloTs: number | null = null;
  private serverHelloTs: number | null = null;
  private version: string | null = null;
  private failure: string | null = null;
  private done = false;

  constructor(
    /** The direction the ClientHello goes (the TLS client's). */
    private readonly clientDir: Direction,
    private readonly counters: Counters,
    private readonly onDone: (outcome: TlsHandshakeOutcome) => void,
    /** Count the bytes as TLS not analysed (`protocols.tls-bytes`): not for a session being decrypted. */
    private readonly countsUnanalysedBytes = true,
  ) {}

  data(dir: Direction, bytes: Uint8Array, ts: number): void {
    if (this.countsUnanalysedBytes) this.counters.add('protocols.tls-bytes', bytes.length);
    const followed = this.sent[dir]!; // until a side encrypts, all it sent was followed
    this.sent[dir]! += bytes.length;
    if (this.encrypted[dir] || followed >= MAX_FOLLOWED) return;
    let p = this.pending[dir].length === 0 ? Buffer.from(bytes) : Buffer.concat([this.pending[dir], bytes]);
    while (p.length >= HEADER && !this.encrypted[dir]) {
      const length = p.readUInt16BE(3);
      if (p.length < HEADER + length) break;
      this.record(dir, p[0]!, p.subarray(HEADER, HEADER + length), ts);
      p = p.subarray(HEADER + length);
    }
    this.pending[dir] = this.encrypted[dir] ? Buffer.alloc(0) : p;
  }

  gap(dir: Direction): void {
    this.encrypted[dir] = true; // the record boundary is lost: stop following this side
  }

  end(_dir: Direction, _reason: EndReason, _ts: number): void {}

  close(): void {
    if (this.done) return;
    this.done = true;
    if (this.failure === null && this.clientHelloTs !== null && this.serverHelloTs === null) this.failure = 'no ServerHello';
    this.onDone({
      helloUs: this.clientHelloTs !== null && this.serverHelloTs !== null ? this.serverHelloTs - this.clientHelloTs : null,
      version: this.version,
      failure: this.failure,
      bytes: { client: this.sent[this.clientDir]!, server: this.sent[this.clientDir === 0 ? 1 : 0]! },
    });
  }

  oldestInFlightUs(): null {
    return null;
  }

  private record(dir: Direction, type: number, body: Buffer, ts: number): void {
    const client = dir === this.clientDir;
    if (type === 22) {
      // Only a hello at the start of a record is looked at: each is the first message of its flight.
      if (client && body[0] === CLIENT_HELLO) this.clientHelloTs ??= ts;
      if (!client && body[0] === SERVER_HELLO && this.serverHelloTs === null) {
        const hello = body.length >= 4 ? readServerHello(body.subarray(4)) : null;
        if (hello && !hello.helloRetryRequest) {
          this.serverHelloTs = ts;
          this.version = VERSIONS[hello.version] ?? `0x${hello.version.toString(16)}`;
          // TLS 1.3 encrypts the rest of the server's handshake.
          if (hello.version === 0x0304) this.encrypted[dir] = true;
        }
      }
    } else if (type === 21 && body.length >= 2 && body[0] === FATAL && this.failure === null) {
      this.failure = `${ALERTS[body[1]!] ?? `alert ${body[1]}`} from the ${client ? 'client' : 'server'}`;
      this.counters.add('tls.handshake-failures');
    } else if (type === 20 || type === 23) {
      this.encrypted[dir] = true;
    }
  }
}
