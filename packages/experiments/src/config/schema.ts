import { isComponent } from "@resagent/core";
import { PipelineSchema, type PipelineConfig } from "@resagent/pipeline";
import { z } from "zod";
import { COLUMN_VALUE_NAMES, type ColumnValueName } from "../columns.js";

/**
 * The schema of every config the harness reads: experiment files, profiles and presets around
 * the pipeline, and table/plot specs. It only composes: the pipeline's schema is the pipeline
 * package's (`PipelineSchema`), itself composed of each package's schema of its components'
 * parameters (sampler, verifier, decoder, MLLM backends and HTTP), with their types, ranges,
 * defaults and descriptions. The loader validates every cell's fully resolved pipeline with it
 * before any sample is touched; `configs/schema.json` and `configs/profile.schema.json` are
 * generated from it for editors (`pnpm resagent schema --write`; a test fails when stale).
 *
 * The pipeline is written once, as a cell runs it (components complete, names required); what a
 * YAML file may state is derived from it by `fileMode`: every key optional, no defaults (a file
 * states only what differs from what it extends), and a component may be a preset reference "@name".
 */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const enumOf = <T extends string>(values: readonly T[]) => z.enum(values as [T, ...T[]]);

const PRESET_REF = z.string().regex(/^@[\w.+-]+$/, 'a preset reference "@name" of the profile').describe('a preset of the profile, e.g. "@decoder-adapted": it replaces the inherited component, and later keys apply inside it');

export { PipelineSchema };

interface NodeDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  element?: z.ZodType;
}

/**
 * What a file may state where `schema` goes: every key optional at every depth, defaults left to
 * the resolved cell, and components (marked by `asComponent`) may be "@preset" references. Unions
 * of components accept any variant's keys here; the exact check happens on the resolved cell,
 * where the component's name is known.
 */
function fileMode(schema: z.ZodType): z.ZodType {
  const def = (schema as unknown as { _zod: { def: NodeDef } })._zod.def;
  const description = schema.description;
  let out: z.ZodType;
  switch (def.type) {
    case "optional":
    case "default":
    case "prefault":
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
  if (isComponent(schema)) out = z.union([PRESET_REF, out]);
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
    datasets: z.array(z.string().min(1)).min(1).optional().describe("the dataset columns (keys of datasets:) this row runs on; absent: every one"),
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
  datasets: z
    .record(
      z.string().min(1),
      z.union([
        z.string().min(1),
        z.strictObject({
          use: z.string().min(1).describe("a dataset id of the profile"),
          unit: enumOf(["sentence", "ref"] as const).optional().describe("sentence: every sentence is a sample; ref: one sample per ref (the authors' final script)"),
          sentence: enumOf(["first", "longest", "shortest", "random", "join"] as const).optional().describe("with unit ref: which sentence (the final script's --sentence_mode)"),
        }),
      ]),
    )
    .describe("column id -> dataset id of the profile (e.g. val: refcoco/val), or {use, unit, sentence} to change the sample unit"),
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
  datasets: Record<string, string | { use: string; unit?: "sentence" | "ref"; sentence?: "first" | "longest" | "shortest" | "random" | "join" }>;
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
