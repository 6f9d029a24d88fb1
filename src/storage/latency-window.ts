// A fixed-size window of the latest durations (milliseconds) of one operation, for a live view
// (the dashboard's fsync p50/p99): a ring of `capacity` samples, each with when it ended, and a
// count of every sample ever recorded, so that a reader remembering the count it saw last takes
// exactly the samples recorded since (at most the ring's worth). Recording is three stores, no
// allocation: cheap on the WAL's write path.

export class LatencyWindow {
  private readonly durations: Float64Array;
  private readonly endedAt: Float64Array;
  private recorded = 0;

  constructor(readonly capacity = 512) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0)
      throw new RangeError("LatencyWindow: capacity must be a positive integer");
    this.durations = new Float64Array(capacity);
    this.endedAt = new Float64Array(capacity);
  }

  /** Samples recorded since this window was made (not bounded by the capacity). */
  get count(): number {
    return this.recorded;
  }

  /** One duration, ended at `at` (performance.now() time). */
  record(ms: number, at: number = performance.now()): void {
    const slot = this.recorded % this.capacity;
    this.durations[slot] = ms;
    this.endedAt[slot] = at;
    this.recorded++;
  }

  /** The samples recorded after the first `seen` (oldest first), at most `capacity` of them. */
  since(seen: number): number[] {
    const from = Math.max(seen, this.recorded - this.capacity, 0);
    const out: number[] = [];
    for (let i = from; i < this.recorded; i++)
      out.push(this.durations[i % this.capacity] as number);
    return out;
  }

  /** The samples (still in the ring) that ended at or after `from` (performance.now() time). */
  endedSince(from: number): number[] {
    const out: number[] = [];
    for (let i = Math.max(0, this.recorded - this.capacity); i < this.recorded; i++) {
      const slot = i % this.capacity;
      if ((this.endedAt[slot] as number) >= from) out.push(this.durations[slot] as number);
    }
    return out;
  }
}

/** The q-quantile (0..1) of `samples` by nearest rank; undefined for none. */
export function quantile(samples: readonly number[], q: number): number | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}
