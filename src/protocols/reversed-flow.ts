import type { DirectionStats, EndReason, Endpoint, Flow } from '../tcp/types.js';

/** A flow seen with its roles reversed: what an analyzer gets when they were proven wrong too late to swap. */
export class ReversedFlow implements Flow {
  constructor(private readonly inner: Flow) {}
  get id(): number {
    return this.inner.id;
  }
  get client(): Endpoint {
    return this.inner.server;
  }
  get server(): Endpoint {
    return this.inner.client;
  }
  get handshake(): boolean {
    return this.inner.handshake;
  }
  get startTs(): number {
    return this.inner.startTs;
  }
  get lastTs(): number {
    return this.inner.lastTs;
  }
  get baseSeq(): [number | null, number | null] {
    return swapped(this.inner.baseSeq);
  }
  get stats(): [DirectionStats, DirectionStats] {
    return swapped(this.inner.stats);
  }
  get ended(): [EndReason | null, EndReason | null] {
    return swapped(this.inner.ended);
  }
  get canSwapRoles(): boolean {
    return false;
  }
  swapRoles(): void {
    throw new Error(`flow ${this.inner.id}: roles already reversed for its analyzer`);
  }
}

function swapped<T>([client, server]: readonly [T, T]): [T, T] {
  return [server, client];
}

