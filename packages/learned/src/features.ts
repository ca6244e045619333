import { InputError, type Box, type Point, type RgbImage } from "@resagent/core";
import { markerCrop } from "@resagent/verifier";

/**
 * What the learned verifier sees of one VBR query. The picture is exactly what a VBR model is
 * shown (the marker drawn on the image or on the authors' crop around box ∪ marker); the referred
 * box and the marker position stand in for the phrase, so the question "is the marker on the
 * referred object" is well posed without language. The box is the one the candidates were drawn
 * in: the gold box when training on gen-vbr data, the grounder's box in the pipeline.
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
}

export interface FeatureSpec {
  /** Side of the square grid the box region is resampled to. */
  size: number;
  /** Context around the box on each side, as a fraction of its width/height. */
  margin: number;
  /** Width of the marker-position channel's Gaussian, in grid cells. */
  markerSigma: number;
}

export const FEATURE_DEFAULTS: FeatureSpec = { size: 32, margin: 0.15, markerSigma: 1.5 };

/** Image channels (RGB + marker position) and scalar features per sample. */
export const CHANNELS = 4;
export const SCALARS = 4;

/** Sub-samples per grid-cell side: a cheap box filter, so small boxes and big ones look alike. */
const SUB = 3;

/**
 * Encode a query: the box region plus a margin, resampled to size × size (RGB in [-1, 1]; pixels
 * outside the picture are 0, mid-grey), a channel with a Gaussian at the marker centre, and
 * scalars: the marker position in box coordinates (u, v), the box's log aspect ratio and its
 * scale relative to the image. Writes into `grid` (size·size·4, channels last) and `scalars` (4).
 */
export function encodeView(v: VbrView, spec: FeatureSpec, grid: Float32Array, scalars: Float32Array, gridOffset = 0, scalarOffset = 0): void {
  const { picture, origin, box, point } = v;
  const S = spec.size;
  const bw = Math.max(1, box.x2 - box.x1);
  const bh = Math.max(1, box.y2 - box.y1);
  const vx = box.x1 - spec.margin * bw;
  const vy = box.y1 - spec.margin * bh;
  const cw = (bw * (1 + 2 * spec.margin)) / S;
  const ch = (bh * (1 + 2 * spec.margin)) / S;
  const pw = picture.width;
  const ph = picture.height;
  const data = picture.data;
  // Marker centre in grid cells (cell centres at i + 0.5).
  const mx = (point.x - vx) / cw;
  const my = (point.y - vy) / ch;
  const inv2s2 = 1 / (2 * spec.markerSigma * spec.markerSigma);
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let si = 0; si < SUB; si++) {
        const py = Math.floor(vy + (i + (si + 0.5) / SUB) * ch - origin.y);
        if (py < 0 || py >= ph) continue;
        for (let sj = 0; sj < SUB; sj++) {
          const px = Math.floor(vx + (j + (sj + 0.5) / SUB) * cw - origin.x);
          if (px < 0 || px >= pw) continue;
          const k = (py * pw + px) * 3;
          // Sum of (value/127.5 - 1): outside pixels add 0, i.e. mid-grey.
          r += data[k]! / 127.5 - 1;
          g += data[k + 1]! / 127.5 - 1;
          b += data[k + 2]! / 127.5 - 1;
        }
      }
      const o = gridOffset + (i * S + j) * CHANNELS;
      const n = SUB * SUB;
      grid[o] = r / n;
      grid[o + 1] = g / n;
      grid[o + 2] = b / n;
      const dx = j + 0.5 - mx;
      const dy = i + 0.5 - my;
      grid[o + 3] = Math.exp(-(dx * dx + dy * dy) * inv2s2);
    }
  }
  scalars[scalarOffset] = (point.x - box.x1) / bw;
  scalars[scalarOffset + 1] = (point.y - box.y1) / bh;
  scalars[scalarOffset + 2] = Math.log(bw / bh);
  scalars[scalarOffset + 3] = Math.sqrt((bw * bh) / Math.max(1, v.width * v.height));
}

/**
 * Apply one of the 8 symmetries of the square (bit 0: mirror left-right, bit 1: flip up-down,
 * bit 2: transpose) to an encoded sample in place, scalars included. Whether a point lies on an
 * object does not change under any of them, so they are free training data.
 */
export function transformEncoded(grid: Float32Array, scalars: Float32Array, size: number, t: number, gridOffset = 0, scalarOffset = 0): void {
  if (t === 0) return;
  const per = size * size * CHANNELS;
  const src = grid.slice(gridOffset, gridOffset + per);
  const mirror = (t & 1) !== 0;
  const flip = (t & 2) !== 0;
  const transpose = (t & 4) !== 0;
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      // Output (i, j) takes the input cell that the transform maps onto it.
      let si = transpose ? j : i;
      let sj = transpose ? i : j;
      if (flip) si = size - 1 - si;
      if (mirror) sj = size - 1 - sj;
      const o = gridOffset + (i * size + j) * CHANNELS;
      const k = (si * size + sj) * CHANNELS;
      for (let c = 0; c < CHANNELS; c++) grid[o + c] = src[k + c]!;
    }
  }
  let u = scalars[scalarOffset]!;
  let v = scalars[scalarOffset + 1]!;
  if (transpose) {
    [u, v] = [v, u];
    scalars[scalarOffset + 2] = -scalars[scalarOffset + 2]!;
  }
  if (flip) v = 1 - v;
  if (mirror) u = 1 - u;
  scalars[scalarOffset] = u;
  scalars[scalarOffset + 1] = v;
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
