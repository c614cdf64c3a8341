/**
 * Latency histogram with bounded memory: log-spaced buckets 1% wide, so any quantile is within 1% of
 * the exact value whatever the number of samples (a multi-GB capture must not keep every duration).
 */
export class LogHistogram {
  private readonly buckets = new Map<number, number>();
  private total = 0;
  private maxValue = 0;
  private zeros = 0;
  private static readonly LOG_BASE = Math.log(1.01);

  record(value: number): void {
    this.total++;
    if (value > this.maxValue) this.maxValue = value;
    if (value <= 0) {
      this.zeros++;
      return;
    }
    const idx = Math.floor(Math.log(value) / LogHistogram.LOG_BASE);
    this.buckets.set(idx, (this.buckets.get(idx) ?? 0) + 1);
  }

  get count(): number {
    return this.total;
  }

  get max(): number {
    return this.maxValue;
  }

  /** The q-quantile (0..1), nearest-rank; the bucket's geometric middle, capped by the max seen. */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    if (rank <= this.zeros) return 0;
    let seen = this.zeros;
    for (const idx of [...this.buckets.keys()].sort((a, b) => a - b)) {
      seen += this.buckets.get(idx)!;
      if (seen >= rank) return Math.min(this.maxValue, Math.exp((idx + 0.5) * LogHistogram.LOG_BASE));
    }
    return this.maxValue;
  }
}
