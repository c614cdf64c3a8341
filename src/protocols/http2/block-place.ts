import type { DecodedField } from './hpack.js';

/** What a header block must be where it stands on its stream. */
export type BlockKind = 'request' | 'response' | 'trailers' | 'response-or-trailers';

/** Where a block stands: its kind, and whether its stream carries gRPC (whose fields are mandated). */
export interface BlockPlace {
  kind: BlockKind;
  grpc: boolean;
}

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);
/** Fields a block carries once (RFC 9110 singletons, and gRPC's). */
const SINGLETONS = new Set([
  'content-type', 'content-length', 'content-encoding', 'date', 'host', 'user-agent', 'te', 'server',
  'grpc-timeout', 'grpc-encoding', 'grpc-accept-encoding', 'grpc-status', 'grpc-message', 'grpc-status-details-bin',
]);

/**
 * Whether decoded fields can be a block at this place. RFC 9113 §8.3: pseudo-header fields first,
 * none twice, only those of the kind (none in trailers), the mandatory ones present; no singleton
 * field twice. gRPC over HTTP/2 (PROTOCOL-HTTP2.md): a request is a POST with `content-type:
 * application/grpc...` and `te: trailers`; a response's content-type, when present, is gRPC's;
 * trailers and a trailers-only response carry a numeric `grpc-status`. A field required but absent
 * is accepted while an unknown field may be it; a field present with a wrong value is not.
 */
export function fitsPlace(place: BlockPlace, fields: readonly DecodedField[]): boolean {
  const { kind, grpc } = place;
  if (kind === 'response-or-trailers') {
    return fitsPlace({ kind: 'response', grpc }, fields) || fitsPlace({ kind: 'trailers', grpc }, fields);
  }
  const seen = new Map<string, string>();
  let regular = false;
  let unknown = false;
  for (const f of fields) {
    if (f.unknown) {
      unknown = true;
      continue;
    }
    if (!f.name.startsWith(':')) {
      regular = true;
      if (!seen.has(f.name)) seen.set(f.name, f.value);
      else if (SINGLETONS.has(f.name)) return false;
      continue;
    }
    if (regular || seen.has(f.name)) return false;
    seen.set(f.name, f.value);
    if (kind === 'trailers') return false;
    if (kind === 'response' ? f.name !== ':status' : !REQUEST_PSEUDO.has(f.name)) return false;
  }
  const has = (name: string, valid: (value: string) => boolean): boolean => {
    const value = seen.get(name);
    return value === undefined ? unknown : valid(value);
  };
  const grpcStatus = (v: string): boolean => /^\d+$/.test(v);
  const grpcType = (v: string): boolean => v.startsWith('application/grpc');
  switch (kind) {
    case 'request':
      if (!has(':method', () => true)) return false;
      if (seen.get(':method') === 'CONNECT') return true;
      if (!has(':path', () => true)) return false;
      return !grpc || (has(':method', (v) => v === 'POST') && has('content-type', grpcType) && has('te', (v) => v === 'trailers'));
    case 'response':
      if (!has(':status', (v) => /^\d{3}$/.test(v))) return false;
      if (!grpc) return true;
      return seen.has('grpc-status') ? grpcStatus(seen.get('grpc-status')!) : !seen.has('content-type') || grpcType(seen.get('content-type')!);
    case 'trailers':
      return !grpc || has('grpc-status', grpcStatus);
  }
}

/**
 * Field names of blocks seen whole, per kind: clients and servers send the same fields in the same
 * order, call after call (values vary).
 */
export class BlockShapes {
  private readonly shapes: Record<Exclude<BlockKind, 'response-or-trailers'>, Map<string, readonly string[]>> = {
    request: new Map(),
    response: new Map(),
    trailers: new Map(),
  };

  constructor(private readonly maxPerKind = 32) {}

  remember(kind: BlockKind, fields: readonly DecodedField[]): void {
    if (kind === 'response-or-trailers' || fields.some((f) => f.unknown)) return;
    const shapes = this.shapes[kind];
    const names = fields.map((f) => f.name);
    if (shapes.size < this.maxPerKind) shapes.set(names.join('\n'), names);
  }

  /**
   * How a reading compares with the blocks seen whole: 3 its names are exactly those of one, 2 its
   * known names are (unknown ones in between), 1 neither.
   */
  likeness(kind: BlockKind, fields: readonly DecodedField[]): number {
    if (this.matching(kind, fields).length === 0) return 1;
    return fields.some((f) => f.unknown) ? 2 : 3;
  }

  private matching(kind: BlockKind, fields: readonly DecodedField[]): (readonly string[])[] {
    const kinds = kind === 'response-or-trailers' ? (['response', 'trailers'] as const) : [kind];
    const out: (readonly string[])[] = [];
    for (const k of kinds) {
      for (const shape of this.shapes[k].values()) {
        if (shape.length === fields.length && fields.every((f, i) => f.unknown || f.name === shape[i])) out.push(shape);
      }
    }
    return out;
  }
}
