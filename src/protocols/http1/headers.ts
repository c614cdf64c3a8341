import type { HeaderField } from '../types.js';

/** Never kept, whatever the limits: credentials and session state. */
const SENSITIVE: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
const NON_ASCII = /[^\x00-\x7f]/;

export interface HeaderLimits {
  /** Fields kept per message (head and trailers together). */
  maxFields: number;
  /** Characters of names + values kept per message. */
  maxBytes: number;
}

export const DEFAULT_HEADER_LIMITS: HeaderLimits = { maxFields: 64, maxBytes: 8192 };

/**
 * The parser decodes bytes as latin1 (one char per byte, see message-parser.ts); this recovers the
 * UTF-8 text the peers actually sent. Pure ASCII, by far the common case, is returned as is.
 */
export function utf8FromLatin1(text: string): string {
  return NON_ASCII.test(text) ? Buffer.from(text, 'latin1').toString('utf8') : text;
}

/**
 * The header fields of one message as kept in an Exchange: lower-case names, UTF-8 values, sensitive
 * fields dropped, bounded by HeaderLimits (fields past the bounds are dropped and `capped` is set).
 */
export class HeaderCollector {
  readonly fields: HeaderField[] = [];
  capped = false;
  private size = 0;

  constructor(private readonly limits: HeaderLimits) {}

  /** `raw` alternates names and values, as http-parser-js delivers them. */
  addAll(raw: readonly string[]): void {
    for (let i = 0; i + 1 < raw.length; i += 2) this.add(raw[i]!.toLowerCase(), raw[i + 1]!);
  }

  private add(name: string, latin1Value: string): void {
    if (SENSITIVE.has(name) || this.capped) return;
    const value = utf8FromLatin1(latin1Value);
    const size = name.length + value.length;
    if (this.fields.length >= this.limits.maxFields || this.size + size > this.limits.maxBytes) {
      this.capped = true;
      return;
    }
    this.size += size;
    this.fields.push([name, value]);
  }
}

/** What the framing and the Exchange need from a head, read in one pass over its raw fields. */
export interface HeadSummary {
  host: string | null;
  userAgent: string | null;
  /** null: absent; NaN: present but not a valid length (or conflicting values). */
  contentLength: number | null;
  /** The last transfer coding (of every Transfer-Encoding field, in order) is `chunked`. */
  chunked: boolean;
  /** A Transfer-Encoding field is present: it overrides Content-Length (RFC 9112 §6.3). */
  transferCoded: boolean;
  /** Upgrade header value (lower-case), null when absent. */
  upgrade: string | null;
  /** Connection header lists `upgrade`. */
  connectionUpgrade: boolean;
  /** First `Forwarded` and `X-Forwarded-For` values (latin1), null when absent. */
  forwarded: string | null;
  xForwardedFor: string | null;
}

export function summarizeHead(raw: readonly string[]): HeadSummary {
  const summary: HeadSummary = {
    host: null,
    userAgent: null,
    contentLength: null,
    chunked: false,
    transferCoded: false,
    upgrade: null,
    connectionUpgrade: false,
    forwarded: null,
    xForwardedFor: null,
  };
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const value = raw[i + 1]!;
    switch (raw[i]!.toLowerCase()) {
      case 'host':
        summary.host ??= utf8FromLatin1(value);
        break;
      case 'user-agent':
        summary.userAgent ??= utf8FromLatin1(value);
        break;
      case 'content-length': {
        const n = /^\d{1,15}$/.test(value) ? Number(value) : NaN;
        summary.contentLength = summary.contentLength === null || summary.contentLength === n ? n : NaN;
        break;
      }
      case 'transfer-encoding': {
        // "gzip, chunked" is chunked; so are "gzip" and "chunked" in two fields. An empty field adds nothing.
        const last = value.slice(value.lastIndexOf(',') + 1).trim().toLowerCase();
        if (last !== '') {
          summary.chunked = last === 'chunked';
          summary.transferCoded = true;
        }
        break;
      }
      case 'upgrade':
        summary.upgrade = value.toLowerCase();
        break;
      case 'connection':
        if (value.toLowerCase().includes('upgrade')) summary.connectionUpgrade = true;
        break;
      case 'forwarded':
        summary.forwarded ??= value;
        break;
      case 'x-forwarded-for':
        summary.xForwardedFor ??= value;
        break;
    }
  }
  return summary;
}
