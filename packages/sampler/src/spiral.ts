import type { Box, Point, RandomStream } from "@resagent/core";
import { Lru } from "@resagent/core";
import { entropyScore } from "./entropy.js";
import { checkK, insideBox, prepareBox } from "./geometry.js";
import { mergeQueues } from "./merge.js";
import { DIRECTIONS, END_POINTS, type Direction, type EndPoint, type SpiralParams } from "./params.js";
import type { Candidates, ImageSize, Sampler } from "./types.js";

/** End-point angles in image coordinates (y grows downwards, so "top" is 3π/2). */
const END_ANGLE: Record<EndPoint, number> = { right: 0, bottom: Math.PI / 2, left: Math.PI, top: (3 * Math.PI) / 2 };

/**
 * The spiral in box-normalised coordinates (u, v in [-1, 1]). It depends only on the shape
 * parameters and the configuration, not on the box, so it is computed once per configuration.
 */
export function normalisedSpiral(p: SpiralParams, direction: Direction, end: EndPoint): { u: Float64Array; v: Float64Array } {
  const n = p.points;
  const u = new Float64Array(n);
  const v = new Float64Array(n);
  const span = p.turns * 2 * Math.PI;
  // Visual clockwise in image coordinates is increasing θ (y points down).
  const sign = direction === "cw" ? 1 : -1;
  const last = sign * span;
  const mod = ((last % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  const rot = END_ANGLE[end] - mod;
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : i / (n - 1);
    const theta = sign * t * span + rot;
    const r = p.growth === "sigmoid" ? 1 / (1 + Math.exp(-p.steepness * (t - p.midpoint))) : t;
    let x = r * Math.cos(theta);
    let y = r * Math.sin(theta);
    if (x !== 0 && y !== 0) {
      // Rescale so the point lies on the superellipse of "radius" r.
      const norm = (Math.abs(x) ** p.exponent + Math.abs(y) ** p.exponent) ** (1 / p.exponent);
      const s = r / norm;
      x *= s;
      y *= s;
    }
    u[i] = x;
    v[i] = y;
  }
  return { u, v };
}

interface Track {
  x: Float64Array; // relative to the box centre, pixels
  y: Float64Array;
  cum: Float64Array; // cumulative arc length
  coeff: Float64Array; // dynamic step coefficient per spiral point
  total: number;
}

/** Arc length and step coefficients of the spiral scaled to a box of semi-axes a, b. */
function buildTrack(spiral: { u: Float64Array; v: Float64Array }, a: number, b: number, p: SpiralParams): Track {
  const n = spiral.u.length;
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    x[i] = a * spiral.u[i]!;
    y[i] = b * spiral.v[i]!;
    minX = Math.min(minX, x[i]!);
    maxX = Math.max(maxX, x[i]!);
    minY = Math.min(minY, y[i]!);
    maxY = Math.max(maxY, y[i]!);
  }
  const cum = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    const dx = x[i]! - x[i - 1]!;
    const dy = y[i]! - y[i - 1]!;
    cum[i] = cum[i - 1]! + Math.sqrt(dx * dx + dy * dy);
  }
  // Radial distance from the spiral's own centre, min-max normalised, and its numerical gradient.
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const rad = new Float64Array(n);
  let rmin = Infinity;
  let rmax = -Infinity;
  for (let i = 0; i < n; i++) {
    rad[i] = Math.sqrt((x[i]! - cx) ** 2 + (y[i]! - cy) ** 2);
    rmin = Math.min(rmin, rad[i]!);
    rmax = Math.max(rmax, rad[i]!);
  }
  for (let i = 0; i < n; i++) rad[i] = (rad[i]! - rmin) / (rmax - rmin + 1e-10);
  const grad = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    // Central differences inside, one-sided at the ends (numpy.gradient).
    grad[i] = n < 2 ? 0 : i === 0 ? rad[1]! - rad[0]! : i === n - 1 ? rad[i]! - rad[i - 1]! : (rad[i + 1]! - rad[i - 1]!) / 2;
  }
  let gmin = Infinity;
  let gmax = -Infinity;
  for (let i = 0; i < n; i++) {
    gmin = Math.min(gmin, grad[i]!);
    gmax = Math.max(gmax, grad[i]!);
  }
  const coeff = new Float64Array(n);
  const span = p.coeffMax - p.coeffMin;
  for (let i = 0; i < n; i++) {
    const g = (grad[i]! - gmin) / (gmax - gmin + 1e-10);
    coeff[i] = p.densify === "fast-growth" ? p.coeffMax - span * g : p.coeffMin + span * g;
  }
  return { x, y, cum, coeff, total: cum[n - 1]! };
}

/** Leftmost index i with cum[i] >= d (numpy.searchsorted, side="left"). */
function searchsorted(cum: Float64Array, d: number): number {
  let lo = 0;
  let hi = cum.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid]! < d) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Arc-length positions of the samples: random start, dynamic steps, jitter (§6.1.2). */
function samplePositions(track: Track, step: number, p: SpiralParams, rng: RandomStream): number[] {
  const { cum, coeff, total } = track;
  const start = rng.uniform(0, step);
  let base: number[] = [];
  for (let d = start; d <= total; ) {
    base.push(d);
    const idx = Math.min(searchsorted(cum, d), coeff.length - 1);
    d += Math.max(step * coeff[idx]!, step * 0.1);
  }
  if (base.length < 2) base = [Math.min(start, total), total];
  if (p.jitter <= 0) return base;
  const amp = step * p.jitter;
  const out = base.map((b) => b + rng.uniform(-amp, amp));
  out.sort((a, b) => a - b);
  return out.map((d) => Math.min(total, Math.max(0, d)));
}

function interpolate(track: Track, d: number): Point {
  const { cum, x, y } = track;
  const i = Math.min(Math.max(searchsorted(cum, d), 1), cum.length - 1);
  const seg = cum[i]! - cum[i - 1]!;
  const f = seg > 0 ? (d - cum[i - 1]!) / seg : 0;
  return { x: x[i - 1]! + f * (x[i]! - x[i - 1]!), y: y[i - 1]! + f * (y[i]! - y[i - 1]!) };
}

/** The samples of one call along with the spiral it walked (for plots such as Fig. 4). */
export interface SpiralDraw {
  box: Box;
  direction: Direction;
  end: EndPoint;
  /** All samples in spiral order (centre outwards), image pixels. */
  samples: Point[];
  /** The spiral itself in image pixels (every `stride`-th point). */
  path(stride?: number): Point[];
}

export class SpiralSampler implements Sampler {
  readonly name = "ebd-spiral";
  readonly params: SpiralParams;
  private readonly spirals = new Map<string, { u: Float64Array; v: Float64Array }>();
  // Sweeps revisit the same boxes, and the track is the costly part of a call.
  private readonly tracks = new Lru<Track>(256);

  /** `params` as parsed by SpiralParamsSchema (parseSpiralParams, or a loaded config's `sampler.params`). */
  constructor(params: SpiralParams) {
    this.params = params;
  }

  describe(): string {
    const p = this.params;
    const rank = { spiral: "queues by spiral position (authors' code)", entropy: "queues by spiral position, re-ranked by entropy", "entropy-topk": "top-K by entropy in each queue's half (paper §3.3)" }[p.rank];
    return `ebd-spiral (${p.queues === "independent" ? "one draw per queue" : "one draw split into the two queues"}; ${rank}; densify ${p.densify})`;
  }

  /** Draw the samples for a box (no queue split); exposed for plotting and analysis. */
  draw(box: Box, rng: RandomStream, image?: ImageSize): SpiralDraw {
    const p = this.params;
    const b = prepareBox(box, image);
    // Configuration first, so the draw sequence is the same whatever is fixed in config.
    const dirDraw = rng.choice(DIRECTIONS);
    const endDraw = rng.choice(END_POINTS);
    const direction = p.direction === "random" ? dirDraw : p.direction;
    const end = p.end === "random" ? endDraw : p.end;
    const key = `${direction}/${end}`;
    let spiral = this.spirals.get(key);
    if (!spiral) this.spirals.set(key, (spiral = normalisedSpiral(p, direction, end)));
    const a = (b.x2 - b.x1) / 2;
    const bb = (b.y2 - b.y1) / 2;
    const tkey = `${key}/${a}/${bb}`;
    let track = this.tracks.get(tkey);
    if (!track) this.tracks.set(tkey, (track = buildTrack(spiral, a, bb, p)));
    const step = p.stepScale * Math.max(b.x2 - b.x1, b.y2 - b.y1);
    const cx = (b.x1 + b.x2) / 2;
    const cy = (b.y1 + b.y2) / 2;
    const samples = samplePositions(track, step, p, rng).map((d) => {
      const q = interpolate(track, d);
      return insideBox({ x: cx + q.x, y: cy + q.y }, b);
    });
    const t = track;
    return {
      box: b,
      direction,
      end,
      samples,
      path: (stride = 4) => {
        const out: Point[] = [];
        for (let i = 0; i < t.x.length; i += stride) out.push({ x: cx + t.x[i]!, y: cy + t.y[i]! });
        return out;
      },
    };
  }

  sample(box: Box, k: number, rng: RandomStream, image?: ImageSize): Candidates {
    checkK(k);
    if (this.params.queues === "split") {
      // One draw: the external queue from its start, the internal queue from its end.
      const d = this.draw(box, rng, image);
      const half = Math.ceil(d.samples.length / 2);
      return this.queues(d.box, this.pick(d, k, "external", half), this.pick(d, k, "internal", half), { direction: d.direction, end: d.end, samples: d.samples.length });
    }
    // One draw per queue, each from its own stream (as the authors call the generator once per queue).
    const e = this.draw(box, rng.fork("external"), image);
    const i = this.draw(box, rng.fork("internal"), image);
    const info = { direction: e.direction, end: e.end, samples: e.samples.length, internalDirection: i.direction, internalEnd: i.end, internalSamples: i.samples.length };
    return this.queues(e.box, this.pick(e, k, "external", Math.ceil(e.samples.length / 2)), this.pick(i, k, "internal", Math.ceil(i.samples.length / 2)), info);
  }

  /**
   * The pool a ranking picks from: each queue's half of its draw (external: the centre half in
   * spiral order; internal: the boundary half from the end), so a ranking keeps the queue roles.
   * One draw gives about half its samples to each queue, fewer than a pool of several K; further
   * draws (own configuration, start and jitter, from forks of the stream) add theirs until each
   * queue has n. The first draw is the one `sample` makes, so a pool starts with the spiral's own
   * queue (while K is at most the half).
   */
  pool(box: Box, n: number, rng: RandomStream, image?: ImageSize): Candidates {
    checkK(n);
    const external: Point[] = [];
    const internal: Point[] = [];
    let first: SpiralDraw | undefined;
    let firstInternal: SpiralDraw | undefined;
    // Each draw adds at least one point to each queue, so n draws always fill the pool.
    for (let d = 0; d < n && (external.length < n || internal.length < n); d++) {
      const tag = d === 0 ? "" : `/pool${d}`;
      const e = this.params.queues === "split" ? this.draw(box, d === 0 ? rng : rng.fork(`pool${d}`), image) : this.draw(box, rng.fork(`external${tag}`), image);
      const i = this.params.queues === "split" ? e : this.draw(box, rng.fork(`internal${tag}`), image);
      first ??= e;
      firstInternal ??= i;
      external.push(...e.samples.slice(0, Math.ceil(e.samples.length / 2)));
      internal.push(...i.samples.slice(Math.ceil(i.samples.length / 2)).reverse());
    }
    const b = first?.box ?? prepareBox(box, image);
    const info: Record<string, string | number> = first ? { direction: first.direction, end: first.end, samples: first.samples.length, internalDirection: firstInternal!.direction, internalEnd: firstInternal!.end } : { samples: 0 };
    return this.queues(b, external.slice(0, n), internal.slice(0, n), info);
  }

  /**
   * A queue's K points from a draw (samples ordered centre -> boundary). `half` is where the
   * boundary half starts (entropy-topk draws from the queue's half only, so a split draw's two
   * queues stay disjoint).
   */
  private pick(d: SpiralDraw, k: number, queue: "external" | "internal", half: number): Point[] {
    const s = d.samples;
    const byH = (pts: Point[]) =>
      pts
        .map((pt, order) => [pt, entropyScore(pt, d.box, this.params.membership), order] as const)
        .sort((x, y) => y[1] - x[1] || x[2] - y[2])
        .map(([pt]) => pt);
    if (this.params.rank === "entropy-topk") return byH(queue === "external" ? s.slice(0, half) : s.slice(half).reverse()).slice(0, k);
    const chosen = queue === "external" ? s.slice(0, k) : s.slice().reverse().slice(0, k);
    return this.params.rank === "entropy" ? byH(chosen) : chosen;
  }

  private queues(box: Box, external: Point[], internal: Point[], info: Record<string, string | number>): Candidates {
    return { external, internal, ordered: mergeQueues(external, internal, this.params.merge, box, this.params.membership), info };
  }
}
