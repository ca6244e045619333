import type { CellMetrics } from "./cell-metrics.js";

interface ColumnValue {
  read: (m: CellMetrics) => number | null;
  /** Stored as a fraction, shown ×100. */
  percent: boolean;
}

const pct = (read: ColumnValue["read"]): ColumnValue => ({ read, percent: true });
const num = (read: ColumnValue["read"]): ColumnValue => ({ read, percent: false });

/**
 * Every number a table column can show, by the name configs use (`metric:` or `stat:`): how to
 * read it from a cell's metrics and whether it is a percentage. Configs are checked against these
 * names when they load, so a typo fails before any work.
 */
export const COLUMN_VALUES = {
  mIoU: pct((m) => m.segmentation.mIoU),
  gIoU: pct((m) => m.segmentation.gIoU),
  cIoU: pct((m) => m.segmentation.cIoU),
  acc: pct((m) => m.points.accuracy),
  precision: pct((m) => m.points.precision),
  recall: pct((m) => m.points.recall),
  f1: pct((m) => m.points.f1),
  conf: pct((m) => m.meanConfidence),
  tp: num((m) => m.points.tp),
  fp: num((m) => m.points.fp),
  tn: num((m) => m.points.tn),
  fn: num((m) => m.points.fn),
  available: num((m) => m.available),
  queriesPerSample: num((m) => m.queriesPerSample),
  /** Whole sample, wall clock. */
  msPerSample: num((m) => m.timing.total?.mean ?? null),
  /** The decoder stage only. */
  decodeMsPerSample: num((m) => m.timing.decode?.mean ?? null),
  /** Grounding: predicted box vs gold box (mean IoU, share at IoU >= 0.5 / 0.75 / 0.9; no box = 0). */
  boxIoU: pct((m) => (m.box?.n ? m.box.meanIoU : null)),
  boxAcc50: pct((m) => (m.box?.n ? m.box.acc50 : null)),
  boxAcc75: pct((m) => (m.box?.n ? m.box.acc75 : null)),
  boxAcc90: pct((m) => (m.box?.n ? m.box.acc90 : null)),
  samples: num((m) => m.samples),
  groundingFailures: num((m) => m.groundingFailures),
  /**
   * Nothing of ours: a column for a paper number we do not measure in its unit (Table 4's
   * seconds per sample with real models), so it sits beside ours instead of under it.
   */
  paperOnly: num(() => null),
} satisfies Record<string, ColumnValue>;

export type ColumnValueName = keyof typeof COLUMN_VALUES;
export const COLUMN_VALUE_NAMES = Object.keys(COLUMN_VALUES) as ColumnValueName[];

