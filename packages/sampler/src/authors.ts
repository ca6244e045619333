import { InputError, type Box, type Point, type RandomStream } from "@resagent/core";
import type { ImageSize } from "./types.js";

/**
 * Candidate helpers of the authors' final eval script
 * (`sam2/resagent_full_eval_point_strategies_final.py`): its pixel de-duplication and its random
 * point strategy. Written from the script's rules; the tests replay its functions' values.
 */

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `dedupe_points`: each point clipped to the image's last pixel, then dropped when its rounded
 * pixel was already taken; order kept. The script applies it to every strategy's queues (the
 * spiral's too), so a queue can come out shorter than asked.
 */
export function dedupePixels(points: readonly Point[], width: number, height: number): Point[] {
  const seen = new Set<string>();
  const out: Point[] = [];
  for (const p of points) {
    const x = Math.min(Math.max(p.x, 0), width - 1);
    const y = Math.min(Math.max(p.y, 0), height - 1);
    const key = `${roundHalfEven(x)},${roundHalfEven(y)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ x, y });
  }
  return out;
}

/** numpy.linspace(a, b, n): i·step + a, the last exactly b. */
function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  const step = (b - a) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : i * step + a));
}

const inside = (p: Point, b: Box) => b.x1 <= p.x && p.x <= b.x2 && b.y1 <= p.y && p.y <= b.y2;

/**
 * `sample_points_uniform_in_box`: integer pixels uniform over the box's pixel span (floor of the
 * left/top edge to ceil of the right/bottom edge, within the image), every x drawn before every
 * y, de-duplicated.
 */
function uniformPixels(b: Box, n: number, s: ImageSize, rng: RandomStream): Point[] {
  if (n <= 0) return [];
  const clamp = (v: number, hi: number) => Math.trunc(Math.max(0, Math.min(hi - 1, v)));
  const x1 = clamp(Math.floor(b.x1), s.width);
  let x2 = clamp(Math.ceil(b.x2), s.width);
  const y1 = clamp(Math.floor(b.y1), s.height);
  let y2 = clamp(Math.ceil(b.y2), s.height);
  if (x2 <= x1) x2 = Math.min(s.width - 1, x1 + 1);
  if (y2 <= y1) y2 = Math.min(s.height - 1, y1 + 1);
  const xs = Array.from({ length: n }, () => x1 + rng.int(x2 - x1 + 1));
  const ys = Array.from({ length: n }, () => y1 + rng.int(y2 - y1 + 1));
  return dedupePixels(xs.map((x, i) => ({ x, y: ys[i]! })), s.width, s.height);
}

/**
 * `build_grid_points_outside_box`: points along the four sides of the box grown by `expand` of its
 * size (at least 2 px), clipped to the image, top and bottom rows then left and right columns, the
 * ones inside the box dropped, de-duplicated, the first n.
 */
export function gridOutsideBox(b: Box, n: number, s: ImageSize, expand: number): Point[] {
  if (n <= 0) return [];
  const bw = Math.max(1, b.x2 - b.x1);
  const bh = Math.max(1, b.y2 - b.y1);
  const mx = Math.max(2, bw * expand);
  const my = Math.max(2, bh * expand);
  const top = Math.max(0, b.y1 - my);
  const bottom = Math.min(s.height - 1, b.y2 + my);
  const left = Math.max(0, b.x1 - mx);
  const right = Math.min(s.width - 1, b.x2 + mx);
  const per = Math.max(1, Math.ceil(n / 4));
  const xs = linspace(left, right, per);
  const ys = linspace(top, bottom, per);
  const pts = [...xs.map((x) => ({ x, y: top })), ...xs.map((x) => ({ x, y: bottom })), ...ys.map((y) => ({ x: left, y })), ...ys.map((y) => ({ x: right, y }))];
  return dedupePixels(
    pts.filter((p) => !inside(p, b)),
    s.width,
    s.height,
  ).slice(0, n);
}

/**
 * `sample_points_random_outside_box`: uniform in the box grown by `expand` of its size (clipped to
 * the image), points inside the box rejected, at most max(64, 40 n) tries; what is missing comes
 * from `gridOutsideBox`; de-duplicated, the first n.
 */
function uniformOutside(b: Box, n: number, s: ImageSize, rng: RandomStream, expand: number): Point[] {
  if (n <= 0) return [];
  const bw = Math.max(1, b.x2 - b.x1);
  const bh = Math.max(1, b.y2 - b.y1);
  const ex1 = Math.max(0, b.x1 - bw * expand);
  const ey1 = Math.max(0, b.y1 - bh * expand);
  const ex2 = Math.min(s.width - 1, b.x2 + bw * expand);
  const ey2 = Math.min(s.height - 1, b.y2 + bh * expand);
  const pts: Point[] = [];
  const tries = Math.max(64, n * 40);
  for (let t = 0; pts.length < n && t < tries; t++) {
    const p = { x: rng.uniform(ex1, ex2), y: rng.uniform(ey1, ey2) };
    if (!inside(p, b)) pts.push(p);
  }
  if (pts.length < n) pts.push(...gridOutsideBox(b, n - pts.length, s, expand));
  return dedupePixels(pts, s.width, s.height).slice(0, n);
}

/**
 * The final script's random strategy (`build_candidates_by_strategy("random")`): the internal
 * queue as integer pixels inside the box (topped up once when duplicates removed some), then the
 * external queue outside the box within `expand` of its size. Both from the one stream, in that
 * order, as the script draws both from one per-ref generator.
 */
export function finalRandomCandidates(box: Box, internal: number, external: number, image: ImageSize, rng: RandomStream, expand = 0.25): { internal: Point[]; external: Point[] } {
  let ints = uniformPixels(box, internal, image, rng);
  if (ints.length < internal) ints = dedupePixels([...ints, ...uniformPixels(box, internal - ints.length, image, rng)], image.width, image.height).slice(0, internal);
  return { internal: ints, external: uniformOutside(box, external, image, rng, expand) };
}

/** What the authors' learned point strategy needs and this harness does not have. */
export const AUTHORS_LEARNED_MISSING =
  "the authors' learned point-usefulness scorer (final script --point_strategy learned, ckpt_useful_value_mix/best_epoch5.pt) was not released, so this row cannot run on real data; the embedded profile runs a labelled stand-in";

export function checkImage(image: ImageSize | undefined, sampler: string): ImageSize {
  if (!image) throw new InputError(`the ${sampler} sampler needs the image size (points outside the box are clipped to it)`, { field: "sampler" });
  return image;
}
