import { parseParams, zEnum, zFraction, zInt, zNonNegative, zPositive } from "@resagent/core";
import { z } from "zod";
import { SAM2_PROVIDERS } from "./sam2/providers.js";
import { STYLES } from "./sam2/styles.js";

/**
 * The decoders' parameters (`pipeline.decoder.params`): the one definition of their types,
 * ranges, defaults and documentation. Decoders take them parsed (parseGraphcutParams,
 * parseSam2Params, or a loaded config's) and do not check them again.
 */

/**
 * GrabCut-style parameters. The box bounds the object (outside = background), points are clicks:
 * hard seeds where they are, local constraints around them, and colour-model votes only as far as
 * their colour agrees with the local evidence.
 */
export const GraphcutParamsSchema = z.strictObject({
  maxSide: zInt(16, 4096).describe("longest side of the working crop (box + background ring); larger crops are downsampled").default(200),
  iterations: zInt(1, 50).describe("GrabCut iterations (fit colour models, cut) per pass").default(3),
  components: zInt(1, 16).describe("Gaussians per colour model").default(5),
  gamma: zNonNegative().describe("smoothness weight (GrabCut's γ)").default(50),
  seedRadius: zNonNegative().describe("radius of the seed discs around points, in image pixels").default(4),
  ringFraction: zNonNegative().describe("background ring around the box that teaches the background colours, as a fraction of the box size").default(0.25),
  ringMin: zNonNegative().describe("narrowest background ring, in image pixels").default(8),
  /**
   * Each pixel of a point's seed disc votes in proportion to how unlike the other label's points'
   * patches (or, without any, the other label's colour model) its colour is: a negative on a
   * stripe coloured like the object, or on a same-coloured neighbour, does not turn the object's
   * colour into background.
   */
  seedWeight: zNonNegative().describe("most colour-model mass the positive seeds can carry, relative to the rest of the model's samples").default(0.2),
  negativeSeedWeight: zNonNegative().describe("the same for negative seeds in the background model").default(1),
  agreementScale: zPositive().describe("τ in RGB units: patches this far apart count as unlike (affinity e^(−d²/2τ²))").default(30),
  /**
   * Pixels geodesically nearer a negative than the positives (or the box centre), and coloured like
   * its patch, lean background by up to this many nats (× −ln 2p of the soft geodesic Voronoi
   * split). This is what cuts a touching same-coloured neighbour away and leaves a ring alone when
   * the negative sits in its hole.
   */
  spatialWeight: zNonNegative().describe("local constraint of a negative: how many nats nearby pixels coloured like its patch lean background").default(8),
  // Chosen on samples 40–119 of the decoders experiment's four splits (tight and severe boxes),
  // then checked on samples 0–39 and 120–159; see the graphcut section of the docs for the grid.
  positiveWeight: zNonNegative().describe("local constraint of a positive the box-only cut missed: how many nats nearby pixels coloured like its patch lean foreground").default(12),
  positiveReach: zPositive().describe("a missed positive's pull decays as e^(−d/reach) with the geodesic distance d; reach as a fraction of the region's longer side").default(0.2),
  geodesic: zNonNegative().describe("how much a colour edge lengthens a geodesic path (κ; 0 = straight-line distances)").default(2),
  // No slack by default: on the decoders experiment it cost mIoU on tight and on severely
  // perturbed boxes alike (a touching same-coloured neighbour or an occluder at the box edge reads
  // as the object running on), and points from inside the box never ask for it.
  boxSlack: zFraction()
    .describe("like SAM, do not treat the box as a hard wall: the region grows by this fraction of the box size on each side, where pixels are background-leaning but free (0: GrabCut's hard box)")
    .default(0),
  // A negative bias would make the slack foreground-leaning, and negative t-link capacities are not what the cut expects.
  outsideBias: zNonNegative().describe("nats by which pixels in the slack around the box lean background").default(2),
  slack: zEnum(["cut", "always"] as const)
    .describe(
      "where the slack applies. cut: only on the sides where the box cuts the object (a quarter of the side is mask running into the edge with no colour edge there, or a positive lies beyond it); always: on every side from the start",
    )
    .default("cut"),
  seeds: zEnum(["hard", "soft"] as const)
    .describe("hard: seed discs are fixed labels (GrabCut); soft: they add seedStrength nats towards their label, so one wrong point on a clearly different colour is overruled, as SAM tends to")
    .default("hard"),
  seedStrength: zNonNegative().describe("nats a soft seed adds towards its label").default(8),
  /**
   * "corrective", as a user clicks in an interactive segmenter: cut from the box alone, then only
   * the points that disagree with that mask (a positive outside it, a negative inside) reshape it;
   * points that agree are kept as hard seeds, which leaves an optimum that already agrees where it
   * was. When the box-only cut is empty, the positives seed a second cut. "direct": every point
   * acts from the start (the classic GrabCut seeding).
   */
  points: zEnum(["corrective", "direct"] as const)
    .describe("corrective: cut from the box alone, then only the points that disagree with that mask reshape it; direct: every point acts from the start (classic GrabCut seeding)")
    .default("corrective"),
  refine: z.boolean().describe("when the crop was downsampled, re-cut a band around the boundary at full resolution").default(true),
  /**
   * "nearest": each cell takes one source pixel, so the colour models see pixel-level spread
   * (texture) as GrabCut does at full size, and a flat part coloured like a textured background
   * stays distinguishable from it. "area": cells average their pixels, which smooths texture away
   * (lower box-only mIoU on the decoders experiment's tight boxes).
   */
  sampling: zEnum(["area", "nearest"] as const)
    .describe("how the working crop is downsampled: nearest (one source pixel per cell, keeps texture) or area (cells average their pixels)")
    .default("nearest"),
});
export type GraphCutParams = z.output<typeof GraphcutParamsSchema>;
export type GraphCutParamsInput = z.input<typeof GraphcutParamsSchema>;

/** SAM2 (or an export with the same prompt interface) over onnxruntime-node. */
export const Sam2ParamsSchema = z.strictObject({
  dir: z.string().describe("folder with the encoder and decoder .onnx files (default $RESAGENT_SAM2_DIR)").default(""),
  encoder: z.string().describe('file name (or path) inside dir; default: the one .onnx file whose name contains "encoder"').default(""),
  decoder: z.string().describe('file name (or path) inside dir; default: the one .onnx file whose name contains "decoder"').default(""),
  style: zEnum(["auto", ...STYLES.map((s) => s.name)] as const).default("auto"),
  resize: zEnum(["auto", "stretch", "letterbox"] as const).default("auto"),
  multimask: zEnum(["stability", "best", "single"] as const).default("stability"),
  stabilityThreshold: zFraction().default(0.98),
  stabilityDelta: zNonNegative().default(0.05),
  padPoint: zEnum(["auto", "always", "never"] as const).describe('client-side padding point (label −1): "auto" follows the export style (neither known export wants one)').default("auto"),
  provider: zEnum(SAM2_PROVIDERS).describe("onnxruntime execution provider, used alone: a GPU provider that cannot load fails the run (no CPU fall-back; pnpm setup:gpu installs them)").default("cpu"),
  cacheSize: zInt(1, 100_000).describe("image embeddings kept (LRU); RefCOCO's several sentences per image reuse one encoder call").default(16),
  maskThreshold: z.number().default(0),
});
export type Sam2Params = z.output<typeof Sam2ParamsSchema>;
export type Sam2ParamsInput = z.input<typeof Sam2ParamsSchema>;

/** The box decoder takes no parameters. */
export const BoxParamsSchema = z.strictObject({});

export const parseGraphcutParams = (input: GraphCutParamsInput = {}): GraphCutParams => parseParams(GraphcutParamsSchema, input, "decoder.params");
export const parseSam2Params = (input: Sam2ParamsInput = {}): Sam2Params => parseParams(Sam2ParamsSchema, input, "decoder.params");

/** Every graphcut default, from the schema. */
export const GRAPHCUT_DEFAULTS: GraphCutParams = parseGraphcutParams();
export const SAM2_DEFAULTS: Sam2Params = parseSam2Params();

/** A decoder as configs name it: `{ name, params }`, each name with its own parameters. */
export const DecoderConfigSchema = z.discriminatedUnion("name", [
  z.strictObject({ name: z.literal("box"), params: BoxParamsSchema.prefault({}) }),
  z.strictObject({ name: z.literal("graphcut"), params: GraphcutParamsSchema.prefault({}) }),
  z.strictObject({ name: z.literal("sam2-onnx"), params: Sam2ParamsSchema.prefault({}) }),
]);
export type DecoderConfig = z.output<typeof DecoderConfigSchema>;
export type DecoderInput = z.input<typeof DecoderConfigSchema>;
