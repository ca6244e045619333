import type { Box, Point, RandomStream } from "@resagent/core";

/** Which queue a candidate came from (paper §3.3): boundary-proximal or centre-proximal. */
export type Queue = "internal" | "external";

export interface Candidate {
  point: Point;
  queue: Queue;
  /** Position within its queue (0 = first to verify). */
  rank: number;
  /** Bernoulli entropy H(p) of the point under the calibrated membership model (Eq. 4–5). */
  entropy: number;
}

export interface Candidates {
  /** Centre-proximal candidates, in verification order. */
  external: Point[];
  /** Boundary-proximal candidates, in verification order. */
  internal: Point[];
  /** Both queues merged in the configured order (what the verifier walks). */
  ordered: Candidate[];
  /** Facts about this draw (spiral configuration, etc.) for the per-sample log. */
  info: Record<string, string | number>;
}

/** Image size, for clipping boxes that stick out of the image. */
export interface ImageSize {
  width: number;
  height: number;
}

export interface Sampler {
  readonly name: string;
  /** Parameters after defaults, for the run's resolved config. */
  readonly params: object;
  /**
   * Up to K candidates per queue inside `box` (clipped to the image). A pure function of
   * (box, K, params, random stream). K = 0 gives no candidates (the box-only baseline).
   */
  sample(box: Box, k: number, rng: RandomStream, image?: ImageSize): Candidates;
  /**
   * Up to n candidates per queue for a ranking to choose from (sampler.rank), each queue's drawn
   * from its own part of the box (external: centre-proximal, internal: boundary-proximal), in the
   * sampler's own order. Absent: `sample(box, n)` is the pool.
   */
  pool?(box: Box, n: number, rng: RandomStream, image?: ImageSize): Candidates;
  /** What ran, in words (tables say which queue and ranking rules made their numbers). */
  describe?(): string;
  /** Fails (InputError, one line) before any work when the sampler cannot run here. */
  check?(): void;
}

/** How the two queues merge into the order the verifier walks. */
export const MERGE_ORDERS = ["interleave", "external-first", "internal-first"] as const;
export type MergeOrder = (typeof MERGE_ORDERS)[number];
