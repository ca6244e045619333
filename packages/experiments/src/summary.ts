import {
  BoxAccumulator,
  PointAccumulator,
  RESAMPLED_METRIC_NAMES,
  SegmentationAccumulator,
  TimingAccumulator,
  answerConfidence,
  bootstrap,
  meanReplicates,
  percentileInterval,
  type BoxSummary,
  type PointSummary,
  type Replicates,
  type ResampledMetric,
  type SegmentationSummary,
  type TimingSummary,
} from "@resagent/metrics";
import { datasetSource } from "@resagent/data";
import type { SampleRecord } from "@resagent/pipeline";
import type { LoadedExperiment } from "./config/load.js";

/** Metrics of one cell on one dataset column (or "all"). */
export interface CellMetrics {
  samples: number;
  segmentation: SegmentationSummary;
  /** Predicted box vs gold box, over samples with a gold box (no box = IoU 0). */
  box: BoxSummary;
  points: PointSummary;
  /** Mean confidence max(P(yes), P(no)) over answered queries (Fig. 1). */
  meanConfidence: number;
  /** Mean retained (positive or negative) points per sample (Table 10 "available"). */
  available: number;
  queriesPerSample: number;
  groundingFailures: number;
  timing: Record<string, TimingSummary>;
  /**
   * 95% percentile-bootstrap interval of each resampled metric over this cell's samples (same
   * units as the metric: fractions for IoU and point metrics); absent with fewer than 2 samples.
   */
  ci95?: Partial<Record<ResampledMetric, [number, number]>>;
}

/** How intervals are computed; written to summary.json beside them. */
export const BOOTSTRAP_SETTINGS = { replicates: 1000, level: 0.95, method: "percentile bootstrap interval over samples" } as const;

/** Records grouped by "cell\u0000column", every record also under its cell's "all" column. */
export function groupRecords(exp: LoadedExperiment, records: readonly SampleRecord[]): Map<string, SampleRecord[]> {
  const colOf = new Map<string, string>();
  for (const [col, ref] of Object.entries(exp.config.resolvedDatasets)) colOf.set(datasetSource(ref), col);
  const groups = new Map<string, SampleRecord[]>();
  for (const r of records) {
    const col = colOf.get(r.dataset) ?? r.dataset;
    for (const key of [`${r.cell}\u0000${col}`, `${r.cell}\u0000all`]) {
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(r);
    }
  }
  return groups;
}

/**
 * Seeded bootstrap replicates per (cell, dataset column), computed on first use and kept, so the
 * table's average columns reuse the per-dataset resamples (an average's replicate is the mean of
 * its datasets' replicates: a stratified bootstrap).
 */
export class SampleBootstrap {
  private readonly cache = new Map<string, Replicates | null>();

  constructor(
    private readonly groups: Map<string, SampleRecord[]>,
    private readonly seed: number,
    readonly replicates: number = BOOTSTRAP_SETTINGS.replicates,
  ) {}

  /** Replicates of one group; null with fewer than 2 samples (no spread to estimate). */
  of(cell: string, col: string): Replicates | null {
    const key = `${cell}\u0000${col}`;
    if (!this.cache.has(key)) {
      const recs = this.groups.get(key) ?? [];
      this.cache.set(key, recs.length < 2 ? null : bootstrap(recs, { seed: this.seed, label: `${cell}|${col}`, replicates: this.replicates }));
    }
    return this.cache.get(key)!;
  }

  /** 95% interval of a metric on one column, or on the average of several (stratified). */
  interval(cell: string, cols: readonly string[], metric: ResampledMetric): [number, number] | null {
    const reps = cols.map((c) => this.of(cell, c)?.[metric]);
    if (!reps.length || reps.some((r) => !r)) return null;
    return percentileInterval(meanReplicates(reps as Float64Array[]), BOOTSTRAP_SETTINGS.level);
  }
}

/** Records grouped by cell and dataset column; every number of a run is derived from here. */
export function summarise(
  exp: LoadedExperiment,
  records: readonly SampleRecord[],
  boot: SampleBootstrap | null = new SampleBootstrap(groupRecords(exp, records), exp.config.seed),
): Record<string, Record<string, CellMetrics>> {
  const groups = groupRecords(exp, records);
  const out: Record<string, Record<string, CellMetrics>> = {};
  for (const [key, recs] of groups) {
    const [cell, col] = key.split("\u0000") as [string, string];
    const seg = new SegmentationAccumulator();
    const boxes = new BoxAccumulator();
    const pts = new PointAccumulator();
    const time = new TimingAccumulator();
    let conf = 0;
    let answered = 0;
    let retained = 0;
    let queries = 0;
    let failures = 0;
    for (const r of recs) {
      seg.add({ intersection: r.intersection, union: r.union });
      if (r.box === null) boxes.add(null);
      else if (r.boxIoU !== undefined) boxes.add(r.boxIoU);
      const { mllmQueries: _q, cacheHits: _c, ...stages } = r.timing;
      time.addAll(stages);
      queries += r.timing.mllmQueries ?? 0;
      if (r.groundingFailure) failures++;
      for (const q of r.queries) {
        if (q.pYes === null || q.pYes === undefined) {
          pts.add(null, q.gold ?? false);
          continue;
        }
        answered++;
        conf += answerConfidence(q);
        if (q.decision === "positive" || q.decision === "negative") {
          retained++;
          if (q.gold !== undefined) pts.add(q.decision === "positive", q.gold);
        }
      }
    }
    (out[cell] ??= {})[col] = {
      samples: recs.length,
      segmentation: seg.summary(),
      box: boxes.summary(),
      points: pts.summary(),
      meanConfidence: answered ? conf / answered : Number.NaN,
      available: recs.length ? retained / recs.length : 0,
      queriesPerSample: recs.length ? queries / recs.length : 0,
      groundingFailures: failures,
      timing: time.summary(),
    };
    const ci = boot ? Object.fromEntries(RESAMPLED_METRIC_NAMES.flatMap((m) => {
      const iv = boot.interval(cell, [col], m);
      return iv ? [[m, iv]] : [];
    })) : {};
    if (Object.keys(ci).length) out[cell]![col]!.ci95 = ci;
  }
  return out;
}
