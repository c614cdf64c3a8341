import type { Direction, DirectionStats, EndReason, Endpoint, Flow } from '../tcp/types.js';

/** A flow as one analyzer sees it: the TCP layer's flow, with what the view changes overridden. Roles are fixed. */
export class FlowView implements Flow {
  constructor(protected readonly inner: Flow) {}
  get id(): number {
    return this.inner.id;
  }
  get client(): Endpoint {
    return this.inner.client;
  }
  get server(): Endpoint {
    return this.inner.server;
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
    return this.inner.baseSeq;
  }
  get stats(): [DirectionStats, DirectionStats] {
    return this.inner.stats;
  }
  get ended(): [EndReason | null, EndReason | null] {
    return this.inner.ended;
  }
  get dialedServer(): Endpoint | null | undefined {
    return this.inner.dialedServer;
  }
  acknowledgedOffset(dir: Direction): number | null {
    return this.inner.acknowledgedOffset?.(dir) ?? null;
  }
  get canSwapRoles(): boolean {
    return false;
  }
  swapRoles(): void {
    throw new Error(`flow ${this.inner.id}: the roles of this view are fixed`);
  }
}
