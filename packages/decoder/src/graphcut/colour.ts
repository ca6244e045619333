import { ColourGmm } from "../gmm.js";
import type { WorkingCrop } from "./crop.js";

/** At most this many strided samples fit a colour model: they estimate 3-D colour Gaussians as well as all of them, at a fraction of the cost on large boxes. */
const MAX_FIT_SAMPLES = 6000;

/** Colour-model votes of points: crop pixel indices and each one's share of the model's sample mass. */
export interface Votes {
  idx: number[];
  share: number[];
}

/** The foreground and background colour models of a cut. */
export interface ColourModels {
  fg: ColourGmm;
  bg: ColourGmm;
}

/**
 * Stage 2 of the graph cut: the colour models. Fits the foreground GMM to the nodes labelled 1
 * (plus the positives' votes) and the background GMM to the rest of the ROI and the ring (plus the
 * negatives' votes). The first fit starts from k-means labels; later ones from each sample's most
 * likely component under `previous`. Undefined when one side has nothing to learn from (nothing
 * left in the box, or the box is the whole image and nothing says what background looks like).
 */
export function fitColourModels(
  c: WorkingCrop,
  labels: Uint8Array,
  votes: { pos?: Votes | undefined; neg?: Votes | undefined },
  components: number,
  previous: ColourModels | undefined,
): ColourModels | undefined {
  const { n, ringIdx, cropIdx, px } = c;
  let nfg = 0;
  for (let k = 0; k < n; k++) nfg += labels[k]!;
  const fgIdx = new Int32Array(nfg);
  const bgIdx = new Int32Array(ringIdx.length + n - nfg);
  bgIdx.set(ringIdx);
  for (let k = 0, f = 0, b = ringIdx.length; k < n; k++) {
    if (labels[k]) fgIdx[f++] = cropIdx[k]!;
    else bgIdx[b++] = cropIdx[k]!;
  }
  if (fgIdx.length === 0 || bgIdx.length === 0) return undefined;
  const fit = (all: Int32Array, v: Votes | undefined, before: ColourGmm | undefined) => {
    const stride = Math.max(1, Math.floor(all.length / MAX_FIT_SAMPLES));
    const sub = stride === 1 ? all : all.filter((_, t) => t % stride === 0);
    const extra = v?.idx.length ?? 0;
    const idx = new Int32Array(sub.length + extra);
    idx.set(sub);
    const weights = new Float32Array(idx.length).fill(1);
    for (let t = 0; t < extra; t++) {
      idx[sub.length + t] = v!.idx[t]!;
      weights[sub.length + t] = v!.share[t]! * Math.max(1, sub.length);
    }
    const start = before ? Uint8Array.from(idx, (i) => before.assign(px[3 * i]!, px[3 * i + 1]!, px[3 * i + 2]!)) : ColourGmm.kmeansLabels(px, idx, components);
    const g = new ColourGmm(components);
    g.fit(px, idx, start, weights);
    return g;
  };
  return { fg: fit(fgIdx, votes.pos, previous?.fg), bg: fit(bgIdx, votes.neg, previous?.bg) };
}

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
export function colourSeparation(c: WorkingCrop, labels: Uint8Array, components: number): number {
  const { px, cropIdx: roi, ringIdx: ring } = c;
  const fgIdx: number[] = [];
  const bgIdx: number[] = [...ring];
  for (let k = 0; k < roi.length; k++) (labels[k] ? fgIdx : bgIdx).push(roi[k]!);
  if (fgIdx.length === 0 || bgIdx.length === 0) return 0;
  const fit = (all: number[]) => {
    const stride = Math.max(1, Math.floor(all.length / MAX_FIT_SAMPLES));
    const idx = stride === 1 ? all : all.filter((_, t) => t % stride === 0);
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
