import { InputError, type Box, type Point } from "@resagent/core";
import type { ImageSize } from "./types.js";

/**
 * Check and clip a sampling box. Documented clamp: a box partly outside the image is clipped
 * to it; a box with no area inside the image, a non-finite coordinate, or zero width/height is an error.
 */
export function prepareBox(box: Box, image?: ImageSize): Box {
  for (const k of ["x1", "y1", "x2", "y2"] as const) {
    if (!Number.isFinite(box[k])) throw new InputError(`box.${k} is ${box[k]}, expected a finite number`, { field: "box" });
  }
  let b: Box = { x1: Math.min(box.x1, box.x2), y1: Math.min(box.y1, box.y2), x2: Math.max(box.x1, box.x2), y2: Math.max(box.y1, box.y2) };
  if (image) {
    b = { x1: Math.max(0, b.x1), y1: Math.max(0, b.y1), x2: Math.min(image.width, b.x2), y2: Math.min(image.height, b.y2) };
    if (b.x2 <= b.x1 || b.y2 <= b.y1) {
      throw new InputError(`box [${box.x1}, ${box.y1}, ${box.x2}, ${box.y2}] has no area inside the ${image.width}x${image.height} image`, { field: "box" });
    }
  }
  if (b.x2 - b.x1 <= 0 || b.y2 - b.y1 <= 0) {
    throw new InputError(`box [${box.x1}, ${box.y1}, ${box.x2}, ${box.y2}] has zero area; expected x2 > x1 and y2 > y1`, { field: "box" });
  }
  return b;
}

export function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw new InputError(`candidate budget K must be a non-negative integer, got ${k}`, { field: "sampler.k" });
}

/**
 * Keep a point strictly inside the box's pixels: x1 <= x < x2, so floor(x) is a pixel of the box.
 * (Spirals with linear growth end exactly on the edge.)
 */
export function insideBox(p: Point, b: Box): Point {
  const ex = Math.min(1e-6 * (b.x2 - b.x1), 1e-6);
  const ey = Math.min(1e-6 * (b.y2 - b.y1), 1e-6);
  return { x: Math.min(b.x2 - ex, Math.max(b.x1, p.x)), y: Math.min(b.y2 - ey, Math.max(b.y1, p.y)) };
}

/** Box-normalised coordinates: centre (0, 0), edges at ±1. */
export function normalise(p: Point, b: Box): Point {
  const cx = (b.x1 + b.x2) / 2;
  const cy = (b.y1 + b.y2) / 2;
  return { x: (p.x - cx) / ((b.x2 - b.x1) / 2), y: (p.y - cy) / ((b.y2 - b.y1) / 2) };
}

/** Superellipse "radius" of a point: (|u|^n + |v|^n)^(1/n) in box-normalised coordinates. */
export function superellipseRadius(p: Point, b: Box, exponent = 5): number {
  const q = normalise(p, b);
  return (Math.abs(q.x) ** exponent + Math.abs(q.y) ** exponent) ** (1 / exponent);
}
