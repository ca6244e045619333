import type { Point } from "@resagent/core";
import { colourAffinity, geodesicDistance, patchColour } from "../local.js";
import type { GraphCutParams } from "../params.js";
import type { ColourModels, Votes } from "./colour.js";
import { discOf, toWork, type WorkingCrop } from "./crop.js";

/** The points' local priors (extra nats for labelling a ROI pixel fore/background) and their votes. */
export interface PointTerms {
  fgCost: Float64Array;
  bgCost: Float64Array;
  /**
   * How far (0..1) a pixel lies in a negative's zone (geodesically nearer it than the positives,
   * coloured like its patch): there the background may explain its colour as well as the
   * foreground does. Where a same-coloured neighbour touches the object, colour cannot decide,
   * so it must not; position then does. The same for a missed positive's zone.
   */
  negZone: Float32Array;
  posZone: Float32Array;
  posVotes: Votes;
  negVotes: Votes;
}

type PointParams = Pick<GraphCutParams, "agreementScale" | "geodesic" | "spatialWeight" | "positiveWeight" | "positiveReach" | "seedWeight" | "negativeSeedWeight">;

/**
 * Stage 4 of the graph cut: the point constraints, what the points do besides their hard seed
 * discs. `acting` are the points that reshape the mask (corrective: those the box-only cut got
 * wrong); every point of the prompt (`all`) shapes the geodesic split and the agreement test.
 * `models`: the box-only cut's colour models, which judge a point's colour when no point of the
 * other label exists to compare with.
 */
export function pointConstraints(
  c: WorkingCrop,
  all: { positives: readonly Point[]; negatives: readonly Point[] },
  acting: { pos: Point[]; neg: Point[] },
  models: ColourModels | undefined,
  P: PointParams,
): PointTerms {
  const { n, px, cropIdx, grid, rs, beta, rw, rh, box } = c;
  const patch = (q: Point) => patchColour(grid, toWork(c, q), Math.max(1, rs));
  const posPatches = all.positives.map(patch);
  const negPatches = all.negatives.map(patch);
  // Agreement with the local evidence: how unlike the other label's points this point's patch
  // is (without any, how unlikely its colour is under the other label's box-only model).
  const unlike = (col: [number, number, number], others: [number, number, number][], otherLabelIsFg: boolean) => {
    if (others.length) return 1 - Math.max(...others.map((o) => colourAffinity(col, o, P.agreementScale)));
    if (!models) return 1;
    const lf = models.fg.logLikelihood(col[0], col[1], col[2]);
    const lb = models.bg.logLikelihood(col[0], col[1], col[2]);
    const pFg = 1 / (1 + Math.exp(lb - lf));
    return otherLabelIsFg ? 1 - pFg : pFg;
  };
  const votes = (pts: Point[], others: [number, number, number][], otherIsFg: boolean, weight: number): Votes => {
    const idx: number[] = [];
    const share: number[] = [];
    for (const q of pts) {
      // Each pixel of the seed disc votes by its own colour, not the patch's mean: a negative
      // on a thin object-coloured stripe has a patch that is half background, and its
      // object-coloured pixels must not teach the background model the object's colour.
      const disc = discOf(c, q);
      for (const k of disc) {
        const i = 3 * cropIdx[k]!;
        idx.push(cropIdx[k]!);
        share.push((weight * unlike([px[i]!, px[i + 1]!, px[i + 2]!], others, otherIsFg)) / (pts.length * disc.length));
      }
    }
    return { idx, share };
  };
  const pointIndex = (q: Point) => {
    const i = all.positives.indexOf(q);
    return i >= 0 ? i : all.negatives.indexOf(q);
  };
  const fgCost = new Float64Array(n);
  const bgCost = new Float64Array(n);
  const negZone = new Float32Array(n);
  const posZone = new Float32Array(n);
  const kappaScale = beta > 0 ? Math.sqrt(1 / (2 * beta)) : 1;
  const geo = (q: Point) => geodesicDistance(grid, [toWork(c, q)], P.geodesic, kappaScale);
  const anchorPts = all.positives.length ? all.positives.map((q) => toWork(c, q)) : [toWork(c, { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 })];
  const dAnchor = acting.neg.length ? geodesicDistance(grid, anchorPts, P.geodesic, kappaScale) : undefined;
  const negMaps = acting.neg.map(geo);
  const posMaps = acting.pos.map(geo);
  const negCols = acting.neg.map((q) => negPatches[pointIndex(q)]!);
  const posCols = acting.pos.map((q) => posPatches[pointIndex(q)]!);
  const reach = P.positiveReach * Math.max(rw, rh);
  for (let k = 0; k < n; k++) {
    const i = 3 * cropIdx[k]!;
    const col = [px[i]!, px[i + 1]!, px[i + 2]!];
    const jn = nearestMap(negMaps, k);
    const dn = jn >= 0 ? negMaps[jn]![k]! : Infinity;
    if (jn >= 0 && dAnchor) {
      // Soft geodesic Voronoi split between the negatives and the positives (or the box centre).
      const pf = Math.min(0.98, Math.max(0.02, dn / (dAnchor[k]! + dn + 1e-9)));
      if (pf < 0.5) {
        const a = colourAffinity(col, negCols[jn]!, P.agreementScale);
        fgCost[k] = -P.spatialWeight * Math.log(2 * pf) * a;
        negZone[k] = a * Math.min(1, (0.5 - pf) / 0.25);
      }
    }
    const jp = nearestMap(posMaps, k);
    const dp = jp >= 0 ? posMaps[jp]![k]! : Infinity;
    if (jp >= 0 && dp < dn) {
      const z = Math.exp(-dp / reach) * colourAffinity(col, posCols[jp]!, P.agreementScale);
      bgCost[k] = P.positiveWeight * z;
      posZone[k] = z;
    }
  }
  return {
    fgCost,
    bgCost,
    negZone,
    posZone,
    posVotes: votes(acting.pos, negPatches, false, P.seedWeight),
    negVotes: votes(acting.neg, posPatches, true, P.negativeSeedWeight),
  };
}

/** Which distance map is smallest at pixel k (the first on ties), or -1 when there are none or all are infinite. */
function nearestMap(maps: readonly Float32Array[], k: number): number {
  let best = Infinity;
  let j = -1;
  for (let t = 0; t < maps.length; t++) {
    const d = maps[t]![k]!;
    if (d < best) {
      best = d;
      j = t;
    }
  }
  return j;
}
