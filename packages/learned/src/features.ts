import { InputError, type Box, type Mask, type Point, type RgbImage } from "@resagent/core";
import { markerCrop } from "@resagent/verifier";

/**
 * What the learned verifier sees of one VBR query. The picture is exactly what a VBR model is
 * shown (the marker drawn on the image or on the authors' crop around box ∪ marker); the referred
 * box and the marker position say where the question is about, the phrase's words what it looks
 * like. The box is the one the candidates were drawn in: the gold box when training on gen-vbr
 * data, the grounder's box in the pipeline.
 */
export interface VbrView {
  /** The picture shown (full image or crop), and where its (0, 0) lies in source pixels. */
  picture: RgbImage;
  origin: Point;
  /** Source image size. */
  width: number;
  height: number;
  box: Box;
  point: Point;
  /** The referring expression (read as a bag of hashed words when the spec has phraseBins). */
  expression?: string;
  /** The decoder's mask from the box alone, in source pixels (read when the spec has baseMask). */
  mask?: Mask;
}

export interface FeatureSpec {
  /** Side of the square grid the box region is resampled to. */
  size: number;
  /** Context around the box on each side, as a fraction of its width/height. */
  margin: number;
  /** Width of the marker-position channel's Gaussian, in grid cells. */
  markerSigma: number;
  /** Side of the marker patch's grid (0: no patch). */
  patchSize: number;
  /**
   * Side, in source pixels, of the square the patch covers, centred on the marker. Fixed in pixels,
   * not in marker radii: the pipeline's queries do not say how big their marker is.
   */
  patchSpan: number;
  /** Bins the phrase's words are hashed into (0: the phrase is not read). */
  phraseBins: number;
  /**
   * A fifth channel in the grid and the patch: the share of each cell the decoder's box-only mask
   * covers (the point-value ranker: where the mask already is decides which answer could change it).
   */
  baseMask?: boolean;
}

// 128 bins: synthref's phrases use 56 distinct words, so few share a bin; a real vocabulary
// shares more and the model learns what each bin's words have in common. Reading the phrase took
// validation accuracy from 76.9% to 79.4% (20% of the training images, n = 3,072).
export const FEATURE_DEFAULTS: FeatureSpec = { size: 32, margin: 0.15, markerSigma: 1.5, patchSize: 24, patchSpan: 96, phraseBins: 128 };

/**
 * Words that say where in the picture, not what. They are dropped from the phrase: the box already
 * says where the referred object is, and the symmetries the model is trained and asked under
 * (mirror, flip, transpose) would turn "left" into "right" without changing the words. Depth words
 * ("in front of", "behind") survive every symmetry and stay.
 */
const DIRECTION_WORDS = new Set(["left", "right", "top", "bottom", "above", "below", "middle", "center", "centre", "upper", "lower", "leftmost", "rightmost", "topmost", "bottommost"]);

/** The phrase's words as the learned verifier reads them: lower-case, split on non-letters and non-digits, direction words dropped. */
export function phraseWords(expression: string): string[] {
  return expression
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((w) => w.length > 0 && !DIRECTION_WORDS.has(w));
}

/** FNV-1a over the word's UTF-16 code units: a fixed hash, so a model's bins mean the same words wherever it runs. */
function wordBin(word: string, bins: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    h ^= word.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % bins;
}

/** Image channels per grid cell: RGB + marker position (box grid), RGB + inside-the-box share (patch). */
export const CHANNELS = 4;
/** Channels per cell for a spec: CHANNELS, plus the box-only mask's share with baseMask. */
export function channelsOf(spec: FeatureSpec): number {
  return spec.baseMask ? CHANNELS + 1 : CHANNELS;
}
export const SCALARS = 4;

/** Sub-samples per grid-cell side: a cheap box filter, so small boxes and big ones look alike. */
const SUB = 3;
/** The patch's cells are a few source pixels wide: fewer sub-samples do. */
const PATCH_SUB = 2;

/**
 * Encoded queries, example after example: the box grid (size² × CHANNELS), the patch
 * (patchSize² × CHANNELS, empty without one), SCALARS numbers and the phrase's word bins
 * (phraseBins, empty without them).
 */
export interface EncodedBuffers {
  grid: Float32Array;
  patch: Float32Array;
  scalars: Float32Array;
  phrase: Float32Array;
}

/** Numbers per example in each buffer. */
export function encodedSizes(spec: FeatureSpec): { grid: number; patch: number; scalars: number; phrase: number } {
  const c = channelsOf(spec);
  return { grid: spec.size * spec.size * c, patch: spec.patchSize * spec.patchSize * c, scalars: SCALARS, phrase: spec.phraseBins };
}

/** Buffers for n encoded examples. */
export function allocEncoded(spec: FeatureSpec, n: number): EncodedBuffers {
  const z = encodedSizes(spec);
  return { grid: new Float32Array(n * z.grid), patch: new Float32Array(n * z.patch), scalars: new Float32Array(n * z.scalars), phrase: new Float32Array(n * z.phrase) };
}

/**
 * Encode a query as example `index` of `out`:
 * - the box grid: the box region plus a margin, resampled to size × size (RGB in [-1, 1]; pixels
 *   outside the picture are 0, mid-grey), and a channel with a Gaussian at the marker centre;
 * - the marker patch: patchSpan × patchSpan source pixels centred on the marker, resampled to
 *   patchSize × patchSize (a few pixels a cell, where the box grid may have tens), and a channel
 *   with the share of each cell inside the box. The answer rests on where the object's boundary
 *   runs near (often under) the marker, which the coarse box grid blurs;
 * - scalars: the marker position in box coordinates (u, v), the box's log aspect ratio and its
 *   scale relative to the image;
 * - the phrase (with phraseBins): a bag of words, each word of phraseWords hashed into one of
 *   phraseBins bins (1 where some word falls). It says what the referred object looks like (its
 *   colour, pattern, size, what it is), which the box alone cannot when other things share it.
 */
export function encodeView(v: VbrView, spec: FeatureSpec, out: EncodedBuffers, index = 0): void {
  const { box, point } = v;
  const z = encodedSizes(spec);
  const S = spec.size;
  const bw = Math.max(1, box.x2 - box.x1);
  const bh = Math.max(1, box.y2 - box.y1);
  const vx = box.x1 - spec.margin * bw;
  const vy = box.y1 - spec.margin * bh;
  const cw = (bw * (1 + 2 * spec.margin)) / S;
  const ch = (bh * (1 + 2 * spec.margin)) / S;
  // Marker centre in grid cells (cell centres at i + 0.5).
  const mx = (point.x - vx) / cw;
  const my = (point.y - vy) / ch;
  const inv2s2 = 1 / (2 * spec.markerSigma * spec.markerSigma);
  const grid = out.grid;
  const C = channelsOf(spec);
  if (spec.baseMask && !v.mask) throw new InputError("this model reads the decoder's box-only mask, but the view has none", { field: "mask" });
  const mask = spec.baseMask ? v.mask : undefined;
  resample(v, vx, vy, cw, ch, S, SUB, grid, index * z.grid, () => 0, C, mask);
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      const dx = j + 0.5 - mx;
      const dy = i + 0.5 - my;
      grid[index * z.grid + (i * S + j) * C + 3] = Math.exp(-(dx * dx + dy * dy) * inv2s2);
    }
  }
  if (spec.patchSize > 0) {
    const P = spec.patchSize;
    const c = spec.patchSpan / P;
    const inBox = (x: number, y: number) => (x >= box.x1 && x < box.x2 && y >= box.y1 && y < box.y2 ? 1 : 0);
    resample(v, point.x - spec.patchSpan / 2, point.y - spec.patchSpan / 2, c, c, P, PATCH_SUB, out.patch, index * z.patch, inBox, C, mask);
  }
  const s = index * z.scalars;
  out.scalars[s] = (point.x - box.x1) / bw;
  out.scalars[s + 1] = (point.y - box.y1) / bh;
  out.scalars[s + 2] = Math.log(bw / bh);
  out.scalars[s + 3] = Math.sqrt((bw * bh) / Math.max(1, v.width * v.height));
  if (spec.phraseBins > 0) {
    if (v.expression === undefined) throw new InputError("this verifier reads the phrase, but the query has none", { field: "expression" });
    const o = index * z.phrase;
    out.phrase.fill(0, o, o + z.phrase);
    for (const w of phraseWords(v.expression)) out.phrase[o + wordBin(w, spec.phraseBins)] = 1;
  }
}

/**
 * Resample the source region with top-left (x0, y0) and cells cw × ch source pixels into an
 * n × n grid at `offset` (`channels` per cell, channels last): RGB as the mean of sub × sub
 * samples (outside the picture: 0), channel 3 the mean of `extra` over the same samples (in
 * source coordinates), and with a `mask` channel 4 the share of the samples it covers.
 */
function resample(v: VbrView, x0: number, y0: number, cw: number, ch: number, n: number, sub: number, out: Float32Array, offset: number, extra: (x: number, y: number) => number, channels = CHANNELS, mask?: Mask): void {
  const { picture, origin } = v;
  const pw = picture.width;
  const ph = picture.height;
  const data = picture.data;
  const k2 = sub * sub;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let e = 0;
      let m = 0;
      for (let si = 0; si < sub; si++) {
        const sy = y0 + (i + (si + 0.5) / sub) * ch;
        const py = Math.floor(sy - origin.y);
        for (let sj = 0; sj < sub; sj++) {
          const sx = x0 + (j + (sj + 0.5) / sub) * cw;
          e += extra(sx, sy);
          if (mask) {
            const mx = Math.floor(sx);
            const my = Math.floor(sy);
            if (mx >= 0 && my >= 0 && mx < mask.width && my < mask.height && mask.data[my * mask.width + mx] === 1) m++;
          }
          if (py < 0 || py >= ph) continue;
          const px = Math.floor(sx - origin.x);
          if (px < 0 || px >= pw) continue;
          const k = (py * pw + px) * 3;
          // Sum of (value/127.5 - 1): outside pixels add 0, i.e. mid-grey.
          r += data[k]! / 127.5 - 1;
          g += data[k + 1]! / 127.5 - 1;
          b += data[k + 2]! / 127.5 - 1;
        }
      }
      const o = offset + (i * n + j) * channels;
      out[o] = r / k2;
      out[o + 1] = g / k2;
      out[o + 2] = b / k2;
      out[o + 3] = e / k2;
      if (mask) out[o + 4] = m / k2;
    }
  }
}

/** Apply symmetry t (see transformEncoded) to one n × n × channels grid at `offset`, in place. */
function transformGrid(grid: Float32Array, n: number, t: number, offset: number, channels: number): void {
  const per = n * n * channels;
  const src = grid.slice(offset, offset + per);
  const mirror = (t & 1) !== 0;
  const flip = (t & 2) !== 0;
  const transpose = (t & 4) !== 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      // Output (i, j) takes the input cell that the transform maps onto it.
      let si = transpose ? j : i;
      let sj = transpose ? i : j;
      if (flip) si = n - 1 - si;
      if (mirror) sj = n - 1 - sj;
      const o = offset + (i * n + j) * channels;
      const k = (si * n + sj) * channels;
      for (let c = 0; c < channels; c++) grid[o + c] = src[k + c]!;
    }
  }
}

/**
 * Apply one of the 8 symmetries of the square (bit 0: mirror left-right, bit 1: flip up-down,
 * bit 2: transpose) to encoded example `index` in place: the box grid, the marker patch (about
 * the marker, its centre) and the scalars. Whether a point lies on an object does not change
 * under any of them, so they are free training data.
 */
export function transformEncoded(buf: EncodedBuffers, spec: FeatureSpec, t: number, index = 0): void {
  if (t === 0) return;
  const z = encodedSizes(spec);
  transformGrid(buf.grid, spec.size, t, index * z.grid, channelsOf(spec));
  if (spec.patchSize > 0) transformGrid(buf.patch, spec.patchSize, t, index * z.patch, channelsOf(spec));
  const s = index * z.scalars;
  const scalars = buf.scalars;
  let u = scalars[s]!;
  let v = scalars[s + 1]!;
  if (t & 4) {
    [u, v] = [v, u];
    scalars[s + 2] = -scalars[s + 2]!;
  }
  if (t & 2) v = 1 - v;
  if (t & 1) u = 1 - u;
  scalars[s] = u;
  scalars[s + 1] = v;
}

/**
 * Where a marker picture's (0, 0) lies in the source image. A VBR picture is the whole image or
 * the authors' crop (box ∪ marker padded by twice the marker size, clipped), and the crop's size
 * pins the marker size that made it: the one size whose crop has this width and height. Throws
 * when no marker size explains the picture (it was not made by the verifier from this box).
 */
export function pictureOrigin(pictureWidth: number, pictureHeight: number, width: number, height: number, box: Box, point: Point): Point {
  if (pictureWidth === width && pictureHeight === height) return { x: 0, y: 0 };
  for (let size = 1; size <= 512; size++) {
    const c = markerCrop([{ point, size, colour: "red", shape: "star" }], box, width, height);
    if (c.x2 - c.x1 === pictureWidth && c.y2 - c.y1 === pictureHeight) return { x: c.x1, y: c.y1 };
    // Crops never shrink as the marker grows: once a side is past the picture's, none fits.
    if (c.x2 - c.x1 > pictureWidth || c.y2 - c.y1 > pictureHeight) break;
  }
  throw new InputError(
    `a ${pictureWidth}x${pictureHeight} picture is neither the ${width}x${height} image nor a marker crop around box [${box.x1}, ${box.y1}, ${box.x2}, ${box.y2}] and point (${point.x}, ${point.y})`,
    { field: "request.image" },
  );
}
