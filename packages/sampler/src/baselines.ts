import { InputError, type Box, type Point, type RandomStream } from "@resagent/core";
import { AUTHORS_LEARNED_MISSING, checkImage, finalRandomCandidates } from "./authors.js";
import { checkK, insideBox, normalise, prepareBox } from "./geometry.js";
import { mergeQueues } from "./merge.js";
import type { AuthorsLearnedParams, BaselineParams, RandomParams } from "./params.js";
import type { Candidates, ImageSize, MergeOrder, Sampler } from "./types.js";

/** Split points (ordered centre outwards) into the two queues the way the spiral does. */
function byRadius(points: Point[], box: Box, k: number, merge: MergeOrder): Candidates {
  const sorted = points
    .map((p) => {
      const q = normalise(p, box);
      return [p, Math.max(Math.abs(q.x), Math.abs(q.y))] as const;
    })
    .sort((a, b) => a[1] - b[1])
    .map(([p]) => p);
  const external = sorted.slice(0, k);
  const internal = sorted.slice().reverse().slice(0, k);
  return { external, internal, ordered: mergeQueues(external, internal, merge, box), info: { samples: points.length } };
}

abstract class Baseline implements Sampler {
  abstract readonly name: string;
  readonly params: BaselineParams;
  /** `params` as parsed by BaselineParamsSchema (parseBaselineParams, or a loaded config's `sampler.params`). */
  constructor(params: BaselineParams) {
    this.params = params;
  }
  abstract sample(box: Box, k: number, rng: RandomStream, image?: ImageSize): Candidates;
}

/**
 * Uniform random points. placement box: in the box, external = the first K drawn, internal = the
 * next K. placement final: see RandomParams.
 */
export class RandomSampler implements Sampler {
  readonly name = "random";
  /** `params` as parsed by RandomParamsSchema. */
  constructor(readonly params: RandomParams) {}
  describe(): string {
    return this.params.placement === "final" ? `random (the final script's: internal integer pixels in the box, external outside it within ${this.params.expand} of its size, de-duplicated)` : "random (uniform in the box)";
  }
  sample(box: Box, k: number, rng: RandomStream, image?: ImageSize): Candidates {
    checkK(k);
    const b = prepareBox(box, image);
    if (this.params.placement === "final") {
      const c = finalRandomCandidates(b, k, k, checkImage(image, "random (placement final)"), rng, this.params.expand);
      return { ...c, ordered: mergeQueues(c.external, c.internal, this.params.merge, b), info: { samples: c.internal.length + c.external.length } };
    }
    const draw = () => insideBox({ x: rng.uniform(b.x1, b.x2), y: rng.uniform(b.y1, b.y2) }, b);
    const external = Array.from({ length: k }, draw);
    const internal = Array.from({ length: k }, draw);
    return { external, internal, ordered: mergeQueues(external, internal, this.params.merge, b), info: { samples: 2 * k } };
  }

  /**
   * placement box: 2n uniform points, the centre-nearer half as the external queue, the rest
   * internal (each in draw order). placement final: its own queues of n (inside, outside the box).
   */
  pool(box: Box, n: number, rng: RandomStream, image?: ImageSize): Candidates {
    if (this.params.placement === "final") return this.sample(box, n, rng, image);
    checkK(n);
    const b = prepareBox(box, image);
    const pts = Array.from({ length: 2 * n }, () => insideBox({ x: rng.uniform(b.x1, b.x2), y: rng.uniform(b.y1, b.y2) }, b));
    return splitByRadius(pts, b, n, this.params.merge);
  }
}

/**
 * Split points into the two queues by distance from the box centre: the nearer half external, the
 * farther half internal, each in the order drawn (at most n each).
 */
function splitByRadius(points: Point[], box: Box, n: number, merge: MergeOrder): Candidates {
  const r = points.map((p) => {
    const q = normalise(p, box);
    return Math.max(Math.abs(q.x), Math.abs(q.y));
  });
  const order = points.map((_, i) => i).sort((a, b) => r[a]! - r[b]! || a - b);
  const near = new Set(order.slice(0, Math.ceil(points.length / 2)));
  const external = points.filter((_, i) => near.has(i)).slice(0, n);
  const internal = points.filter((_, i) => !near.has(i)).slice(0, n);
  return { external, internal, ordered: mergeQueues(external, internal, merge, box), info: { samples: points.length } };
}

/** A uniform lattice of ⌈√(2K)⌉² cell centres; queues split by distance from the centre. */
export class GridSampler extends Baseline {
  readonly name = "grid";
  sample(box: Box, k: number, _rng: RandomStream, image?: ImageSize): Candidates {
    checkK(k);
    const b = prepareBox(box, image);
    const n = Math.max(1, Math.ceil(Math.sqrt(2 * k)));
    const pts: Point[] = [];
    for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) pts.push(insideBox({ x: b.x1 + ((i + 0.5) * (b.x2 - b.x1)) / n, y: b.y1 + ((j + 0.5) * (b.y2 - b.y1)) / n }, b));
    return byRadius(k === 0 ? [] : pts, b, k, this.params.merge);
  }
}

/** The centre, then rings of 6, 12, 18... points at growing normalised radius. */
export class CenterSampler extends Baseline {
  readonly name = "center";
  sample(box: Box, k: number, _rng: RandomStream, image?: ImageSize): Candidates {
    checkK(k);
    const b = prepareBox(box, image);
    const cx = (b.x1 + b.x2) / 2;
    const cy = (b.y1 + b.y2) / 2;
    const pts: Point[] = k === 0 ? [] : [{ x: cx, y: cy }];
    // Enough rings for 2K points; radii spread over (0, 0.9] of the half-extent.
    let rings = 0;
    while (1 + 3 * rings * (rings + 1) < 2 * k) rings++;
    for (let j = 1; j <= rings; j++) {
      const r = (0.9 * j) / rings;
      for (let i = 0; i < 6 * j; i++) {
        const a = (2 * Math.PI * i) / (6 * j);
        pts.push(insideBox({ x: cx + r * Math.cos(a) * ((b.x2 - b.x1) / 2), y: cy + r * Math.sin(a) * ((b.y2 - b.y1) / 2) }, b));
      }
    }
    return byRadius(pts, b, k, this.params.merge);
  }
}

/**
 * The authors' learned point strategy (`--point_strategy learned --learned_base_strategy random`):
 * a random pool of K × poolScale per queue ranked by a learned usefulness scorer, the top K kept.
 */
export class AuthorsLearnedSampler implements Sampler {
  readonly name = "authors-learned";
  /** `params` as parsed by AuthorsLearnedParamsSchema. */
  constructor(readonly params: AuthorsLearnedParams) {}
  /** Before any work: the real scorer is not there. */
  check(): void {
    if (this.params.standIn === "none") throw new InputError(AUTHORS_LEARNED_MISSING, { field: "sampler" });
  }
  describe(): string {
    return this.params.standIn === "none"
      ? "the authors' learned point scorer (not released)"
      : `STAND-IN for the authors' learned point scorer: the first K of the final script's random pool of ${this.params.poolScale}K per queue, unscored`;
  }
  sample(box: Box, k: number, rng: RandomStream, image?: ImageSize): Candidates {
    this.check();
    checkK(k);
    const b = prepareBox(box, image);
    const n = k * this.params.poolScale;
    const pool = finalRandomCandidates(b, n, n, checkImage(image, "authors-learned"), rng, this.params.expand);
    const internal = pool.internal.slice(0, k);
    const external = pool.external.slice(0, k);
    return { internal, external, ordered: mergeQueues(external, internal, this.params.merge, b), info: { samples: pool.internal.length + pool.external.length, standIn: "unscored pool" } };
  }
}

/** What a sampler config stands in for, when it is a stand-in (tables and dry runs say so). */
export function samplerStandIn(cfg: { name: string; params?: Record<string, unknown> }): string | undefined {
  if (cfg.name !== "authors-learned" || (cfg.params?.standIn ?? "none") === "none") return undefined;
  return "the first K of a random pool, unscored, in place of the authors' learned point scorer (not released)";
}
