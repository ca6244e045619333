import { resizeRgbFloat, type Point, type RgbImage } from "@resagent/core";
import type { Prompt } from "../types.js";

export const SAM_SIZE = 1024;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

/** Scale factors from image pixels to the 1024² model frame. */
export function modelScale(width: number, height: number, resize: "stretch" | "letterbox"): { sx: number; sy: number } {
  if (resize === "stretch") return { sx: SAM_SIZE / width, sy: SAM_SIZE / height };
  const s = SAM_SIZE / Math.max(width, height);
  return { sx: s, sy: s };
}

/**
 * The encoder input [1, 3, 1024, 1024]: RGB / 255, ImageNet mean/std, either stretched to 1024²
 * (native SAM2) or resized on its longest side and zero-padded bottom/right (letterbox).
 */
export function preprocessImage(img: RgbImage, resize: "stretch" | "letterbox"): Float32Array {
  const { sx, sy } = modelScale(img.width, img.height, resize);
  const w = resize === "stretch" ? SAM_SIZE : Math.max(1, Math.round(img.width * sx));
  const h = resize === "stretch" ? SAM_SIZE : Math.max(1, Math.round(img.height * sy));
  const rgb = resizeRgbFloat(img, w, h);
  const out = new Float32Array(3 * SAM_SIZE * SAM_SIZE);
  const plane = SAM_SIZE * SAM_SIZE;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const o = y * SAM_SIZE + x;
      out[o] = (rgb[i]! / 255 - MEAN[0]!) / STD[0]!;
      out[plane + o] = (rgb[i + 1]! / 255 - MEAN[1]!) / STD[1]!;
      out[2 * plane + o] = (rgb[i + 2]! / 255 - MEAN[2]!) / STD[2]!;
    }
  }
  return out;
}

/**
 * Prompt points in model space with SAM's labels: the box as two corners labelled 2 (top-left)
 * and 3 (bottom-right) first, then positives (1), negatives (0), then an optional padding point
 * (0, 0) labelled −1.
 */
export function encodePrompt(prompt: Prompt, width: number, height: number, resize: "stretch" | "letterbox", pad: boolean): { coords: Float32Array; labels: number[] } {
  const { sx, sy } = modelScale(width, height, resize);
  const pts: [Point, number][] = [
    [{ x: prompt.box.x1, y: prompt.box.y1 }, 2],
    [{ x: prompt.box.x2, y: prompt.box.y2 }, 3],
    ...prompt.positives.map((p): [Point, number] => [p, 1]),
    ...prompt.negatives.map((p): [Point, number] => [p, 0]),
  ];
  if (pad) pts.push([{ x: 0, y: 0 }, -1]);
  const coords = new Float32Array(2 * pts.length);
  pts.forEach(([p, label], i) => {
    coords[2 * i] = label === -1 ? 0 : p.x * sx;
    coords[2 * i + 1] = label === -1 ? 0 : p.y * sy;
  });
  return { coords, labels: pts.map(([, l]) => l) };
}

export type MultimaskMode = "stability" | "best" | "single";

/** SAM2's stability score: area(logits > δ) / area(logits > −δ) (1 when both are empty). */
export function stabilityScore(logits: Float32Array, offset: number, size: number, delta: number): number {
  let inner = 0;
  let outer = 0;
  for (let k = offset; k < offset + size; k++) {
    const v = logits[k]!;
    if (v > delta) inner++;
    if (v > -delta) outer++;
  }
  return outer > 0 ? inner / outer : 1;
}

/**
 * Which of the M output masks to use.
 * - M = 4 (single-mask token + 3 multimask): "single" takes 0; "best" the best of 1–3 by predicted
 *   IoU; "stability" takes 0 unless its stability score is below the threshold, then the best of 1–3 (SAM2).
 * - M = 3 (multimask only): "best" and "stability" take the highest predicted IoU, "single" takes 0.
 * - M = 1: mask 0.
 */
export function selectMask(logits: Float32Array, iou: ArrayLike<number>, m: number, mode: MultimaskMode, threshold: number, delta: number): number {
  const size = logits.length / m;
  const bestOf = (from: number) => {
    let best = from;
    for (let i = from + 1; i < m; i++) if (iou[i]! > iou[best]!) best = i;
    return best;
  };
  if (m === 1 || mode === "single") return 0;
  if (m === 4) {
    if (mode === "best") return bestOf(1);
    return stabilityScore(logits, 0, size, delta) >= threshold ? 0 : bestOf(1);
  }
  return bestOf(0);
}

/**
 * Logits of the chosen low-res mask, bilinearly resampled to the image (pixel-centre aligned, as
 * F.interpolate(align_corners=False)); for letterboxed inputs only the valid region is used.
 */
export function upsampleLogits(low: Float32Array, offset: number, lw: number, lh: number, width: number, height: number, resize: "stretch" | "letterbox"): Float32Array {
  const { sx, sy } = modelScale(width, height, resize);
  // image pixel -> low-res coordinate: (x + 0.5) * sx * (lw / 1024) - 0.5
  const kx = (sx * lw) / SAM_SIZE;
  const ky = (sy * lh) / SAM_SIZE;
  const out = new Float32Array(width * height);
  const xs0 = new Int32Array(width);
  const xs1 = new Int32Array(width);
  const tx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(lw - 1, Math.max(0, (x + 0.5) * kx - 0.5));
    xs0[x] = Math.floor(fx);
    xs1[x] = Math.min(lw - 1, xs0[x]! + 1);
    tx[x] = fx - xs0[x]!;
  }
  for (let y = 0; y < height; y++) {
    const fy = Math.min(lh - 1, Math.max(0, (y + 0.5) * ky - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(lh - 1, y0 + 1);
    const ty = fy - y0;
    const r0 = offset + y0 * lw;
    const r1 = offset + y1 * lw;
    for (let x = 0; x < width; x++) {
      const a = low[r0 + xs0[x]!]! + (low[r0 + xs1[x]!]! - low[r0 + xs0[x]!]!) * tx[x]!;
      const b = low[r1 + xs0[x]!]! + (low[r1 + xs1[x]!]! - low[r1 + xs0[x]!]!) * tx[x]!;
      out[y * width + x] = a + (b - a) * ty;
    }
  }
  return out;
}
