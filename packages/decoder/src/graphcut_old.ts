import { InputError, cropRgb, resizeRgbFloat, type Mask, type Point } from "@resagent/core";
import { ColourGmm } from "./gmm.js";
import { MaxflowGraph } from "./maxflow.js";
import { validatePrompt } from "./prompt.js";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "./types.js";

/**
 * GrabCut-style parameters. The box bounds the object (outside = background), positive points
 * are hard foreground discs, negative points hard background discs.
 */
export interface GraphCutParams {
  /** Longest side of the working crop (box + background ring); larger crops are downsampled. */
  maxSide: number;
  iterations: number;
  /** Gaussians per colour model. */
  components: number;
  /** Smoothness weight (GrabCut's γ). */
  gamma: number;
  /** Radius of the seed discs around points, in image pixels. */
  seedRadius: number;
  /** Background ring around the box used to learn the background colours, as a fraction of the box size. */
  ringFraction: number;
  ringMin: number;
  /**
   * Mass of the seed discs in their colour model, relative to the rest of its samples. Upweighting
   * makes a negative point on a same-coloured distractor ambiguous in colour, so that...
   */
  seedWeight: number;
  /** The same for negative seeds in the background model (kept high: it is what makes a same-coloured touching distractor ambiguous). */
  negativeSeedWeight: number;
  /** ...the spatial prior decides: pixels nearer a negative point than a positive lean background. */
  spatialWeight: number;
  /**
   * Like SAM, do not treat the box as a hard wall: the region grows by this fraction of the box
   * size on each side, where pixels are background-leaning (`outsideBias` nats) but free.
   */
  boxSlack: number;
  outsideBias: number;
  /**
   * "hard": seed discs are fixed labels (GrabCut). "soft": they add `seedStrength` nats towards
   * their label, so one wrong point on a clearly different colour is overruled, as SAM tends to.
   */
  seeds: "hard" | "soft";
  seedStrength: number;
  /**
   * How points act. "corrective" (default), as a user clicks in an interactive segmenter: cut
   * from the box alone, then only the points that disagree with that mask (a positive outside
   * it, a negative inside) reshape it, through seeds, colour-model weight and the spatial prior;
   * points that agree are kept as hard seeds, which leaves an optimum that already agrees where it
   * was. "direct": every point acts from the start (the classic GrabCut seeding).
   */
  points: "corrective" | "direct";
}

export const OLD_GRAPHCUT_DEFAULTS: GraphCutParams = {
  maxSide: 200,
  iterations: 3,
  components: 5,
  gamma: 50,
  seedRadius: 4,
  ringFraction: 0.25,
  ringMin: 8,
  seedWeight: 0.2,
  negativeSeedWeight: 1,
  spatialWeight: 4,
  boxSlack: 0.15,
  outsideBias: 2,
  seeds: "hard",
  seedStrength: 8,
  points: "corrective",
};

const HARD = 1e9;
const MAX_FIT_SAMPLES = 6000;

export class OldGraphCutDecoder implements Decoder {
  readonly name = "graphcut";
  readonly params: GraphCutParams;

  constructor(params: Partial<GraphCutParams> = {}) {
    this.params = { ...OLD_GRAPHCUT_DEFAULTS, ...params };
    const p = this.params;
    const bad = (k: string, want: string) => new InputError(`expected ${want}, got ${JSON.stringify((p as unknown as Record<string, unknown>)[k])}`, { field: `decoder.params.${k}` });
    if (!Number.isInteger(p.maxSide) || p.maxSide < 16) throw bad("maxSide", "an integer >= 16");
    if (!Number.isInteger(p.iterations) || p.iterations < 1) throw bad("iterations", "an integer >= 1");
    if (!Number.isInteger(p.components) || p.components < 1 || p.components > 16) throw bad("components", "an integer in [1, 16]");
    if (!(p.gamma >= 0)) throw bad("gamma", "a number >= 0");
    if (!(p.seedRadius >= 0)) throw bad("seedRadius", "a number >= 0");
    if (!(p.boxSlack >= 0 && p.boxSlack <= 1)) throw bad("boxSlack", "a fraction in [0, 1]");
    if (!["hard", "soft"].includes(p.seeds)) throw bad("seeds", "hard or soft");
    if (!["corrective", "direct"].includes(p.points)) throw bad("points", "corrective or direct");
  }

  describe(): string {
    return `graphcut (GrabCut-style colour GMMs + Boykov–Kolmogorov min-cut; embedded, no weights; maxSide ${this.params.maxSide}, ${this.params.iterations} iterations)`;
  }

  async segment({ image }: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    const p = validatePrompt(image, prompt);
    const P = this.params;
    const W = image.width;
    const H = image.height;
    const { box } = p;
    // Region of interest: the box, grown to contain the positive seed discs.
    const slackX = P.boxSlack * (box.x2 - box.x1);
    const slackY = P.boxSlack * (box.y2 - box.y1);
    let rx0 = box.x1 - slackX;
    let ry0 = box.y1 - slackY;
    let rx1 = box.x2 + slackX;
    let ry1 = box.y2 + slackY;
    for (const q of p.positives) {
      rx0 = Math.min(rx0, q.x - P.seedRadius);
      ry0 = Math.min(ry0, q.y - P.seedRadius);
      rx1 = Math.max(rx1, q.x + P.seedRadius);
      ry1 = Math.max(ry1, q.y + P.seedRadius);
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
    const px = resizeRgbFloat(cropRgb(image, cx0, cy0, cx1, cy1), cw, ch);
    // Working-grid ROI and where each pixel lies: 0 inside the box, 3 in the slack around it
    // (background-leaning but free), 2 outside (fixed background; only without slack).
    const wx0 = Math.max(0, Math.floor((rx0 - cx0) * sx));
    const wy0 = Math.max(0, Math.floor((ry0 - cy0) * sy));
    const wx1 = Math.min(cw, Math.max(wx0 + 1, Math.ceil((rx1 - cx0) * sx)));
    const wy1 = Math.min(ch, Math.max(wy0 + 1, Math.ceil((ry1 - cy0) * sy)));
    const rw = wx1 - wx0;
    const rh = wy1 - wy0;
    const n = rw * rh;
    const hard = new Uint8Array(n);
    const toImgX = (u: number) => cx0 + (u + 0.5) / sx;
    const toImgY = (v: number) => cy0 + (v + 0.5) / sy;
    for (let v = 0; v < rh; v++) {
      for (let u = 0; u < rw; u++) {
        const x = toImgX(u + wx0);
        const y = toImgY(v + wy0);
        if (x < box.x1 || x >= box.x2 || y < box.y1 || y >= box.y2) hard[v * rw + u] = P.boxSlack > 0 ? 3 : 2;
      }
    }
    const rs = Math.max(0.75, P.seedRadius * Math.min(sx, sy));
    const toWork = (q: { x: number; y: number }) => ({ u: (q.x - cx0) * sx - wx0, v: (q.y - cy0) * sy - wy0 });
    /** The ROI pixel under a point, or -1 outside the ROI (only negatives can be: it holds the positives). */
    const pixelOf = (q: { x: number; y: number }) => {
      const { u, v } = toWork(q);
      // Points on the image's far edge (x = width) belong to the last pixel.
      const U = Math.floor(Math.min(u, rw - 0.5));
      const V = Math.floor(Math.min(v, rh - 0.5));
      return U >= 0 && V >= 0 && u < rw + 1 && v < rh + 1 ? V * rw + U : -1;
    };
    /** Seed discs of the points: 1 foreground, 2 background, 0 none (a positive wins an overlap). */
    const paintSeeds = (pos: Point[], neg: Point[]) => {
      const seed = new Uint8Array(n);
      const paint = (pts: Point[], value: number) => {
        for (const q of pts) {
          // Everything outside the ROI is background already.
          if (pixelOf(q) < 0) continue;
          const { u: cu, v: cv } = toWork(q);
          for (let v = Math.max(0, Math.floor(cv - rs)); v <= Math.min(rh - 1, Math.ceil(cv + rs)); v++) {
            for (let u = Math.max(0, Math.floor(cu - rs)); u <= Math.min(rw - 1, Math.ceil(cu + rs)); u++) {
              if ((u + 0.5 - cu) ** 2 + (v + 0.5 - cv) ** 2 <= rs * rs) seed[v * rw + u] = value;
            }
          }
          // A point always marks at least its own pixel.
          seed[pixelOf(q)] = value;
        }
      };
      paint(neg, 2);
      paint(pos, 1);
      return seed;
    };

    // Crop index of ROI node k, and the background ring (crop pixels outside the ROI).
    const cropIdx = new Int32Array(n);
    for (let v = 0; v < rh; v++) for (let u = 0; u < rw; u++) cropIdx[v * rw + u] = (v + wy0) * cw + (u + wx0);
    const ringIdx: number[] = [];
    for (let v = 0; v < ch; v++) for (let u = 0; u < cw; u++) if (u < wx0 || u >= wx1 || v < wy0 || v >= wy1) ringIdx.push(v * cw + u);

    const beta = contrastBeta(px, cw, ch);
    // Pairwise terms do not change across iterations or passes: compute them once.
    const smooth = smoothnessTerms(px, cw, ch, wx0, wy0, rw, rh, beta, P.gamma);
    const dfg = new Float64Array(n);
    const dbg = new Float64Array(n);

    /**
     * GrabCut iterations from an initial labelling: fit the colour models to the current labels
     * (seed pixels upweighted as configured), min-cut, repeat. Returns the final labels.
     */
    const cut = (seed: Uint8Array, init: Uint8Array, spatial: SpatialPrior | undefined, posSeeds: number[], negSeeds: number[]) => {
      const soft = P.seeds === "soft";
      const fixedBg = (k: number) => seed[k] !== 1 && (hard[k] === 2 || (seed[k] === 2 && !soft));
      const fgLabel = Uint8Array.from(init, (l, k) => (fixedBg(k) ? 0 : seed[k] === 1 ? 1 : l));
      const fg = new ColourGmm(P.components);
      const bg = new ColourGmm(P.components);
      for (let it = 0; it < P.iterations; it++) {
        let nfg = 0;
        for (let k = 0; k < n; k++) nfg += fgLabel[k]!;
        const fgIdx = new Int32Array(nfg);
        const bgIdx = new Int32Array(ringIdx.length + n - nfg);
        bgIdx.set(ringIdx);
        for (let k = 0, f = 0, b = ringIdx.length; k < n; k++) {
          if (fgLabel[k]) fgIdx[f++] = cropIdx[k]!;
          else bgIdx[b++] = cropIdx[k]!;
        }
        // Nothing left in the box, or the box is the whole image and nothing says what background
        // looks like: keep what we have.
        if (fgIdx.length === 0 || bgIdx.length === 0) break;
        const fit = (g: ColourGmm, all: Int32Array, seeds: number[], seedWeight: number) => {
          // A strided subsample of at most MAX_FIT_SAMPLES pixels estimates 3-D colour Gaussians as
          // well as all of them, at a fraction of the cost on large boxes.
          const stride = Math.max(1, Math.floor(all.length / MAX_FIT_SAMPLES));
          const sub = stride === 1 ? all : all.filter((_, t) => t % stride === 0);
          const idx = new Int32Array(sub.length + seeds.length);
          idx.set(sub);
          idx.set(seeds, sub.length);
          const weights = new Float32Array(idx.length).fill(1);
          if (seeds.length) weights.fill((seedWeight * Math.max(1, sub.length)) / seeds.length, sub.length);
          const labels = it === 0 ? ColourGmm.kmeansLabels(px, idx, P.components) : Uint8Array.from(idx, (i) => g.assign(px[3 * i]!, px[3 * i + 1]!, px[3 * i + 2]!));
          g.fit(px, idx, labels, weights);
        };
        fit(fg, fgIdx, posSeeds, P.seedWeight);
        fit(bg, bgIdx, negSeeds, P.negativeSeedWeight);
        const graph = new MaxflowGraph(n, smooth.edgeCount);
        for (let k = 0; k < n; k++) {
          const i = 3 * cropIdx[k]!;
          if (seed[k] === 1 && !soft) graph.addTweights(k, HARD, 0);
          else if (fixedBg(k)) graph.addTweights(k, 0, HARD);
          else {
            dfg[k] = -fg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!);
            dbg[k] = -bg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!);
            if (spatial) {
              // Where colour cannot tell (posterior near 1/2), position relative to the points decides.
              const post = 1 / (1 + Math.exp(dfg[k]! - dbg[k]!));
              dfg[k]! += (1 - Math.abs(2 * post - 1)) * spatial[k]!;
            }
            if (hard[k] === 3) dfg[k]! += P.outsideBias;
            if (seed[k] === 1) dbg[k]! += P.seedStrength;
            else if (seed[k] === 2) dfg[k]! += P.seedStrength;
            // Source = foreground: cutting a node's source link (labelling it background) costs D_bg.
            graph.addTweights(k, dbg[k]!, dfg[k]!);
          }
        }
        for (let e = 0; e < smooth.edgeCount; e++) graph.addEdge(smooth.from[e]!, smooth.to[e]!, smooth.weight[e]!, smooth.weight[e]!);
        for (let k = 0; k < n; k++) if (smooth.toBackground[k]! > 0) graph.addTweights(k, 0, smooth.toBackground[k]!);
        graph.maxflow();
        let any = false;
        for (let k = 0; k < n; k++) {
          fgLabel[k] = fixedBg(k) ? 0 : graph.inSource(k) ? 1 : 0;
          any ||= fgLabel[k] === 1;
        }
        if (!any) break;
      }
      return fgLabel;
    };
    const seedPixels = (seed: Uint8Array, value: number) => {
      const out: number[] = [];
      for (let k = 0; k < n; k++) if (seed[k] === value) out.push(cropIdx[k]!);
      return out;
    };
    const boxInit = Uint8Array.from(hard, (h) => (h === 2 || h === 3 ? 0 : 1));
    const noSeeds = new Uint8Array(n);
    let fgLabel: Uint8Array;
    let seed = noSeeds;
    // The spatial prior splits the ROI between the positives (or the box centre) and negatives.
    const anchors = (p.positives.length ? p.positives : [{ x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 }]).map(toWork);
    if (P.points === "direct") {
      // Every point is a hard seed, weighs in its colour model and (negatives) sets the spatial prior.
      seed = paintSeeds(p.positives, p.negatives);
      const spatial = spatialPrior(rw, rh, anchors, p.negatives.map(toWork), P.spatialWeight);
      fgLabel = cut(seed, boxInit, spatial, seedPixels(seed, 1), seedPixels(seed, 2));
    } else {
      // Corrective, as an interactive user clicks: segment from the box alone, then let the points
      // that disagree with that mask correct it. Points that agree confirm it and change nothing;
      // a hard seed where the cut already put that label leaves the optimum where it was.
      fgLabel = cut(noSeeds, boxInit, undefined, [], []);
      const wrongPos = p.positives.filter((q) => fgLabel[pixelOf(q)] !== 1);
      const wrongNeg = p.negatives.filter((q) => fgLabel[pixelOf(q)] === 1);
      if (wrongPos.length || wrongNeg.length) {
        seed = paintSeeds(p.positives, p.negatives);
        const corrections = paintSeeds(wrongPos, wrongNeg);
          const spatial = spatialPrior(rw, rh, anchors, wrongNeg.map(toWork), P.spatialWeight);
        // A missed positive says the box-only colour models are wrong: refit them from the box.
        // Otherwise start from the box-only mask, whose models only need the negatives' correction.
        const init = wrongPos.length ? boxInit : fgLabel;
        fgLabel = cut(seed, init, spatial, seedPixels(corrections, 1), seedPixels(corrections, 2));
      }
    }
    // Confidence: mean foreground posterior over the predicted mask.
    let post = 0;
    let cnt = 0;
    for (let k = 0; k < n; k++) {
      if (!fgLabel[k] || seed[k] === 1) continue;
      post += 1 / (1 + Math.exp(dfg[k]! - dbg[k]!));
      cnt++;
    }
    const mask: Mask = { width: W, height: H, data: new Uint8Array(W * H) };
    for (let y = ry0; y < ry1; y++) {
      const v = Math.min(ch - 1, Math.floor((y + 0.5 - cy0) * sy)) - wy0;
      if (v < 0 || v >= rh) continue;
      for (let x = rx0; x < rx1; x++) {
        const u = Math.min(cw - 1, Math.floor((x + 0.5 - cx0) * sx)) - wx0;
        if (u >= 0 && u < rw && fgLabel[v * rw + u]) mask.data[y * W + x] = 1;
      }
    }
    return { mask, score: cnt ? post / cnt : 1 };
  }
}

/** Extra cost, per ROI pixel, of labelling it foreground because of where the negative points are. */
type SpatialPrior = Float64Array;

/**
 * Costs from where the points are: with d+ the distance to the nearest positive (or the box
 * centre) and d- to the nearest negative, p = d- / (d+ + d-) is a soft Voronoi split between them;
 * labelling a pixel with p < 1/2 foreground costs λ·(−ln 2p). One-sided: only pixels nearer a
 * negative than the positives are pushed (to background); pushing the others towards foreground
 * leaks masks into similar-looking surroundings. Absent without negatives.
 */
function spatialPrior(rw: number, rh: number, pos: { u: number; v: number }[], neg: { u: number; v: number }[], lambda: number): SpatialPrior | undefined {
  if (neg.length === 0 || lambda <= 0) return undefined;
  const fg = new Float64Array(rw * rh);
  for (let v = 0; v < rh; v++) {
    for (let u = 0; u < rw; u++) {
      let dp = Infinity;
      let dn = Infinity;
      for (const q of pos) dp = Math.min(dp, (u + 0.5 - q.u) ** 2 + (v + 0.5 - q.v) ** 2);
      for (const q of neg) dn = Math.min(dn, (u + 0.5 - q.u) ** 2 + (v + 0.5 - q.v) ** 2);
      dp = Math.sqrt(dp);
      dn = Math.sqrt(dn);
      const pf = Math.min(0.98, Math.max(0.02, dn / (dp + dn + 1e-9)));
      if (pf < 0.5) fg[v * rw + u] = -lambda * Math.log(2 * pf);
    }
  }
  return fg;
}

const NEIGHBOURS: readonly [number, number, number][] = [
  [1, 0, 1],
  [0, 1, 1],
  [1, 1, Math.SQRT1_2],
  [-1, 1, Math.SQRT1_2],
];

/** GrabCut's β = 1 / (2 <‖z_m − z_n‖²>) over 8-neighbour pairs of the crop. */
function contrastBeta(px: Float32Array, w: number, h: number): number {
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
function smoothnessTerms(px: Float32Array, cw: number, ch: number, wx0: number, wy0: number, rw: number, rh: number, beta: number, gamma: number) {
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
