import { MaxflowGraph } from "../maxflow.js";
import type { GraphCutParams } from "../params.js";
import { fitColourModels, type ColourModels } from "./colour.js";
import type { WorkingCrop } from "./crop.js";
import type { PointTerms } from "./points.js";
import { fixedBackground, unaryTerms, type Unary } from "./unary.js";

/** A cut: its labels on the ROI (1 foreground), the colour models it ended with, and what shaped it. */
export interface Cut {
  labels: Uint8Array;
  /** The colour models of the last fit; absent when none was fitted (the box holds nothing to fit). */
  models?: ColourModels;
  seed: Uint8Array;
  terms: PointTerms | undefined;
}

/**
 * Stage 5 of the graph cut: one min-cut. The unary terms as t-links, the crop's pairwise terms as
 * n-links (`freeBorder`: none across the box's edge, and none to the fixed background outside the
 * ROI, as if the box edge were the image's), Boykov–Kolmogorov max-flow; 1 for nodes on the
 * source (foreground) side, fixed background always 0.
 */
export function minCut(c: WorkingCrop, unary: Unary, fixedBg: (k: number) => boolean, freeBorder: boolean): Uint8Array {
  const { n, smooth, hard } = c;
  const graph = new MaxflowGraph(n, smooth.edgeCount);
  for (let k = 0; k < n; k++) graph.addTweights(k, unary.source[k]!, unary.sink[k]!);
  for (let e = 0; e < smooth.edgeCount; e++) {
    const a = smooth.from[e]!;
    const b = smooth.to[e]!;
    if (freeBorder && (hard[a] === 2) !== (hard[b] === 2)) continue;
    graph.addEdge(a, b, smooth.weight[e]!, smooth.weight[e]!);
  }
  if (!freeBorder) for (let k = 0; k < n; k++) if (smooth.toBackground[k]! > 0) graph.addTweights(k, 0, smooth.toBackground[k]!);
  graph.maxflow();
  const labels = new Uint8Array(n);
  for (let k = 0; k < n; k++) labels[k] = fixedBg(k) ? 0 : graph.inSource(k) ? 1 : 0;
  return labels;
}

/**
 * GrabCut iterations from an initial labelling: fit the colour models to the current labels (plus
 * the points' votes), cut with the points' local priors, repeat; stop early when a side is empty.
 */
export function grabCut(c: WorkingCrop, seed: Uint8Array, init: Uint8Array, terms: PointTerms | undefined, freeBorder: boolean, P: GraphCutParams): Cut {
  const soft = P.seeds === "soft";
  const fixedBg = (k: number) => fixedBackground(c, seed, soft, k);
  let labels: Uint8Array = Uint8Array.from(init, (l, k) => (fixedBg(k) ? 0 : seed[k] === 1 ? 1 : l));
  let models: ColourModels | undefined;
  for (let it = 0; it < P.iterations; it++) {
    const fitted = fitColourModels(c, labels, { pos: terms?.posVotes, neg: terms?.negVotes }, P.components, models);
    if (!fitted) break;
    models = fitted;
    const next = minCut(c, unaryTerms(c, models, seed, terms, P), fixedBg, freeBorder);
    labels = next;
    if (!next.includes(1)) break;
  }
  return { labels, ...(models ? { models } : {}), seed, terms };
}

/**
 * Sides where the box cuts the object: along a quarter of the side or more, the mask runs into
 * the edge and the pixels just beyond look like the ones just inside (no colour edge) and like
 * the object rather than the background. An object's own outline shows an edge; a box drawn
 * through the object does not.
 */
export function cutSides(c: WorkingCrop, cut: Cut): number {
  const { labels, models } = cut;
  if (!models) return 0;
  const { fg, bg } = models;
  const { box, crop, sx, sy, wx0, wy0, rw, rh, px, cropIdx, beta } = c;
  const edgeScale = beta > 0 ? Math.sqrt(1 / (2 * beta)) : 1;
  let sides = 0;
  // Inside and outside ROI indices of each side's edge pixels, walking along the side.
  const bu0 = Math.max(0, Math.ceil((box.x1 - crop.x0) * sx - 0.5) - wx0);
  const bu1 = Math.min(rw - 1, Math.floor((box.x2 - crop.x0) * sx - 0.5) - wx0);
  const bv0 = Math.max(0, Math.ceil((box.y1 - crop.y0) * sy - 0.5) - wy0);
  const bv1 = Math.min(rh - 1, Math.floor((box.y2 - crop.y0) * sy - 0.5) - wy0);
  const test = (bit: number, len: number, at: (t: number) => [number, number, number, number]) => {
    let cutPx = 0;
    for (let t = 0; t < len; t++) {
      const [ui, vi, uo, vo] = at(t);
      if (uo < 0 || uo >= rw || vo < 0 || vo >= rh || !labels[vi * rw + ui]) continue;
      const a = 3 * cropIdx[vi * rw + ui]!;
      const b = 3 * cropIdx[vo * rw + uo]!;
      const diff = Math.sqrt((px[a]! - px[b]!) ** 2 + (px[a + 1]! - px[b + 1]!) ** 2 + (px[a + 2]! - px[b + 2]!) ** 2);
      // ...and beyond the edge it is the object's colour, not the background's (a part painted
      // like the background shows no edge either, but the box's background model claims it).
      if (diff < 2 * edgeScale && fg.logLikelihood(px[b]!, px[b + 1]!, px[b + 2]!) > bg.logLikelihood(px[b]!, px[b + 1]!, px[b + 2]!)) cutPx++;
    }
    if (len > 0 && cutPx >= 0.25 * len) sides |= bit;
  };
  const h = bv1 - bv0 + 1;
  const w = bu1 - bu0 + 1;
  test(1, h, (t) => [bu0, bv0 + t, bu0 - 2, bv0 + t]);
  test(2, h, (t) => [bu1, bv0 + t, bu1 + 2, bv0 + t]);
  test(4, w, (t) => [bu0 + t, bv0, bu0 + t, bv0 - 2]);
  test(8, w, (t) => [bu0 + t, bv1, bu0 + t, bv1 + 2]);
  return sides;
}
