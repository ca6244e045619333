import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError, readJsonLinesTolerant } from "@resagent/core";
import { checkRecordVersion, readRunSummary, readSampleRecordTolerant, type DatasetRef, type PartialSampleRecord, type RunSummary, type SummaryTable } from "@resagent/records";
import { parse } from "yaml";

/**
 * One line of samples.jsonl as the report reads it (@resagent/records' PartialSampleRecord): the
 * required fields (id, cell, dataset, iou, intersection, union), every other field of the
 * pipeline's when it has its type (a record may lack it: failed grounding, no gold, older
 * writers), and unknown keys kept and ignored.
 */
export type RunRecord = PartialSampleRecord;
export type { DatasetRef, RunSummary, SummaryTable };

export interface RunFolder {
  dir: string;
  summary: RunSummary | undefined;
  config: Record<string, unknown> | undefined;
  records: RunRecord[];
  /** Lines of samples.jsonl that could not be read (a torn last line of a killed run). */
  badLines: number;
  /** Dataset column of a record's `dataset` ("synthref/refcoco/val" -> "val"). */
  columnOf: (datasetName: string) => string;
  datasets: Record<string, DatasetRef>;
}

/** A samples.jsonl line read through the record schema (readSampleRecordTolerant): undefined when it is not a record. */
function readRecords(file: string): { values: RunRecord[]; skipped: number } {
  const { values, skipped } = readJsonLinesTolerant(file);
  const records: RunRecord[] = [];
  for (const v of values) {
    const r = readSampleRecordTolerant(v);
    if (r) records.push(r);
  }
  return { values: records, skipped: skipped + values.length - records.length };
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === "number" && !Number.isNaN(v) ? v : null);
const str = (v: unknown): string | undefined => (v === undefined || v === null ? undefined : String(v));
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const pair = (v: unknown): [number, number] | null => (Array.isArray(v) && v.length === 2 && typeof v[0] === "number" && typeof v[1] === "number" ? [v[0], v[1]] : null);

/** Dataset references with a string name and split; anything else left out. */
function datasetRefs(v: unknown): Record<string, DatasetRef> {
  if (!isObj(v)) return {};
  return Object.fromEntries(Object.entries(v).filter((e): e is [string, DatasetRef] => isObj(e[1]) && typeof e[1].name === "string" && typeof e[1].split === "string"));
}

/**
 * summary.json's table with every field of the type the pages expect: strings coerced with
 * String, numbers that are not numbers as missing, lists that are not lists as empty. Undefined
 * when it has no headers.
 */
function readTable(v: unknown): SummaryTable | undefined {
  if (!isObj(v) || !Array.isArray(v.headers) || v.headers.length === 0) return undefined;
  const headers = v.headers.map((h) => String(h));
  const iv = v.intervals;
  const ivOk = isObj(iv) && typeof iv.replicates === "number" && typeof iv.level === "number" && typeof iv.seed === "number";
  return {
    title: String(v.title ?? ""),
    headers,
    rows: list(v.rows)
      .filter(isObj)
      .map((r) => ({
        label: String(r.label ?? ""),
        ours: list(r.ours).map(num),
        paper: list(r.paper).map((p) => (p === null || p === undefined ? null : typeof p === "number" ? p : String(p))),
        ...(Array.isArray(r.ci) ? { ci: r.ci.map(pair) } : {}),
        ...(Array.isArray(r.n) ? { n: r.n.map(num) } : {}),
        ...(r.paperOnly === true ? { paperOnly: true } : {}),
        ...(r.note !== undefined && r.note !== null ? { note: String(r.note) } : {}),
      })),
    percent: headers.map((_, i) => list(v.percent)[i] === true),
    ...(Array.isArray(v.metrics) ? { metrics: v.metrics.map((m) => String(m)) } : {}),
    ...(Array.isArray(v.notes) ? { notes: v.notes.map((n) => String(n)) } : {}),
    ...(str(v.provenance) !== undefined ? { provenance: str(v.provenance)! } : {}),
    ...(ivOk ? { intervals: { replicates: iv.replicates as number, level: iv.level as number, seed: iv.seed as number, method: String(iv.method ?? "") } } : {}),
  };
}

/**
 * summary.json as the pages read it: the fields shown by name take their types (coerced where the
 * pages can use them, else left out: RunSummarySchema); the rest is shown generically, escaped.
 * A summary of a newer recordVersion is refused with one line naming the file and field.
 */
function readSummary(raw: Record<string, unknown>, file: string): RunSummary {
  checkRecordVersion(raw, file);
  const cells = isObj(raw.cells)
    ? Object.fromEntries(Object.entries(raw.cells).map(([id, c]) => [id, isObj(c) ? { ...(isObj(c.components) ? { components: Object.fromEntries(Object.entries(c.components).map(([k, x]) => [k, String(x)])) } : {}), ...(c.note !== undefined && c.note !== null ? { note: String(c.note) } : {}) } : {}]))
    : undefined;
  const metrics = isObj(raw.metrics) ? Object.fromEntries(Object.entries(raw.metrics).filter((e) => isObj(e[1])).map(([cell, m]) => [cell, Object.fromEntries(Object.entries(m as Record<string, unknown>).filter((e): e is [string, Record<string, unknown>] => isObj(e[1])))])) : undefined;
  const table = readTable(raw.table);
  const { cells: _c, metrics: _m, table: _t, datasets: _d, ...rest } = raw;
  return readRunSummary(
    {
      ...rest,
      ...(cells ? { cells } : {}),
      ...(metrics ? { metrics } : {}),
      ...(table ? { table } : {}),
      ...(raw.datasets !== undefined ? { datasets: datasetRefs(raw.datasets) } : {}),
      ...(raw.simulated !== undefined ? { simulated: raw.simulated === true } : {}),
      ...(raw.records !== undefined ? { records: typeof raw.records === "number" ? raw.records : undefined } : {}),
    },
    file,
  );
}

/** Read a run folder: summary.json, config.resolved.yaml and samples.jsonl (each optional, but not all). */
export function readRunFolder(dir: string, options: { records?: boolean } = {}): RunFolder {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new InputError("not a folder", { file: abs });
  const summaryFile = join(abs, "summary.json");
  const configFile = join(abs, "config.resolved.yaml");
  const samplesFile = join(abs, "samples.jsonl");
  if (![summaryFile, configFile, samplesFile].some((f) => existsSync(f))) {
    throw new InputError("not a run folder (no summary.json, config.resolved.yaml or samples.jsonl)", { file: abs });
  }
  let summary: RunSummary | undefined;
  if (existsSync(summaryFile)) {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(summaryFile, "utf8"));
    } catch (err) {
      throw new InputError(`cannot parse JSON (${(err as Error).message})`, { file: summaryFile });
    }
    if (!isObj(raw)) throw new InputError("expected a JSON object", { file: summaryFile });
    summary = readSummary(raw, summaryFile);
  }
  let config: Record<string, unknown> | undefined;
  if (existsSync(configFile)) {
    try {
      config = parse(readFileSync(configFile, "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new InputError(`cannot parse YAML (${(err as Error).message.split("\n")[0]})`, { file: configFile });
    }
    if (!isObj(config)) throw new InputError("expected a YAML map", { file: configFile });
  }
  const { values: records, skipped } = options.records === false || !existsSync(samplesFile) ? { values: [], skipped: 0 } : readRecords(samplesFile);
  const datasets = datasetRefs(summary?.datasets ?? config?.resolvedDatasets);
  const cols = new Map(Object.entries(datasets).map(([col, ref]) => [`${ref.name}/${ref.split}`, col]));
  return { dir: abs, summary, config, records, badLines: skipped, columnOf: (d) => cols.get(d) ?? d, datasets };
}

/** Cells in the order the run defines them (summary, then config), then any others records name. */
export function cellOrder(run: RunFolder): string[] {
  const fromSummary = Object.keys(run.summary?.cells ?? {});
  const fromConfig = Object.keys((run.config?.cellPipelines as Record<string, unknown> | undefined) ?? {});
  return [...new Set([...fromSummary, ...fromConfig, ...run.records.map((r) => r.cell)])];
}

/** Verifier answers that contradict the gold label (a decided point whose decision is wrong). */
export function verifierErrors(r: RunRecord): { wrong: number; wrongUsed: number; scored: number } {
  let wrong = 0;
  let wrongUsed = 0;
  let scored = 0;
  for (const q of Array.isArray(r.queries) ? r.queries : []) {
    if (!q || typeof q !== "object") continue;
    if ((q.decision !== "positive" && q.decision !== "negative") || q.gold === undefined) continue;
    scored++;
    if ((q.decision === "positive") !== q.gold) {
      wrong++;
      if (q.used) wrongUsed++;
    }
  }
  return { wrong, wrongUsed, scored };
}

/** Box IoU below which a grounded box counts as the wrong object (REC's Acc@0.5 criterion). */
export const WRONG_OBJECT_BOX_IOU = 0.5;

export type FailureKind = "grounding-failure" | "wrong-object" | "verifier-error" | "none";

/** Failure kinds of a record, checked against gold: grounding failed, wrong object boxed, a verifier answer contradicted its gold label. */
export function failureKinds(r: RunRecord): FailureKind[] {
  const kinds: FailureKind[] = [];
  if (r.groundingFailure || r.box === null) kinds.push("grounding-failure");
  else if (typeof r.boxIoU === "number" && r.boxIoU < WRONG_OBJECT_BOX_IOU) kinds.push("wrong-object");
  if (verifierErrors(r).wrong > 0) kinds.push("verifier-error");
  return kinds.length ? kinds : ["none"];
}
