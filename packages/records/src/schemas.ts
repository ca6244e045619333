import { z } from "zod";

/**
 * The version of the record shapes below, written into summary.json and run.json as
 * `recordVersion`. Raise it when a field changes meaning or a reader could no longer read what a
 * writer makes (a new optional field does not need it: readers pass unknown keys through). A
 * reader refuses a file whose recordVersion is newer than its own.
 */
export const RECORD_VERSION = 1;

const pair = z.tuple([z.number(), z.number()]);
/** A box in pixels, [x1, y1, x2, y2]. */
const box4 = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** A mask as COCO compressed RLE ({size: [h, w], counts}). */
export const CompressedRleSchema = z.object({ size: pair, counts: z.string() });

/** One verifier query of a record (the pipeline drops its latency and cache flag). */
export const QueryRecordSchema = z.looseObject({
  point: z.looseObject({ x: z.number(), y: z.number() }),
  queue: z.string(),
  rank: z.number(),
  /** Null when the answer had neither yes nor no (abstention). */
  pYes: z.number().nullable(),
  answer: z.string().optional(),
  confidence: z.number().nullable().optional(),
  /** positive, negative, unsure or abstain. */
  decision: z.string(),
  used: z.boolean(),
  gold: z.boolean().optional(),
  /** For a used point under `select: roles`: the rule that chose it. */
  rule: z.string().optional(),
});

/** One candidate point of a record, in the order the verifier was asked. */
export const CandidateRecordSchema = z.looseObject({ x: z.number(), y: z.number(), queue: z.string(), rank: z.number() });

/**
 * The fields of one samples.jsonl line, in the order the pipeline writes them. Nested maps are
 * loose (a newer writer's extra key passes through); enumerations are plain strings, so a reader
 * does not refuse a record for a router or decision it does not know yet.
 */
const sampleRecordShape = {
  id: z.string(),
  cell: z.string(),
  dataset: z.string(),
  expression: z.string(),
  /** Predicted (or oracle) box in pixels, rounded to 0.01; null when grounding failed. */
  box: box4.nullable(),
  groundingFailure: z.string().optional(),
  boxIoU: z.number().optional(),
  /**
   * Ensemble grounding (pipeline.grounding): every expert's box in pixels (null when its answer
   * held no usable box, with the parse failure) and its IoU to gold, the router, and which
   * experts the chosen box (`box`) was made from. `upperBound`: the router looked at gold.
   */
  ensemble: z
    .looseObject({
      router: z.string(),
      upperBound: z.literal(true).optional(),
      experts: z.array(z.looseObject({ name: z.string(), box: box4.nullable(), failure: z.string().optional(), boxIoU: z.number().optional() })),
      from: z.array(z.number()),
    })
    .optional(),
  candidates: z.array(CandidateRecordSchema),
  queries: z.array(QueryRecordSchema),
  positives: z.array(pair),
  negatives: z.array(pair),
  mask: CompressedRleSchema,
  /** The decoder's score of the mask kept (SAM2: predicted IoU; graphcut: colour-model separation). */
  score: z.number(),
  iou: z.number(),
  intersection: z.number(),
  union: z.number(),
  /** Wall-clock milliseconds per stage, MLLM queries and cache hits: the only non-deterministic fields. */
  timing: z.record(z.string(), z.number()),
  /**
   * With sampler.rank: what ordered the candidates, and the pool it chose them from (each point's
   * queue and score, external queue first); `upperBound`: the ranking read gold (oracle-value).
   */
  ranking: z
    .looseObject({
      by: z.string(),
      upperBound: z.literal(true).optional(),
      pool: z.array(z.looseObject({ x: z.number(), y: z.number(), queue: z.string(), score: z.number() })),
    })
    .optional(),
  /**
   * How the mask was decoded, when verification ran (K > 0): which branch was kept ("points": box
   * + points, "box": the box alone) and each branch's decoder score; `centre`: the box centre was
   * the positive because no point survived (decode.emptyPoints centre). Last in the line.
   */
  decode: z.looseObject({ branch: z.string(), pointsScore: z.number(), boxScore: z.number().optional(), centre: pair.optional() }).optional(),
};

/** The fields every reader needs of a record: without them a line is not a record. */
export const REQUIRED_RECORD_FIELDS = ["id", "cell", "dataset", "iou", "intersection", "union"] as const;

/** One line of samples.jsonl, read: every field the pipeline writes, unknown keys passed through. */
export const SampleRecordSchema = z.looseObject(sampleRecordShape);

/** The fields of a record every reader needs (REQUIRED_RECORD_FIELDS); the rest passed through unchecked. */
export const SampleRecordHeadSchema = SampleRecordSchema.pick({ id: true, cell: true, dataset: true, iou: true, intersection: true, union: true });

/** One line of samples.jsonl, as the pipeline writes it (the type has no index signature: a misspelt key is a type error). */
export type SampleRecord = z.output<z.ZodObject<typeof sampleRecordShape>>;
export type QueryRecordLine = z.output<typeof QueryRecordSchema>;
export type CandidateRecordLine = z.output<typeof CandidateRecordSchema>;

/** Fields a tolerant reader takes element by element: each element a map, its mistyped fields left out. */
export const ELEMENTWISE_RECORD_FIELDS = ["queries", "candidates"] as const;

/**
 * A record as a tolerant reader sees it (the report): the required fields, each other field of the
 * pipeline's when it has the pipeline's type (left out when not; queries and candidates element
 * by element), unknown keys as they are.
 */
export type PartialSampleRecord = Pick<SampleRecord, (typeof REQUIRED_RECORD_FIELDS)[number]> &
  Partial<Omit<SampleRecord, (typeof ELEMENTWISE_RECORD_FIELDS)[number]>> & { queries?: Partial<QueryRecordLine>[]; candidates?: Partial<CandidateRecordLine>[] } & { [key: string]: unknown };

/** A dataset reference as configs resolve them: registry name, split and loader options. */
export const DatasetRefSchema = z.looseObject({ name: z.string(), split: z.string() });
export type DatasetRef = z.output<typeof DatasetRefSchema>;

/** The table as summary.json stores it (experiments' TableData; every newer field optional). */
export const SummaryTableSchema = z.object({
  title: z.string(),
  headers: z.array(z.string()),
  rows: z.array(
    z.object({
      label: z.string(),
      ours: z.array(z.number().nullable()),
      paper: z.array(z.union([z.number(), z.string()]).nullable()),
      ci: z.array(pair.nullable()).optional(),
      n: z.array(z.number().nullable()).optional(),
      paperOnly: z.boolean().optional(),
      note: z.string().optional(),
    }),
  ),
  percent: z.array(z.boolean()),
  metrics: z.array(z.string()).optional(),
  notes: z.array(z.string()).optional(),
  provenance: z.string().optional(),
  intervals: z.object({ replicates: z.number(), level: z.number(), seed: z.number(), method: z.string() }).optional(),
});
export type SummaryTable = z.output<typeof SummaryTableSchema>;

/**
 * summary.json, read tolerantly: the fields the report, compare and runs name, each optional
 * (older summaries lack some); everything else passed through and shown generically.
 */
export const RunSummarySchema = z.looseObject({
  experiment: z.string().optional(),
  /** The experiment config's `version` (not the record version). */
  version: z.number().optional(),
  /** RECORD_VERSION of the code that wrote it; absent before records were versioned. */
  recordVersion: z.number().int().optional(),
  title: z.string().optional(),
  simulated: z.boolean().optional(),
  profile: z.string().optional(),
  seed: z.number().optional(),
  limitPerDataset: z.number().optional(),
  configHash: z.string().optional(),
  codeHash: z.string().optional(),
  gitCommit: z.string().optional(),
  versions: z.record(z.string(), z.string()).optional(),
  machine: z.string().optional(),
  createdAt: z.string().optional(),
  datasets: z.record(z.string(), DatasetRefSchema).optional(),
  records: z.number().optional(),
  sharedRecords: z.number().optional(),
  cells: z.record(z.string(), z.looseObject({ components: z.record(z.string(), z.string()).optional(), note: z.string().optional(), pipeline: z.unknown().optional() })).optional(),
  mllmRequests: z.unknown().optional(),
  /** Per cell and dataset column, experiments' CellMetrics (typed as any map, so writers' interfaces satisfy it). */
  metrics: z.record(z.string(), z.record(z.string(), z.custom<object>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "expected a map"))).optional(),
  table: SummaryTableSchema.optional(),
});
export type RunSummary = z.output<typeof RunSummarySchema>;

/** run.json: what made a run folder, so a resume can refuse a folder made by something else and `merge` can reload it. */
const runManifestShape = {
  experiment: z.string(),
  profile: z.string(),
  configHash: z.string(),
  codeHash: z.string(),
  /** RECORD_VERSION of the code that wrote it; absent before records were versioned. */
  recordVersion: z.number().int().optional(),
  shard: z.looseObject({ index: z.number(), count: z.number() }).optional(),
  /** How the experiment was loaded (name, profile, --set, --sweep, --allow-stand-ins), so `merge` can reload it. */
  source: z.looseObject({ experiment: z.string(), profile: z.string(), set: z.array(z.string()), sweep: z.array(z.string()), allowStandIns: z.boolean().optional() }).optional(),
  createdAt: z.string(),
  /** True once every sample of every cell (of this shard) has a record. */
  complete: z.boolean(),
  /**
   * Samples of this run (or shard) per dataset ("name/split"): every cell has one record per
   * sample once complete, less the samples skipped. `merge` holds each shard to it.
   */
  expectedSamples: z.record(z.string(), z.number()).optional(),
  /** Samples the last invocation skipped (--skip-bad): they have no records. */
  skipped: z.array(z.looseObject({ dataset: z.string(), id: z.string() })).optional(),
  /** Set on a merged run: the shards it was made from ("i/n"). */
  mergedFrom: z.array(z.string()).optional(),
};
/** run.json, read: the fields merge, resume and runs use; unknown keys passed through. */
export const RunManifestSchema = z.looseObject(runManifestShape);
/** run.json as exp and merge write it (no index signature). */
export type RunManifest = z.output<z.ZodObject<typeof runManifestShape>>;
