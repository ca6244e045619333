import { assertMask, type Mask } from "@resagent/core";

/** Gold-mask value that marks pixels excluded from scoring (LISA / ReasonSeg "ignore"). */
export const IGNORE = 255;

/** Intersection and union of one prediction with its gold mask, ignore pixels dropped from both. */
export interface SampleIoU {
  intersection: number;
  union: number;
  /** I / U, with an empty union counted as 1 (nothing to find, nothing found). */
  iou: number;
}

/**
 * Foreground intersection/union as LISA's `intersectionAndUnionGPU(pred, gold, 2, ignore_index=255)`
 * computes them for class 1: pixels where gold is 255 count in neither; prediction nonzero = 1.
 */
export function sampleIoU(pred: Mask, gold: Mask): SampleIoU {
  assertMask(pred, "prediction");
  assertMask(gold, "gold mask", pred);
  const p = pred.data;
  const g = gold.data;
  let inter = 0;
  let predArea = 0;
  let goldArea = 0;
  for (let k = 0; k < p.length; k++) {
    const gv = g[k]!;
    if (gv === IGNORE) continue;
    const pv = p[k] !== 0;
    if (pv) predArea++;
    if (gv !== 0) {
      goldArea++;
      if (pv) inter++;
    }
  }
  const union = predArea + goldArea - inter;
  return { intersection: inter, union, iou: union === 0 ? 1 : inter / union };
}

export interface SegmentationSummary {
  n: number;
  /** Mean of per-sample exact IoU (empty union = 1). */
  mIoU: number;
  /** LISA gIoU: mean of I / (U + 1e-5), plus 1 where U = 0. */
  gIoU: number;
  /** LISA cIoU: ΣI / (ΣU + 1e-10). */
  cIoU: number;
  sumI: number;
  sumU: number;
}

export interface SegmentationState {
  n: number;
  sumIoU: number;
  sumLisa: number;
  sumI: number;
  sumU: number;
}

/** Accumulates IoU metrics over samples; states merge, so shards combine exactly. */
export class SegmentationAccumulator {
  private s: SegmentationState = { n: 0, sumIoU: 0, sumLisa: 0, sumI: 0, sumU: 0 };

  static fromState(state: SegmentationState): SegmentationAccumulator {
    const acc = new SegmentationAccumulator();
    acc.s = { ...state };
    return acc;
  }

  /** Add one sample, either its masks or its already computed I and U. */
  add(sample: { intersection: number; union: number }): this;
  add(pred: Mask, gold: Mask): this;
  add(a: Mask | { intersection: number; union: number }, gold?: Mask): this {
    const { intersection: i, union: u } = gold ? sampleIoU(a as Mask, gold) : (a as { intersection: number; union: number });
    this.s.n++;
    this.s.sumI += i;
    this.s.sumU += u;
    this.s.sumIoU += u === 0 ? 1 : i / u;
    this.s.sumLisa += i / (u + 1e-5) + (u === 0 ? 1 : 0);
    return this;
  }

  merge(other: SegmentationAccumulator): this {
    const o = other.s;
    this.s.n += o.n;
    this.s.sumI += o.sumI;
    this.s.sumU += o.sumU;
    this.s.sumIoU += o.sumIoU;
    this.s.sumLisa += o.sumLisa;
    return this;
  }

  state(): SegmentationState {
    return { ...this.s };
  }

  summary(): SegmentationSummary {
    const { n, sumIoU, sumLisa, sumI, sumU } = this.s;
    return {
      n,
      mIoU: n ? sumIoU / n : Number.NaN,
      gIoU: n ? sumLisa / n : Number.NaN,
      cIoU: n ? sumI / (sumU + 1e-10) : Number.NaN,
      sumI,
      sumU,
    };
  }
}
