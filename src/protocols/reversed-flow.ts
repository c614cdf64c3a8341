import type { Direction, DirectionStats, EndReason, Endpoint } from '../tcp/types.js';
import { FlowView } from './flow-view.js';

/** A flow seen with its roles reversed: what an analyzer gets when they were proven wrong too late to swap. */
export class ReversedFlow extends FlowView {
  override get client(): Endpoint {
    return this.inner.server;
  }
  override get server(): Endpoint {
    return this.inner.client;
  }
  override get baseSeq(): [number | null, number | null] {
    return swapped(this.inner.baseSeq);
  }
  override get stats(): [DirectionStats, DirectionStats] {
    return swapped(this.inner.stats);
  }
  override get ended(): [EndReason | null, EndReason | null] {
    return swapped(this.inner.ended);
  }
  override acknowledgedOffset(dir: Direction): number | null {
    return this.inner.acknowledgedOffset?.(dir === 0 ? 1 : 0) ?? null;
  }
  /** The address dialed names the TCP layer's server, which is not this view's. */
  override get dialedServer(): undefined {
    return undefined;
  }
}

function swapped<T>([client, server]: readonly [T, T]): [T, T] {
  return [server, client];
}
