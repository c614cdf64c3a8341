/**
 * Named event counters (malformed packets by reason, gaps, ambiguous links, ...).
 * Every stage gets one through its options; nothing is counted in module-level state.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  add(name: string, n = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + n);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** Counters whose name starts with `prefix`, with the prefix removed, sorted by name. */
  withPrefix(prefix: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of [...this.values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
    }
    return out;
  }

  toJSON(): Record<string, number> {
    return this.withPrefix('');
  }
}
