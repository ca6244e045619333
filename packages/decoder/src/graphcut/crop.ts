import { cropRgb, resizeRgbFloat, type Box, type Point, type RgbImage } from "@resagent/core";
import type { GridPoint, WorkGrid } from "../local.js";
import type { GraphCutParams } from "../params.js";
import type { Prompt } from "../types.js";

/** Pairwise terms γ/dist · exp(−β‖Δz‖²) between 8-neighbours of the ROI, each pair once. */
export interface Smoothness {
  from: Int32Array;
  to: Int32Array;
  weight: Float64Array;
  /** Per ROI node: the summed terms to neighbours outside the ROI (fixed background), a sink capacity. */
  toBackground: Float64Array;
  edgeCount: number;
}

/**
 * Stage 1 of the graph cut: the working crop. The region of interest (the box, grown by the slack
 * and to hold positives outside it) plus a background ring, downsampled to at most `maxSide`; the
 * cut runs on its ROI window. Everything later stages need about geometry and pixels is here.
 */
export interface WorkingCrop {
  image: RgbImage;
  /** The prompt's box (clipped to the image). */
  box: Box;
  /** Region of interest in image pixels, [x0, x1) × [y0, y1). */
  roi: { x0: number; y0: number; x1: number; y1: number };
  /** The crop in image pixels (ROI + ring), [x0, x1) × [y0, y1). */
  crop: { x0: number; y0: number; x1: number; y1: number };
  /** Downsampling factor (1: full resolution), the crop's working size and its exact scale per axis. */
  s: number;
  cw: number;
  ch: number;
  sx: number;
  sy: number;
  /** The working crop's pixels: float RGB, row-major, cw × ch. */
  px: Float32Array;
  /** The ROI window on the working grid: [wx0, wx1) × [wy0, wy1), rw × rh = n nodes. */
  wx0: number;
  wy0: number;
  wx1: number;
  wy1: number;
  rw: number;
  rh: number;
  n: number;
  grid: WorkGrid;
  /** Per ROI node: 0 inside the box, 3 in the slack around it (background-leaning but free), 2 outside (fixed background). */
  hard: Uint8Array;
  /** Per ROI node: which sides of the box it lies beyond (bits: 1 left, 2 right, 4 top, 8 bottom). */
  beyond: Uint8Array;
  /** Seed-disc radius in working pixels. */
  rs: number;
  /** Crop index of each ROI node, and the background ring (crop pixels outside the ROI). */
  cropIdx: Int32Array;
  ringIdx: number[];
  /** GrabCut's contrast β of the crop, and the pairwise terms (they do not change across iterations or passes). */
  beta: number;
  smooth: Smoothness;
}

type CropParams = Pick<GraphCutParams, "boxSlack" | "slack" | "ringMin" | "ringFraction" | "maxSide" | "sampling" | "seedRadius" | "gamma">;

export function workingCrop(image: RgbImage, prompt: Prompt, P: CropParams): WorkingCrop {
  const W = image.width;
  const H = image.height;
  const { box } = prompt;
  const slackX = P.boxSlack * (box.x2 - box.x1);
  const slackY = P.boxSlack * (box.y2 - box.y1);
  let rx0 = box.x1 - slackX;
  let ry0 = box.y1 - slackY;
  let rx1 = box.x2 + slackX;
  let ry1 = box.y2 + slackY;
  // Region of interest: the box, grown only to contain positives that lie outside it (not their
  // seed discs): a positive on the box's edge must not shift the working crop, or the corrective
  // pass's box-only cut would differ from the box-only decoder's and an agreeing point would
  // change the mask.
  for (const q of prompt.positives) {
    if (q.x < rx0) rx0 = q.x;
    if (q.y < ry0) ry0 = q.y;
    if (q.x > rx1) rx1 = Math.floor(q.x) + 1;
    if (q.y > ry1) ry1 = Math.floor(q.y) + 1;
  }
  rx0 = Math.max(0, Math.floor(rx0));
  ry0 = Math.max(0, Math.floor(ry0));
  rx1 = Math.min(W, Math.ceil(rx1));
  ry1 = Math.min(H, Math.ceil(ry1));
  const ring = Math.max(P.ringMin, P.ringFraction * Math.max(rx1 - rx0, ry1 - ry0));
  const cx0 = Math.max(0, Math.floor(rx0 - ring));
  const cy0 = Math.max(0, Math.floor(ry0 - ring));
  const cx1 = Math.min(W, Math.ceil(rx1 + ring));
  const cy1 = Math.min(H, Math.ceil(ry1 + ring));
  const s = Math.min(1, P.maxSide / Math.max(cx1 - cx0, cy1 - cy0));
  const cw = Math.max(1, Math.round((cx1 - cx0) * s));
  const ch = Math.max(1, Math.round((cy1 - cy0) * s));
  const sx = cw / (cx1 - cx0);
  const sy = ch / (cy1 - cy0);

  const px = P.sampling === "nearest" ? sampleNearest(image, cx0, cy0, cx1, cy1, cw, ch) : resizeRgbFloat(cropRgb(image, cx0, cy0, cx1, cy1), cw, ch);
  const wx0 = Math.max(0, Math.floor((rx0 - cx0) * sx));
  const wy0 = Math.max(0, Math.floor((ry0 - cy0) * sy));
  const wx1 = Math.min(cw, Math.max(wx0 + 1, Math.ceil((rx1 - cx0) * sx)));
  const wy1 = Math.min(ch, Math.max(wy0 + 1, Math.ceil((ry1 - cy0) * sy)));
  const rw = wx1 - wx0;
  const rh = wy1 - wy0;
  const n = rw * rh;
  const hard = new Uint8Array(n);
  const beyond = new Uint8Array(n);
  for (let v = 0; v < rh; v++) {
    for (let u = 0; u < rw; u++) {
      const x = cx0 + (u + wx0 + 0.5) / sx;
      const y = cy0 + (v + wy0 + 0.5) / sy;
      const b = (x < box.x1 ? 1 : 0) | (x >= box.x2 ? 2 : 0) | (y < box.y1 ? 4 : 0) | (y >= box.y2 ? 8 : 0);
      beyond[v * rw + u] = b;
      if (b) hard[v * rw + u] = P.boxSlack > 0 && P.slack === "always" ? 3 : 2;
    }
  }
  const cropIdx = new Int32Array(n);
  for (let v = 0; v < rh; v++) for (let u = 0; u < rw; u++) cropIdx[v * rw + u] = (v + wy0) * cw + (u + wx0);
  const ringIdx: number[] = [];
  for (let v = 0; v < ch; v++) for (let u = 0; u < cw; u++) if (u < wx0 || u >= wx1 || v < wy0 || v >= wy1) ringIdx.push(v * cw + u);
  const beta = contrastBeta(px, cw, ch);
  return {
    image,
    box,
    roi: { x0: rx0, y0: ry0, x1: rx1, y1: ry1 },
    crop: { x0: cx0, y0: cy0, x1: cx1, y1: cy1 },
    s,
    cw,
    ch,
    sx,
    sy,
    px,
    wx0,
    wy0,
    wx1,
    wy1,
    rw,
    rh,
    n,
    grid: { px, cw, wx0, wy0, rw, rh },
    hard,
    beyond,
    rs: Math.max(0.75, P.seedRadius * Math.min(sx, sy)),
    cropIdx,
    ringIdx,
    beta,
    // On a crop downsampled by s, a region has s² times the pixels but its outline only s times
    // the edges: γ·s keeps the balance between colour and smoothness that GrabCut has at full size.
    smooth: smoothnessTerms(px, cw, ch, wx0, wy0, rw, rh, beta, P.gamma * s),
  };
}

/** The crop with the slack beyond the given sides freed (a corner node opens when all its sides are open). */
export function openSides(c: WorkingCrop, sides: number): WorkingCrop {
  const hard = c.hard.slice();
  for (let k = 0; k < c.n; k++) if (c.beyond[k] && (c.beyond[k]! & ~sides) === 0) hard[k] = 3;
  return { ...c, hard };
}

/** Sides of the box beyond which a point lies (bits as `beyond`). */
export function sidesOf(box: Box, pts: readonly Point[]): number {
  return pts.reduce((acc, q) => acc | (q.x < box.x1 ? 1 : 0) | (q.x >= box.x2 ? 2 : 0) | (q.y < box.y1 ? 4 : 0) | (q.y >= box.y2 ? 8 : 0), 0);
}

/** An image point on the ROI grid. */
export function toWork(c: WorkingCrop, q: { x: number; y: number }): GridPoint {
  return { u: (q.x - c.crop.x0) * c.sx - c.wx0, v: (q.y - c.crop.y0) * c.sy - c.wy0 };
}

/** The ROI node under a point, or -1 outside the ROI (only negatives can be: it holds the positives). */
export function pixelOf(c: WorkingCrop, q: { x: number; y: number }): number {
  const { u, v } = toWork(c, q);
  // Points on the image's far edge (x = width) belong to the last pixel.
  const U = Math.floor(Math.min(u, c.rw - 0.5));
  const V = Math.floor(Math.min(v, c.rh - 0.5));
  return U >= 0 && V >= 0 && u < c.rw + 1 && v < c.rh + 1 ? V * c.rw + U : -1;
}

/** ROI nodes of a point's seed disc (at least its own node). */
export function discOf(c: WorkingCrop, q: Point): number[] {
  const own = pixelOf(c, q);
  if (own < 0) return [];
  const { u: cu, v: cv } = toWork(c, q);
  const { rs, rw, rh } = c;
  const out: number[] = [];
  for (let v = Math.max(0, Math.floor(cv - rs)); v <= Math.min(rh - 1, Math.ceil(cv + rs)); v++) {
    for (let u = Math.max(0, Math.floor(cu - rs)); u <= Math.min(rw - 1, Math.ceil(cu + rs)); u++) {
      if ((u + 0.5 - cu) ** 2 + (v + 0.5 - cv) ** 2 <= rs * rs) out.push(v * rw + u);
    }
  }
  if (!out.includes(own)) out.push(own);
  return out;
}

/** Seed discs of the points: 1 foreground, 2 background, 0 none (a positive wins an overlap). */
export function paintSeeds(c: WorkingCrop, pos: readonly Point[], neg: readonly Point[]): Uint8Array {
  const seed = new Uint8Array(c.n);
  // Everything outside the ROI is background already.
  for (const q of neg) for (const k of discOf(c, q)) seed[k] = 2;
  for (const q of pos) for (const k of discOf(c, q)) seed[k] = 1;
  return seed;
}

/** The ROI node an image pixel falls in, or -1 outside the ROI. */
export function cellOf(c: WorkingCrop, x: number, y: number): number {
  const v = Math.min(c.ch - 1, Math.floor((y + 0.5 - c.crop.y0) * c.sy)) - c.wy0;
  const u = Math.min(c.cw - 1, Math.floor((x + 0.5 - c.crop.x0) * c.sx)) - c.wx0;
  return u >= 0 && u < c.rw && v >= 0 && v < c.rh ? v * c.rw + u : -1;
}

const NEIGHBOURS: readonly [number, number, number][] = [
  [1, 0, 1],
  [0, 1, 1],
  [1, 1, Math.SQRT1_2],
  [-1, 1, Math.SQRT1_2],
];

/** GrabCut's β = 1 / (2 <‖z_m − z_n‖²>) over 8-neighbour pairs of the crop. */
export function contrastBeta(px: Float32Array, w: number, h: number): number {
  let sum = 0;
  let cnt = 0;
  // Every other row is plenty for a mean over tens of thousands of pairs.
  const rowStep = h > 64 ? 2 : 1;
  for (let y = 0; y < h; y += rowStep) {
    for (let x = 0; x < w; x++) {
      const i = 3 * (y * w + x);
      for (const [dx, dy] of NEIGHBOURS) {
        const X = x + dx;
        const Y = y + dy;
        if (X < 0 || X >= w || Y >= h) continue;
        const j = 3 * (Y * w + X);
        sum += (px[i]! - px[j]!) ** 2 + (px[i + 1]! - px[j + 1]!) ** 2 + (px[i + 2]! - px[j + 2]!) ** 2;
        cnt++;
      }
    }
  }
  return sum > 0 ? cnt / (2 * sum) : 0;
}

/**
 * Pairwise terms γ/dist · exp(−β‖Δz‖²) between 8-neighbours of the ROI (each pair once); a
 * neighbour outside the ROI is fixed background, so its term becomes a sink capacity of the
 * inside pixel (`toBackground`).
 */
function smoothnessTerms(px: Float32Array, cw: number, ch: number, wx0: number, wy0: number, rw: number, rh: number, beta: number, gamma: number): Smoothness {
  const n = rw * rh;
  const from = new Int32Array(4 * n);
  const to = new Int32Array(4 * n);
  const weight = new Float64Array(4 * n);
  const toBackground = new Float64Array(n);
  let e = 0;
  const w = (i: number, j: number, dist: number) => {
    const d = (px[i]! - px[j]!) ** 2 + (px[i + 1]! - px[j + 1]!) ** 2 + (px[i + 2]! - px[j + 2]!) ** 2;
    return gamma * dist * Math.exp(-beta * d);
  };
  for (let v = 0; v < rh; v++) {
    for (let u = 0; u < rw; u++) {
      const k = v * rw + u;
      const i = 3 * ((v + wy0) * cw + (u + wx0));
      for (const [dx, dy, dist] of NEIGHBOURS) {
        // forward neighbour: an edge inside the ROI, or a link to fixed background
        let U = u + dx;
        let V = v + dy;
        let X = U + wx0;
        let Y = V + wy0;
        if (X >= 0 && X < cw && Y >= 0 && Y < ch) {
          const wgt = w(i, 3 * (Y * cw + X), dist);
          if (U >= 0 && U < rw && V < rh) {
            from[e] = k;
            to[e] = V * rw + U;
            weight[e++] = wgt;
          } else toBackground[k]! += wgt;
        }
        // backward neighbour outside the ROI (inside ones were counted as forward pairs)
        U = u - dx;
        V = v - dy;
        if (U >= 0 && U < rw && V >= 0 && V < rh) continue;
        X = U + wx0;
        Y = V + wy0;
        if (X >= 0 && X < cw && Y >= 0 && Y < ch) toBackground[k]! += w(i, 3 * (Y * cw + X), dist);
      }
    }
  }
  return { from, to, weight, toBackground, edgeCount: e };
}

/** Crop [x0, x1) × [y0, y1) resampled to w × h by taking each cell's centre pixel (RGB floats). */
function sampleNearest(img: RgbImage, x0: number, y0: number, x1: number, y1: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h * 3);
  const sx = (x1 - x0) / w;
  const sy = (y1 - y0) / h;
  for (let y = 0; y < h; y++) {
    const Y = Math.min(y1 - 1, Math.floor(y0 + (y + 0.5) * sy));
    for (let x = 0; x < w; x++) {
      const X = Math.min(x1 - 1, Math.floor(x0 + (x + 0.5) * sx));
      const k = (Y * img.width + X) * 3;
      const o = (y * w + x) * 3;
      out[o] = img.data[k]!;
      out[o + 1] = img.data[k + 1]!;
      out[o + 2] = img.data[k + 2]!;
    }
  }
  return out;
}
