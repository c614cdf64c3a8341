/**
 * TLS session secrets in the NSS key log format (what SSLKEYLOGFILE makes curl, browsers, Node's
 * `--tls-keylog`, Go's KeyLogWriter and Java agents write, and what pcapng Decryption Secrets Blocks
 * carry): one `LABEL <client random hex> <secret hex>` per line, `#` comments.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** The secrets of one session, by the key log label that gave each. */
export interface SessionSecrets {
  /** TLS 1.2 and earlier: `CLIENT_RANDOM`, the 48-byte master secret. */
  masterSecret?: Buffer;
  clientHandshake?: Buffer;
  serverHandshake?: Buffer;
  clientTraffic0?: Buffer;
  serverTraffic0?: Buffer;
}

const LABELS: Record<string, keyof SessionSecrets> = {
  CLIENT_RANDOM: 'masterSecret',
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshake',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshake',
  CLIENT_TRAFFIC_SECRET_0: 'clientTraffic0',
  SERVER_TRAFFIC_SECRET_0: 'serverTraffic0',
};

/** Labels of the format that decryption has no use for (exporters, 0-RTT), accepted silently. */
const OTHER_LABELS = new Set(['EXPORTER_SECRET', 'EARLY_EXPORTER_SECRET', 'CLIENT_EARLY_TRAFFIC_SECRET', 'RSA']);

/** Decryption Secrets Block type of a TLS key log ('TLSK'). */
export const TLS_KEY_LOG_SECRETS = 0x544c534b;

const LINE = /^([A-Z0-9_]+) ([0-9a-fA-F]{64}) ([0-9a-fA-F]{32,256})$/;

/** A key log file, read as it grows (a program still writing it during a live capture). */
interface KeyLogFile {
  path: string;
  /** Bytes read into entries: up to the end of the last whole line. */
  consumed: number;
}

/** Least time between two looks at the files for a session not found (ms), by default: a stat each. */
const RELOAD_INTERVAL_MS = 100;

export class TlsKeyLog {
  private readonly sessions = new Map<string, SessionSecrets>();
  private readonly files: KeyLogFile[] = [];
  private lastReload = 0;
  /** Lines that were neither a known entry, a comment nor blank. */
  malformedLines = 0;

  constructor(private readonly opts: { reloadIntervalMs?: number } = {}) {}

  /**
   * Reads a key log file and remembers it: a session not found later makes it read on from where it
   * was left if it grew. `mayNotExistYet`: a missing file is watched for instead (a live capture's
   * programs create it).
   */
  addFile(path: string, mayNotExistYet = false): void {
    const file = { path, consumed: 0 };
    try {
      // A file read for good may end without a newline; one still being written may end mid-line.
      this.readOn(file, !mayNotExistYet);
    } catch (err) {
      if (!mayNotExistYet || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.files.push(file);
  }

  /**
   * The whole lines written to `file` since it was last read (from the start again if it shrank);
   * `lastLineDone`: a last line without its newline is complete too.
   */
  private readOn(file: KeyLogFile, lastLineDone: boolean): void {
    const size = statSync(file.path).size;
    if (size < file.consumed) file.consumed = 0;
    if (size === file.consumed) return;
    const fd = openSync(file.path, 'r');
    try {
      const bytes = Buffer.alloc(size - file.consumed);
      const read = readSync(fd, bytes, 0, bytes.length, file.consumed);
      const end = lastLineDone ? read : bytes.lastIndexOf(0x0a, read - 1) + 1;
      this.add(bytes.toString('latin1', 0, end));
      file.consumed += end;
    } finally {
      closeSync(fd);
    }
  }

  /** Adds every entry of a key log's text; later entries for the same session and label win. */
  add(text: string): void {
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) continue;
      const m = LINE.exec(line);
      if (!m) {
        this.malformedLines++;
        continue;
      }
      const field = LABELS[m[1]!];
      if (!field) {
        if (!OTHER_LABELS.has(m[1]!)) this.malformedLines++;
        continue;
      }
      const random = m[2]!.toLowerCase();
      let secrets = this.sessions.get(random);
      if (!secrets) this.sessions.set(random, (secrets = {}));
      secrets[field] = Buffer.from(m[3]!, 'hex');
    }
  }

  /** A pcapng Decryption Secrets Block's contents; false when they are not a TLS key log. */
  addSecretsBlock(secretsType: number, data: Uint8Array): boolean {
    if (secretsType !== TLS_KEY_LOG_SECRETS) return false;
    this.add(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1'));
    return true;
  }

  /**
   * The secrets logged for the session whose ClientHello random is `clientRandom` (hex). With
   * `complete`, only once it holds what that asks (a client logs a session's secrets over its
   * handshake, not at once); the files are read again if they grew, at most every reload interval.
   */
  get(clientRandom: string, complete: (s: SessionSecrets) => boolean = () => true): SessionSecrets | undefined {
    const key = clientRandom.toLowerCase();
    const found = this.sessions.get(key);
    if (found && complete(found)) return found;
    if (this.files.length === 0) return undefined;
    this.readGrownFiles();
    const again = this.sessions.get(key);
    return again && complete(again) ? again : undefined;
  }

  /** What was written to the files since they were read (at most every 100 ms): the new lines are the new sessions. */
  private readGrownFiles(): void {
    const now = Date.now();
    if (now - this.lastReload < (this.opts.reloadIntervalMs ?? RELOAD_INTERVAL_MS)) return;
    this.lastReload = now;
    for (const file of this.files) {
      try {
        this.readOn(file, false);
      } catch {
        // Gone or unreadable now: keep what was read.
      }
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Whether sessions may still arrive: it reads files that can grow. */
  get followsFiles(): boolean {
    return this.files.length > 0;
  }
}

/** A key log made of these files; throws (one line) when one cannot be read or holds no session. */
export function readKeyLogFiles(paths: readonly string[], opts: { mayNotExistYet?: boolean } = {}): TlsKeyLog {
  const log = new TlsKeyLog();
  for (const path of paths) {
    const before = log.size;
    try {
      log.addFile(path, opts.mayNotExistYet);
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // An empty file is fine (a program about to write it during a live capture); other text is not.
    if (log.size === before && statSizeOrZero(path) > 0) {
      throw new Error(`${path} holds no TLS session secrets (NSS key log lines such as CLIENT_RANDOM or CLIENT_TRAFFIC_SECRET_0)`);
    }
  }
  return log;
}

function statSizeOrZero(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
