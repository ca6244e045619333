import type { GraphCutParams } from "../params.js";
import type { ColourModels } from "./colour.js";
import type { WorkingCrop } from "./crop.js";
import type { PointTerms } from "./points.js";

/** Capacity of a hard constraint: no cut pays it. */
export const HARD = 1e9;

/** Per ROI node, the t-link capacities of the cut graph. Source = foreground: cutting a node's source link (labelling it background) costs `source`. */
export interface Unary {
  source: Float64Array;
  sink: Float64Array;
}

/** A pixel's unary costs (−log likelihoods) with the points' local evidence applied, written to outF[k], outB[k]. */
export function localUnary(terms: PointTerms | undefined, k: number, f: number, b: number, outF: Float64Array, outB: Float64Array): void {
  if (!terms) {
    outF[k] = f;
    outB[k] = b;
    return;
  }
  const zn = terms.negZone[k]!;
  const zp = terms.posZone[k]!;
  const nb = zn > 0 && b > f ? b - zn * (b - f) : b;
  const nf = zp > 0 && f > b ? f - zp * (f - b) : f;
  outF[k] = nf + terms.fgCost[k]!;
  outB[k] = nb + terms.bgCost[k]!;
}

/** Whether node k is fixed background: outside the box (without slack), or under a hard negative seed, unless a positive seed covers it. */
export function fixedBackground(c: WorkingCrop, seed: Uint8Array, soft: boolean, k: number): boolean {
  return seed[k] !== 1 && (c.hard[k] === 2 || (seed[k] === 2 && !soft));
}

/**
 * Stage 3 of the graph cut: the unary terms. Each node's cost of either label: −log likelihood
 * under the colour models, with the points' local priors and zones (`terms`), the slack's
 * background lean (outsideBias), and soft seeds' pull (seedStrength); hard seeds and fixed
 * background get HARD.
 */
export function unaryTerms(c: WorkingCrop, models: ColourModels, seed: Uint8Array, terms: PointTerms | undefined, P: Pick<GraphCutParams, "seeds" | "outsideBias" | "seedStrength">): Unary {
  const { n, px, cropIdx, hard } = c;
  const { fg, bg } = models;
  const soft = P.seeds === "soft";
  const source = new Float64Array(n);
  const sink = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const i = 3 * cropIdx[k]!;
    if (seed[k] === 1 && !soft) source[k] = HARD;
    else if (fixedBackground(c, seed, soft, k)) sink[k] = HARD;
    else {
      localUnary(terms, k, -fg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!), -bg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!), sink, source);
      if (hard[k] === 3) sink[k]! += P.outsideBias;
      if (seed[k] === 1) source[k]! += P.seedStrength;
      else if (seed[k] === 2) sink[k]! += P.seedStrength;
    }
  }
  return { source, sink };
}
