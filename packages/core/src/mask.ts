import { InputError } from "./errors.js";
import type { Box, Mask, Point } from "./types.js";

export function emptyMask(width: number, height: number): Mask {
  return { width, height, data: new Uint8Array(width * height) };
}

/** Throw a clear error unless `mask` is a well-formed mask, optionally of a given size. */
export function assertMask(mask: Mask, where = "mask", size?: { width: number; height: number }): void {
  if (!mask || typeof mask !== "object" || !(mask.data instanceof Uint8Array)) {
    throw new InputError("expected a mask {width, height, data: Uint8Array}", { field: where });
  }
  if (!Number.isInteger(mask.width) || !Number.isInteger(mask.height) || mask.width < 0 || mask.height < 0) {
    throw new InputError(`width/height must be non-negative integers, got ${mask.width}x${mask.height}`, { field: where });
  }
  if (mask.data.length !== mask.width * mask.height) {
    throw new InputError(`data has ${mask.data.length} values but ${mask.width}x${mask.height} needs ${mask.width * mask.height}`, { field: where });
  }
  if (size && (size.width !== mask.width || size.height !== mask.height)) {
    throw new InputError(`mask is ${mask.width}x${mask.height} but ${size.width}x${size.height} was expected`, { field: where });
  }
}

/** Foreground pixel count (value 1; 255 "ignore" pixels are not foreground). */
export function maskArea(mask: Mask): number {
  let a = 0;
  const d = mask.data;
  for (let i = 0; i < d.length; i++) if (d[i] === 1) a++;
  return a;
}

/** Tight pixel box of the foreground as xyxy with exclusive x2/y2, or undefined when empty. */
export function maskBox(mask: Mask): Box | undefined {
  const { width: w, height: h, data } = mask;
  let x1 = w;
  let y1 = h;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (data[row + x] === 1) {
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        y2 = y;
      }
    }
  }
  return x2 < 0 ? undefined : { x1, y1, x2: x2 + 1, y2: y2 + 1 };
}

/** Intersection and union pixel counts of two same-size masks (nonzero = foreground). */
export function intersectionUnion(a: Mask, b: Mask): { intersection: number; union: number } {
  assertMask(b, "mask b", a);
  const da = a.data;
  const db = b.data;
  let i = 0;
  let u = 0;
  for (let k = 0; k < da.length; k++) {
    const x = da[k] !== 0;
    const y = db[k] !== 0;
    if (x && y) i++;
    if (x || y) u++;
  }
  return { intersection: i, union: u };
}

/** IoU of two same-size masks; two empty masks have IoU 1. */
export function maskIoU(a: Mask, b: Mask): number {
  const { intersection, union } = intersectionUnion(a, b);
  return union === 0 ? 1 : intersection / union;
}

/** Nearest-neighbour resize (sampling pixel centres), which keeps masks binary. */
export function resizeMask(mask: Mask, width: number, height: number): Mask {
  if (width === mask.width && height === mask.height) return { width, height, data: mask.data.slice() };
  const out = new Uint8Array(width * height);
  const sx = mask.width / width;
  const sy = mask.height / height;
  const xmap = new Int32Array(width);
  for (let x = 0; x < width; x++) xmap[x] = Math.min(mask.width - 1, Math.floor((x + 0.5) * sx));
  for (let y = 0; y < height; y++) {
    const srow = Math.min(mask.height - 1, Math.floor((y + 0.5) * sy)) * mask.width;
    const drow = y * width;
    for (let x = 0; x < width; x++) out[drow + x] = mask.data[srow + xmap[x]!]!;
  }
  return { width, height, data: out };
}

/** The box as a mask: pixels whose centres lie inside it. */
export function boxToMask(box: Box, width: number, height: number): Mask {
  const m = emptyMask(width, height);
  const x1 = Math.max(0, Math.round(box.x1));
  const x2 = Math.min(width, Math.round(box.x2));
  const y1 = Math.max(0, Math.round(box.y1));
  const y2 = Math.min(height, Math.round(box.y2));
  for (let y = y1; y < y2; y++) m.data.fill(1, y * width + x1, y * width + x2);
  return m;
}

/** The mask value under a point (the pixel containing it, clamped to the mask). */
export function maskValueAt(mask: Mask, p: Point): number {
  const x = Math.min(mask.width - 1, Math.max(0, Math.floor(p.x)));
  const y = Math.min(mask.height - 1, Math.max(0, Math.floor(p.y)));
  return mask.data[y * mask.width + x]!;
}
