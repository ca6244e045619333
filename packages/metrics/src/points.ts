/** Confusion counts for yes/no point verification; "yes" (point on the object) is the positive class. */
export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** Queries that produced neither yes nor no (e.g. no yes/no token in the top-k). */
  abstained: number;
}

export interface PointSummary extends Confusion {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

/** Accumulates point-classification outcomes (paper Tables 9–10, Fig. 5). Mergeable. */
export class PointAccumulator {
  private c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0, abstained: 0 };

  static fromState(state: Confusion): PointAccumulator {
    const acc = new PointAccumulator();
    acc.c = { ...state };
    return acc;
  }

  /** `predicted` null = abstention; abstentions are reported, not scored. */
  add(predicted: boolean | null, actual: boolean): this {
    if (predicted === null) this.c.abstained++;
    else if (predicted && actual) this.c.tp++;
    else if (predicted && !actual) this.c.fp++;
    else if (!predicted && actual) this.c.fn++;
    else this.c.tn++;
    return this;
  }

  merge(other: PointAccumulator): this {
    for (const k of ["tp", "fp", "tn", "fn", "abstained"] as const) this.c[k] += other.c[k];
    return this;
  }

  state(): Confusion {
    return { ...this.c };
  }

  summary(): PointSummary {
    const { tp, fp, tn, fn } = this.c;
    const n = tp + fp + tn + fn;
    const precision = tp + fp ? tp / (tp + fp) : 0;
    const recall = tp + fn ? tp / (tp + fn) : 0;
    return {
      ...this.c,
      n,
      accuracy: n ? (tp + tn) / n : Number.NaN,
      precision,
      recall,
      f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    };
  }
}
