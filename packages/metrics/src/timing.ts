export interface TimingSummary {
  n: number;
  mean: number;
  median: number;
  p90: number;
  total: number;
}

/** Linear-interpolated quantile of sorted values (numpy's default method). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * Durations per stage (milliseconds). Keeps every value: runs are thousands of samples,
 * and exact medians beat sketches when users compare timing tables.
 */
export class TimingAccumulator {
  private readonly stages = new Map<string, number[]>();

  static fromState(state: Record<string, number[]>): TimingAccumulator {
    const acc = new TimingAccumulator();
    for (const [k, v] of Object.entries(state)) acc.stages.set(k, [...v]);
    return acc;
  }

  add(stage: string, ms: number): this {
    let list = this.stages.get(stage);
    if (!list) this.stages.set(stage, (list = []));
    list.push(ms);
    return this;
  }

  /** Add every stage of one sample's timing record. */
  addAll(timings: Record<string, number>): this {
    for (const [k, v] of Object.entries(timings)) this.add(k, v);
    return this;
  }

  merge(other: TimingAccumulator): this {
    for (const [k, v] of other.stages) for (const ms of v) this.add(k, ms);
    return this;
  }

  state(): Record<string, number[]> {
    return Object.fromEntries([...this.stages].map(([k, v]) => [k, [...v]]));
  }

  summary(): Record<string, TimingSummary> {
    const out: Record<string, TimingSummary> = {};
    for (const [k, v] of this.stages) {
      const sorted = [...v].sort((a, b) => a - b);
      const total = sorted.reduce((a, b) => a + b, 0);
      out[k] = { n: sorted.length, mean: total / sorted.length, median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), total };
    }
    return out;
  }
}
