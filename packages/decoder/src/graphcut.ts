import { Lru, sha256, type Mask, type Point, type RgbImage } from "@resagent/core";
import { colourSeparation } from "./graphcut/colour.js";
import { openSides, paintSeeds, sidesOf, toWork, workingCrop, type WorkingCrop } from "./graphcut/crop.js";
import { cutSides, grabCut, type Cut } from "./graphcut/cut.js";
import { pointConstraints } from "./graphcut/points.js";
import { fullResolutionMask } from "./graphcut/refine.js";
import { geodesicDistance } from "./local.js";
import { sharedGraphcutThreads } from "./graphcut/threads.js";
import type { GraphCutParams } from "./params.js";
import { validatePrompt } from "./prompt.js";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "./types.js";

/**
 * GrabCut-style graph cut with point prompts, as named stages (graphcut/): the working crop
 * (crop.ts) → colour models (colour.ts) → unary terms (unary.ts) → point constraints (points.ts)
 * → cut (cut.ts) → refine (refine.ts). `segment` decides which cuts to run: the box alone, then
 * (corrective) the points that disagree with it, or (direct) every point from the start.
 */
export class GraphCutDecoder implements Decoder {
  readonly name = "graphcut";

  /** `params` as parsed by GraphcutParamsSchema (parseGraphcutParams, or a loaded config's `decoder.params`). */
  constructor(readonly params: GraphCutParams) {}

  describe(): string {
    return `graphcut (GrabCut-style colour GMMs + Boykov–Kolmogorov min-cut; embedded, no weights; maxSide ${this.params.maxSide}, ${this.params.iterations} iterations)`;
  }

  /**
   * Decodes are pure in (image, prompt), and the cells of an experiment ask the same ones again:
   * the box-only branch of every cell with the same box, and the points branch of cells that
   * verified the same points. Recent results are kept by the image's content key and the prompt
   * (as promises, so a decode already running is not started twice).
   */
  private readonly results = new Lru<Promise<DecodeResult>>(32);
  private readonly threads = sharedGraphcutThreads();
  private decodes = 0;

  async segment({ image, key }: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    const p = validatePrompt(image, prompt);
    const imageKey = key ?? `${image.width}x${image.height}:${sha256(image.data)}`;
    const pts = (q: readonly Point[]) => q.map((t) => `${t.x},${t.y}`).join(";");
    const resultKey = `${imageKey}|${p.box.x1},${p.box.y1},${p.box.x2},${p.box.y2}|${pts(p.positives)}|${pts(p.negatives)}`;
    let pending = this.results.get(resultKey);
    if (!pending) {
      this.decodes++;
      pending = this.threads ? this.threads.decode(this.params, image, p) : Promise.resolve().then(() => decodeGraphcut(this.params, image, p));
      this.results.set(resultKey, pending);
      // A failed decode is not kept: the next ask tries again.
      pending.catch(() => this.results.get(resultKey) === pending && this.results.delete(resultKey));
    }
    const out = await pending;
    // Callers own what they get: a copy, so the kept result cannot be changed through it.
    return { mask: { width: out.mask.width, height: out.mask.height, data: out.mask.data.slice() }, score: out.score };
  }

  /** Decodes run (cache hits aside), and the threads they ran on (0: in-process). */
  stats(): Record<string, number> {
    return { decodes: this.decodes, decodeThreads: this.threads?.started ?? 0 };
  }
}

/**
 * One graph-cut decode, pure in its inputs: what GraphCutDecoder runs in-process and what its
 * decode threads run (graphcut/thread.ts). `p` is a prompt validatePrompt has checked.
 */
export function decodeGraphcut(P: GraphCutParams, image: RgbImage, p: Prompt): DecodeResult {
  let crop = workingCrop(image, p, P);
  const slackCut = P.boxSlack > 0 && P.slack === "cut";
  const cut = (seed: Uint8Array, init: Uint8Array, terms: Parameters<typeof grabCut>[3], freeBorder = false) => grabCut(crop, seed, init, terms, freeBorder, P);
  // Quality score (comparable between masks of one image and box: the sam-score fallback), computed only for the mask returned.
  const finish = (c: Cut, mask: Mask = fullResolutionMask(crop, c, P)): DecodeResult => ({ mask, score: colourSeparation(crop, c.labels, P.components) });
  const boxInit = Uint8Array.from(crop.hard, (h) => (h === 2 || h === 3 ? 0 : 1));
  const noSeeds = new Uint8Array(crop.n);
  const all = { positives: p.positives, negatives: p.negatives };
  const points = { pos: p.positives, neg: p.negatives };
  let result: Cut;
  if (P.points === "direct") {
    // Every point is a hard seed, votes and sets its local prior from the start.
    const seed = paintSeeds(crop, p.positives, p.negatives);
    const terms = p.positives.length || p.negatives.length ? pointConstraints(crop, all, points, undefined, P) : undefined;
    if (slackCut) crop = openSides(crop, sidesOf(p.box, p.positives));
    result = cut(seed, boxInit, terms);
    if (slackCut) {
      const sides = cutSides(crop, result);
      if (sides) {
        crop = openSides(crop, sides);
        result = cut(seed, result.labels, terms);
      }
    }
    return finish(result);
  }
  // Corrective, as an interactive user clicks: segment from the box alone, then let the points
  // that disagree with that mask correct it. Points that agree confirm it and change nothing;
  // a hard seed where the cut already put that label leaves the optimum where it was.
  result = cut(noSeeds, boxInit, undefined);
  // Empty: either nothing in the box stands out from its surroundings, or the box cuts through
  // a uniform object and the box edge's smoothness cost outweighs it. Try the box edge as a
  // free border (no cost for a mask that runs into it); the slack test below then sees the cut.
  let freeBorder = false;
  if (count(result.labels) === 0 && result.models) {
    const retry = cut(noSeeds, boxInit, undefined, true);
    if (count(retry.labels) > 0) [result, freeBorder] = [retry, true];
  }
  if (slackCut) {
    const sides = cutSides(crop, result) | sidesOf(p.box, p.positives);
    if (sides) {
      crop = openSides(crop, sides);
      result = cut(noSeeds, result.labels, undefined, freeBorder);
    }
  }
  const boxOnly = result.labels;
  if (count(boxOnly) === 0 && p.positives.length) {
    // The box alone found nothing (a camouflaged object): start again from the positives.
    result = cut(paintSeeds(crop, p.positives, p.negatives), positivesInit(crop, boxInit, p.positives, P.geodesic), pointConstraints(crop, all, points, undefined, P));
  } else if (p.positives.length || p.negatives.length) {
    // Which points disagree is read off the mask the box alone gives at full resolution (what
    // the box-only decoder returns), not off the downsampled working grid: a point just
    // outside a thin part can sit in a grid cell the mask covers. Agreeing points return
    // exactly the box-only result.
    const base = fullResolutionMask(crop, result, P);
    const at = (q: Point) => base.data[Math.min(image.height - 1, Math.floor(q.y)) * image.width + Math.min(image.width - 1, Math.floor(q.x))] === 1;
    const wrongPos = p.positives.filter((q) => !at(q));
    const wrongNeg = p.negatives.filter(at);
    if (!wrongPos.length && !wrongNeg.length) return finish(result, base);
    const seed = paintSeeds(crop, p.positives, p.negatives);
    // A missed positive says the box-only colour models are wrong: refit them from the box.
    // Otherwise start from the box-only mask, whose models only need the negatives' correction.
    // While a negative corrects the mask, every positive holds its geodesic neighbourhood:
    // where colour cannot separate object from distractor, cutting the distractor must not
    // take the object with it.
    const corrected = cut(seed, wrongPos.length ? boxInit : boxOnly, pointConstraints(crop, all, { pos: wrongNeg.length ? p.positives : wrongPos, neg: wrongNeg }, result.models, P));
    result = keepUnlessCollapsed(result, corrected, seed);
  }
  return finish(result);
}

const count = (l: Uint8Array) => l.reduce((a, b) => a + b, 0);

/** A second start for a box-only cut that found nothing: the box's nodes geodesically near a positive. */
function positivesInit(c: WorkingCrop, boxInit: Uint8Array, positives: readonly Point[], kappa: number): Uint8Array {
  const dPos = geodesicDistance(c.grid, positives.map((q) => toWork(c, q)), kappa, c.beta > 0 ? Math.sqrt(1 / (2 * c.beta)) : 1);
  const near = 0.2 * Math.max(c.rw, c.rh);
  return Uint8Array.from(boxInit, (b, k) => (b && dPos[k]! < near ? 1 : 0));
}

/**
 * Do no harm: a correction that keeps nothing but the positives' own seed discs (the colour
 * models could not tell the object from what a negative marked, so the cut collapsed) is worse
 * than the box-only mask; keep that, without the negatives' discs.
 */
function keepUnlessCollapsed(boxOnly: Cut, corrected: Cut, seed: Uint8Array): Cut {
  let beyondSeeds = 0;
  let seedPx = 0;
  for (let k = 0; k < seed.length; k++) {
    if (seed[k] === 1) seedPx++;
    else if (corrected.labels[k]) beyondSeeds++;
  }
  if (beyondSeeds >= seedPx || count(boxOnly.labels) <= 2 * seedPx) return corrected;
  return { ...boxOnly, labels: Uint8Array.from(boxOnly.labels, (l, k) => (seed[k] === 2 ? 0 : seed[k] === 1 ? 1 : l)), seed };
}
