/**
 * COCO mask formats, bit-exact with pycocotools (common/maskApi.c).
 *
 * RLE runs alternate 0s and 1s, starting with 0s, over the mask read in column-major order
 * (index x * h + y). Our masks are row-major, so every conversion transposes on the fly.
 */
import { InputError } from "./errors.js";
import type { Mask } from "./types.js";

/** `{size: [h, w], counts}` with counts compressed (string) as pycocotools writes them. */
export interface CompressedRle {
  size: [number, number];
  counts: string;
}

/** `{size: [h, w], counts}` with counts as plain run lengths, as in COCO's iscrowd annotations. */
export interface UncompressedRle {
  size: [number, number];
  counts: number[];
}

export type Rle = CompressedRle | UncompressedRle;

/** Run lengths of a mask (nonzero = 1), column-major, starting with a run of zeros. */
export function maskToCounts(mask: Mask): number[] {
  const { width: w, height: h, data } = mask;
  const counts: number[] = [];
  let prev = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let i = x; i < h * w; i += w) {
      const v = data[i] !== 0 ? 1 : 0;
      if (v !== prev) {
        counts.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  counts.push(run);
  return counts;
}

/** pycocotools `rleToString`: deltas against counts[i-2] for i > 2, 5-bit LEB128-like, char + 48. */
export function countsToString(counts: readonly number[]): string {
  let out = "";
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    // pycocotools uses i > 2 (not i >= 2); keep its quirk, the strings must match byte for byte.
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      // Arithmetic shift on a signed value, as C's `long >>= 5`. Counts fit in 31 bits.
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** pycocotools `rleFrString`. `where` names the source in errors. */
export function stringToCounts(s: string, where = "rle.counts"): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new InputError(`compressed RLE string ends inside a value at char ${p}`, { field: where });
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new InputError(`invalid character ${JSON.stringify(s[p])} at char ${p} in compressed RLE`, { field: where });
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x -= 2 ** (5 * k);
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** Encode a mask as pycocotools does (`mask.encode`): compressed counts. */
export function rleEncode(mask: Mask): CompressedRle {
  checkMask(mask, "mask");
  return { size: [mask.height, mask.width], counts: countsToString(maskToCounts(mask)) };
}

function checkSize(size: unknown, where: string): [number, number] {
  if (!Array.isArray(size) || size.length !== 2 || !size.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new InputError(`expected size [h, w] of two non-negative integers, got ${JSON.stringify(size)}`, { field: `${where}.size` });
  }
  return [size[0] as number, size[1] as number];
}

/** Run lengths of an RLE, whichever way its counts are stored, checked against its size. */
export function rleCounts(rle: Rle, where = "rle"): number[] {
  const [h, w] = checkSize(rle.size, where);
  let counts: number[];
  if (typeof rle.counts === "string") counts = stringToCounts(rle.counts, `${where}.counts`);
  else if (Array.isArray(rle.counts)) counts = rle.counts;
  else throw new InputError(`expected counts as a string or a list of numbers, got ${typeof rle.counts}`, { field: `${where}.counts` });
  let total = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (!Number.isInteger(c) || c < 0) throw new InputError(`run ${i} is ${c}, expected a non-negative integer`, { field: `${where}.counts` });
    total += c;
  }
  if (total !== h * w) {
    throw new InputError(`runs sum to ${total} pixels but size ${h}x${w} has ${h * w}`, { field: `${where}.counts` });
  }
  return counts;
}

/** Decode an RLE (compressed or uncompressed counts) to a row-major 0/1 mask. */
export function rleDecode(rle: Rle, where = "rle"): Mask {
  const counts = rleCounts(rle, where);
  const [h, w] = rle.size;
  const data = new Uint8Array(h * w);
  let pos = 0; // column-major position
  let v = 0;
  for (const c of counts) {
    if (v === 1) {
      for (let k = pos; k < pos + c; k++) {
        const x = Math.floor(k / h);
        data[(k - x * h) * w + x] = 1;
      }
    }
    pos += c;
    v ^= 1;
  }
  return { width: w, height: h, data };
}

/** Number of foreground pixels of an RLE (pycocotools `area`). */
export function rleArea(rle: Rle): number {
  const counts = rleCounts(rle);
  let a = 0;
  for (let i = 1; i < counts.length; i += 2) a += counts[i]!;
  return a;
}

/** pycocotools `toBbox`: [x, y, w, h] of the foreground, zeros when empty (a direct port, quirks included). */
export function rleToBbox(rle: Rle): [number, number, number, number] {
  return countsToBbox(rleCounts(rle), rle.size[0]);
}

/** `toBbox` on column-major run lengths of a mask of height h. */
export function countsToBbox(counts: readonly number[], h: number): [number, number, number, number] {
  const m = Math.floor(counts.length / 2) * 2;
  if (m === 0) return [0, 0, 0, 0];
  let xs = Infinity;
  let ys = Infinity;
  let xe = 0;
  let ye = 0;
  let cc = 0;
  let xp = 0;
  for (let j = 0; j < m; j++) {
    cc += counts[j]!;
    const t = cc - (j % 2);
    const y = t % h;
    const x = (t - y) / h;
    if (j % 2 === 0) xp = x;
    else if (xp < x) {
      ys = 0;
      ye = h - 1;
    }
    xs = Math.min(xs, x);
    xe = Math.max(xe, x);
    ys = Math.min(ys, y);
    ye = Math.max(ye, y);
  }
  return [xs, ys, xe - xs + 1, ye - ys + 1];
}

function checkPolygon(poly: readonly number[], where: string): void {
  if (!Array.isArray(poly)) throw new InputError(`expected a flat list [x1, y1, x2, y2, ...], got ${typeof poly}`, { field: where });
  if (poly.length % 2 !== 0) throw new InputError(`polygon has an odd number of coordinates (${poly.length}); expected x, y pairs`, { field: where });
  if (poly.length < 6) throw new InputError(`polygon has ${poly.length / 2} point(s); at least 3 are needed`, { field: where });
  for (let i = 0; i < poly.length; i++) {
    if (!Number.isFinite(poly[i])) throw new InputError(`coordinate ${i} is ${poly[i]}, expected a finite number`, { field: where });
  }
}

const INT_MIN = -2147483648;

/** C's `(int)` of a double: truncation toward zero; NaN becomes INT_MIN as on x86 (cvttsd2si). */
function cInt(v: number): number {
  if (Number.isNaN(v)) return INT_MIN;
  return Math.trunc(v);
}

/**
 * pycocotools `rleFrPoly`: rasterise one polygon (flat [x1, y1, x2, y2, ...]) to run lengths.
 * A port of the C algorithm step by step, including its integer truncations, so that the
 * result matches pycocotools pixel for pixel.
 */
export function polygonToCounts(xy: readonly number[], h: number, w: number, where = "polygon"): number[] {
  checkPolygon(xy, where);
  // The rasteriser walks every edge pixel by pixel: a vertex at 1e9 would take gigabytes (pycocotools
  // too). Vertices may stray past the border (they are clipped), but not by more than a side.
  const margin = Math.max(h, w, 1);
  for (let i = 0; i < xy.length; i++) {
    const v = xy[i]!;
    const [lo, hi] = i % 2 === 0 ? [-margin, w + margin] : [-margin, h + margin];
    if (v < lo || v > hi) throw new InputError(`coordinate ${i} (${i % 2 === 0 ? "x" : "y"}) is ${v}, far outside the ${w}x${h} image (more than ${margin} px beyond it)`, { field: where });
  }
  const scale = 5;
  const k = xy.length / 2;
  const x = new Array<number>(k + 1);
  const y = new Array<number>(k + 1);
  for (let j = 0; j < k; j++) x[j] = cInt(scale * xy[2 * j]! + 0.5);
  for (let j = 0; j < k; j++) y[j] = cInt(scale * xy[2 * j + 1]! + 0.5);
  x[k] = x[0]!;
  y[k] = y[0]!;
  // Upsampled boundary points, densely along every edge.
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = x[j]!;
    let xe = x[j + 1]!;
    let ys = y[j]!;
    let ye = y[j + 1]!;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u.push(t + xs);
        v.push(cInt(ys + s * t + 0.5));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v.push(t + ys);
        u.push(cInt(xs + s * t + 0.5));
      }
    }
  }
  // Points where the boundary crosses a column centre, downsampled back to pixel units.
  const starts: number[] = [];
  for (let j = 1; j < u.length; j++) {
    const uj = u[j]!;
    const up = u[j - 1]!;
    if (uj === up) continue;
    let xd = uj < up ? uj : uj - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    const vj = v[j]!;
    const vp = v[j - 1]!;
    let yd = vj < vp ? vj : vp;
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    starts.push(xd * h + yd);
  }
  // The sorted crossings are run boundaries; empty runs merge into their predecessor.
  starts.push(h * w);
  // C sorts unsigned 32-bit values; ours are non-negative already.
  starts.sort((a, b) => a - b);
  let p = 0;
  for (let j = 0; j < starts.length; j++) {
    const t = starts[j]!;
    starts[j] = t - p;
    p = t;
  }
  const counts: number[] = [starts[0]!];
  let j = 1;
  while (j < starts.length) {
    if (starts[j]! > 0) counts.push(starts[j++]!);
    else {
      j++;
      if (j < starts.length) counts[counts.length - 1]! += starts[j++]!;
    }
  }
  return counts;
}

/** Union (or intersection) of several RLEs of the same size, pycocotools `merge`. */
export function mergeCounts(all: readonly (readonly number[])[], h: number, w: number, intersect = false): number[] {
  if (all.length === 0) return [h * w];
  const acc = new Uint8Array(h * w);
  for (const counts of all) {
    let pos = 0;
    let v = 0;
    for (const c of counts) {
      if (v === 1) for (let k = pos; k < pos + c; k++) acc[k]! += 1;
      pos += c;
      v ^= 1;
    }
  }
  const need = intersect ? all.length : 1;
  const out: number[] = [];
  let prev = 0;
  let run = 0;
  for (let k = 0; k < h * w; k++) {
    const b = acc[k]! >= need ? 1 : 0;
    if (b !== prev) {
      out.push(run);
      run = 0;
      prev = b;
    }
    run++;
  }
  out.push(run);
  return out;
}

/** Column-major run lengths to a row-major mask, without the checks (internal, trusted input). */
function countsToMask(counts: readonly number[], h: number, w: number): Mask {
  return rleDecode({ size: [h, w], counts: counts as number[] });
}

/**
 * Rasterise polygons the way COCO ground truth is built: `frPyObjects(polys, h, w)` then the
 * union of the per-polygon masks (what `annToMask` and REFER's `getMask` do).
 */
export function polygonsToMask(polygons: readonly (readonly number[])[], height: number, width: number, where = "segmentation"): Mask {
  checkSize([height, width], where);
  if (!Array.isArray(polygons) || polygons.length === 0) throw new InputError("expected a non-empty list of polygons", { field: where });
  const parts = polygons.map((poly, i) => polygonToCounts(poly, height, width, `${where}[${i}]`));
  const counts = parts.length === 1 ? parts[0]! : mergeCounts(parts, height, width);
  return countsToMask(counts, height, width);
}

/** pycocotools `frBbox`: a box [x, y, w, h] rasterised as the polygon of its corners. */
export function bboxToCounts(bb: readonly number[], h: number, w: number): number[] {
  const [x = 0, y = 0, bw = 0, bh = 0] = bb;
  const xe = x + bw;
  const ye = y + bh;
  return polygonToCounts([x, y, x, ye, xe, ye, xe, y], h, w, "bbox");
}

/** A COCO `segmentation` value: polygons, an RLE object (compressed or not), or a bbox. */
export type Segmentation = number[][] | Rle | number[];

/**
 * Run lengths of a COCO segmentation, following `frPyObjects` + `merge`: a list of lists is
 * polygons (a 4-long first list is read as bboxes, as pycocotools does), a flat list of 4 numbers
 * is a bbox, a longer flat list one polygon, an object with size/counts is RLE (compressed or not).
 */
export function segmentationToCounts(seg: Segmentation | unknown, height: number, width: number, where = "segmentation"): number[] {
  checkSize([height, width], where);
  if (Array.isArray(seg)) {
    if (seg.length === 0) throw new InputError("empty segmentation list", { field: where });
    if (Array.isArray(seg[0])) {
      const polys = seg as number[][];
      const parts = polys[0]!.length === 4 ? polys.map((b) => bboxToCounts(b, height, width)) : polys.map((poly, i) => polygonToCounts(poly, height, width, `${where}[${i}]`));
      return parts.length === 1 ? parts[0]! : mergeCounts(parts, height, width);
    }
    const flat = seg as number[];
    return flat.length === 4 ? bboxToCounts(flat, height, width) : polygonToCounts(flat, height, width, where);
  }
  if (seg && typeof seg === "object" && "counts" in seg && "size" in seg) {
    const rle = seg as Rle;
    const [h, w] = checkSize(rle.size, where);
    if (h !== height || w !== width) {
      throw new InputError(`RLE size [${h}, ${w}] does not match the image [${height}, ${width}]`, { field: `${where}.size` });
    }
    return rleCounts(rle, where);
  }
  throw new InputError(`expected polygons, RLE {size, counts} or a bbox, got ${JSON.stringify(seg).slice(0, 80)}`, { field: where });
}

/** The mask of a COCO segmentation (see `segmentationToCounts`). */
export function segmentationToMask(seg: Segmentation, height: number, width: number, where = "segmentation"): Mask {
  return countsToMask(segmentationToCounts(seg, height, width, where), height, width);
}

function checkMask(mask: Mask, where: string): void {
  if (!mask || !(mask.data instanceof Uint8Array)) throw new InputError("expected {width, height, data: Uint8Array}", { field: where });
  if (mask.data.length !== mask.width * mask.height) {
    throw new InputError(`data has ${mask.data.length} values but ${mask.width}x${mask.height} needs ${mask.width * mask.height}`, { field: where });
  }
}
