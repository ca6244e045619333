import { cropRgb, resizeRgbFloat, sha256, type Mask, type Point, type RgbImage } from "@resagent/core";
import { ColourGmm } from "./gmm.js";
import { colourAffinity, geodesicDistance, patchColour, type GridPoint, type WorkGrid } from "./local.js";
import { MaxflowGraph } from "./maxflow.js";
import type { GraphCutParams } from "./params.js";
import { validatePrompt } from "./prompt.js";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "./types.js";

const HARD = 1e9;
const MAX_FIT_SAMPLES = 6000;

export class GraphCutDecoder implements Decoder {
  readonly name = "graphcut";

  /** `params` as parsed by GraphcutParamsSchema (parseGraphcutParams, or a loaded config's `decoder.params`). */
  constructor(readonly params: GraphCutParams) {}

  describe(): string {
    return `graphcut (GrabCut-style colour GMMs + Boykov–Kolmogorov min-cut; embedded, no weights; maxSide ${this.params.maxSide}, ${this.params.iterations} iterations)`;
  }

  /**
   * Decodes are pure in (image, prompt), and the cells of an experiment ask the same ones again:
   * every box + points decode starts with the box-only cut that the box-only branch computes
   * too, and cells that verified the same points ask for the same mask. Recent results and
   * working crops are kept by the image's content key, so repeats cost a lookup.
   */
  private readonly results = new Lru<string, DecodeResult>(32);
  private readonly crops = new Lru<string, CropState>(4);

  async segment({ image, key }: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    const p = validatePrompt(image, prompt);
    const imageKey = key ?? `${image.width}x${image.height}:${sha256(image.data)}`;
    const pts = (q: Point[]) => q.map((t) => `${t.x},${t.y}`).join(";");
    const resultKey = `${imageKey}|${p.box.x1},${p.box.y1},${p.box.x2},${p.box.y2}|${pts(p.positives)}|${pts(p.negatives)}`;
    let out = this.results.get(resultKey);
    if (!out) this.results.set(resultKey, (out = this.decode(image, imageKey, p)));
    // Callers own what they get: a copy, so the kept result cannot be changed through it.
    return { mask: { width: out.mask.width, height: out.mask.height, data: out.mask.data.slice() }, score: out.score };
  }

  private decode(image: RgbImage, imageKey: string, p: Prompt): DecodeResult {
    const P = this.params;
    const W = image.width;
    const H = image.height;
    const { box } = p;
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
    for (const q of p.positives) {
      if (q.x < rx0) rx0 = q.x;
      if (q.y < ry0) ry0 = q.y;
      if (q.x > rx1) rx1 = Math.floor(q.x) + 1;
      if (q.y > ry1) ry1 = Math.floor(q.y) + 1;
    }
    rx0 = Math.max(0, Math.floor(rx0));
    ry0 = Math.max(0, Math.floor(ry0));
    rx1 = Math.min(W, Math.ceil(rx1));
    ry1 = Math.min(H, Math.ceil(ry1));
    // Everything up to the box-only cut depends on the image, the box and the region alone.
    const cropKey = `${imageKey}|${box.x1},${box.y1},${box.x2},${box.y2}|${rx0},${ry0},${rx1},${ry1}`;
    let state = this.crops.get(cropKey);
    if (!state) this.crops.set(cropKey, (state = this.crop(image, box, rx0, ry0, rx1, ry1)));
    const { px, cx0, cy0, cw, ch, s, sx, sy, wx0, wy0, rw, rh, n, grid, beyond, cropIdx, ringIdx, beta, smooth } = state;
    // `openSides` frees slack in this decode only.
    const hard = state.hard.slice();
    /** Free the slack beyond the given sides (a corner pixel opens when all its sides are open). */
    const openSides = (sides: number) => {
      for (let k = 0; k < n; k++) if (beyond[k] && (beyond[k]! & ~sides) === 0) hard[k] = 3;
    };
    const rs = Math.max(0.75, P.seedRadius * Math.min(sx, sy));
    const toWork = (q: { x: number; y: number }): GridPoint => ({ u: (q.x - cx0) * sx - wx0, v: (q.y - cy0) * sy - wy0 });
    /** The ROI pixel under a point, or -1 outside the ROI (only negatives can be: it holds the positives). */
    const pixelOf = (q: { x: number; y: number }) => {
      const { u, v } = toWork(q);
      // Points on the image's far edge (x = width) belong to the last pixel.
      const U = Math.floor(Math.min(u, rw - 0.5));
      const V = Math.floor(Math.min(v, rh - 0.5));
      return U >= 0 && V >= 0 && u < rw + 1 && v < rh + 1 ? V * rw + U : -1;
    };
    /** ROI pixels of a point's seed disc. */
    const discOf = (q: Point): number[] => {
      if (pixelOf(q) < 0) return [];
      const { u: cu, v: cv } = toWork(q);
      const out: number[] = [];
      for (let v = Math.max(0, Math.floor(cv - rs)); v <= Math.min(rh - 1, Math.ceil(cv + rs)); v++) {
        for (let u = Math.max(0, Math.floor(cu - rs)); u <= Math.min(rw - 1, Math.ceil(cu + rs)); u++) {
          if ((u + 0.5 - cu) ** 2 + (v + 0.5 - cv) ** 2 <= rs * rs) out.push(v * rw + u);
        }
      }
      // A point always marks at least its own pixel.
      if (!out.includes(pixelOf(q))) out.push(pixelOf(q));
      return out;
    };
    /** Seed discs of the points: 1 foreground, 2 background, 0 none (a positive wins an overlap). */
    const paintSeeds = (pos: Point[], neg: Point[]) => {
      const seed = new Uint8Array(n);
      // Everything outside the ROI is background already.
      for (const q of neg) for (const k of discOf(q)) seed[k] = 2;
      for (const q of pos) for (const k of discOf(q)) seed[k] = 1;
      return seed;
    };
    const dfg = new Float64Array(n);
    const dbg = new Float64Array(n);
    const soft = P.seeds === "soft";

    /**
     * GrabCut iterations from an initial labelling: fit the colour models to the current labels
     * (plus the points' votes), min-cut with the points' local priors, repeat.
     */
    const cut = (seed: Uint8Array, init: Uint8Array, terms: PointTerms | undefined, freeBorder = false): Cut => {
      const fixedBg = (k: number) => seed[k] !== 1 && (hard[k] === 2 || (seed[k] === 2 && !soft));
      const fgLabel = Uint8Array.from(init, (l, k) => (fixedBg(k) ? 0 : seed[k] === 1 ? 1 : l));
      const fg = new ColourGmm(P.components);
      const bg = new ColourGmm(P.components);
      let fitted = false;
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
        const fit = (g: ColourGmm, all: Int32Array, votes: Votes | undefined) => {
          // A strided subsample of at most MAX_FIT_SAMPLES pixels estimates 3-D colour Gaussians as
          // well as all of them, at a fraction of the cost on large boxes.
          const stride = Math.max(1, Math.floor(all.length / MAX_FIT_SAMPLES));
          const sub = stride === 1 ? all : strided(all, stride);
          const extra = votes?.idx.length ?? 0;
          const idx = new Int32Array(sub.length + extra);
          idx.set(sub);
          const weights = new Float32Array(idx.length).fill(1);
          for (let t = 0; t < extra; t++) {
            idx[sub.length + t] = votes!.idx[t]!;
            weights[sub.length + t] = votes!.share[t]! * Math.max(1, sub.length);
          }
          let labels: Uint8Array;
          if (it === 0) labels = ColourGmm.kmeansLabels(px, idx, P.components);
          else {
            labels = new Uint8Array(idx.length);
            for (let t = 0; t < idx.length; t++) labels[t] = g.assign(px[3 * idx[t]!]!, px[3 * idx[t]! + 1]!, px[3 * idx[t]! + 2]!);
          }
          g.fit(px, idx, labels, weights);
        };
        fit(fg, fgIdx, terms?.posVotes);
        fit(bg, bgIdx, terms?.negVotes);
        fitted = true;
        const graph = (state.graph ??= new MaxflowGraph(n, smooth.edgeCount)).reset();
        for (let k = 0; k < n; k++) {
          const i = 3 * cropIdx[k]!;
          if (seed[k] === 1 && !soft) graph.addTweights(k, HARD, 0);
          else if (fixedBg(k)) graph.addTweights(k, 0, HARD);
          else {
            localUnary(terms, k, -fg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!), -bg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!), dfg, dbg);
            if (hard[k] === 3) dfg[k]! += P.outsideBias;
            if (seed[k] === 1) dbg[k]! += P.seedStrength;
            else if (seed[k] === 2) dfg[k]! += P.seedStrength;
            // Source = foreground: cutting a node's source link (labelling it background) costs D_bg.
            graph.addTweights(k, dbg[k]!, dfg[k]!);
          }
        }
        for (let e = 0; e < smooth.edgeCount; e++) {
          const a = smooth.from[e]!;
          const b = smooth.to[e]!;
          // A free border: no smoothness across the box's edge, as if it were the image's.
          if (freeBorder && (hard[a] === 2) !== (hard[b] === 2)) continue;
          graph.addEdge(a, b, smooth.weight[e]!, smooth.weight[e]!);
        }
        if (!freeBorder) for (let k = 0; k < n; k++) if (smooth.toBackground[k]! > 0) graph.addTweights(k, 0, smooth.toBackground[k]!);
        graph.maxflow();
        let any = false;
        for (let k = 0; k < n; k++) {
          fgLabel[k] = fixedBg(k) ? 0 : graph.inSource(k) ? 1 : 0;
          any ||= fgLabel[k] === 1;
        }
        if (!any) break;
      }
      return { labels: fgLabel, fg, bg, fitted, seed, terms };
    };

    /**
     * What the points do besides their hard seed discs. `acting` are the points that reshape the
     * mask (corrective: those the box-only cut got wrong); every point shapes the geodesic split.
     */
    const pointTerms = (acting: { pos: Point[]; neg: Point[] }, models: Cut | undefined): PointTerms => {
      const patch = (q: Point) => patchColour(grid, toWork(q), Math.max(1, rs));
      const posPatches = p.positives.map(patch);
      const negPatches = p.negatives.map(patch);
      // Agreement with the local evidence: how unlike the other label's points this point's patch
      // is (without any, how unlikely its colour is under the other label's box-only model).
      const unlike = (c: [number, number, number], others: [number, number, number][], otherLabelIsFg: boolean) => {
        if (others.length) return 1 - Math.max(...others.map((o) => colourAffinity(c, o, P.agreementScale)));
        if (!models?.fitted) return 1;
        const lf = models.fg.logLikelihood(c[0], c[1], c[2]);
        const lb = models.bg.logLikelihood(c[0], c[1], c[2]);
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
          const disc = discOf(q);
          for (const k of disc) {
            const i = 3 * cropIdx[k]!;
            idx.push(cropIdx[k]!);
            share.push((weight * unlike([px[i]!, px[i + 1]!, px[i + 2]!], others, otherIsFg)) / (pts.length * disc.length));
          }
        }
        return { idx, share };
      };
      const pointIndex = (q: Point) => {
        const i = p.positives.indexOf(q);
        return i >= 0 ? i : p.negatives.indexOf(q);
      };
      const fgCost = new Float64Array(n);
      const bgCost = new Float64Array(n);
      const negZone = new Float32Array(n);
      const posZone = new Float32Array(n);
      const kappaScale = beta > 0 ? Math.sqrt(1 / (2 * beta)) : 1;
      const geo = (q: Point) => geodesicDistance(grid, [toWork(q)], P.geodesic, kappaScale);
      const anchorPts = p.positives.length ? p.positives.map(toWork) : [toWork({ x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 })];
      const dAnchor = acting.neg.length ? geodesicDistance(grid, anchorPts, P.geodesic, kappaScale) : undefined;
      const negMaps = acting.neg.map(geo);
      const posMaps = acting.pos.map(geo);
      const negCols = acting.neg.map((q) => negPatches[pointIndex(q)]!);
      const posCols = acting.pos.map((q) => posPatches[pointIndex(q)]!);
      const reach = P.positiveReach * Math.max(rw, rh);
      for (let k = 0; k < n; k++) {
        const i = 3 * cropIdx[k]!;
        const c = [px[i]!, px[i + 1]!, px[i + 2]!];
        const jn = nearestMap(negMaps, k);
        const dn = jn >= 0 ? negMaps[jn]![k]! : Infinity;
        if (jn >= 0 && dAnchor) {
          // Soft geodesic Voronoi split between the negatives and the positives (or the box centre).
          const pf = Math.min(0.98, Math.max(0.02, dn / (dAnchor[k]! + dn + 1e-9)));
          if (pf < 0.5) {
            const a = colourAffinity(c, negCols[jn]!, P.agreementScale);
            fgCost[k] = -P.spatialWeight * Math.log(2 * pf) * a;
            negZone[k] = a * Math.min(1, (0.5 - pf) / 0.25);
          }
        }
        const jp = nearestMap(posMaps, k);
        const dp = jp >= 0 ? posMaps[jp]![k]! : Infinity;
        if (jp >= 0 && dp < dn) {
          const z = Math.exp(-dp / reach) * colourAffinity(c, posCols[jp]!, P.agreementScale);
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
    };

    /** Sides beyond which a positive lies: the object reaches past them. */
    const sidesOf = (pts: Point[]) => pts.reduce((acc, q) => acc | (q.x < box.x1 ? 1 : 0) | (q.x >= box.x2 ? 2 : 0) | (q.y < box.y1 ? 4 : 0) | (q.y >= box.y2 ? 8 : 0), 0);
    /**
     * Sides where the box cuts the object: along a quarter of the side or more, the mask runs into
     * the edge and the pixels just beyond look like the ones just inside (no colour edge) and like
     * the object rather than the background. An object's own outline shows an edge; a box drawn
     * through the object does not.
     */
    const edgeScale = beta > 0 ? Math.sqrt(1 / (2 * beta)) : 1;
    const cutSides = ({ labels, fg, bg, fitted }: Cut) => {
      if (!fitted) return 0;
      let sides = 0;
      // Inside and outside ROI indices of each side's edge pixels, walking along the side.
      const bu0 = Math.max(0, Math.ceil((box.x1 - cx0) * sx - 0.5) - wx0);
      const bu1 = Math.min(rw - 1, Math.floor((box.x2 - cx0) * sx - 0.5) - wx0);
      const bv0 = Math.max(0, Math.ceil((box.y1 - cy0) * sy - 0.5) - wy0);
      const bv1 = Math.min(rh - 1, Math.floor((box.y2 - cy0) * sy - 0.5) - wy0);
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
    };
    const count = (l: Uint8Array) => l.reduce((a, b) => a + b, 0);
    const cellOf = (x: number, y: number) => {
      const v = Math.min(ch - 1, Math.floor((y + 0.5 - cy0) * sy)) - wy0;
      const u = Math.min(cw - 1, Math.floor((x + 0.5 - cx0) * sx)) - wx0;
      return u >= 0 && u < rw && v >= 0 && v < rh ? v * rw + u : -1;
    };
    /** The full-resolution mask of a cut, its boundary refined. */
    const fullMask = (cut: Cut): Mask => {
      const fgLabel = cut.labels;
      const mask: Mask = { width: W, height: H, data: new Uint8Array(W * H) };
      for (let y = ry0; y < ry1; y++) {
        for (let x = rx0; x < rx1; x++) {
          const k = cellOf(x, y);
          if (k >= 0 && fgLabel[k]) mask.data[y * W + x] = 1;
        }
      }
      if (P.refine && s < 1 && cut.fitted && count(fgLabel) > 0) {
        refineBoundary(image, mask, { x0: rx0, y0: ry0, x1: rx1, y1: ry1 }, cellOf, { rw, rh, labels: fgLabel, hard, seed: cut.seed, terms: cut.terms }, cut.fg, cut.bg, P);
      }
      return mask;
    };
    // Quality score (comparable between masks of one image and box: the sam-score fallback).
    let boxOnly: CropState["boxOnly"];
    const finish = (cut: Cut, mask?: Mask): DecodeResult => {
      const score = () => colourSeparation(px, cropIdx, ringIdx, cut.labels, P.components);
      if (cut !== boxOnly?.cut) return { mask: mask ?? fullMask(cut), score: score() };
      return { mask: mask ?? (boxOnly.base ??= fullMask(cut)), score: (boxOnly.score ??= score()) };
    };
    const boxInit = Uint8Array.from(hard, (h) => (h === 2 || h === 3 ? 0 : 1));
    const noSeeds = new Uint8Array(n);
    let result: Cut;
    if (P.points === "direct") {
      // Every point is a hard seed, votes and sets its local prior from the start.
      const seed = paintSeeds(p.positives, p.negatives);
      const terms = p.positives.length || p.negatives.length ? pointTerms({ pos: p.positives, neg: p.negatives }, undefined) : undefined;
      if (P.boxSlack > 0 && P.slack === "cut") openSides(sidesOf(p.positives));
      result = cut(seed, boxInit, terms);
      if (P.boxSlack > 0 && P.slack === "cut") {
        const sides = cutSides(result);
        if (sides) {
          openSides(sides);
          result = cut(seed, result.labels, terms);
        }
      }
    } else {
      // Corrective, as an interactive user clicks: segment from the box alone, then let the points
      // that disagree with that mask correct it. Points that agree confirm it and change nothing;
      // a hard seed where the cut already put that label leaves the optimum where it was.
      // The box-only stage runs before any slack opens, so it is the same for every decode of this
      // crop: computed once.
      boxOnly = state.boxOnly ??= (() => {
        let first = cut(noSeeds, boxInit, undefined);
        // Empty: either nothing in the box stands out from its surroundings, or the box cuts through
        // a uniform object and the box edge's smoothness cost outweighs it. Try the box edge as a
        // free border (no cost for a mask that runs into it); the slack test below then sees the cut.
        let free = false;
        if (count(first.labels) === 0 && first.fitted) {
          const retry = cut(noSeeds, boxInit, undefined, true);
          if (count(retry.labels) > 0) [first, free] = [retry, true];
        }
        return { cut: first, freeBorder: free };
      })();
      result = boxOnly.cut;
      const freeBorder = boxOnly.freeBorder;
      if (P.boxSlack > 0 && P.slack === "cut") {
        const sides = cutSides(result) | sidesOf(p.positives);
        if (sides) {
          openSides(sides);
          result = cut(noSeeds, result.labels, undefined, freeBorder);
        }
      }
      const L0 = result.labels;
      if (count(L0) === 0 && p.positives.length) {
        // The box alone found nothing (a camouflaged object): start again from the positives.
        const seed = paintSeeds(p.positives, p.negatives);
        const terms = pointTerms({ pos: p.positives, neg: p.negatives }, undefined);
        const dPos = geodesicDistance(grid, p.positives.map(toWork), P.geodesic, beta > 0 ? Math.sqrt(1 / (2 * beta)) : 1);
        const near = 0.2 * Math.max(rw, rh);
        const init = Uint8Array.from(boxInit, (b, k) => (b && dPos[k]! < near ? 1 : 0));
        result = cut(seed, init, terms);
      } else if (p.positives.length || p.negatives.length) {
        // Which points disagree is read off the mask the box alone gives at full resolution (what
        // the box-only decoder returns), not off the downsampled working grid: a point just
        // outside a thin part can sit in a grid cell the mask covers. Agreeing points return
        // exactly the box-only result.
        // The score is computed only for the mask that is returned.
        const base = result === boxOnly.cut ? (boxOnly.base ??= fullMask(result)) : fullMask(result);
        const at = (q: Point) => base.data[Math.min(H - 1, Math.floor(q.y)) * W + Math.min(W - 1, Math.floor(q.x))] === 1;
        const wrongPos = p.positives.filter((q) => !at(q));
        const wrongNeg = p.negatives.filter(at);
        if (!wrongPos.length && !wrongNeg.length) return finish(result, base);
        const seed = paintSeeds(p.positives, p.negatives);
        // A missed positive says the box-only colour models are wrong: refit them from the box.
        // Otherwise start from the box-only mask, whose models only need the negatives' correction.
        // While a negative corrects the mask, every positive holds its geodesic neighbourhood:
        // where colour cannot separate object from distractor, cutting the distractor must not
        // take the object with it.
        const corrected = cut(seed, wrongPos.length ? boxInit : L0, pointTerms({ pos: wrongNeg.length ? p.positives : wrongPos, neg: wrongNeg }, result));
        // Do no harm: a correction that keeps nothing but the positives' own seed discs (the
        // colour models could not tell the object from what a negative marked, so the cut
        // collapsed) is worse than the box-only mask; keep that, without the negatives' discs.
        let beyondSeeds = 0;
        let seedPx = 0;
        for (let k = 0; k < n; k++) {
          if (seed[k] === 1) seedPx++;
          else if (corrected.labels[k]) beyondSeeds++;
        }
        result =
          beyondSeeds >= seedPx || count(L0) <= 2 * seedPx
            ? corrected
            : { ...result, labels: Uint8Array.from(L0, (l, k) => (seed[k] === 2 ? 0 : seed[k] === 1 ? 1 : l)), seed };
      }
    }
    return finish(result);
  }

  /** The working crop of a region and what the cuts on it share: colours, box geometry, pairwise terms. */
  private crop(image: RgbImage, box: Prompt["box"], rx0: number, ry0: number, rx1: number, ry1: number): CropState {
    const P = this.params;
    const W = image.width;
    const H = image.height;
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
    // Working-grid ROI and where each pixel lies: 0 inside the box, 3 in the slack around it
    // (background-leaning but free), 2 outside (fixed background; only without slack).
    const wx0 = Math.max(0, Math.floor((rx0 - cx0) * sx));
    const wy0 = Math.max(0, Math.floor((ry0 - cy0) * sy));
    const wx1 = Math.min(cw, Math.max(wx0 + 1, Math.ceil((rx1 - cx0) * sx)));
    const wy1 = Math.min(ch, Math.max(wy0 + 1, Math.ceil((ry1 - cy0) * sy)));
    const rw = wx1 - wx0;
    const rh = wy1 - wy0;
    const n = rw * rh;
    const grid: WorkGrid = { px, cw, wx0, wy0, rw, rh };
    const hard = new Uint8Array(n);
    // Which sides of the box each ROI pixel lies beyond (bits: 1 left, 2 right, 4 top, 8 bottom).
    const beyond = new Uint8Array(n);
    const toImgX = (u: number) => cx0 + (u + 0.5) / sx;
    const toImgY = (v: number) => cy0 + (v + 0.5) / sy;
    for (let v = 0; v < rh; v++) {
      for (let u = 0; u < rw; u++) {
        const x = toImgX(u + wx0);
        const y = toImgY(v + wy0);
        const b = (x < box.x1 ? 1 : 0) | (x >= box.x2 ? 2 : 0) | (y < box.y1 ? 4 : 0) | (y >= box.y2 ? 8 : 0);
        beyond[v * rw + u] = b;
        if (b) hard[v * rw + u] = P.boxSlack > 0 && P.slack === "always" ? 3 : 2;
      }
    }

    // Crop index of ROI node k, and the background ring (crop pixels outside the ROI).
    const cropIdx = new Int32Array(n);
    for (let v = 0; v < rh; v++) for (let u = 0; u < rw; u++) cropIdx[v * rw + u] = (v + wy0) * cw + (u + wx0);
    const ringIdx: number[] = [];
    for (let v = 0; v < ch; v++) for (let u = 0; u < cw; u++) if (u < wx0 || u >= wx1 || v < wy0 || v >= wy1) ringIdx.push(v * cw + u);

    const beta = contrastBeta(px, cw, ch);
    // Pairwise terms do not change across iterations or passes: compute them once. On a crop
    // downsampled by s, a region has s² times the pixels but its outline only s times the edges:
    // γ·s keeps the balance between colour and smoothness that GrabCut has at full size.
    const smooth = smoothnessTerms(px, cw, ch, wx0, wy0, rw, rh, beta, P.gamma * s);
    return { px, cx0, cy0, cw, ch, s, sx, sy, wx0, wy0, wx1, wy1, rw, rh, n, grid, hard, beyond, cropIdx, ringIdx, beta, smooth };
  }
}

/** A decoder's working crop for one image, box and region (see GraphCutDecoder.crop), and the box-only stage on it. */
interface CropState {
  px: Float32Array;
  cx0: number;
  cy0: number;
  cw: number;
  ch: number;
  s: number;
  sx: number;
  sy: number;
  wx0: number;
  wy0: number;
  wx1: number;
  wy1: number;
  rw: number;
  rh: number;
  n: number;
  grid: WorkGrid;
  /** Before any slack opens; each decode works on a copy. */
  hard: Uint8Array;
  beyond: Uint8Array;
  cropIdx: Int32Array;
  ringIdx: number[];
  beta: number;
  smooth: ReturnType<typeof smoothnessTerms>;
  /** The graph every cut on this crop reuses (reset before each). */
  graph?: MaxflowGraph;
  /** The cut from the box alone (with the free-border retry), and its full-resolution mask and score. */
  boxOnly?: { cut: Cut; freeBorder: boolean; base?: Mask; score?: number };
}

/** Every `stride`-th element of `all`, from the first (as `all.filter((_, t) => t % stride === 0)`, without a call per element). */
function strided<T extends Int32Array | number[]>(all: T, stride: number): T {
  const m = Math.ceil(all.length / stride);
  const out = (Array.isArray(all) ? new Array<number>(m) : new Int32Array(m)) as T;
  for (let t = 0, j = 0; t < all.length; t += stride) out[j++] = all[t]!;
  return out;
}

/** A small least-recently-used map. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

/** Colour-model votes of points: crop pixel indices and each one's share of the model's sample mass. */
interface Votes {
  idx: number[];
  share: number[];
}

/** The points' local priors (extra nats for labelling a ROI pixel fore/background) and their votes. */
interface PointTerms {
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

/** A pixel's unary costs (−log likelihoods) with the points' local evidence applied, written to outF[k], outB[k]. */
function localUnary(terms: PointTerms | undefined, k: number, f: number, b: number, outF: Float64Array, outB: Float64Array): void {
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

interface Cut {
  labels: Uint8Array;
  fg: ColourGmm;
  bg: ColourGmm;
  /** Whether the colour models were fitted at all (not when the box holds nothing to fit). */
  fitted: boolean;
  seed: Uint8Array;
  terms: PointTerms | undefined;
}

const FULL_NEIGHBOURS: readonly [number, number, number][] = [
  [1, 0, 1],
  [0, 1, 1],
  [1, 1, Math.SQRT1_2],
  [-1, 1, Math.SQRT1_2],
];

/**
 * The graphcut decoder's quality score of a mask, in [0, 1], the counterpart of SAM2's predicted
 * IoU for the sam-score fallback (box + points vs the box alone): fresh colour GMMs (the decoder's
 * `components`) fitted to the mask's pixels and to the rest of the region plus the background
 * ring, then the mean over the region of the colour posterior of the label each pixel got,
 * rescaled so 0 = colour says nothing (posterior 1/2) and 1 = colour separates the mask from its
 * surroundings perfectly. Every mask is scored by the same procedure whatever produced it (seeds,
 * spatial prior), so two masks of one image and box are comparable; like SAM2's score it can
 * prefer a wrong mask (a same-coloured distractor merged in looks more separable). 0 for an
 * empty mask; 0 also when nothing is left outside the mask to learn the background from.
 */
function colourSeparation(px: Float32Array, roi: Int32Array, ring: readonly number[], labels: Uint8Array, components: number): number {
  const fgIdx: number[] = [];
  const bgIdx: number[] = [...ring];
  for (let k = 0; k < roi.length; k++) (labels[k] ? fgIdx : bgIdx).push(roi[k]!);
  if (fgIdx.length === 0 || bgIdx.length === 0) return 0;
  const fit = (all: number[]) => {
    const stride = Math.max(1, Math.floor(all.length / MAX_FIT_SAMPLES));
    const idx = stride === 1 ? all : strided(all, stride);
    const g = new ColourGmm(components);
    g.fit(px, idx, ColourGmm.kmeansLabels(px, idx, components));
    return g;
  };
  const fg = fit(fgIdx);
  const bg = fit(bgIdx);
  // A strided subset of the region estimates the mean as well as all of it.
  const stride = Math.max(1, Math.floor(roi.length / 20_000));
  let sum = 0;
  let n = 0;
  for (let k = 0; k < roi.length; k += stride) {
    const i = 3 * roi[k]!;
    // Posterior of foreground with equal priors: a logistic of the log-likelihood ratio.
    const t = fg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!) - bg.logLikelihood(px[i]!, px[i + 1]!, px[i + 2]!);
    const pFg = t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
    sum += labels[k] ? pFg : 1 - pFg;
    n++;
  }
  return Math.max(0, Math.min(1, 2 * (sum / n) - 1));
}


/**
 * Coarse-to-fine: the cut ran on a downsampled crop, so its boundary is blocky at full size.
 * Re-cut, at full resolution, the band of pixels whose working cell touches a cell of the other
 * label, with the final colour models, the same priors and GrabCut's pairwise terms; pixels off
 * the band keep their label and act as fixed neighbours. Costs a graph of a few thousand nodes.
 */
function refineBoundary(
  image: RgbImage,
  mask: Mask,
  roi: { x0: number; y0: number; x1: number; y1: number },
  cellOf: (x: number, y: number) => number,
  work: { rw: number; rh: number; labels: Uint8Array; hard: Uint8Array; seed: Uint8Array; terms: PointTerms | undefined },
  fg: ColourGmm,
  bg: ColourGmm,
  P: GraphCutParams,
): void {
  const { rw, rh, labels } = work;
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
      const k = cellOf(x, y);
      if (k < 0 || !edgeCell[k] || work.hard[k] === 2 || work.seed[k] !== 0) continue;
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
    localUnary(work.terms, k, -fg.logLikelihood(r, g, b), -bg.logLikelihood(r, g, b), cellF, cellB);
    let cf = cellF[k]!;
    const cb = cellB[k]!;
    if (work.hard[k] === 3) cf += P.outsideBias;
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
