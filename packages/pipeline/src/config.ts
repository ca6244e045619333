import { asComponent, parseParams, zEnum, zFraction, zInt, type Located } from "@resagent/core";
import { DecoderConfigSchema } from "@resagent/decoder";
import { BackendConfigSchema, GrounderConfigSchema, type GrounderInput } from "@resagent/mllm";
import { SamplerConfigSchema } from "@resagent/sampler";
import { VerifierParamsSchema } from "@resagent/verifier";
import { z } from "zod";
import { ROUTER_DEFAULTS, ROUTER_NAMES } from "./routers.js";

/**
 * What a pipeline runs, composed of the packages' own schemas (grounder and backends: mllm;
 * sampler; verifier; decoder) and the pipeline's (decode, ensemble). The one definition of every
 * pipeline key: types come from it (z.output), defaults are in it, the config loader and a direct
 * API user (parsePipelineConfig) parse with it, and experiments derives the file schema and the
 * editors' JSON Schema from it.
 */

/**
 * How the pipeline calls the decoder once the points are known (the authors' final eval script,
 * `sam2_decode` and `choose_decode_branch`, final 1778–1895; `--decode_fallback_mode sam_score`,
 * `--decode_score_margin 0`). Pipeline-level, not a decoder parameter: it is a procedure around any
 * decoder (two calls and a choice), the same whichever decoder a preset names, and decoder presets
 * replace the decoder component whole.
 */
export const DecodeConfigSchema = z.strictObject({
  fallback: zEnum(["none", "sam-score"] as const)
    .describe(
      "sam-score (authors' default): decode box + points and the box alone, keep the points branch only if its decoder score beats the box's by more than margin; none: box + points only",
    )
    .default("sam-score"),
  margin: z.number().min(-1).max(1).describe("how much the points branch's score must exceed the box-only score (authors: 0)").default(0),
  /**
   * The box-only branch stays the box alone: the authors' `sam2_decode` adds the centre there too
   * but then drops every point because that branch runs with `result_type="box"` (final
   * 1803–1808, 2281–2290).
   */
  emptyPoints: zEnum(["none", "centre"] as const)
    .describe("centre (authors): when verification leaves no point, the box centre is a positive; none: the box alone")
    .default("centre"),
});
export type DecodeConfig = z.output<typeof DecodeConfigSchema>;
export const DECODE_DEFAULTS: DecodeConfig = DecodeConfigSchema.parse({});

/**
 * Stage 1 as an ensemble: every expert grounds the phrase (concurrently, each through its
 * response cache) and the router combines the usable boxes (see routers.ts). Replaces `mllm` for
 * grounding only: `mllm` still verifies unless `verifierMllm` is set.
 */
export const EnsembleSchema = z.strictObject({
  experts: z
    .array(asComponent(GrounderConfigSchema))
    .min(2, "an ensemble needs at least 2 grounders (one grounder alone: set pipeline.mllm)")
    .describe('the grounders asked, each a full grounder config or a preset "@name" (other models, endpoints, prompts or conventions)'),
  router: zEnum(ROUTER_NAMES).describe(
    "how the experts' boxes become one: medoid (highest summed IoU to the others), trimmed-mean (mean after dropping the `trim` least central), vote-mean (mean of the largest set agreeing at voteIoU), mean (plain coordinate mean), first-valid, oracle-best (UPPER BOUND: the box closest to gold; uses ground truth)",
  ),
  trim: zInt(0, 64).default(ROUTER_DEFAULTS.trim).describe("trimmed-mean: boxes of lowest mean IoU to the others dropped before the mean (authors: 2)"),
  voteIoU: zFraction().default(ROUTER_DEFAULTS.voteIoU).describe("vote-mean: IoU at which two boxes agree (authors: 0.6)"),
});
export type EnsembleGroundingConfig = z.output<typeof EnsembleSchema>;

/**
 * What a pipeline starts from before any profile or file: the component choices (the embedded
 * profile's simulated Qwen3-VL, the spiral, graphcut), which a profile or file merges into or
 * replaces. The schema below takes its defaults from here; the parameters of each component come
 * from that component's schema.
 */
export const PIPELINE_DEFAULTS = {
  mllm: { backend: "simulated", preset: "zero-shot", convention: "qwen3", pick: "first", cache: "memory" } satisfies GrounderInput,
  sampler: { name: "ebd-spiral" } as const,
  k: 4,
  verifier: {},
  decoder: { name: "graphcut" } as const,
  decode: DECODE_DEFAULTS,
  onGroundingFailure: "empty" as const,
};

/** One pipeline variant: every ablation of the paper is a different value of this. */
export const PipelineSchema = z.strictObject({
  mllm: asComponent(GrounderConfigSchema)
    .describe("stage 1: box grounding (with `grounding` set: the verifier backend only, unless verifierMllm)")
    .prefault(PIPELINE_DEFAULTS.mllm),
  grounding: EnsembleSchema.nullable()
    .optional()
    .describe("stage 1 as an ensemble: several grounders asked at once and a router over their boxes; absent or null: mllm grounds alone"),
  verifierMllm: asComponent(BackendConfigSchema).optional().describe("stage 3 backend (absent: the grounding backend); oracle gives gold point labels"),
  sampler: asComponent(SamplerConfigSchema).describe("stage 2: candidate points").prefault(PIPELINE_DEFAULTS.sampler),
  k: zInt(0, 64).describe("candidates per queue (paper K); 0 = box only").default(PIPELINE_DEFAULTS.k),
  kExternal: zInt(0, 64)
    .nullable()
    .optional()
    .describe("external-queue candidates when they differ from k (the authors' release: k 10, kExternal 4); null or absent = k"),
  verifier: VerifierParamsSchema.describe("stage 3: how points are verified").prefault({}),
  decoder: asComponent(DecoderConfigSchema).describe("stage 4: box + points -> mask").prefault(PIPELINE_DEFAULTS.decoder),
  decode: DecodeConfigSchema.describe("how the decoder is called once the points are known (K > 0); the same for every decoder").prefault({}),
  onGroundingFailure: zEnum(["empty", "full-image"] as const)
    .describe("what to predict when grounding fails: an empty mask (scored as IoU 0) or the whole image as the box, [0, 0, W-1, H-1] as the authors' final script (resolve_box_prior's fallback)")
    .default(PIPELINE_DEFAULTS.onGroundingFailure),
  /**
   * "pixel": each queue's candidates clipped to the image and de-duplicated by rounded pixel, as
   * the final script's `dedupe_points` does to every strategy's queues (a queue may come out
   * shorter); "none": as sampled.
   */
  dedupe: zEnum(["none", "pixel"] as const).describe("pixel: each queue de-duplicated by rounded pixel, as the authors' final script's dedupe_points").default("none"),
});

export type PipelineConfig = z.output<typeof PipelineSchema>;
export type PipelineInput = z.input<typeof PipelineSchema>;

/** A pipeline config checked and completed (defaults filled in): the one parse, for API users and the config loader alike. */
export function parsePipelineConfig(input: PipelineInput, where: string | Located = "pipeline", base: readonly PropertyKey[] = []): PipelineConfig {
  return parseParams(PipelineSchema, input, where, base);
}
