import type { LoadedExperiment } from "./config/load.js";
import type { ColumnSpec } from "./config/schema.js";
import { COLUMN_VALUES, type ColumnValueName } from "./columns.js";
import { isResampledMetric } from "@resagent/metrics";
import { BOOTSTRAP_SETTINGS, type CellMetrics, type SampleBootstrap } from "./summary.js";
import type { PipelineConfig } from "@resagent/pipeline";
import { describeUnit } from "@resagent/data";

/** A cell that looks at gold (the oracle-best router, the oracle-value ranking): an upper bound, not a method. */
export function isUpperBound(pipeline: PipelineConfig): boolean {
  return pipeline.grounding?.router === "oracle-best" || pipeline.sampler.rank === "oracle-value";
}

export interface TableData {
  title: string;
  headers: string[];
  rows: {
    label: string;
    ours: (number | null)[];
    paper: (number | string | null)[];
    /** 95% bootstrap interval of `ours` per column (same units), null where there is none. */
    ci?: ([number, number] | null)[];
    /** Samples behind `ours` per column (an average column: the sum over its datasets). */
    n?: (number | null)[];
    paperOnly?: boolean;
    note?: string;
  }[];
  /** Units per column, for formatting ("%" columns are ×100). */
  percent: boolean[];
  /** The value each column shows (a COLUMN_VALUES name: mIoU, acc, msPerSample, ...). */
  metrics?: string[];
  /** How the intervals were made (replicates, level, seed), printed under the table. */
  intervals?: { replicates: number; level: number; seed: number; method: string };
  notes: string[];
  /** One line saying what made the numbers (seed, samples, profile, commit, date); printed under the table and on plots. */
  provenance?: string;
}

function metricValue(m: CellMetrics | undefined, name: ColumnValueName): number | null {
  return m ? COLUMN_VALUES[name].read(m) : null;
}

function columnValue(col: ColumnSpec, cellMetrics: Record<string, CellMetrics> | undefined, defaultMetric: ColumnValueName): number | null {
  if ("stat" in col) return metricValue(cellMetrics?.[col.dataset ?? "all"], col.stat);
  const metric = col.metric ?? defaultMetric;
  if ("average" in col) {
    const vals = col.average.map((d) => metricValue(cellMetrics?.[d], metric));
    return vals.some((v) => v === null || Number.isNaN(v)) ? null : (vals as number[]).reduce((a, b) => a + b, 0) / vals.length;
  }
  const v = metricValue(cellMetrics?.[col.dataset], metric);
  return v === null || Number.isNaN(v) ? null : v;
}

function columnMetric(col: ColumnSpec, defaultMetric: ColumnValueName): ColumnValueName {
  return "stat" in col ? col.stat : (col.metric ?? defaultMetric);
}

/** Datasets a column draws on ("all" for statistics over every dataset). */
function columnDatasets(col: ColumnSpec): string[] {
  if ("stat" in col) return [col.dataset ?? "all"];
  if ("average" in col) return col.average;
  return [col.dataset];
}

function isPercent(col: ColumnSpec, defaultMetric: ColumnValueName): boolean {
  return COLUMN_VALUES["stat" in col ? col.stat : (col.metric ?? defaultMetric)].percent;
}

/** The paper's table with our numbers: rows = cells, columns as the experiment declares. */
export function buildTable(exp: LoadedExperiment, metrics: Record<string, Record<string, CellMetrics>>, runTitle: string, provenance?: string, boot?: SampleBootstrap): TableData {
  const { config } = exp;
  const sweeps = config.columnSweeps.length ? config.columnSweeps : [""];
  const headers = sweeps.flatMap((s) => config.table.columns.map((c) => (s ? `${c.header} (${s})` : c.header)));
  const percent = sweeps.flatMap(() => config.table.columns.map((c) => isPercent(c, config.table.metric)));
  const columnMetrics = sweeps.flatMap(() => config.table.columns.map((c) => columnMetric(c, config.table.metric)));
  const rows: TableData["rows"] = [];
  for (const label of config.table.paperOnlyRows ?? []) rows.push({ label, ours: headers.map(() => null), paper: [...(config.paper[label] ?? []), ...sweeps.slice(1).flatMap(() => config.paper[label] ?? [])], paperOnly: true });
  const seen = new Set<string>();
  for (const cell of exp.cells) {
    if (seen.has(cell.row)) continue;
    seen.add(cell.row);
    const groups = sweeps.map((s) => exp.cells.find((c) => c.row === cell.row && c.column === s) ?? cell);
    const ours = groups.flatMap((g) => config.table.columns.map((c) => columnValue(c, metrics[g.id], config.table.metric)));
    const ci = groups.flatMap((g) =>
      config.table.columns.map((c) => {
        const m = columnMetric(c, config.table.metric);
        return boot && isResampledMetric(m) ? boot.interval(g.id, columnDatasets(c), m) : null;
      }),
    );
    const n = groups.flatMap((g) =>
      config.table.columns.map((c) => {
        const counts = columnDatasets(c).map((d) => metrics[g.id]?.[d]?.samples);
        return counts.some((x) => x === undefined) ? null : (counts as number[]).reduce((a, b) => a + b, 0);
      }),
    );
    const paper = config.paper[cell.row] ?? [];
    // The paper's numbers sit only beside the column group run with the paper's setting.
    const paperValues = groups.flatMap((g) => config.table.columns.map((_, i) => (g.paperSetting ? (paper[i] ?? null) : null)));
    const standIn = groups.some((g) => g.standIns.length > 0);
    // A router that looks at gold is an upper bound, never a method: its row says so wherever it shows.
    const upperBound = groups.some((g) => isUpperBound(g.pipeline));
    const note = groups.find((g) => g.note)?.note;
    const label = `${cell.row}${upperBound ? " [UPPER BOUND: uses gold]" : ""}${standIn ? " [stand-in]" : ""}`;
    rows.push({ label, ours, ci, n, paper: paperValues, ...(note ? { note } : {}) });
  }
  return {
    title: runTitle,
    headers,
    rows,
    percent,
    metrics: columnMetrics,
    notes: [...config.notes, unitNote(exp)],
    ...(boot ? { intervals: { replicates: boot.replicates, level: BOOTSTRAP_SETTINGS.level, seed: config.seed, method: BOOTSTRAP_SETTINGS.method } } : {}),
    ...(provenance ? { provenance } : {}),
  };
}

/**
 * What a table's n counts, per dataset column (by its header where a column shows it alone):
 * every sentence, or one sample per ref and which sentence it is scored with.
 */
export function unitNote(exp: LoadedExperiment): string {
  const { config } = exp;
  const byUnit = new Map<string, string[]>();
  for (const [col, ref] of Object.entries(config.resolvedDatasets)) {
    const header = config.table.columns.find((c) => "dataset" in c && !("stat" in c) && c.dataset === col)?.header ?? col;
    const unit = describeUnit(ref);
    byUnit.set(unit, [...(byUnit.get(unit) ?? []), header]);
  }
  const parts = [...byUnit].map(([unit, cols]) => (byUnit.size === 1 ? unit : `${cols.join(", ")}: ${unit}`));
  return `Samples (what n counts): ${parts.join("; ")}.`;
}

function fmt(v: number | null, percent: boolean): string {
  if (v === null || Number.isNaN(v)) return "–";
  return percent ? (100 * v).toFixed(2) : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

/**
 * "81.2 ±1.3": the value and half the width of its 95% interval (percentile intervals can be
 * asymmetric; the CSV and summary.json keep both ends). One decimal for percentages with an
 * interval: the second is noise at these sample sizes.
 */
export function fmtWithInterval(v: number | null, ci: [number, number] | null | undefined, percent: boolean): string {
  if (v === null || Number.isNaN(v) || !ci) return fmt(v, percent);
  const scale = percent ? 100 : 1;
  const digits = percent ? 1 : Math.abs(v) >= 100 ? 0 : 2;
  return `${(scale * v).toFixed(digits)} ±${((scale * (ci[1] - ci[0])) / 2).toFixed(digits)}`;
}

/** n per column when every row of ours has the same; undefined where rows differ. */
function uniformN(t: TableData): (number | undefined)[] {
  return t.headers.map((_, i) => {
    const ns = new Set(t.rows.filter((r) => !r.paperOnly).map((r) => r.n?.[i] ?? null));
    const [only] = [...ns];
    return ns.size === 1 && typeof only === "number" ? only : undefined;
  });
}

/** Markdown: each entry "ours ‹paper, Δ›"; paper-only rows show the paper's numbers in italics. */
export function tableMarkdown(t: TableData): string {
  const nCol = uniformN(t);
  const head = t.headers.map((h, i) => (nCol[i] !== undefined ? `${h} (n=${nCol[i]})` : h));
  const lines = [`### ${t.title}`, "", `| | ${head.join(" | ")} |`, `|---|${t.headers.map(() => "---").join("|")}|`];
  for (const r of t.rows) {
    const cells = t.headers.map((_, i) => {
      const p = r.paper[i];
      if (r.paperOnly) return p === null || p === undefined ? "–" : `*${p}*`;
      const n = r.n?.[i];
      const ours = `${fmtWithInterval(r.ours[i] ?? null, r.ci?.[i], t.percent[i]!)}${nCol[i] === undefined && typeof n === "number" ? ` (n=${n})` : ""}`;
      if (p === null || p === undefined || p === "") return ours;
      if (typeof p === "number" && r.ours[i] !== null && r.ours[i] !== undefined && !Number.isNaN(r.ours[i])) {
        const mine = t.percent[i] ? 100 * r.ours[i]! : r.ours[i]!;
        const d = mine - p;
        return `${ours} ‹${p}, ${d >= 0 ? "+" : "−"}${Math.abs(d).toFixed(r.ci?.[i] ? 1 : 2)}›`;
      }
      return `${ours} ‹${p}›`;
    });
    const label = r.label.replace(/\|/g, "\\|");
    lines.push(`| ${r.paperOnly ? `*${label}* (paper)` : label} | ${cells.join(" | ")} |`);
  }
  const hasPaper = t.rows.some((r) => r.paper.some((p) => p !== null && p !== undefined && p !== ""));
  lines.push("", hasPaper ? "Entries: ours ‹paper, ours − paper›. Percentages for IoU and point metrics." : "Percentages for IoU and point metrics.");
  if (t.intervals && t.rows.some((r) => r.ci?.some(Boolean))) {
    lines.push("", `± is half the width of a ${100 * t.intervals.level}% ${t.intervals.method} (${t.intervals.replicates} resamples, seed ${t.intervals.seed}; an average column resamples each dataset independently); n = samples per entry (summed over an average's datasets).`);
  }
  const notes = [...t.notes, ...t.rows.filter((r) => r.note).map((r) => `${r.label}: ${r.note}`)];
  if (notes.length) lines.push("", ...notes.map((n) => `- ${n}`));
  if (t.provenance) lines.push("", `<sub>${t.provenance}</sub>`);
  return `${lines.join("\n")}\n`;
}

export function tableCsv(t: TableData): string {
  const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = ["row", ...t.headers.flatMap((h) => [h, `${h} ci95 low`, `${h} ci95 high`, `${h} n`, `${h} (paper)`, `${h} (ours - paper)`])];
  const lines = [head.map(esc).join(",")];
  for (const r of t.rows) {
    const vals = t.headers.flatMap((_, i) => {
      const o = r.ours[i];
      const scale = t.percent[i] ? 100 : 1;
      const ours = o === null || o === undefined || Number.isNaN(o) ? "" : String(scale * o);
      const ci = r.ci?.[i];
      const n = r.n?.[i];
      const p = r.paper[i];
      const delta = typeof p === "number" && ours !== "" ? String(Number(ours) - p) : "";
      return [ours, ci ? String(scale * ci[0]) : "", ci ? String(scale * ci[1]) : "", r.paperOnly || n === null || n === undefined ? "" : String(n), p === null || p === undefined ? "" : String(p), delta];
    });
    lines.push([r.label, ...vals].map((v) => esc(String(v))).join(","));
  }
  return `${lines.join("\n")}\n`;
}
