/** A small scripted HTTP/2 conversation builder on top of h2-builder, for analyzer tests. */
import type { Direction } from '../../src/tcp/types.js';
import { type Field, HpackEncoder, type HeadersOptions, dataFrame, headersFrames } from './h2-builder.js';

export interface Step {
  dir: Direction;
  bytes: Buffer;
  ts: number;
}

/** Keeps one HPACK encoder per direction, as the two endpoints do. */
export class Conversation {
  readonly steps: Step[] = [];
  readonly encoders: [HpackEncoder, HpackEncoder] = [new HpackEncoder(), new HpackEncoder()];
  private ts = 1_000_000;

  /** Append raw bytes (ts advances by 10 µs per step). */
  raw(dir: Direction, bytes: Buffer): this {
    this.ts += 10;
    this.steps.push({ dir, bytes, ts: this.ts });
    return this;
  }

  headers(dir: Direction, streamId: number, fields: Field[], o: HeadersOptions = {}): this {
    return this.raw(dir, headersFrames(streamId, this.encoders[dir].encode(fields), o));
  }

  data(dir: Direction, streamId: number, bytes: Uint8Array, o: { endStream?: boolean; pad?: number } = {}): this {
    return this.raw(dir, dataFrame(streamId, bytes, o));
  }

  bytes(dir: Direction): Buffer {
    return Buffer.concat(this.steps.filter((s) => s.dir === dir).map((s) => s.bytes));
  }
}

export function requestFields(path: string, extra: Field[] = [], method = 'GET'): Field[] {
  return [[':method', method], [':scheme', 'http'], [':path', path], [':authority', 'svc:8080'], ...extra];
}

export function grpcRequestFields(path: string, extra: Field[] = []): Field[] {
  return [
    [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'inventory:50051'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ...extra,
  ];
}
