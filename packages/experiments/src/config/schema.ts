import { SAM2_EXPORT_STYLES, SAM2_PROVIDERS } from "@resagent/decoder";
import { SIMULATED_PRESETS } from "@resagent/mllm";
import { ROUTER_NAMES, type PipelineConfig } from "@resagent/pipeline";
import { DIRECTIONS, END_POINTS, SPIRAL_DEFAULTS, SPIRAL_RANKS } from "@resagent/sampler";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES, TEXTUAL_FORMATS } from "@resagent/verifier";
import { z } from "zod";
import { COLUMN_VALUE_NAMES, type ColumnValueName } from "../columns.js";

/**
 * The one schema of every config the harness reads: experiment files, profiles, presets, the full
 * pipeline (every nested key of sampler, verifier, decoder, MLLM and HTTP parameters, with types
 * and ranges) and table/plot specs. The loader validates every cell's fully resolved pipeline
 * against it before any sample is touched; `configs/schema.json` and `configs/profile.schema.json`
 * are generated from it for editors (`pnpm resagent schema --write`; a test fails when stale).
 *
 * The pipeline is written once, as a cell runs it (components complete, names required); what a
 * YAML file may state is derived from it by `fileMode`: every key optional, and a component may
 * be a preset reference "@name".
 */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const fraction = () => z.number().min(0).max(1);
const nonNegative = () => z.number().min(0);
const positive = () => z.number().gt(0);
const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as [T, ...T[]]);

const PRESET_REF = z.string().regex(/^@[\w.+-]+$/, 'a preset reference "@name" of the profile').describe('a preset of the profile, e.g. "@decoder-adapted": it replaces the inherited component, and later keys apply inside it');
/** Marks schema nodes where a file may name a preset instead. */
const COMPONENT = { component: true } as const;
const conventions = ["qwen2.5", "qwen3", "absolute", "normalized"] as const;

const HttpSchema = z.strictObject({
  baseUrls: z.array(z.url({ protocol: /^https?$/ })).min(1).describe("one or more OpenAI-compatible base URLs ending in /v1 (round-robin)"),
  model: z.string().min(1).describe("served model name"),
  apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name").optional().describe("name of the environment variable holding the API key (the key never enters configs or logs)"),
  timeoutMs: int(1).optional().describe("per-request timeout in milliseconds"),
  concurrency: int(1, 1024).optional().describe("requests in flight per backend"),
  retries: int(0, 100).optional().describe("retries after the first attempt (timeouts, network errors, 429, 5xx)"),
  backoffMs: nonNegative().optional(),
  maxBackoffMs: nonNegative().optional(),
  temperature: z.number().min(0).max(2).optional(),
  restAfterFailures: int(0, 1000).optional().describe("with several baseUrls: rest an endpoint after this many failed attempts in a row (0: never); the others take its load"),
  restMs: int(0).optional().describe("how long a failing endpoint rests (skipped) before it is tried again, in milliseconds"),
});

// All four together: the simulated backend replaces a judge model whole.
const JudgeSchema = z.strictObject({ slope: z.number(), bias: z.number(), noise: nonNegative(), distractorConfusion: z.number() });
/** A simulated grounder's error model (packages/mllm/src/simulated-grounding.ts, GroundingModel). */
const GroundingModelSchema = z.strictObject({
  tightNoise: nonNegative().describe("tight boxes: per-side error sd as a fraction of the box side"),
  pixelNoise: nonNegative().describe("plus this many pixels of per-side error"),
  noiseSpread: nonNegative().describe("sd of a per-answer log factor on the noise"),
  wrongRate: nonNegative().describe("hazard of answering another object"),
  looseRate: nonNegative().describe("hazard of a loose or partial box"),
  failureRate: nonNegative().describe("hazard of an unparseable answer"),
  personFactor: nonNegative().describe("multiplies every hazard for phrases about people"),
  hardness: nonNegative().describe("sd of the per-sample log-hazard shared by all simulated models"),
  answerConvention: enumOf(conventions).describe("the coordinates the model writes, whatever the harness reads"),
  modeCorrelation: fraction().describe("correlation of error-mode draws with other models'"),
  noiseCorrelation: fraction().describe("correlation of box-noise draws with other models'"),
});

const backendCommon = {
  seed: int(0).optional().describe("backend seed (default: the experiment's)"),
  cache: enumOf(["disk", "memory", "off"] as const).optional().describe("response cache: disk (append-only JSONL, survives kills), memory, off"),
  cacheDir: z.string().min(1).optional(),
};
const grounderKeys = {
  convention: enumOf(conventions).describe("how box coordinates in answers are read: qwen2.5 = pixels of the smart-resized image, qwen3 = 0–1000, absolute = image pixels"),
  pick: enumOf(["first", "highest-score"] as const).optional(),
  boxPrompt: z.string().min(1).optional().describe('grounding prompt: "authors" (default), "paper", or a template with {expr}'),
  smartResize: z
    .strictObject({
      factor: int(1, 1024).describe("each side a multiple of this (Qwen2.5-VL: 28)"),
      minPixels: int(1).describe("fewest pixels of the resized image (Qwen2.5-VL default 3136 = 56²)"),
      maxPixels: int(1).describe("most pixels of the resized image (Qwen2.5-VL default 12845056; vLLM --mm-processor-kwargs max_pixels)"),
    })
    .partial()
    .optional()
    .describe("the smart-resize limits of the server's Qwen2.5-VL processor: boxes in convention qwen2.5 are pixels of the image resized this way (also in the cache key)"),
};

function backendVariants<E extends z.ZodRawShape>(extra: E) {
  return [
    z.strictObject({
      backend: z.literal("simulated"),
      preset: enumOf(Object.keys(SIMULATED_PRESETS)).optional().describe("simulated model preset"),
      overrides: z
        .strictObject({ description: z.string(), grounding: GroundingModelSchema.partial(), vbr: JudgeSchema.partial(), textual: JudgeSchema.partial() })
        .partial()
        .optional()
        .describe("fields of the preset to change (each model's fields merge into the preset's)"),
      ...backendCommon,
      ...extra,
    }),
    z.strictObject({ backend: z.literal("oracle"), perturbation: enumOf(["none", "mild", "severe"] as const).optional().describe("gold-box perturbation (paper Table 7)"), ...backendCommon, ...extra }),
    z.strictObject({ backend: z.literal("openai"), http: HttpSchema, ...backendCommon, ...extra }),
    z.strictObject({
      backend: z.literal("learned"),
      modelDir: z.string().min(1).optional().describe("folder of a model trained by `pnpm train-verifier` (default $RESAGENT_LEARNED_MODEL, else results/train-verifier)"),
      ...backendCommon,
      ...extra,
    }),
  ] as const;
}

const GrounderSchema = z.discriminatedUnion("backend", backendVariants(grounderKeys)).meta(COMPONENT);
const VerifierBackendSchema = z.discriminatedUnion("backend", backendVariants({})).meta(COMPONENT);

const EnsembleSchema = z.strictObject({
  experts: z
    .array(GrounderSchema)
    .min(2, "an ensemble needs at least 2 grounders (one grounder alone: set pipeline.mllm)")
    .describe('the grounders asked, each a full grounder config or a preset "@name" (other models, endpoints, prompts or conventions)'),
  router: enumOf(ROUTER_NAMES).describe(
    "how the experts' boxes become one: medoid (highest summed IoU to the others), trimmed-mean (mean after dropping the `trim` least central), vote-mean (mean of the largest set agreeing at voteIoU), mean (plain coordinate mean), first-valid, oracle-best (UPPER BOUND: the box closest to gold; uses ground truth)",
  ),
  trim: int(0, 64).optional().describe("trimmed-mean: boxes of lowest mean IoU to the others dropped before the mean (authors: 2)"),
  voteIoU: fraction().optional().describe("vote-mean: IoU at which two boxes agree (authors: 0.6)"),
});

const VerifierSchema = z
  .strictObject({
    format: enumOf(["vbr", "vbr-multi", ...Object.keys(TEXTUAL_FORMATS).map((f) => `textual:${f}`)]).describe("how a point is shown to the MLLM: a marker (vbr), lettered markers (vbr-multi), or coordinates in text"),
    shape: enumOf(MARKER_SHAPES),
    colour: enumOf([...MARKER_COLOUR_NAMES, "random"] as const),
    size: int(1, 512).describe("marker radius in pixels (sizeMode adaptive: the base size the authors' rule mixes in)"),
    crop: z.boolean().describe("crop around box ∪ marker before asking"),
    topK: int(1, 20).describe("top logprobs requested per answer"),
    aggregation: enumOf(["absolute", "pa", "normalised", "decoded"] as const).describe("absolute (= pa, the paper's PA and the authors' code): the decoded answer, with confidence = summed top-k probability of its surface forms; normalised: P(yes) = yes / (yes + no) over the top-k (this harness before issue 20); decoded: the decoded answer only"),
    tau: fraction().describe("confidence a kept answer needs (absolute: its summed probability; normalised: P(yes) for yes, 1 - P(yes) for no)"),
    positives: int(0, 64),
    negatives: int(0, 64),
    earlyStop: z.boolean(),
    textualConvention: enumOf(conventions),
    multiBatch: int(1, 8),
    select: enumOf(["roles", "interleaved"] as const).describe("roles: positives from the internal (boundary) queue, negatives from the external (centre) queue, the other queue as fallback (the authors' select_points_from_queues); interleaved: the first confident answers of either queue"),
    selectionMode: enumOf(["order", "confidence"] as const).describe("within a role: queue order, or highest confidence first"),
    prompts: enumOf(["authors", "paper"] as const).describe("question wording: the authors' code (their LoRA was trained on it) or the paper's text"),
    sizeMode: enumOf(["fixed", "adaptive"] as const).describe("fixed: radius `size`; adaptive: the authors' multi-marker rule, mean of `size` and a tenth of min(box sides, 18% of the image sides), clamped to [sizeMin, sizeMax]"),
    sizeMin: int(1, 512).describe("smallest adaptive marker radius in pixels (authors: 8)"),
    sizeMax: int(1, 512).describe("largest adaptive marker radius in pixels (authors: 16)"),
  })
  .partial();

const mergeOrder = enumOf(["interleave", "external-first", "internal-first"] as const);
const SpiralParamsSchema = z
  .strictObject({
    turns: positive(),
    points: int(2, 1_000_000),
    exponent: positive(),
    growth: enumOf(["sigmoid", "linear"] as const),
    steepness: z.number(),
    midpoint: fraction(),
    direction: enumOf([...DIRECTIONS, "random"] as const),
    end: enumOf([...END_POINTS, "random"] as const),
    stepScale: positive(),
    coeffMin: positive(),
    coeffMax: positive(),
    densify: enumOf(["fast-growth", "code"] as const).describe("fast-growth: the paper (denser where the radius grows fast); code: the authors' tools.py"),
    jitter: z.number().min(0).lt(1),
    merge: mergeOrder,
    rank: enumOf(SPIRAL_RANKS).describe("spiral: queue order as sampled (the authors' code); entropy: the chosen K re-ranked by H; entropy-topk: the K highest-H samples of each queue's half (the paper)"),
    queues: enumOf(["independent", "split"] as const).describe("independent: one spiral draw per queue (the authors' code); split: one draw split in two"),
    membership: z.strictObject({ alpha: z.number(), beta: z.number(), gamma: z.number() }).partial(),
  })
  .partial()
  .superRefine((p, ctx) => {
    const min = p.coeffMin ?? SPIRAL_DEFAULTS.coeffMin;
    const max = p.coeffMax ?? SPIRAL_DEFAULTS.coeffMax;
    if (min > max) ctx.addIssue({ code: "custom", path: [p.coeffMax === undefined ? "coeffMin" : "coeffMax"], message: `expected coeffMin <= coeffMax (${min} > ${max})` });
  });
const BaselineParamsSchema = z.strictObject({ merge: mergeOrder }).partial();

const SamplerSchema = z
  .discriminatedUnion("name", [
    z.strictObject({ name: z.literal("ebd-spiral"), params: SpiralParamsSchema.optional() }),
    z.strictObject({ name: z.literal("random"), params: BaselineParamsSchema.optional() }),
    z.strictObject({ name: z.literal("grid"), params: BaselineParamsSchema.optional() }),
    z.strictObject({ name: z.literal("center"), params: BaselineParamsSchema.optional() }),
  ])
  .meta(COMPONENT);

const GraphcutParamsSchema = z
  .strictObject({
    maxSide: int(16, 4096),
    iterations: int(1, 50),
    components: int(1, 16),
    gamma: nonNegative(),
    seedRadius: nonNegative(),
    ringFraction: nonNegative(),
    ringMin: nonNegative(),
    seedWeight: nonNegative(),
    negativeSeedWeight: nonNegative(),
    agreementScale: positive(),
    spatialWeight: nonNegative(),
    positiveWeight: nonNegative(),
    positiveReach: positive(),
    geodesic: nonNegative(),
    boxSlack: fraction(),
    outsideBias: z.number(),
    slack: enumOf(["cut", "always"] as const),
    seeds: enumOf(["hard", "soft"] as const),
    seedStrength: nonNegative(),
    points: enumOf(["corrective", "direct"] as const),
    refine: z.boolean(),
    sampling: enumOf(["area", "nearest"] as const),
  })
  .partial();
const Sam2ParamsSchema = z
  .strictObject({
    dir: z.string().describe("folder with the encoder and decoder .onnx files"),
    encoder: z.string(),
    decoder: z.string(),
    style: enumOf(["auto", ...SAM2_EXPORT_STYLES.map((s) => s.name)] as const),
    resize: enumOf(["auto", "stretch", "letterbox"] as const),
    multimask: enumOf(["stability", "best", "single"] as const),
    stabilityThreshold: fraction(),
    stabilityDelta: nonNegative(),
    padPoint: enumOf(["auto", "always", "never"] as const),
    provider: enumOf(SAM2_PROVIDERS),
    cacheSize: int(1, 100_000),
    maskThreshold: z.number(),
  })
  .partial();

const DecoderSchema = z
  .discriminatedUnion("name", [
    z.strictObject({ name: z.literal("box"), params: z.strictObject({}).optional() }),
    z.strictObject({ name: z.literal("graphcut"), params: GraphcutParamsSchema.optional() }),
    z.strictObject({ name: z.literal("sam2-onnx"), params: Sam2ParamsSchema.optional() }),
  ])
  .meta(COMPONENT);

/** What a cell runs. */
export const PipelineSchema = z.strictObject({
  mllm: GrounderSchema.describe("stage 1: box grounding (with `grounding` set: the verifier backend only, unless verifierMllm)"),
  grounding: EnsembleSchema.nullable().optional().describe("stage 1 as an ensemble: several grounders asked at once and a router over their boxes; absent or null: mllm grounds alone"),
  verifierMllm: VerifierBackendSchema.optional().describe("stage 3 backend (absent: the grounding backend); oracle gives gold point labels"),
  sampler: SamplerSchema.describe("stage 2: candidate points"),
  k: int(0, 64).describe("candidates per queue (paper K); 0 = box only"),
  kExternal: int(0, 64).nullable().optional().describe("external-queue candidates when they differ from k (the authors' release: k 10, kExternal 4); null or absent = k"),
  verifier: VerifierSchema.describe("stage 3: how points are verified"),
  decoder: DecoderSchema.describe("stage 4: box + points -> mask"),
  decode: z
    .strictObject({
      fallback: enumOf(["none", "sam-score"] as const).describe("sam-score (authors' default): decode box + points and the box alone, keep the points branch only if its decoder score beats the box's by more than margin; none: box + points only"),
      margin: z.number().min(-1).max(1).describe("how much the points branch's score must exceed the box-only score (authors: 0)"),
      emptyPoints: enumOf(["none", "centre"] as const).describe("centre (authors): when verification leaves no point, the box centre is a positive; none: the box alone"),
    })
    .partial()
    .optional()
    .describe("how the decoder is called once the points are known (K > 0); the same for every decoder"),
  onGroundingFailure: enumOf(["empty", "full-image"] as const),
});

// The schema's pipeline must be exactly what the pipeline package runs.
type Assert<T extends true> = T;
export type _PipelineSchemaMatchesConfig = Assert<z.infer<typeof PipelineSchema> extends PipelineConfig ? true : false>;

/** Parameter schemas per registered component, for the test that keeps them equal to each component's defaults. */
export const COMPONENT_PARAM_SCHEMAS = {
  sampler: { "ebd-spiral": SpiralParamsSchema, random: BaselineParamsSchema, grid: BaselineParamsSchema, center: BaselineParamsSchema },
  decoder: { box: z.strictObject({}), graphcut: GraphcutParamsSchema, "sam2-onnx": Sam2ParamsSchema },
  verifier: VerifierSchema,
  http: HttpSchema,
} as const;

interface NodeDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
}

/**
 * What a file may state where `schema` goes: every key optional at every depth, and components
 * (marked COMPONENT) may be "@preset" references. Unions of components accept any variant's keys
 * here; the exact check happens on the resolved cell, where the component's name is known.
 */
function fileMode(schema: z.ZodType): z.ZodType {
  const def = (schema as unknown as { _zod: { def: NodeDef } })._zod.def;
  const description = schema.description;
  const isComponent = (schema.meta() as { component?: boolean } | undefined)?.component === true;
  let out: z.ZodType;
  switch (def.type) {
    case "optional":
      out = fileMode(def.innerType!);
      break;
    case "nullable":
      out = fileMode(def.innerType!).nullable();
      break;
    case "array":
      out = z.array(fileMode(def.element!));
      break;
    case "object":
      out = z.strictObject(Object.fromEntries(Object.entries(def.shape ?? {}).map(([k, v]) => [k, fileMode(v).optional()])));
      break;
    case "union":
      out = z.union(def.options!.map(fileMode) as [z.ZodType, z.ZodType, ...z.ZodType[]]);
      break;
    case "literal":
    default:
      out = schema;
  }
  if (isComponent) out = z.union([PRESET_REF, out]);
  return description ? out.describe(description) : out;
}

export const PipelineFileSchema = fileMode(PipelineSchema);

/** Pipeline keys, for pipeline-relative `--set`/`--sweep` forms (`verifier.tau` = `pipeline.verifier.tau`). */
export const PIPELINE_KEYS = Object.keys(PipelineSchema.shape) as (keyof PipelineConfig)[];

const columnValue = enumOf(COLUMN_VALUE_NAMES);

const ColumnSchema = z.union([
  z.strictObject({ header: z.string().min(1), dataset: z.string().min(1).describe('a key of datasets:, or "all"'), metric: columnValue.optional() }),
  z.strictObject({ header: z.string().min(1), average: z.array(z.string().min(1)).min(1), metric: columnValue.optional() }),
  z.strictObject({ header: z.string().min(1), stat: columnValue, dataset: z.string().min(1).optional() }),
]);

const TableSchema = z.strictObject({
  metric: columnValue.describe("default value of dataset/average columns"),
  columns: z.array(ColumnSchema).min(1),
  paperOnlyRows: z.array(z.string().min(1)).optional().describe("rows whose numbers come only from the paper (other methods)"),
});

const PlotSchema = z.strictObject({
  kind: enumOf(["bars", "line", "confusion"] as const),
  column: z.string().min(1).optional().describe("a column header of the table"),
  columns: z.array(z.string().min(1)).min(1).optional(),
  file: z.string().regex(/^[\w.+-]+$/, "a file name without folders or extension"),
  title: z.string().optional(),
});

const CellSchema = z.strictObject({
    id: z.string().min(1),
    label: z.string().optional(),
    set: PipelineFileSchema.optional().describe("pipeline overrides of this row (nested keys); \"@name\" values are presets"),
    note: z.string().optional(),
  });

const experimentShape = {
  version: int(1).describe("bump when the file's meaning changes"),
  name: z.string().regex(/^[\w.-]+$/, "letters, digits, . _ -"),
  title: z.string().min(1),
  description: z.string().optional(),
  profile: z.string().min(1).describe("configs/profiles/<profile>.yaml"),
  seed: int(0),
  limit: int(1).describe("samples per dataset"),
  concurrency: int(1, 1024).describe("samples processed at once"),
  datasets: z.record(z.string().min(1), z.string().min(1)).describe("column id -> dataset id of the profile (e.g. val: refcoco/val)"),
  pipeline: PipelineFileSchema,
  cells: z.array(CellSchema).min(1),
  sweep: z.record(z.string().min(1), z.array(z.unknown()).min(1)).describe("row sweep: pipeline key path -> values"),
  table: TableSchema,
  paper: z.record(z.string(), z.array(z.union([z.number(), z.string(), z.null()]))).describe("the paper's numbers per row label"),
  plots: z.array(PlotSchema),
  notes: z.array(z.string()),
} as const;

/** A whole experiment after `extends` and `--set` (pipelines are checked per cell, resolved). */
export const ExperimentSchema = z.strictObject(experimentShape).partial({ description: true });

/** What one YAML file may state: everything optional (templates), plus `extends`. */
export const ExperimentFileSchema = z
  .strictObject({
    ...experimentShape,
    // Maps merge with what the file extends, so a child may state part of them.
    table: TableSchema.partial(),
    extends: z.union([z.string(), z.array(z.string())]).describe("templates this file builds on (experiments/_*.yaml), applied first"),
  })
  .partial();

/**
 * What the loader checks per file: the structure around the pipeline. Pipeline values are checked
 * once resolved in each cell, where the component's name is known and every value's origin
 * (file and key path, preset, or flag) is named; a file-level check could only guess the variant.
 */
const CellStructure = CellSchema.extend({ set: z.record(z.string(), z.unknown()).optional() });
export const ExperimentFileStructure = ExperimentFileSchema.extend({
  pipeline: z.record(z.string(), z.unknown()).optional(),
  cells: z.array(CellStructure).min(1).optional(),
});
/** The merged experiment around its cells' pipelines (checked resolved, per cell). */
export const ExperimentStructure = ExperimentSchema.omit({ pipeline: true }).extend({ cells: z.array(CellStructure).min(1) });

const DatasetRefSchema = z.looseObject({ name: z.string().min(1).describe("dataset registry name"), split: z.string().min(1) }).describe("loader options beyond name and split are checked by the loader");

export const ProfileFileSchema = z
  .strictObject({
    profile: z.string().min(1),
    notes: z.array(z.string()),
    datasets: z.record(z.string(), DatasetRefSchema),
    defaults: z.strictObject({ limit: int(1), concurrency: int(1, 1024), seed: int(0), pipeline: PipelineFileSchema }).partial(),
    presets: z.record(z.string().regex(/^[\w.+-]+$/), z.record(z.string(), z.unknown())).describe("components experiments name as \"@name\"; checked where they are used"),
    standIns: z
      .record(z.string(), z.strictObject({ use: z.string().min(1).describe("the preset run in its place with --allow-stand-ins"), note: z.string().optional() }))
      .describe("what may replace a preset whose environment variables are unset (only with --allow-stand-ins; tables say so)"),
  })
  .partial()
  .required({ profile: true });

/** The profile structure the loader checks (defaults.pipeline is checked resolved, per cell). */
export const ProfileFileStructure = ProfileFileSchema.extend({
  defaults: z.strictObject({ limit: int(1), concurrency: int(1, 1024), seed: int(0), pipeline: z.record(z.string(), z.unknown()) }).partial().optional(),
});

export type DatasetRef = z.infer<typeof DatasetRefSchema> & { [option: string]: unknown };
export type CellSpec = z.infer<typeof CellSchema>;
export type ColumnSpec = z.infer<typeof ColumnSchema> & { metric?: ColumnValueName };
export type TableSpec = z.infer<typeof TableSchema>;
export type PlotSpec = z.infer<typeof PlotSchema>;
export type ProfileFile = z.infer<typeof ProfileFileSchema>;

export interface ExperimentConfig {
  version: number;
  name: string;
  title: string;
  description?: string;
  profile: string;
  seed: number;
  /** Samples per dataset (the runner's --limit). */
  limit: number;
  concurrency: number;
  /** Column id -> abstract dataset id (profile-resolved into `resolvedDatasets`). */
  datasets: Record<string, string>;
  resolvedDatasets: Record<string, DatasetRef>;
  /** The experiment-level pipeline (presets resolved); cells hold the complete ones. */
  pipeline: Record<string, unknown>;
  cells: CellSpec[];
  sweep: Record<string, unknown[]>;
  table: TableSpec;
  paper: Record<string, (number | string | null)[]>;
  plots: PlotSpec[];
  /** Free text shown under the table (profile caveats). */
  notes: string[];
  /** Command-line --sweep combinations ("verifier.tau=0.6"), one column group each. */
  columnSweeps: string[];
}

export const TOP_LEVEL_KEYS = Object.keys(ExperimentFileSchema.shape);

/**
 * JSON Schemas for editors (yaml-language-server), generated from the zod schema above, as the
 * text of configs/schema.json (experiment files) and configs/profile.schema.json.
 */
export function jsonSchemaFiles(): Record<"schema.json" | "profile.schema.json", string> {
  const text = (title: string, s: z.ZodType) => `${JSON.stringify({ ...z.toJSONSchema(s, { io: "input", unrepresentable: "any", reused: "ref" }), title }, null, 2)}\n`;
  return {
    "schema.json": text("resagent experiment file (experiments/*.yaml); generated by `pnpm resagent schema --write`", ExperimentFileSchema),
    "profile.schema.json": text("resagent profile (configs/profiles/*.yaml); generated by `pnpm resagent schema --write`", ProfileFileSchema),
  };
}
