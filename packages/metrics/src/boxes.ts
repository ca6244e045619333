/** Box grounding quality, as grounding evaluations report it: mean box IoU and the share above 0.5 / 0.75 / 0.9. */
export interface BoxSummary {
  n: number;
  /** Samples without a box (unparseable answer): counted with IoU 0. */
  failures: number;
  meanIoU: number;
  acc50: number;
  acc75: number;
  acc90: number;
}

export interface BoxState {
  n: number;
  failures: number;
  sumIoU: number;
  at50: number;
  at75: number;
  at90: number;
}

/** Accumulates predicted-box IoU against gold boxes; mergeable like the others. */
export class BoxAccumulator {
  private s: BoxState = { n: 0, failures: 0, sumIoU: 0, at50: 0, at75: 0, at90: 0 };

  static fromState(state: BoxState): BoxAccumulator {
    const acc = new BoxAccumulator();
    acc.s = { ...state };
    return acc;
  }

  /** One sample's box IoU; null when grounding gave no box (scored 0). */
  add(iou: number | null): this {
    this.s.n++;
    if (iou === null) {
      this.s.failures++;
      return this;
    }
    this.s.sumIoU += iou;
    if (iou >= 0.5) this.s.at50++;
    if (iou >= 0.75) this.s.at75++;
    if (iou >= 0.9) this.s.at90++;
    return this;
  }

  merge(other: BoxAccumulator): this {
    for (const k of Object.keys(this.s) as (keyof BoxState)[]) this.s[k] += other.s[k];
    return this;
  }

  state(): BoxState {
    return { ...this.s };
  }

  summary(): BoxSummary {
    const { n, failures, sumIoU, at50, at75, at90 } = this.s;
    const f = (v: number) => (n ? v / n : Number.NaN);
    return { n, failures, meanIoU: f(sumIoU), acc50: f(at50), acc75: f(at75), acc90: f(at90) };
  }
}
