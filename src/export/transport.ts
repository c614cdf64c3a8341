import http from 'node:http';
import https from 'node:https';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** What a receiver that answered 2xx says it did not accept after all (OTLP partial success). */
export interface PartialAcceptance {
  /** Spans of the batch it rejected (0: all accepted, `message` is a warning). */
  rejected: number;
  message: string;
}

/** The outcome of delivering one batch. */
export type ExportResult =
  | { ok: true; attempts: number; partial?: PartialAcceptance }
  | { ok: false; retryable: boolean; error: string; attempts: number };

/** Bytes → destination. One batch per `send`; `close` after the last one. */
export interface Transport {
  send(body: Uint8Array): Promise<ExportResult>;
  close(): Promise<void>;
}

/** A misconfigured exporter (bad URL, bad header flag): thrown at construction, never per batch. */
export class ExportConfigError extends Error {
  readonly code = 'ERR_WIRESPAN_EXPORT_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ExportConfigError';
  }
}

/** A target is a URL when it has an http(s) scheme; anything else is a file path. */
export function isUrlTarget(target: string): boolean {
  return /^https?:\/\//i.test(target);
}

/** `http://host:4318` → `http://host:4318/v1/traces`: the default path is added only when the URL has none. */
export function resolveEndpoint(target: string, defaultPath: string): string {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new ExportConfigError(`not a valid URL: ${target}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ExportConfigError(`unsupported scheme: ${target}`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = defaultPath;
  return url.toString();
}

/** `--otlp-header K=V` flags → headers. The value may contain '='; names are trimmed, lower-cased. */
export function parseHeaderFlags(flags: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    const name = eq > 0 ? flag.slice(0, eq).trim().toLowerCase() : '';
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new ExportConfigError(`header must be NAME=VALUE: ${flag}`);
    headers[name] = flag.slice(eq + 1).trim();
  }
  return headers;
}

/**
 * Retry-After (RFC 9110 §10.2.3) → ms from `nowMs`: delay-seconds or an HTTP-date. Fractional seconds
 * are accepted too (not standard, harmless). Null when absent or unreadable.
 */
export function parseRetryAfterMs(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP-date names its month; this keeps Date.parse's leniency ("-1" is a year to V8) out.
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/** Statuses worth another try (OTLP/HTTP specification). */
const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export interface HttpTransportOptions {
  /** Full endpoint URL (see resolveEndpoint). */
  url: string;
  contentType: string;
  headers?: Readonly<Record<string, string>>;
  /** Default gzip (Content-Encoding: gzip). */
  compression?: 'gzip' | 'none';
  /** Per attempt, default 10 s. */
  timeoutMs?: number;
  /** Attempts per batch including the first, default 5. */
  maxAttempts?: number;
  /** Back-off before the 2nd attempt (default 1 s), growing ×1.5 per attempt up to maxBackoffMs (5 s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Each back-off is scaled by a random factor in [1-jitter, 1+jitter], default 0.2. */
  jitter?: number;
  /** A Retry-After longer than this (default 30 s) ends the retries: the batch fails, retryable. */
  maxRetryAfterMs?: number;
  /** For tests: the random source of the jitter. */
  random?: () => number;
  /**
   * Reads the body of a 2xx answer: null when everything was accepted (an empty or unreadable body
   * counts as that, the status being the receiver's word), else what it rejected.
   */
  readAccepted?: (body: Buffer) => PartialAcceptance | null;
}

type AttemptOutcome =
  | { ok: true; body: Buffer }
  | { ok: false; retryable: boolean; error: string; retryAfterMs: number | null };

/** A success body longer than this is not read (a partial-success answer is a few dozen bytes). */
const MAX_SUCCESS_BODY = 64 * 1024;

/** POSTs each batch, retrying retryable failures with exponential back-off and jitter. */
export class HttpTransport implements Transport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;
  private readonly gzip: boolean;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly jitter: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly readAccepted: ((body: Buffer) => PartialAcceptance | null) | null;

  constructor(options: HttpTransportOptions) {
    this.url = new URL(options.url);
    const secure = this.url.protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    this.gzip = (options.compression ?? 'gzip') === 'gzip';
    this.headers = {
      ...options.headers,
      'content-type': options.contentType,
      ...(this.gzip ? { 'content-encoding': 'gzip' } : {}),
      'user-agent': options.headers?.['user-agent'] ?? 'wirespan',
    };
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.initialBackoffMs = options.initialBackoffMs ?? 1000;
    this.maxBackoffMs = options.maxBackoffMs ?? 5000;
    this.jitter = options.jitter ?? 0.2;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.readAccepted = options.readAccepted ?? null;
  }

  async send(body: Uint8Array): Promise<ExportResult> {
    const payload = this.gzip ? await gzipAsync(body) : body;
    let backoffMs = this.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(payload);
      if (outcome.ok) return { ok: true, attempts: attempt, ...this.partial(outcome.body) };
      const { retryable, error, retryAfterMs } = outcome;
      if (!retryable || attempt >= this.maxAttempts) {
        const tries = attempt > 1 ? ` (${attempt} attempts)` : '';
        return { ok: false, retryable, error: `${error}${tries}`, attempts: attempt };
      }
      if (retryAfterMs !== null && retryAfterMs > this.maxRetryAfterMs) {
        return { ok: false, retryable: true, error: `${error}, Retry-After ${retryAfterMs} ms too long`, attempts: attempt };
      }
      const scale = 1 + this.jitter * (2 * this.random() - 1);
      await sleep(retryAfterMs ?? backoffMs * scale);
      backoffMs = Math.min(this.maxBackoffMs, backoffMs * 1.5);
    }
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private partial(body: Buffer): { partial?: PartialAcceptance } {
    if (!this.readAccepted || body.length === 0 || body.length > MAX_SUCCESS_BODY) return {};
    try {
      const partial = this.readAccepted(body);
      return partial && (partial.rejected > 0 || partial.message) ? { partial } : {};
    } catch {
      return {};
    }
  }

  private attempt(payload: Uint8Array): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: AttemptOutcome): void => {
        if (settled) return;
        settled = true;
        resolve(outcome);
      };
      const request = (this.url.protocol === 'https:' ? https : http).request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { ...this.headers, 'content-length': String(payload.byteLength) },
      });
      request.setTimeout(this.timeoutMs, () => request.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      request.on('error', (err: NodeJS.ErrnoException) => {
        settle({ ok: false, retryable: true, error: `${this.url.host}: ${err.code ?? err.message}`, retryAfterMs: null });
      });
      request.on('response', (response) => {
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let kept = 0;
        const success = status >= 200 && status < 300;
        response.on('data', (chunk: Buffer) => {
          if (kept < (success ? MAX_SUCCESS_BODY + 1 : 512)) chunks.push(chunk);
          kept += chunk.length;
        });
        response.on('error', () => settle({ ok: false, retryable: true, error: `HTTP ${status}: response aborted`, retryAfterMs: null }));
        response.on('end', () => {
          if (success) return settle({ ok: true, body: kept > MAX_SUCCESS_BODY ? Buffer.alloc(0) : Buffer.concat(chunks) });
          const text = Buffer.concat(chunks).toString('utf8', 0, Math.min(kept, 200)).replace(/\s+/g, ' ').trim();
          const header = response.headers['retry-after'];
          settle({
            ok: false,
            retryable: RETRYABLE_STATUSES.has(status),
            error: `HTTP ${status}${text ? `: ${text}` : ''}`,
            retryAfterMs: parseRetryAfterMs(Array.isArray(header) ? header[0] : header, Date.now()),
          });
        });
      });
      request.end(payload);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** How batches are laid out in a file. */
export interface FileFraming {
  /** Written once before the first batch (also when no batch comes). */
  begin?: Uint8Array;
  /** The pieces written for batch number `index` (from 0). */
  frame(body: Uint8Array, index: number): Uint8Array[];
  /** Written once at close. */
  end?: Uint8Array;
}

/** Writes batches to a file (truncated at the first write), one after the other. */
export class FileTransport implements Transport {
  private handle: Promise<FileHandle> | null = null;
  private tail: Promise<unknown> = Promise.resolve();
  private batches = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly framing: FileFraming,
  ) {}

  send(body: Uint8Array): Promise<ExportResult> {
    const index = this.batches++;
    return this.enqueue(async () => {
      await this.write(this.framing.frame(body, index));
      return { ok: true, attempts: 1 } as const;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail;
    const handle = await this.opened();
    try {
      if (this.framing.end) await handle.write(this.framing.end);
    } finally {
      await handle.close();
    }
  }

  private enqueue(job: () => Promise<ExportResult>): Promise<ExportResult> {
    const run = this.tail.then(job, job).catch((err: NodeJS.ErrnoException) => ({
      ok: false as const,
      retryable: false,
      error: `${this.path}: ${err.code ?? err.message}`,
      attempts: 1,
    }));
    this.tail = run;
    return run;
  }

  private opened(): Promise<FileHandle> {
    this.handle ??= open(this.path, 'w').then(async (handle) => {
      if (this.framing.begin) await handle.write(this.framing.begin);
      return handle;
    });
    return this.handle;
  }

  private async write(pieces: Uint8Array[]): Promise<void> {
    const handle = await this.opened();
    await handle.writev(pieces);
  }
}

/** One encoded batch; `spans` is the number of wire spans in it (0: nothing to send). */
export interface EncodedBatch {
  body: Uint8Array;
  spans: number;
}

export interface BatchEncoder<T> {
  encode(items: readonly T[]): EncodedBatch;
}

export interface BatchingOptions {
  /** Records per batch (default 512). */
  maxBatchSize?: number;
  /** A partial batch is sent this long after its first record (default 1000 ms). */
  maxDelayMs?: number;
  /** Batches being delivered at once (default 2; file transports use 1). */
  maxInFlight?: number;
  /** Encoded batches waiting for delivery; beyond this, new batches fail as "queue full" (default 64). */
  maxQueuedBatches?: number;
}

export interface ExportSummary {
  /** Spans the receiver accepted. */
  exportedSpans: number;
  /** Spans not delivered or rejected, for whatever reason; each reason is in `errors`. */
  failedSpans: number;
  /** Distinct failure reasons, with the number of batches when more than one. */
  errors: string[];
  /** What receivers said while accepting everything (OTLP partial success with nothing rejected). */
  warnings: string[];
}

const MAX_DISTINCT_ERRORS = 20;

/**
 * Streams records to a Transport: gathers them into batches (size or delay, whichever first), encodes
 * each batch at once, and delivers batches in the order they were made, at most `maxInFlight` at a
 * time (with more than one, completions may be out of order). Nothing is dropped silently: every span
 * that is not delivered is counted in `failedSpans` with its reason.
 */
export class BatchingSpanExporter<T> {
  private readonly maxBatchSize: number;
  private readonly maxDelayMs: number;
  private readonly maxInFlight: number;
  private readonly maxQueuedBatches: number;
  private pending: T[] = [];
  private readonly queue: EncodedBatch[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  private roomWaiters: (() => void)[] = [];
  private shutdownResult: Promise<ExportSummary> | null = null;
  private exportedSpans = 0;
  private failedSpans = 0;
  private readonly errorCounts = new Map<string, number>();
  private otherErrors = 0;
  private readonly warnings = new Set<string>();

  constructor(
    private readonly encoder: BatchEncoder<T>,
    private readonly transport: Transport,
    options: BatchingOptions = {},
  ) {
    this.maxBatchSize = Math.max(1, options.maxBatchSize ?? 512);
    this.maxDelayMs = options.maxDelayMs ?? 1000;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    this.maxQueuedBatches = Math.max(1, options.maxQueuedBatches ?? 64);
  }

  /** Accepts one record. After shutdown the record is counted as failed. */
  add(item: T): void {
    if (this.shutdownResult) {
      this.fail(1, 'record added after shutdown');
      return;
    }
    this.pending.push(item);
    if (this.pending.length >= this.maxBatchSize) this.seal();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.seal(), this.maxDelayMs);
      this.timer.unref();
    }
  }

  /** Resolves when the delivery queue has room: a producer that can wait (reading a file) awaits it. */
  whenReady(): Promise<void> {
    if (this.queue.length < this.maxQueuedBatches) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Sends what is pending and waits until every batch made so far is delivered or failed. */
  async flush(): Promise<void> {
    this.seal();
    if (this.queue.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes, closes the transport, and tells what was delivered. Idempotent. */
  shutdown(): Promise<ExportSummary> {
    this.shutdownResult ??= (async () => {
      await this.flush();
      try {
        await this.transport.close();
      } catch (err) {
        this.noteError(`closing: ${(err as Error).message}`);
      }
      return this.summary();
    })();
    return this.shutdownResult;
  }

  summary(): ExportSummary {
    const errors = [...this.errorCounts].map(([message, n]) => (n > 1 ? `${message} (${n} batches)` : message));
    if (this.otherErrors > 0) errors.push(`... and ${this.otherErrors} failures of other kinds`);
    return { exportedSpans: this.exportedSpans, failedSpans: this.failedSpans, errors, warnings: [...this.warnings] };
  }

  private seal(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    let batch: EncodedBatch;
    try {
      batch = this.encoder.encode(items);
    } catch (err) {
      this.fail(items.length, `encoding failed: ${(err as Error).message}`);
      return;
    }
    if (batch.spans === 0) return;
    if (this.queue.length >= this.maxQueuedBatches) {
      this.fail(batch.spans, 'export queue full');
      return;
    }
    this.queue.push(batch);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.shift()!;
      this.inFlight++;
      this.wakeRoomWaiters();
      // Through a promise: a transport that throws synchronously fails its batch, not the timer.
      void Promise.resolve()
        .then(() => this.transport.send(batch.body))
        .catch((err: Error): ExportResult => ({ ok: false, retryable: false, error: err.message, attempts: 1 }))
        .then((result) => {
          this.inFlight--;
          if (result.ok) this.delivered(batch.spans, result.partial);
          else this.fail(batch.spans, result.error);
          this.pump();
          if (this.inFlight === 0 && this.queue.length === 0) this.wakeIdleWaiters();
        });
    }
  }

  private delivered(spans: number, partial: PartialAcceptance | undefined): void {
    const rejected = Math.min(spans, Math.max(0, partial?.rejected ?? 0));
    this.exportedSpans += spans - rejected;
    const said = partial?.message ? `: ${partial.message}` : '';
    if (rejected > 0) this.fail(rejected, `rejected by the receiver${said}`);
    else if (partial?.message && this.warnings.size < MAX_DISTINCT_ERRORS) this.warnings.add(`receiver warning${said}`);
  }

  private fail(spans: number, error: string): void {
    this.failedSpans += spans;
    this.noteError(error);
  }

  private noteError(error: string): void {
    const seen = this.errorCounts.get(error);
    if (seen !== undefined) this.errorCounts.set(error, seen + 1);
    else if (this.errorCounts.size < MAX_DISTINCT_ERRORS) this.errorCounts.set(error, 1);
    else this.otherErrors++;
  }

  private wakeRoomWaiters(): void {
    if (this.queue.length >= this.maxQueuedBatches) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const wake of waiters) wake();
  }

  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
