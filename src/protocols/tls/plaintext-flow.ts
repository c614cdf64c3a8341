import type { DirectionStats, EndReason, Endpoint, Flow } from '../../tcp/types.js';

/**
 * A decrypted TLS connection as its plaintext handler sees it: the same connection, but stream
 * offsets count plaintext bytes, so they map to no TCP sequence number (`baseSeq` null).
 */
export class PlaintextFlow implements Flow {
  constructor(private readonly inner: Flow) {}
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
    return [null, null];
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
  get canSwapRoles(): boolean {
    return false;
  }
  swapRoles(): void {
    throw new Error(`flow ${this.inner.id}: the roles of a TLS connection are set by its handshake`);
  }
}
