import { parseParams, zEnum, zFraction, zInt, zPositive } from "@resagent/core";
import { z } from "zod";
import { DEFAULT_MEMBERSHIP } from "./entropy.js";
import { MERGE_ORDERS } from "./types.js";

/**
 * The samplers' parameters (`pipeline.sampler.params`): the one definition of their types,
 * ranges, defaults and documentation. Samplers take them parsed (parseSamplerParams, or a loaded
 * config's) and do not check them again.
 */

export const MergeOrderSchema = zEnum(MERGE_ORDERS);

export const DIRECTIONS = ["cw", "ccw"] as const;
export type Direction = (typeof DIRECTIONS)[number];
export const END_POINTS = ["top", "bottom", "left", "right"] as const;
export type EndPoint = (typeof END_POINTS)[number];
export const SPIRAL_RANKS = ["spiral", "entropy", "entropy-topk"] as const;
export type SpiralRank = (typeof SPIRAL_RANKS)[number];

const COEFF = { min: 0.5, max: 1.5 } as const;

/**
 * EBD superellipse spiral parameters. Defaults are the authors' (`tools.py`: 8 turns, 3000 points,
 * exponent 5, sigmoid growth with steepness 8 at 0.5, base step = max(w, h), jitter 0.2, step
 * coefficient in [0.5, 1.5]).
 */
export const SpiralParamsSchema = z
  .strictObject({
    turns: zPositive().default(8),
    points: zInt(2, 1_000_000).default(3000),
    exponent: zPositive().default(5),
    growth: zEnum(["sigmoid", "linear"] as const).default("sigmoid"),
    steepness: z.number().default(8),
    midpoint: zFraction().default(0.5),
    direction: zEnum([...DIRECTIONS, "random"] as const)
      .describe("random draws one of the 8 (direction, end point) configurations per call")
      .default("random"),
    end: zEnum([...END_POINTS, "random"] as const).default("random"),
    stepScale: zPositive().describe("base step as a multiple of max(box w, box h)").default(1),
    coeffMin: zPositive().describe("smallest dynamic step coefficient").default(COEFF.min),
    coeffMax: zPositive().describe("largest dynamic step coefficient").default(COEFF.max),
    /**
     * How the coefficient follows the radial growth rate. "fast-growth" (the paper, §6.1.2): fast
     * radial growth -> smaller step -> denser. "code": the authors' `sample_spiral_points`, which
     * maps fast growth to the larger coefficient.
     */
    densify: zEnum(["fast-growth", "code"] as const)
      .describe("fast-growth: the paper (denser where the radius grows fast); code: the authors' tools.py")
      .default("fast-growth"),
    jitter: z.number().min(0).lt(1).describe("uniform jitter as a fraction of the base step").default(0.2),
    merge: MergeOrderSchema.default("interleave"),
    /**
     * Which samples form the queues. "spiral" (the authors' code): external = the first K samples,
     * internal = the last K reversed. "entropy": the same K, re-ranked by H(p), highest first.
     * "entropy-topk" (the paper, §3.3 "rank visited locations by H and retain the top-K"): the K
     * highest-H samples of the queue's half of its draw (external: the centre half, internal: the
     * boundary half), highest first.
     */
    rank: zEnum(SPIRAL_RANKS)
      .describe("spiral: queue order as sampled (the authors' code); entropy: the chosen K re-ranked by H; entropy-topk: the K highest-H samples of each queue's half (the paper)")
      .default("spiral"),
    /**
     * "independent" (the authors' code: `generate_internal_candidate_points` and
     * `generate_external_candidate_points` each call the spiral generator): each queue comes from
     * its own draw (own direction, end point, start offset and jitter, from its own random
     * stream), so the queues never share a point. "split": one draw split in two (the harness
     * before the queues were drawn apart; on a 400×80 box at K = 5 the two share a point in most draws).
     */
    queues: zEnum(["independent", "split"] as const)
      .describe("independent: one spiral draw per queue (the authors' code); split: one draw split in two")
      .default("independent"),
    /** The membership model of the paper's Eq. 4 (see entropy.ts). */
    membership: z
      .strictObject({ alpha: z.number().default(DEFAULT_MEMBERSHIP.alpha), beta: z.number().default(DEFAULT_MEMBERSHIP.beta), gamma: z.number().default(DEFAULT_MEMBERSHIP.gamma) })
      .prefault({}),
  })
  .superRefine((p, ctx) => {
    // Named where the change most likely is: coeffMin when coeffMax is still its default.
    if (p.coeffMin > p.coeffMax) ctx.addIssue({ code: "custom", path: [p.coeffMax === COEFF.max ? "coeffMin" : "coeffMax"], message: `expected coeffMin <= coeffMax (${p.coeffMin} > ${p.coeffMax})` });
  });
export type SpiralParams = z.output<typeof SpiralParamsSchema>;
export type SpiralParamsInput = z.input<typeof SpiralParamsSchema>;

/** The random, grid and center samplers' parameters. */
export const BaselineParamsSchema = z.strictObject({ merge: MergeOrderSchema.default("interleave") });
export type BaselineParams = z.output<typeof BaselineParamsSchema>;

/**
 * The random sampler's parameters. placement "box": both queues uniform in the box (this harness's
 * baseline). "final": the authors' final script (`--point_strategy random`): internal = integer
 * pixels in the box, external = points outside the box within `expand` of its size, both
 * de-duplicated by pixel.
 */
export const RandomParamsSchema = z.strictObject({
  merge: MergeOrderSchema.default("interleave"),
  placement: zEnum(["box", "final"] as const)
    .describe("box: both queues uniform in the box; final: the authors' final script (integer pixels inside, the external queue outside the box)")
    .default("box"),
  expand: z.number().min(0).describe("placement final: how far outside the box external points may lie, as a fraction of its size (--random_external_expand: 0.25)").default(0.25),
});
export type RandomParams = z.output<typeof RandomParamsSchema>;

/**
 * The authors' learned point strategy (`--point_strategy learned --learned_base_strategy random`):
 * a random pool of K × poolScale per queue ranked by a learned usefulness scorer, the top K kept.
 */
export const AuthorsLearnedParamsSchema = z.strictObject({
  merge: MergeOrderSchema.default("interleave"),
  poolScale: zInt(1, 64).describe("pool per queue as a multiple of K (--learned_pool_scale: 4)").default(4),
  expand: z.number().min(0).describe("the pool's external points: how far outside the box, as a fraction of its size").default(0.25),
  standIn: zEnum(["none", "unscored-pool"] as const)
    .describe("none: the authors' scorer, not released: the row fails before any work; unscored-pool: a labelled stand-in, the pool's first K unscored")
    .default("none"),
});
export type AuthorsLearnedParams = z.output<typeof AuthorsLearnedParamsSchema>;

/** Every spiral default, from the schema. */
export const SPIRAL_DEFAULTS: SpiralParams = SpiralParamsSchema.parse({});

export const parseSpiralParams = (input: SpiralParamsInput = {}): SpiralParams => parseParams(SpiralParamsSchema, input, "sampler.params");
export const parseBaselineParams = (input: z.input<typeof BaselineParamsSchema> = {}): BaselineParams => parseParams(BaselineParamsSchema, input, "sampler.params");
export const parseRandomParams = (input: z.input<typeof RandomParamsSchema> = {}): RandomParams => parseParams(RandomParamsSchema, input, "sampler.params");

/** Orders a pool of candidates by each point's value (registered scorers: value.ts; learned-value in @resagent/learned). */
export const POINT_RANKINGS = ["learned-value", "oracle-value"] as const;
export type PointRanking = (typeof POINT_RANKINGS)[number];
/** Pool per queue as a multiple of K when sampler.rank is set (the authors' --learned_pool_scale). */
export const DEFAULT_POOL_SCALE = 4;

/**
 * sampler.rank and its options, the same for every sampler (the ranking reorders a pool the sampler
 * draws): the sampler draws `pool` x K candidates per queue (Sampler.pool), the ranking scores them,
 * each queue keeps its K best. Absent: the sampler's own order. pool and modelDir apply to a ranking
 * only, so they have no default of their own (an unranked sampler's config stays as it was).
 */
const rankKeys = {
  rank: zEnum(POINT_RANKINGS)
    .nullable()
    .optional()
    .describe("order each queue by point value from a pool of `pool` x K: learned-value (the tfjs ranker of `pnpm train-point-value`), oracle-value (UPPER BOUND: the teacher itself, measured with the decoder and gold); absent or null: the sampler's own order"),
  pool: zInt(1, 64).optional().describe(`with rank: pool per queue as a multiple of K (default ${DEFAULT_POOL_SCALE}, the authors' --learned_pool_scale)`),
  modelDir: z.string().min(1).optional().describe("with rank learned-value: the ranker's folder (default $RESAGENT_POINT_VALUE_MODEL, else results/train-point-value)"),
};

/** A sampler as configs name it: `{ name, params }`, each name with its own parameters, and optionally a ranking. */
export const SamplerConfigSchema = z
  .discriminatedUnion("name", [
    z.strictObject({ name: z.literal("ebd-spiral"), params: SpiralParamsSchema.prefault({}), ...rankKeys }),
    z.strictObject({ name: z.literal("random"), params: RandomParamsSchema.prefault({}), ...rankKeys }),
    z.strictObject({ name: z.literal("grid"), params: BaselineParamsSchema.prefault({}), ...rankKeys }),
    z.strictObject({ name: z.literal("center"), params: BaselineParamsSchema.prefault({}), ...rankKeys }),
    z.strictObject({ name: z.literal("authors-learned"), params: AuthorsLearnedParamsSchema.prefault({}), ...rankKeys }),
  ])
  .superRefine((c, ctx) => {
    if (c.rank) return;
    for (const key of ["pool", "modelDir"] as const) if (c[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: "applies to a ranking: set sampler.rank (learned-value or oracle-value)" });
  });
export type SamplerConfig = z.output<typeof SamplerConfigSchema>;
export type SamplerInput = z.input<typeof SamplerConfigSchema>;
