import type { Mask } from "@resagent/core";
import type { ColourGmm } from "../gmm.js";
import { MaxflowGraph } from "../maxflow.js";
import type { GraphCutParams } from "../params.js";
import { cellOf, type WorkingCrop } from "./crop.js";
import type { Cut } from "./cut.js";
import { localUnary } from "./unary.js";

/**
 * Stage 6 of the graph cut: the full-resolution mask of a cut. Each image pixel of the ROI takes
 * its working node's label; when the crop was downsampled (and `refine` is on), the boundary band
 * is re-cut at full resolution.
 */
export function fullResolutionMask(c: WorkingCrop, cut: Cut, P: Pick<GraphCutParams, "refine" | "gamma" | "outsideBias">): Mask {
  const { image, roi } = c;
  const W = image.width;
  const labels = cut.labels;
  const mask: Mask = { width: W, height: image.height, data: new Uint8Array(W * image.height) };
  for (let y = roi.y0; y < roi.y1; y++) {
    for (let x = roi.x0; x < roi.x1; x++) {
      const k = cellOf(c, x, y);
      if (k >= 0 && labels[k]) mask.data[y * W + x] = 1;
    }
  }
  if (P.refine && c.s < 1 && cut.models && labels.reduce((a, b) => a + b, 0) > 0) refineBoundary(c, mask, cut, cut.models.fg, cut.models.bg, P);
  return mask;
}

const FULL_NEIGHBOURS: readonly [number, number, number][] = [
  [1, 0, 1],
  [0, 1, 1],
  [1, 1, Math.SQRT1_2],
  [-1, 1, Math.SQRT1_2],
];

/**
 * Coarse-to-fine: the cut ran on a downsampled crop, so its boundary is blocky at full size.
 * Re-cut, at full resolution, the band of pixels whose working cell touches a cell of the other
 * label, with the final colour models, the same priors and GrabCut's pairwise terms; pixels off
 * the band keep their label and act as fixed neighbours. Costs a graph of a few thousand nodes.
 */
function refineBoundary(c: WorkingCrop, mask: Mask, cut: Cut, fg: ColourGmm, bg: ColourGmm, P: Pick<GraphCutParams, "gamma" | "outsideBias">): void {
  const { image, roi, rw, rh, hard } = c;
  const { labels, seed, terms } = cut;
  // Cells on the boundary: a different label among the 8 neighbours.
  const edgeCell = new Uint8Array(rw * rh);
  for (let v = 0; v < rh; v++) {
    for (let u = 0; u < rw; u++) {
      const l = labels[v * rw + u]!;
      for (let dv = -1; dv <= 1 && !edgeCell[v * rw + u]; dv++) {
        for (let du = -1; du <= 1; du++) {
          const U = u + du;
          const V = v + dv;
          if (U >= 0 && U < rw && V >= 0 && V < rh && labels[V * rw + U] !== l) {
            edgeCell[v * rw + u] = 1;
            break;
          }
        }
      }
    }
  }
  const W = image.width;
  const bw = roi.x1 - roi.x0;
  const bh = roi.y1 - roi.y0;
  const node = new Int32Array(bw * bh).fill(-1);
  const cells: number[] = [];
  const pix: number[] = [];
  for (let y = roi.y0; y < roi.y1; y++) {
    for (let x = roi.x0; x < roi.x1; x++) {
      const k = cellOf(c, x, y);
      if (k < 0 || !edgeCell[k] || hard[k] === 2 || seed[k] !== 0) continue;
      node[(y - roi.y0) * bw + (x - roi.x0)] = pix.length;
      pix.push(y * W + x);
      cells.push(k);
    }
  }
  const m = pix.length;
  if (m === 0) return;
  const d = image.data;
  // β over the band's own neighbour pairs: full-resolution colours vary more than the crop's averages.
  let sum = 0;
  let cnt = 0;
  for (const i of pix) {
    const x = i % W;
    if (x + 1 < W) {
      sum += (d[3 * i]! - d[3 * i + 3]!) ** 2 + (d[3 * i + 1]! - d[3 * i + 4]!) ** 2 + (d[3 * i + 2]! - d[3 * i + 5]!) ** 2;
      cnt++;
    }
  }
  const beta = sum > 0 ? cnt / (2 * sum) : 0;
  const graph = new MaxflowGraph(m, 4 * m);
  // Scratch for localUnary, by working cell.
  const cellF = new Float64Array(rw * rh);
  const cellB = new Float64Array(rw * rh);
  for (let t = 0; t < m; t++) {
    const i = pix[t]!;
    const k = cells[t]!;
    const r = d[3 * i]!;
    const g = d[3 * i + 1]!;
    const b = d[3 * i + 2]!;
    localUnary(terms, k, -fg.logLikelihood(r, g, b), -bg.logLikelihood(r, g, b), cellF, cellB);
    let cf = cellF[k]!;
    const cb = cellB[k]!;
    if (hard[k] === 3) cf += P.outsideBias;
    graph.addTweights(t, cb, cf);
  }
  for (let t = 0; t < m; t++) {
    const i = pix[t]!;
    const x = i % W;
    const y = (i - x) / W;
    for (const [dx, dy, dist] of FULL_NEIGHBOURS) {
      for (const sgn of [1, -1]) {
        const X = x + sgn * dx;
        const Y = y + sgn * dy;
        if (X < roi.x0 || X >= roi.x1 || Y < roi.y0 || Y >= roi.y1) {
          // Outside the ROI is background.
          if (X >= 0 && X < W && Y >= 0 && Y < image.height) graph.addTweights(t, 0, P.gamma * dist * Math.exp(-beta * colourDist2(d, i, Y * W + X)));
          continue;
        }
        const j = Y * W + X;
        const wgt = P.gamma * dist * Math.exp(-beta * colourDist2(d, i, j));
        const o = node[(Y - roi.y0) * bw + (X - roi.x0)]!;
        if (o >= 0) {
          if (sgn === 1) graph.addEdge(t, o, wgt, wgt);
        } else if (mask.data[j]) graph.addTweights(t, wgt, 0);
        else graph.addTweights(t, 0, wgt);
      }
    }
  }
  graph.maxflow();
  for (let t = 0; t < m; t++) mask.data[pix[t]!] = graph.inSource(t) ? 1 : 0;
}

function colourDist2(d: Uint8Array, i: number, j: number): number {
  return (d[3 * i]! - d[3 * j]!) ** 2 + (d[3 * i + 1]! - d[3 * j + 1]!) ** 2 + (d[3 * i + 2]! - d[3 * j + 2]!) ** 2;
}
