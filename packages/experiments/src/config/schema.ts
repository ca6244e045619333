import { InputError, suggest } from "@resagent/core";
import type { PipelineConfig } from "@resagent/pipeline";
import { COLUMN_VALUE_NAMES, isColumnValueName, type ColumnValueName } from "../columns.js";
import { isObject } from "./merge.js";

function unknownValue(kind: string, v: unknown): string {
  return `unknown ${kind} ${JSON.stringify(v)}; ${suggest(String(v), COLUMN_VALUE_NAMES)}`;
}

/** A dataset as a profile resolves it: a registry name, its split and loader options. */
export interface DatasetRef {
  name: string;
  split: string;
  [option: string]: unknown;
}

export interface CellSpec {
  id: string;
  label?: string;
  /** Pipeline overrides (nested or dotted keys); values "@name" refer to the profile's presets. */
  set?: Record<string, unknown>;
  /** Shown under the table: e.g. the embedded analogue used for a component with no embedded counterpart. */
  note?: string;
}

/** A column shows a value of COLUMN_VALUES (columns.ts): per dataset, averaged, or as a run statistic. */
export type ColumnSpec =
  | { header: string; dataset: string; metric?: ColumnValueName }
  | { header: string; average: string[]; metric?: ColumnValueName }
  | { header: string; stat: ColumnValueName; dataset?: string };

export interface TableSpec {
  /** Default value of dataset/average columns (mIoU, gIoU, cIoU, acc, ...: see COLUMN_VALUES). */
  metric: ColumnValueName;
  columns: ColumnSpec[];
  /** Rows whose numbers come only from the paper (other methods in Table 1). */
  paperOnlyRows?: string[];
}

export interface PlotSpec {
  kind: "bars" | "line" | "confusion";
  /** Column header to plot (bars/line); ours next to the paper's. */
  column?: string;
  columns?: string[];
  file: string;
  title?: string;
}

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
  pipeline: PipelineConfig;
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

export const TOP_LEVEL_KEYS = [
  "version",
  "name",
  "title",
  "description",
  "profile",
  "seed",
  "limit",
  "concurrency",
  "datasets",
  "pipeline",
  "cells",
  "sweep",
  "table",
  "paper",
  "plots",
  "notes",
  "extends",
] as const;

export const PIPELINE_KEYS = ["mllm", "verifierMllm", "sampler", "k", "verifier", "decoder", "onGroundingFailure"] as const;

/** Structural checks after merging; component-level checks happen when pipelines are built. */
export function checkExperiment(raw: Record<string, unknown>, file: string): void {
  const fail = (field: string, msg: string): never => {
    throw new InputError(msg, { file, field });
  };
  for (const k of Object.keys(raw)) if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k)) fail(k, `unknown key "${k}"; ${suggest(k, TOP_LEVEL_KEYS)}`);
  if (!Number.isInteger(raw.version)) fail("version", `expected an integer version, got ${JSON.stringify(raw.version)}`);
  for (const k of ["name", "title"]) if (typeof raw[k] !== "string" || !raw[k]) fail(k, `expected a non-empty string, got ${JSON.stringify(raw[k])}`);
  if (!Number.isInteger(raw.seed)) fail("seed", `expected an integer, got ${JSON.stringify(raw.seed)}`);
  if (!(Number.isInteger(raw.limit) && (raw.limit as number) >= 1)) fail("limit", `expected an integer >= 1, got ${JSON.stringify(raw.limit)}`);
  if (!(Number.isInteger(raw.concurrency) && (raw.concurrency as number) >= 1)) fail("concurrency", `expected an integer >= 1, got ${JSON.stringify(raw.concurrency)}`);
  if (!isObject(raw.datasets) || Object.keys(raw.datasets).length === 0) fail("datasets", "expected a map of column id -> dataset id (e.g. val: refcoco/val)");
  if (!isObject(raw.pipeline)) fail("pipeline", "expected a map");
  for (const k of Object.keys(raw.pipeline as object)) if (!(PIPELINE_KEYS as readonly string[]).includes(k)) fail(`pipeline.${k}`, `unknown key "${k}"; ${suggest(k, PIPELINE_KEYS)}`);
  if (!Array.isArray(raw.cells) || raw.cells.length === 0) fail("cells", "expected a non-empty list of {id, set}");
  const ids = new Set<string>();
  (raw.cells as unknown[]).forEach((c, i) => {
    if (!isObject(c) || typeof c.id !== "string") fail(`cells[${i}]`, "expected {id: string, set?: {...}, note?: string}");
    const cell = c as Record<string, unknown>;
    for (const k of Object.keys(cell)) if (!["id", "label", "set", "note"].includes(k)) fail(`cells[${i}].${k}`, `unknown key "${k}"; ${suggest(k, ["id", "label", "set", "note"])}`);
    if (ids.has(cell.id as string)) fail(`cells[${i}].id`, `duplicate cell id "${String(cell.id)}"`);
    ids.add(cell.id as string);
    if (cell.set !== undefined && !isObject(cell.set)) fail(`cells[${i}].set`, "expected a map of pipeline overrides");
  });
  if (raw.sweep !== undefined) {
    if (!isObject(raw.sweep)) fail("sweep", "expected a map of key path -> list of values");
    for (const [k, v] of Object.entries(raw.sweep as object)) if (!Array.isArray(v) || v.length === 0) fail(`sweep.${k}`, "expected a non-empty list of values");
  }
  const t = raw.table;
  if (!isObject(t) || !Array.isArray(t.columns) || t.columns.length === 0) fail("table.columns", "expected a non-empty list of columns");
  if (!isColumnValueName((t as Record<string, unknown>).metric)) fail("table.metric", unknownValue("metric", (t as Record<string, unknown>).metric));
  const datasetIds = Object.keys(raw.datasets as object);
  ((t as { columns: unknown[] }).columns).forEach((col, i) => {
    if (!isObject(col) || typeof col.header !== "string") fail(`table.columns[${i}]`, "expected {header, dataset | average | stat}");
    const c = col as Record<string, unknown>;
    for (const k of ["stat", "metric"]) if (k in c && !isColumnValueName(c[k])) fail(`table.columns[${i}].${k}`, unknownValue(k, c[k]));
    if (typeof c.dataset === "string" && c.dataset !== "all" && !datasetIds.includes(c.dataset)) fail(`table.columns[${i}].dataset`, `unknown dataset column "${c.dataset}"; ${suggest(c.dataset, datasetIds)}`);
  });
}
