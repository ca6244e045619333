import { randomStream } from "@resagent/core";

/**
 * What a per-sample record must hold for its metrics to be resampled: the structural subset of a
 * samples.jsonl line (pipeline's SampleRecord satisfies it; unknown keys are ignored).
 */
export interface ScoredSample {
  intersection: number;
  union: number;
  queries?: readonly { pYes?: number | null; confidence?: number | null; decision?: string; gold?: boolean }[];
  groundingFailure?: string;
  timing?: Readonly<Record<string, number>>;
}

// Layout of a sample's statistics vector: every resampled metric is a function of their sums.
const N = 0;
const IOU = 1;
const LISA = 2;
const I = 3;
const U = 4;
const TP = 5;
const FP = 6;
const TN = 7;
const FN = 8;
const CONF = 9;
const ANSWERED = 10;
const RETAINED = 11;
const QUERIES = 12;
const FAILURES = 13;
/** Length of a sample's statistics vector. */
export const SAMPLE_STAT_LENGTH = 14;

/**
 * One sample's sufficient statistics, counted exactly as `summarise` counts them (the segmentation
 * and point accumulators), so the point estimate from the sums equals the table's number.
 */
export function sampleStats(r: ScoredSample, out = new Float64Array(SAMPLE_STAT_LENGTH)): Float64Array {
  const i = r.intersection;
  const u = r.union;
  out.fill(0);
  out[N] = 1;
  out[IOU] = u === 0 ? 1 : i / u;
  out[LISA] = i / (u + 1e-5) + (u === 0 ? 1 : 0);
  out[I] = i;
  out[U] = u;
  for (const q of r.queries ?? []) {
    if (q.pYes === null || q.pYes === undefined) continue; // abstentions are reported, not scored
    out[ANSWERED]!++;
    out[CONF]! += answerConfidence(q);
    if (q.decision === "positive" || q.decision === "negative") {
      out[RETAINED]!++;
      if (q.gold === undefined) continue;
      const yes = q.decision === "positive";
      out[yes ? (q.gold ? TP : FP) : q.gold ? FN : TN]!++;
    }
  }
  out[QUERIES] = r.timing?.mllmQueries ?? 0;
  out[FAILURES] = r.groundingFailure ? 1 : 0;
  return out;
}

/**
 * The confidence of an answered query for the mean-confidence metric: the number the verifier
 * compared with τ when it has one, else max(P(yes), 1 − P(yes)) (records before issue 20, and
 * absolute answers whose confidence could not be computed).
 */
export function answerConfidence(q: { pYes?: number | null; confidence?: number | null }): number {
  if (typeof q.confidence === "number") return q.confidence;
  const p = q.pYes ?? 0.5;
  return Math.max(p, 1 - p);
}

const ratio = (a: number, b: number) => (b ? a / b : Number.NaN);

/**
 * Metrics that resampling applies to, by the names table columns use, each a function of summed
 * sample statistics. Counts (tp, samples, ...) and wall-clock timings get no interval: a count
 * scales with n, and timings are not deterministic.
 */
export const RESAMPLED_METRICS = {
  mIoU: (s: Float64Array) => ratio(s[IOU]!, s[N]!),
  gIoU: (s: Float64Array) => ratio(s[LISA]!, s[N]!),
  cIoU: (s: Float64Array) => (s[N]! ? s[I]! / (s[U]! + 1e-10) : Number.NaN),
  acc: (s: Float64Array) => ratio(s[TP]! + s[TN]!, s[TP]! + s[FP]! + s[TN]! + s[FN]!),
  precision: (s: Float64Array) => (s[TP]! + s[FP]! ? s[TP]! / (s[TP]! + s[FP]!) : 0),
  recall: (s: Float64Array) => (s[TP]! + s[FN]! ? s[TP]! / (s[TP]! + s[FN]!) : 0),
  f1: (s: Float64Array) => {
    const p = s[TP]! + s[FP]! ? s[TP]! / (s[TP]! + s[FP]!) : 0;
    const r = s[TP]! + s[FN]! ? s[TP]! / (s[TP]! + s[FN]!) : 0;
    return p + r ? (2 * p * r) / (p + r) : 0;
  },
  conf: (s: Float64Array) => ratio(s[CONF]!, s[ANSWERED]!),
  available: (s: Float64Array) => (s[N]! ? s[RETAINED]! / s[N]! : 0),
  queriesPerSample: (s: Float64Array) => (s[N]! ? s[QUERIES]! / s[N]! : 0),
  groundingFailureRate: (s: Float64Array) => ratio(s[FAILURES]!, s[N]!),
} satisfies Record<string, (sums: Float64Array) => number>;

export type ResampledMetric = keyof typeof RESAMPLED_METRICS;
export const RESAMPLED_METRIC_NAMES = Object.keys(RESAMPLED_METRICS) as ResampledMetric[];

export function isResampledMetric(name: string): name is ResampledMetric {
  return Object.hasOwn(RESAMPLED_METRICS, name);
}

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  replicates?: number;
  /** Seed of the resampling stream. */
  seed: number | string;
  /** Label of the stream (e.g. "<cell>|<dataset>"): each group resamples independently of the others. */
  label: string;
}

/** Replicate values of every resampled metric: `values[metric][b]`, NaN where a resample left it undefined. */
export type Replicates = Record<ResampledMetric, Float64Array>;

function statsMatrix(samples: readonly ScoredSample[]): Float64Array {
  const m = new Float64Array(samples.length * SAMPLE_STAT_LENGTH);
  const row = new Float64Array(SAMPLE_STAT_LENGTH);
  samples.forEach((s, k) => m.set(sampleStats(s, row), k * SAMPLE_STAT_LENGTH));
  return m;
}

function sumsOf(matrix: Float64Array, n: number): Float64Array {
  const sums = new Float64Array(SAMPLE_STAT_LENGTH);
  for (let k = 0; k < n; k++) for (let j = 0; j < SAMPLE_STAT_LENGTH; j++) sums[j]! += matrix[k * SAMPLE_STAT_LENGTH + j]!;
  return sums;
}

/** Every resampled metric on all samples (the point estimate). */
export function pointEstimates(samples: readonly ScoredSample[]): Record<ResampledMetric, number> {
  const sums = sumsOf(statsMatrix(samples), samples.length);
  return Object.fromEntries(RESAMPLED_METRIC_NAMES.map((m) => [m, RESAMPLED_METRICS[m](sums)])) as Record<ResampledMetric, number>;
}

/**
 * Nonparametric bootstrap over samples: each replicate draws n samples with replacement (seeded
 * stream from (seed, "bootstrap", label)) and recomputes every metric from the drawn samples'
 * summed statistics. Ratio metrics (cIoU, accuracy) are resampled as ratios, not as means of
 * per-sample ratios, so their intervals are for the number the table shows.
 */
export function bootstrap(samples: readonly ScoredSample[], opts: BootstrapOptions): Replicates {
  return pairedBootstrap(samples, undefined, opts).a;
}

/**
 * Paired bootstrap: `a[k]` and `b[k]` are the same sample under two configurations; each
 * replicate draws one set of indices and applies it to both, so `a - b` replicates keep the
 * pairing (between-sample variance cancels).
 */
export function pairedBootstrap(a: readonly ScoredSample[], b: readonly ScoredSample[] | undefined, opts: BootstrapOptions): { a: Replicates; b: Replicates } {
  const n = a.length;
  if (b && b.length !== n) throw new RangeError(`pairedBootstrap: ${n} samples in a, ${b.length} in b`);
  const B = opts.replicates ?? 1000;
  const alloc = () => Object.fromEntries(RESAMPLED_METRIC_NAMES.map((m) => [m, new Float64Array(B).fill(Number.NaN)])) as Replicates;
  const out = { a: alloc(), b: alloc() };
  if (n === 0) return out;
  const ma = statsMatrix(a);
  const mb = b ? statsMatrix(b) : undefined;
  // Indices come from a 32-bit generator (mulberry32) seeded from the (seed, "bootstrap", label)
  // stream: the same numbers every time, at a fraction of the stream's per-draw cost, which
  // dominates here (n draws per replicate).
  let state = randomStream(opts.seed, "bootstrap", opts.label).int(0x100000000) >>> 0;
  const draw = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const counts = new Uint32Array(n);
  const sa = new Float64Array(SAMPLE_STAT_LENGTH);
  const sb = new Float64Array(SAMPLE_STAT_LENGTH);
  for (let r = 0; r < B; r++) {
    counts.fill(0);
    for (let k = 0; k < n; k++) counts[Math.floor(draw() * n)]!++;
    sa.fill(0);
    sb.fill(0);
    for (let k = 0; k < n; k++) {
      const c = counts[k]!;
      if (!c) continue;
      const o = k * SAMPLE_STAT_LENGTH;
      for (let j = 0; j < SAMPLE_STAT_LENGTH; j++) sa[j]! += c * ma[o + j]!;
      if (mb) for (let j = 0; j < SAMPLE_STAT_LENGTH; j++) sb[j]! += c * mb[o + j]!;
    }
    for (const m of RESAMPLED_METRIC_NAMES) {
      out.a[m][r] = RESAMPLED_METRICS[m](sa);
      if (mb) out.b[m][r] = RESAMPLED_METRICS[m](sb);
    }
  }
  return out;
}

/**
 * Percentile interval of replicate values (linear interpolation between order statistics, as
 * numpy's default quantile). NaN replicates (a resample with no scored point, say) are dropped;
 * null when fewer than half of them are defined. (Callers give no interval for fewer than 2 samples.)
 */
export function percentileInterval(values: Float64Array, level = 0.95): [number, number] | null {
  const v = Float64Array.from(values.filter((x) => !Number.isNaN(x))).sort();
  if (v.length < 2 || v.length < values.length / 2) return null;
  const q = (p: number) => {
    const h = (v.length - 1) * p;
    const lo = Math.floor(h);
    return v[lo]! + (h - lo) * (v[Math.min(v.length - 1, lo + 1)]! - v[lo]!);
  };
  const alpha = (1 - level) / 2;
  return [q(alpha), q(1 - alpha)];
}

/** Element-wise mean of several replicate arrays: replicates of an average over independently resampled groups. */
export function meanReplicates(arrays: readonly Float64Array[]): Float64Array {
  const first = arrays[0];
  if (!first) return new Float64Array(0);
  const out = new Float64Array(first.length);
  for (const a of arrays) for (let k = 0; k < out.length; k++) out[k]! += a[k]! / arrays.length;
  return out;
}

/** Element-wise a − b. */
export function differenceReplicates(a: Float64Array, b: Float64Array): Float64Array {
  return a.map((x, k) => x - b[k]!);
}
