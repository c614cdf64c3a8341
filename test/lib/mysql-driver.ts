import { MysqlAnalyzer } from '../../src/protocols/mysql/index.js';
import type { MysqlAnalyzerOptions } from '../../src/protocols/mysql/index.js';
import type { AnalyzerContext, Exchange, ProtocolHandler, ProtocolName } from '../../src/protocols/types.js';
import type { Direction, EndReason, Flow } from '../../src/tcp/types.js';
import { Counters } from '../../src/util/counters.js';

/** One delivery to the handler: bytes of one direction at a time (µs), or a gap. */
export type Step =
  | { dir: Direction; bytes: Uint8Array; ts: number }
  | { dir: Direction; gap: number; ts: number }
  | { dir: Direction; end: EndReason; ts: number };

export const BASE_SEQ: [number, number] = [1000, 4294967000];

export function fakeFlow(): Flow {
  const stat = () => ({ packets: 0, payloadBytes: 0, retransmittedBytes: 0, copies: 0, outOfOrderSegments: 0, gaps: 0, gapBytes: 0 });
  return {
    id: 7,
    client: { ip: '10.0.0.1', port: 50000 },
    server: { ip: '10.0.0.2', port: 3306 },
    handshake: true,
    startTs: 0,
    lastTs: 0,
    baseSeq: [BASE_SEQ[0], BASE_SEQ[1]],
    stats: [stat(), stat()],
    ended: [null, null],
    canSwapRoles: true,
    swapRoles() {},
  };
}

export interface DriveResult {
  exchanges: Exchange[];
  counters: Counters;
}

/**
 * Feeds steps to a MysqlConnection (through MysqlAnalyzer.open) with a fake flow, keeping stream
 * offsets per direction as the assembler would, then closes it. Bytes are copied into a scratch
 * buffer that is overwritten after each call, to catch handlers that keep lent bytes.
 */
export function drive(steps: Step[], options: MysqlAnalyzerOptions = {}): DriveResult {
  const exchanges: Exchange[] = [];
  const counters = new Counters();
  const flow = fakeFlow();
  const ctx: AnalyzerContext = {
    flow,
    counters,
    emit: (x) => exchanges.push(structuredClone(x)),
    switchProtocol: (_name: ProtocolName): ProtocolHandler | null => null,
  };
  const handler = new MysqlAnalyzer(options).open(ctx);
  const offsets: [number, number] = [0, 0];
  let lastTs = 0;
  for (const step of steps) {
    lastTs = step.ts;
    if ('bytes' in step) {
      const lent = Buffer.from(step.bytes);
      handler.data(step.dir, lent, step.ts, offsets[step.dir]);
      lent.fill(0xee);
      offsets[step.dir] += step.bytes.length;
    } else if ('gap' in step) {
      handler.gap(step.dir, step.gap, step.ts, offsets[step.dir]);
      offsets[step.dir] += Math.max(0, step.gap);
    } else {
      handler.end(step.dir, step.end, step.ts);
    }
  }
  handler.close(lastTs + 1);
  return { exchanges, counters };
}

/** A conversation: alternate request/response byte blobs with increasing timestamps. */
export class Conversation {
  readonly steps: Step[] = [];
  private ts = 1_700_000_000_000_000;

  client(bytes: Uint8Array): this {
    this.steps.push({ dir: 0, bytes, ts: (this.ts += 100) });
    return this;
  }

  server(bytes: Uint8Array): this {
    this.steps.push({ dir: 1, bytes, ts: (this.ts += 100) });
    return this;
  }

  gap(dir: Direction, lost: number): this {
    this.steps.push({ dir, gap: lost, ts: (this.ts += 100) });
    return this;
  }
}
