/**
 * One TLS connection whose secrets are in the key log: reads its records both ways, follows the
 * handshake in the clear (ClientHello, ServerHello, ChangeCipherSpec), opens the protected records
 * with the keys the logged secrets give, and passes the application data, with its own offsets, to the
 * handler of the plaintext (the dispatcher's detection: HTTP/1, HTTP/2, gRPC, MySQL).
 *
 * A gap in the TCP stream loses the record boundary and the record count the nonces depend on: the
 * plaintext handler is told of a gap, then the next record that authenticates, at a plausible header
 * and a sequence number the lost bytes allow, resumes decryption.
 */
import type { Direction, EndReason } from '../../tcp/types.js';
import type { Counters } from '../../util/counters.js';
import type { ProtocolHandler, TlsInfo } from '../types.js';
import { readClientHello, readServerHello } from './detect.js';
import { TlsHandshakeObserver, type TlsHandshakeOutcome } from './handshake-observer.js';
import type { SessionSecrets, TlsKeyLog } from './keylog.js';
import { cipherSuite, nextTrafficSecret, tls12Keys, tls13Key, type CipherSuite } from './keys.js';
import { RecordCipher } from './record-cipher.js';

export interface TlsSessionOptions {
  /** Where the session's secrets are looked up, by the random of the ClientHello the session reads. */
  keys: TlsKeyLog;
  counters: Counters;
  /** Receives the decrypted application data. */
  plaintext: ProtocolHandler;
  /**
   * At the connection's end, when the session could not be decrypted after all (no secrets, suite,
   * version, secrets that open nothing): why, and its handshake as the clear showed it. Its connection
   * is reported as TLS not analysed.
   */
  onUndecryptable(reason: string, serverName: string | null, handshake: TlsHandshakeOutcome): void;
  /**
   * Live capture: a client writes its secrets only once it has the ServerHello, after the capture saw
   * it. The records that need them are held (up to MAX_HELD_BYTES, MAX_WAIT_US of packet time) while
   * the key log is looked at again.
   */
  waitForSecrets?: boolean;
}

const MAX_HELD_BYTES = 1 << 20;
/** A TLS 1.3 handshake flight takes a few records (a long certificate chain, a handful more): past this, the key is wrong. */
const MAX_UNREAD_HANDSHAKE_RECORDS = 16;
const MAX_WAIT_US = 10_000_000;

interface HeldRecord {
  dir: Direction;
  type: number;
  header: Uint8Array;
  body: Uint8Array;
  ts: number;
}

const enum ContentType {
  ChangeCipherSpec = 20,
  Alert = 21,
  Handshake = 22,
  ApplicationData = 23,
}
const HEADER = 5;
/** Largest protected record: 2^14 plaintext + 256 (RFC 8446 §5.2; RFC 5246 allows 2048, seen nowhere). */
const MAX_RECORD = 16384 + 2048;
const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
const FINISHED = 20;
const KEY_UPDATE = 24;
const TLS13 = 0x0304;
/** After a gap: the most sequence numbers tried at one candidate record, and bytes scanned for one. */
const MAX_SKIPPED_RECORDS = 4096;
const MAX_RESYNC_SCAN = 256 * 1024;

class Side {
  pending: Buffer = Buffer.alloc(0);
  /** Handshake bytes in the clear not yet parsed into messages. */
  handshake: Buffer = Buffer.alloc(0);
  plainOffset = 0;
  cipher: RecordCipher | null = null;
  seq = 0;
  /** TLS 1.2: the cipher ChangeCipherSpec turns on. */
  waitingCipher: RecordCipher | null = null;
  /** TLS 1.3: the current traffic secret (after the handshake), for KeyUpdate and trial of the next. */
  trafficSecret: Buffer | null = null;
  /** TLS 1.3: the application traffic secret that follows the handshake keys. */
  firstTrafficSecret: Buffer | null = null;
  inHandshakeEpoch = false;
  /** TLS 1.3 without handshake secrets: records that do not open are the handshake's, until one does. */
  handshakeUnreadable = false;
  unreadRecords = 0;
  /** Bytes lost by gaps since the record boundary was lost (-1 unknown); null while in step. */
  lostSince: number | null = null;
  scanned = 0;
  dead = false;
}

export class TlsSession implements ProtocolHandler {
  private readonly sides: [Side, Side] = [new Side(), new Side()];
  /** From the ServerHello: the suite and the server's random the keys are made for. */
  private suite: CipherSuite | null = null;
  private serverRandom: Buffer | null = null;
  private tls13 = false;
  private clientRandom: Buffer | null = null;
  private encryptThenMac = false;
  private serverName: string | null = null;
  /** Records held while the secrets are awaited (waitForSecrets), in arrival order. */
  private held: HeldRecord[] | null = null;
  private heldBytes = 0;
  /** Why the session cannot be decrypted, once that is known; reported at the end with the handshake. */
  private failed: string | null = null;
  /** The handshake as the clear shows it, for a session that turns out undecryptable. */
  private readonly handshake: TlsHandshakeObserver;
  private outcome: TlsHandshakeOutcome | null = null;
  info: TlsInfo | null = null;

  constructor(private readonly opts: TlsSessionOptions) {
    // Direction 0 is the TLS client's: the dispatcher sets the roles by the ClientHello.
    this.handshake = new TlsHandshakeObserver(0, opts.counters, (outcome) => (this.outcome = outcome), false);
  }

  data(dir: Direction, bytes: Uint8Array, ts: number): void {
    this.handshake.data(dir, bytes, ts);
    const side = this.sides[dir];
    if (side.dead) return;
    side.pending = side.pending.length === 0 ? Buffer.from(bytes) : Buffer.concat([side.pending, bytes]);
    this.drain(dir, ts);
  }

  gap(dir: Direction, lostBytes: number, ts: number): void {
    this.handshake.gap(dir);
    const side = this.sides[dir];
    if (side.dead) return;
    const lost = lostBytes < 0 ? -1 : lostBytes + side.pending.length;
    side.lostSince = side.lostSince === null ? lost : side.lostSince < 0 || lost < 0 ? -1 : side.lostSince + lost;
    side.pending = Buffer.alloc(0);
    side.scanned = 0;
    this.opts.counters.add('tls.gaps');
    this.opts.plaintext.gap(dir, -1, ts, side.plainOffset);
  }

  end(dir: Direction, reason: EndReason, ts: number): void {
    this.opts.plaintext.end(dir, reason, ts);
  }

  close(ts: number): void {
    if (this.held !== null) this.giveUp('the key log had no secrets for this session', 'tls.sessions-without-keys');
    // Only application secrets were logged and not one record of a side opened under them: wrong secrets.
    const unopened = this.sides.filter((side) => side.handshakeUnreadable && side.unreadRecords > 0 && !side.dead);
    if (unopened.length > 0) {
      this.opts.counters.add('tls.decrypt-failures', unopened.length);
      this.failed ??= 'no record opened under the logged application secrets';
    }
    this.handshake.close();
    if (this.failed !== null) this.opts.onUndecryptable(this.failed, this.serverName, this.outcome!);
    this.opts.plaintext.close(ts);
  }

  oldestInFlightUs(): number | null {
    return this.opts.plaintext.oldestInFlightUs();
  }

  private drain(dir: Direction, ts: number): void {
    const side = this.sides[dir];
    while (!side.dead) {
      if (side.lostSince !== null && !this.resync(dir)) return;
      const p = side.pending;
      if (p.length < HEADER) return;
      const length = p.readUInt16BE(3);
      if (p[1] !== 0x03 || length > MAX_RECORD || p[0]! < ContentType.ChangeCipherSpec || p[0]! > ContentType.ApplicationData) {
        this.opts.counters.add('tls.malformed-records');
        side.lostSince = -1;
        this.opts.plaintext.gap(dir, -1, ts, side.plainOffset);
        continue;
      }
      if (p.length < HEADER + length) return;
      side.pending = p.subarray(HEADER + length);
      const header = p.subarray(0, HEADER);
      const body = p.subarray(HEADER, HEADER + length);
      if (this.held !== null) this.hold({ dir, type: p[0]!, header, body, ts });
      else this.record(dir, p[0]!, header, body, ts);
    }
  }

  /** While the secrets are awaited: keep the record, and look for the secrets again. */
  private hold(record: HeldRecord): void {
    const held = this.held!;
    held.push(record);
    this.heldBytes += record.body.length + HEADER;
    if (this.installKeys()) return;
    if (this.heldBytes > MAX_HELD_BYTES || record.ts - held[0]!.ts > MAX_WAIT_US) {
      this.giveUp('the key log had no secrets for this session in time', 'tls.sessions-without-keys');
    }
  }

  private record(dir: Direction, type: number, header: Uint8Array, body: Uint8Array, ts: number): void {
    const side = this.sides[dir];
    if (side.cipher === null) {
      if (type === ContentType.Handshake) return this.clearHandshake(dir, body);
      if (type === ContentType.ChangeCipherSpec && side.waitingCipher !== null) {
        side.cipher = side.waitingCipher;
        side.seq = 0;
        side.waitingCipher = null;
        return;
      }
      if (type === ContentType.ApplicationData) {
        // 0-RTT early data, or a session joined after its handshake: nothing to open it with.
        this.opts.counters.add('tls.records-without-keys');
        this.opts.plaintext.gap(dir, -1, ts, side.plainOffset);
      }
      return;
    }
    if (this.tls13 && type === ContentType.ChangeCipherSpec) return; // middlebox compatibility (RFC 8446 §D.4)
    const plain = this.open(dir, type, header, body);
    if (plain === null && side.handshakeUnreadable && ++side.unreadRecords <= MAX_UNREAD_HANDSHAKE_RECORDS) {
      return this.opts.counters.add('tls.handshake-records-unread');
    }
    if (plain === null) {
      this.opts.counters.add('tls.decrypt-failures');
      return this.abandon(dir, ts);
    }
    side.handshakeUnreadable = false;
    this.opts.counters.add('tls.records-decrypted');
    let content = plain;
    let innerType = type;
    if (this.tls13) {
      let end = plain.length;
      while (end > 0 && plain[end - 1] === 0) end--;
      if (end === 0) return;
      innerType = plain[end - 1]!;
      content = plain.subarray(0, end - 1);
    }
    if (innerType === ContentType.ApplicationData) {
      if (content.length === 0) return;
      this.opts.plaintext.data(dir, content, ts, side.plainOffset);
      side.plainOffset += content.length;
    } else if (innerType === ContentType.Handshake && this.tls13) {
      this.protectedHandshake(dir, content);
    }
  }

  /** Opens a protected record at the expected sequence number, else under the next key (TLS 1.3 epochs). */
  private open(dir: Direction, type: number, header: Uint8Array, body: Uint8Array): Buffer | null {
    const side = this.sides[dir];
    const plain = side.cipher!.open(type, header, body, side.seq);
    if (plain !== null) {
      side.seq++;
      return plain;
    }
    if (!this.tls13) return null;
    // The Finished or KeyUpdate that announced the switch may have been in a gap: try the next key.
    const next = side.inHandshakeEpoch ? side.firstTrafficSecret : side.trafficSecret && nextTrafficSecret(this.suite!, side.trafficSecret);
    if (!next) return null;
    const cipher = new RecordCipher(this.suite!, tls13Key(this.suite!, next), true);
    const opened = cipher.open(type, header, body, 0);
    if (opened === null) return null;
    side.cipher = cipher;
    side.trafficSecret = next;
    side.inHandshakeEpoch = false;
    side.seq = 1;
    return opened;
  }

  private protectedHandshake(dir: Direction, content: Buffer): void {
    const side = this.sides[dir];
    for (let at = 0; at + 4 <= content.length; ) {
      const type = content[at]!;
      at += 4 + content.readUIntBE(at + 1, 3);
      if (type === FINISHED && side.inHandshakeEpoch) this.switchTo(dir, side.firstTrafficSecret!);
      else if (type === KEY_UPDATE && !side.inHandshakeEpoch && side.trafficSecret) {
        this.opts.counters.add('tls.key-updates');
        this.switchTo(dir, nextTrafficSecret(this.suite!, side.trafficSecret));
      }
    }
  }

  private switchTo(dir: Direction, secret: Buffer): void {
    const side = this.sides[dir];
    side.cipher = new RecordCipher(this.suite!, tls13Key(this.suite!, secret), true);
    side.trafficSecret = secret;
    side.inHandshakeEpoch = false;
    side.seq = 0;
  }

  private clearHandshake(dir: Direction, body: Uint8Array): void {
    const side = this.sides[dir];
    side.handshake = side.handshake.length === 0 ? Buffer.from(body) : Buffer.concat([side.handshake, body]);
    while (side.handshake.length >= 4) {
      const length = side.handshake.readUIntBE(1, 3);
      if (side.handshake.length < 4 + length) return;
      const message = side.handshake.subarray(0, 4 + length);
      side.handshake = side.handshake.subarray(4 + length);
      if (dir === 0 && message[0] === CLIENT_HELLO) this.clientHello(message.subarray(4));
      else if (dir === 1 && message[0] === SERVER_HELLO) this.serverHello(message.subarray(4));
    }
  }

  private clientHello(hello: Buffer): void {
    if (this.clientRandom !== null) return; // the second ClientHello after a HelloRetryRequest keeps the random
    const { clientRandom, serverName } = readClientHello(hello);
    if (clientRandom === null) return;
    this.clientRandom = Buffer.from(clientRandom, 'hex');
    this.serverName = serverName;
    if (!this.opts.waitForSecrets && this.opts.keys.get(clientRandom) === undefined) {
      this.giveUp('the key log has no secrets for this session', 'tls.sessions-without-keys');
    }
  }

  private serverHello(hello: Buffer): void {
    if (this.info !== null || this.clientRandom === null) return;
    const parsed = readServerHello(hello);
    if (parsed === null || parsed.helloRetryRequest) return;
    const { random, suiteId, version } = parsed;
    this.encryptThenMac = parsed.encryptThenMac;
    this.tls13 = version === TLS13;
    const suite = cipherSuite(suiteId);
    const hex = `0x${suiteId.toString(16).padStart(4, '0')}`;
    this.info = { version: this.tls13 ? 'TLS 1.3' : 'TLS 1.2', cipherSuite: suite?.name ?? hex, serverName: this.serverName };
    if (!suite) return this.giveUp(`cipher suite ${hex} is not one wirespan decrypts (AEAD and AES-CBC suites)`, 'tls.unsupported-cipher-suites');
    if (this.tls13 && suite.mac) return this.giveUp(`cipher suite ${hex} is not a TLS 1.3 suite`, 'tls.unsupported-cipher-suites');
    if (version !== TLS13 && version !== 0x0303) return this.giveUp(`version 0x${version.toString(16)} is not decrypted`, 'tls.unsupported-versions');
    this.suite = suite;
    this.serverRandom = random;
    if (!this.installKeys()) {
      if (!this.opts.waitForSecrets) return this.giveUp(this.missing(), 'tls.sessions-without-keys');
      this.held = [];
    }
  }

  /** What the key log lacks for this session. */
  private missing(): string {
    return this.tls13 ? 'the key log lacks this TLS 1.3 session’s application traffic secrets' : 'the key log lacks this session’s master secret (CLIENT_RANDOM)';
  }

  /** Keys from the secrets, once the ServerHello said what for; then the records held meanwhile. False while a secret is missing. */
  private installKeys(): boolean {
    const suite = this.suite!;
    const complete = (secrets: SessionSecrets): boolean =>
      this.tls13 ? secrets.clientTraffic0 !== undefined && secrets.serverTraffic0 !== undefined : secrets.masterSecret !== undefined;
    const s = this.opts.keys.get(this.clientRandom!.toString('hex'), complete);
    if (!s) return false;
    if (this.tls13) {
      // `complete` made sure of the application secrets.
      const pairs: [Buffer | undefined, Buffer][] = [
        [s.clientHandshake, s.clientTraffic0!],
        [s.serverHandshake, s.serverTraffic0!],
      ];
      pairs.forEach(([handshake, traffic], i) => {
        const side = this.sides[i as Direction];
        side.seq = 0;
        side.firstTrafficSecret = traffic;
        if (handshake) {
          side.cipher = new RecordCipher(suite, tls13Key(suite, handshake), true);
          side.inHandshakeEpoch = true;
        } else {
          // Only the application secrets were logged: the handshake's records cannot be read and are
          // passed over until the first record that opens under the application key.
          side.cipher = new RecordCipher(suite, tls13Key(suite, traffic), true);
          side.trafficSecret = traffic;
          side.handshakeUnreadable = true;
        }
      });
    } else {
      const [client, server] = tls12Keys(suite, s.masterSecret!, this.clientRandom!, this.serverRandom!);
      this.sides[0].waitingCipher = new RecordCipher(suite, client, false, this.encryptThenMac);
      this.sides[1].waitingCipher = new RecordCipher(suite, server, false, this.encryptThenMac);
    }
    this.opts.counters.add(`tls.decrypted-sessions.${this.tls13 ? 'tls13' : 'tls12'}`);
    const held = this.held;
    this.held = null;
    this.heldBytes = 0;
    for (const r of held ?? []) if (!this.sides[r.dir].dead) this.record(r.dir, r.type, r.header, r.body, r.ts);
    return true;
  }

  /** The session cannot be decrypted: said at the connection's end, with its handshake. */
  private giveUp(reason: string, counter: string): void {
    this.held = null;
    this.heldBytes = 0;
    this.opts.counters.add(counter);
    for (const side of this.sides) side.dead = true;
    this.failed ??= reason;
  }

  /** A record did not authenticate: this direction stops here, what follows is a gap for the plaintext handler. */
  private abandon(dir: Direction, ts: number): void {
    const side = this.sides[dir];
    side.dead = true;
    side.pending = Buffer.alloc(0);
    this.opts.counters.add('tls.directions-abandoned');
    this.opts.plaintext.gap(dir, -1, ts, side.plainOffset);
  }

  /**
   * After a gap: finds the next record that authenticates (a plausible application-data header, a
   * sequence number within what the lost bytes allow) and drops what precedes it. False while more
   * bytes are needed; gives the direction up past MAX_RESYNC_SCAN bytes.
   */
  private resync(dir: Direction): boolean {
    const side = this.sides[dir];
    if (side.cipher === null) {
      side.dead = true;
      return false;
    }
    const p = side.pending;
    const most = side.lostSince !== null && side.lostSince >= 0 ? Math.min(MAX_SKIPPED_RECORDS, Math.ceil(side.lostSince / 22) + 1) : MAX_SKIPPED_RECORDS;
    for (let at = 0; at + HEADER <= p.length; at++) {
      if (p[at] !== ContentType.ApplicationData || p[at + 1] !== 0x03 || p[at + 2] !== 0x03) continue;
      const length = p.readUInt16BE(at + 3);
      if (length < 17 || length > MAX_RECORD) continue;
      if (at + HEADER + length > p.length) {
        side.pending = p.subarray(at);
        return false;
      }
      const header = p.subarray(at, at + HEADER);
      const body = p.subarray(at + HEADER, at + HEADER + length);
      for (let skip = 0; skip <= most; skip++) {
        if (side.cipher.open(ContentType.ApplicationData, header, body, side.seq + skip) === null) continue;
        side.seq += skip;
        side.pending = p.subarray(at);
        side.lostSince = null;
        this.opts.counters.add('tls.resyncs');
        return true;
      }
    }
    side.scanned += p.length;
    side.pending = p.subarray(Math.max(0, p.length - HEADER + 1));
    if (side.scanned > MAX_RESYNC_SCAN) {
      side.dead = true;
      this.opts.counters.add('tls.directions-abandoned');
    }
    return false;
  }
}
