import { BoxAccumulator, PointAccumulator, SegmentationAccumulator, TimingAccumulator, type BoxSummary, type PointSummary, type SegmentationSummary, type TimingSummary } from "@resagent/metrics";
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
}

/** Records grouped by cell and dataset column; every number of a run is derived from here. */
export function summarise(exp: LoadedExperiment, records: readonly SampleRecord[]): Record<string, Record<string, CellMetrics>> {
  const colOf = new Map<string, string>();
  for (const [col, ref] of Object.entries(exp.config.resolvedDatasets)) colOf.set(`${ref.name}/${ref.split}`, col);
  const groups = new Map<string, SampleRecord[]>();
  for (const r of records) {
    const col = colOf.get(r.dataset) ?? r.dataset;
    for (const key of [`${r.cell}\u0000${col}`, `${r.cell}\u0000all`]) {
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(r);
    }
  }
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
        conf += Math.max(q.pYes, 1 - q.pYes);
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
  }
  return out;
}
