import { parseParams, zEnum, zFraction, zInt } from "@resagent/core";
import { BOX_CONVENTIONS } from "@resagent/mllm";
import { z } from "zod";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES } from "./markers.js";
import { AGGREGATIONS } from "./probability.js";
import { PROMPT_STYLES, TEXTUAL_FORMATS } from "./prompts.js";

/** The authors' adaptive marker radius bounds (multi-marker script). */
const SIZE = { min: 8, max: 16 } as const;

/**
 * The verifier's parameters (`pipeline.verifier`): the one definition of their types, ranges,
 * defaults and documentation. The Verifier takes them parsed (parseVerifierParams, or a loaded
 * config's) and does not check them again.
 */
export const VerifierParamsSchema = z
  .strictObject({
    format: zEnum(["vbr", "vbr-multi", ...Object.keys(TEXTUAL_FORMATS).map((f) => `textual:${f}`)])
      .describe("how a point is shown to the MLLM: a marker (vbr), lettered markers (vbr-multi), or coordinates in text")
      .default("vbr"),
    shape: zEnum(MARKER_SHAPES).default("star"),
    colour: zEnum([...MARKER_COLOUR_NAMES, "random"] as const)
      .describe("marker colour; random draws one of the 8 per query from the sample's stream")
      .default("random"),
    size: zInt(1, 512).describe("marker radius in pixels (sizeMode adaptive: the base size the authors' rule mixes in)").default(24),
    crop: z.boolean().describe("crop around box ∪ marker before asking").default(true),
    // At least 1: top-k of nothing gives no probability to aggregate (the authors take the top 5);
    // asking for no logprobs at all is `aggregation: decoded`.
    topK: zInt(1, 20).describe("top logprobs requested per answer").default(5),
    aggregation: zEnum(AGGREGATIONS)
      .describe(
        "absolute (= pa, the paper's PA and the authors' code): the decoded answer, with confidence = summed top-k probability of its surface forms; normalised: P(yes) = yes / (yes + no) over the top-k (this harness before issue 20); decoded: the decoded answer only",
      )
      .default("absolute"),
    tau: zFraction().describe("confidence a kept answer needs (absolute: its summed probability; normalised: P(yes) for yes, 1 - P(yes) for no)").default(0.5),
    positives: zInt(0, 64).default(2),
    negatives: zInt(0, 64).default(1),
    earlyStop: z.boolean().describe("stop once the positives and negatives are found; false: verify every candidate (Tables 9–10)").default(true),
    textualConvention: zEnum(BOX_CONVENTIONS).describe("coordinates written in textual prompts (0–1000 by default, as the authors' code)").default("qwen3"),
    multiBatch: zInt(1, 8).describe("candidates per VBR-multi query").default(8),
    select: zEnum(["roles", "interleaved"] as const)
      .describe(
        "roles: positives from the internal (boundary) queue, negatives from the external (centre) queue, the other queue as fallback (the authors' select_points_from_queues); interleaved: the first confident answers of either queue",
      )
      .default("roles"),
    selectionMode: zEnum(["order", "confidence"] as const).describe("within a role: queue order, or highest confidence first").default("order"),
    prompts: zEnum(PROMPT_STYLES).describe("question wording: the authors' code (their LoRA was trained on it) or the paper's text").default("authors"),
    sizeMode: zEnum(["fixed", "adaptive"] as const)
      .describe("fixed: radius `size`; adaptive: the authors' multi-marker rule, mean of `size` and a tenth of min(box sides, 18% of the image sides), clamped to [sizeMin, sizeMax]")
      .default("fixed"),
    sizeMin: zInt(1, 512).describe("smallest adaptive marker radius in pixels (authors: 8)").default(SIZE.min),
    sizeMax: zInt(1, 512).describe("largest adaptive marker radius in pixels (authors: 16)").default(SIZE.max),
    /**
     * How VBR-multi draws its markers. "final" (the authors' final eval script,
     * `render_multi_marker_query` / `draw_single_marker`): per question a shuffle of 12 colours and
     * 4 shapes (circle, square, triangle, diamond), the letter inside the marker in white with a
     * black shadow, a white outline, cropped (when `crop`) to box ∪ markers padded by
     * round(size · padScale). "uniform" (this harness before issue 29): one colour and `shape` per
     * question, the letter beside the marker, the single-marker crop.
     */
    multiMarkers: zEnum(["final", "uniform"] as const)
      .describe("VBR-multi drawing: final (the authors' final script: shuffled 12 colours x 4 shapes, letter inside) or uniform (one colour and shape per question, letter beside; the harness before issue 29)")
      .default("final"),
    padScale: z.number().min(0).describe("final-style crops: padding around each marker as a multiple of its radius (authors' --marker_pad_scale: 1.2)").default(1.2),
    /**
     * Which frame textual coordinates are written in. "image": the whole image. "crop" (the
     * authors' textual script, `--textual_coord_space crop`): relative to the point's context crop
     * (box ∪ the point's square padded by round(radius · padScale), radius from size / sizeMode);
     * the image sent is that crop only when `crop` is true, so with `crop` false the coordinates
     * describe a crop the model never sees, as the released script runs.
     */
    textualSpace: zEnum(["image", "crop"] as const)
      .describe("textual coordinates in the whole image, or in the point's context crop as the authors' textual script (the crop is sent only with crop: true)")
      .default("image"),
    /**
     * "tools" (`tools.py` `draw_marker_on_image`): the single marker is moved away from the image
     * edge whenever the box lies within twice the marker size of it (the question then asks about
     * the moved marker while the candidate point is what the decoder gets), and the crop follows.
     */
    markerShift: zEnum(["none", "tools"] as const)
      .describe("tools: move the single marker off the image edge as tools.py draw_marker_on_image does (reproduces numbers made through that helper)")
      .default("none"),
  })
  .superRefine((p, ctx) => {
    // Named where the change most likely is: sizeMin when sizeMax is still its default.
    if (p.sizeMin > p.sizeMax) ctx.addIssue({ code: "custom", path: [p.sizeMax === SIZE.max ? "sizeMin" : "sizeMax"], message: `expected sizeMin <= sizeMax (${p.sizeMin} > ${p.sizeMax})` });
    if (p.textualSpace === "crop" && p.textualConvention === "qwen2.5") {
      ctx.addIssue({ code: "custom", path: ["textualConvention"], message: "expected qwen3, absolute or normalized with textualSpace crop (the authors' qwen1000, absolute, normalized01)" });
    }
  });

export type VerifierParams = z.output<typeof VerifierParamsSchema>;
export type VerifierParamsInput = z.input<typeof VerifierParamsSchema>;

/**
 * How verified answers become the decoder's points. "roles" (the paper §3.3 and the authors'
 * `select_points_from_queues`): positives from the internal (boundary) queue, negatives from the
 * external (centre) queue; only when a queue is exhausted without enough of its role are the other
 * queue's answers used. "interleaved" (this harness before issue 19): the first confident yes and
 * no answers in the sampler's merged order, from either queue.
 */
export type Selection = VerifierParams["select"];
/** "order": main picks in queue order, fallbacks in reverse queue order (external positives nearest the boundary first); "confidence": highest confidence first. */
export type SelectionMode = VerifierParams["selectionMode"];

/** The verifier's parameters checked and completed: the one parse, for API users and configs alike. */
export function parseVerifierParams(input: VerifierParamsInput = {}): VerifierParams {
  return parseParams(VerifierParamsSchema, input, "verifier");
}

/** Every default, from the schema. */
export const VERIFIER_DEFAULTS: VerifierParams = parseVerifierParams();
