import { randomStream } from "@resagent/core";

/** Binary classification at P(yes) ≥ 0.5: counts and the usual rates (0 where undefined). */
export interface BinaryMetrics {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Rows gold, columns predicted. */
  confusion: { tp: number; fp: number; tn: number; fn: number };
  /** Mean binary cross-entropy of P(yes) (probabilities clipped to [1e-7, 1 − 1e-7]). */
  logLoss: number;
}

export function binaryMetrics(pYes: ArrayLike<number>, gold: ArrayLike<boolean>): BinaryMetrics {
  if (pYes.length !== gold.length) throw new RangeError(`binaryMetrics: ${pYes.length} probabilities for ${gold.length} labels`);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let loss = 0;
  for (let i = 0; i < pYes.length; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, pYes[i]!));
    const y = gold[i]!;
    const yes = pYes[i]! >= 0.5;
    if (yes && y) tp++;
    else if (yes) fp++;
    else if (y) fn++;
    else tn++;
    loss -= y ? Math.log(p) : Math.log(1 - p);
  }
  const n = pYes.length;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    n,
    accuracy: n ? (tp + tn) / n : 0,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    confusion: { tp, fp, tn, fn },
    logLoss: n ? loss / n : 0,
  };
}

/** Wilson score interval for a proportion k/n (z = 1.96: 95%). */
export function wilsonInterval(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/**
 * Percentile bootstrap over groups (images): resample whole groups with replacement and compute
 * `stat` of the picked groups (their indices into the sorted group keys; a group picked twice
 * appears twice). Seeded; 95% by default.
 */
export function clusterBootstrap(groupKeys: readonly string[], stat: (picked: readonly number[]) => number, options: { resamples?: number; seed?: number; level?: number } = {}): [number, number] {
  const { resamples = 1000, seed = 0, level = 0.95 } = options;
  const n = groupKeys.length;
  if (n === 0) return [0, 1];
  const rng = randomStream(seed, "learned/bootstrap");
  const stats: number[] = [];
  const picked = new Array<number>(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) picked[i] = rng.int(n);
    stats.push(stat(picked));
  }
  stats.sort((a, b) => a - b);
  const lo = stats[Math.floor(((1 - level) / 2) * (resamples - 1))]!;
  const hi = stats[Math.ceil((1 - (1 - level) / 2) * (resamples - 1))]!;
  return [lo, hi];
}

/**
 * Percentile bootstrap of accuracy, resampling whole groups (images): answers about points of one
 * image are not independent, so this interval is the honest one (wider than Wilson's when they
 * are correlated). Seeded; 95% by default.
 */
export function clusterBootstrapAccuracy(correct: ArrayLike<boolean>, groups: ArrayLike<string>, options: { resamples?: number; seed?: number; level?: number } = {}): [number, number] {
  const byGroup = new Map<string, { k: number; n: number }>();
  for (let i = 0; i < correct.length; i++) {
    const g = byGroup.get(groups[i]!) ?? { k: 0, n: 0 };
    g.k += correct[i] ? 1 : 0;
    g.n++;
    byGroup.set(groups[i]!, g);
  }
  const keys = [...byGroup.keys()].sort();
  const cells = keys.map((k) => byGroup.get(k)!);
  return clusterBootstrap(
    keys,
    (picked) => {
      let k = 0;
      let n = 0;
      for (const g of picked) {
        k += cells[g]!.k;
        n += cells[g]!.n;
      }
      return n ? k / n : 0;
    },
    options,
  );
}

/** Mean of the first k values (all of them when fewer). */
export function meanOfFirst(values: readonly number[], k: number): number {
  const v = values.slice(0, k);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0;
}

/** Indices of `scores` from highest to lowest (ties: lower index first). */
export function rankOrder(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * NDCG@k of the order `scores` gives, with the teacher's values as gains (linear gains, discount
 * 1/log2(rank + 1)); undefined when no point has value (every order is as good).
 */
export function ndcgAtK(values: readonly number[], scores: ArrayLike<number>, k: number): number | undefined {
  const dcg = (order: readonly number[]) => order.slice(0, k).reduce((a, i, r) => a + values[i]! / Math.log2(r + 2), 0);
  const ideal = dcg(rankOrder(values));
  return ideal > 0 ? dcg(rankOrder(scores)) / ideal : undefined;
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  count: number;
  /** Mean predicted P(yes) in the bin. */
  meanP: number;
  /** Observed share of yes in the bin. */
  fracYes: number;
}

/**
 * Reliability of P(yes): equal-width bins over [0, 1]; ECE = Σ_b (n_b / N) · |fracYes_b − meanP_b|
 * (the calibration curve's weighted gap; P(yes) is what the verifier thresholds at τ).
 */
export function reliability(pYes: ArrayLike<number>, gold: ArrayLike<boolean>, bins = 10): { bins: ReliabilityBin[]; ece: number } {
  const acc = Array.from({ length: bins }, (_, i) => ({ lo: i / bins, hi: (i + 1) / bins, count: 0, sumP: 0, yes: 0 }));
  for (let i = 0; i < pYes.length; i++) {
    const p = pYes[i]!;
    const b = acc[Math.min(bins - 1, Math.max(0, Math.floor(p * bins)))]!;
    b.count++;
    b.sumP += p;
    b.yes += gold[i] ? 1 : 0;
  }
  const n = pYes.length;
  let ece = 0;
  const out = acc.map((b) => {
    const meanP = b.count ? b.sumP / b.count : 0;
    const fracYes = b.count ? b.yes / b.count : 0;
    if (n) ece += (b.count / n) * Math.abs(fracYes - meanP);
    return { lo: b.lo, hi: b.hi, count: b.count, meanP, fracYes };
  });
  return { bins: out, ece };
}
