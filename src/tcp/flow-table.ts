/** A 4-tuple in canonical order: `low` is the endpoint that sorts first (by address, then port). */
export interface FlowKey {
  readonly low: string;
  readonly high: string;
  /** lowPort * 65536 + highPort */
  readonly ports: number;
}

/**
 * Flows by 4-tuple. Nested maps instead of one string key: the decoder hands out the same address
 * strings again and again (their hashes are cached), while building a key string per packet would
 * cost an allocation, number formatting and a fresh hash every time.
 */
export class FlowTable<V> {
  private readonly byLow = new Map<string, Map<string, Map<number, V>>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(low: string, high: string, ports: number): V | undefined {
    return this.byLow.get(low)?.get(high)?.get(ports);
  }

  set(key: FlowKey, value: V): void {
    let byHigh = this.byLow.get(key.low);
    if (byHigh === undefined) this.byLow.set(key.low, (byHigh = new Map()));
    let byPorts = byHigh.get(key.high);
    if (byPorts === undefined) byHigh.set(key.high, (byPorts = new Map()));
    if (!byPorts.has(key.ports)) this.count++;
    byPorts.set(key.ports, value);
  }

  delete(key: FlowKey): void {
    const byHigh = this.byLow.get(key.low);
    const byPorts = byHigh?.get(key.high);
    if (byHigh === undefined || byPorts === undefined || !byPorts.delete(key.ports)) return;
    this.count--;
    if (byPorts.size === 0) byHigh.delete(key.high);
    if (byHigh.size === 0) this.byLow.delete(key.low);
  }

  *values(): IterableIterator<V> {
    for (const byHigh of this.byLow.values()) {
      for (const byPorts of byHigh.values()) yield* byPorts.values();
    }
  }
}

/** Text form of a key, for maps that are consulted rarely. */
export function flowKeyText(key: FlowKey): string {
  return `${key.low} ${key.high} ${key.ports}`;
}
