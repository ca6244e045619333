import type { BoxSummary, PointSummary, ResampledMetric, SegmentationSummary, TimingSummary } from "@resagent/metrics";

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
