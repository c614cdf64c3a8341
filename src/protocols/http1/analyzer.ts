import type { Direction } from '../../tcp/types.js';
import type { AnalyzerContext, Detection, ProtocolAnalyzer, ProtocolHandler } from '../types.js';
import { Http1Connection } from './connection.js';
import { DEFAULT_HEADER_LIMITS, type HeaderLimits } from './headers.js';
import { sniff } from './start-line.js';

export interface Http1AnalyzerOptions {
  /** Header fields kept per message (default 64 fields, 8 KiB); the rest are dropped and counted. */
  headerLimits?: HeaderLimits;
  /** Client bytes held after an Upgrade/CONNECT request until the response decides (default 256 KiB). */
  maxHeldBytes?: number;
  defaultPorts?: readonly number[];
}

export const HTTP1_DEFAULT_PORTS: readonly number[] = [
  80, 591, 3000, 3001, 4000, 5000, 5001, 8000, 8008, 8080, 8081, 8082, 8088, 8888, 9000, 9080, 9090,
];

/**
 * HTTP/1.0 and 1.1: one Exchange per request/response pair.
 *
 * Counters (all `http.*`): parse-errors, resync-skipped-bytes, responses-without-request (counted, never
 * emitted, as Packetbeat does), responses-to-lost-requests (request head unparseable or in a gap),
 * invalid-content-length, incomplete-heads, headers-capped, tunnel-bytes
 * (after a WebSocket/CONNECT switch), held-bytes-dropped, bytes-after-end.
 */
export class Http1Analyzer implements ProtocolAnalyzer {
  readonly name = 'http' as const;
  readonly defaultPorts: readonly number[];
  private readonly headerLimits: HeaderLimits;
  private readonly maxHeldBytes: number;

  constructor(options: Http1AnalyzerOptions = {}) {
    this.defaultPorts = options.defaultPorts ?? HTTP1_DEFAULT_PORTS;
    this.headerLimits = options.headerLimits ?? DEFAULT_HEADER_LIMITS;
    this.maxHeldBytes = options.maxHeldBytes ?? 256 * 1024;
  }

  detect(first: Uint8Array, dir: Direction): Detection {
    const expected = sniff(dir === 0 ? 'request' : 'response', first);
    if (expected === 'yes') return 'yes';
    const swapped = sniff(dir === 0 ? 'response' : 'request', first);
    if (swapped === 'yes') return 'yes';
    return expected === 'more' || swapped === 'more' ? 'more' : 'no';
  }

  reversed(first: Uint8Array, dir: Direction): boolean {
    return sniff(dir === 0 ? 'request' : 'response', first) !== 'yes' &&
      sniff(dir === 0 ? 'response' : 'request', first) === 'yes';
  }

  open(ctx: AnalyzerContext): ProtocolHandler {
    return new Http1Connection(ctx, { headerLimits: this.headerLimits, maxHeldBytes: this.maxHeldBytes });
  }
}
