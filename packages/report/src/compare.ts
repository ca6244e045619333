import { basename } from "node:path";
import { InputError, suggest } from "@resagent/core";
import { RESAMPLED_METRIC_NAMES, differenceReplicates, isResampledMetric, pairedBootstrap, percentileInterval, pointEstimates, type ResampledMetric } from "@resagent/metrics";
import { esc, page } from "./html.js";
import { cellOrder, readRunFolder, type RunFolder, type RunRecord } from "./run.js";

/** Metrics shown as percentages (fractions ×100). */
const PERCENT: ReadonlySet<string> = new Set(["mIoU", "gIoU", "cIoU", "acc", "precision", "recall", "f1", "conf", "groundingFailureRate"]);

export interface ComparisonRow {
  cell: string;
  /** Dataset column, or "all" for every shared sample of the cell. */
  dataset: string;
  /** Samples present in both runs for this cell. */
  n: number;
  a: number;
  b: number;
  /** a − b on the shared samples. */
  diff: number;
  /** Paired-bootstrap 95% interval of a − b; null with fewer than 2 shared samples. */
  ci: [number, number] | null;
  /** The interval excludes 0. */
  flagged: boolean;
}

export interface Comparison {
  a: RunFolder;
  b: RunFolder;
  metric: ResampledMetric;
  percent: boolean;
  replicates: number;
  seed: number;
  /** Set for a cell-vs-cell comparison: cell `a` of run A against cell `b` of run B (rows pair by dataset and sample id). */
  cells?: { a: string; b: string };
  rows: ComparisonRow[];
  /** Cells only one run has (not compared); empty for a cell-vs-cell comparison. */
  onlyA: string[];
  onlyB: string[];
}

export interface CompareOptions {
  metric?: string;
  seed?: number;
  replicates?: number;
  /** With `cellB`: compare this cell of run A with cell `cellB` of run B instead of every cell with its namesake. */
  cellA?: string;
  cellB?: string;
}

type Pair = readonly [RunRecord, RunRecord];

/** One row per dataset column (plus "all" when there are several) for paired records; `label` seeds the bootstrap together with the column. */
function pairedRows(cell: string, pairs: Pair[], columnOf: (dataset: string) => string, metric: ResampledMetric, label: string, seed: number, replicates: number): ComparisonRow[] {
  const byCol = new Map<string, Pair[]>();
  for (const p of pairs) {
    const col = columnOf(p[0].dataset);
    let g = byCol.get(col);
    if (!g) byCol.set(col, (g = []));
    g.push(p);
  }
  const groups = [...byCol.entries()];
  if (groups.length > 1) groups.push(["all", pairs]);
  const rows: ComparisonRow[] = [];
  for (const [col, ps] of groups) {
    const xa = ps.map((p) => p[0]);
    const xb = ps.map((p) => p[1]);
    const va = pointEstimates(xa)[metric];
    const vb = pointEstimates(xb)[metric];
    let ci: [number, number] | null = null;
    if (ps.length >= 2) {
      const reps = pairedBootstrap(xa, xb, { seed, label: `${label}|${col}`, replicates });
      ci = percentileInterval(differenceReplicates(reps.a[metric], reps.b[metric]));
    }
    rows.push({ cell, dataset: col, n: ps.length, a: va, b: vb, diff: va - vb, ci, flagged: ci !== null && (ci[0] > 0 || ci[1] < 0) });
  }
  return rows;
}

/**
 * Paired comparison of two runs on the samples they share: per cell and dataset column, the
 * difference a − b of a metric and its paired-bootstrap 95% interval (one set of resampled
 * sample indices applied to both runs, so sample difficulty cancels). Refuses runs with no
 * shared (cell, sample). With `cellA` and `cellB`, compares those two cells instead (run A's
 * `cellA` against run B's `cellB`, paired by dataset and sample id; the runs may be one folder).
 */
export function compareRuns(dirA: string, dirB: string, options: CompareOptions = {}): Comparison {
  const metric = options.metric ?? "mIoU";
  if (!isResampledMetric(metric)) throw new InputError(`unknown metric "${metric}"; ${suggest(metric, RESAMPLED_METRIC_NAMES)} (known: ${RESAMPLED_METRIC_NAMES.join(", ")})`, { field: "--metric" });
  // Checked before reading anything: one cell alone has no meaning (its partner would be guessed).
  if ((options.cellA === undefined) !== (options.cellB === undefined)) {
    const [given, missing] = options.cellA === undefined ? ["--cell-b", "--cell-a"] : ["--cell-a", "--cell-b"];
    throw new InputError(`${given} needs ${missing} too: a cell-vs-cell comparison takes both cells (or neither, to compare every cell of A with the same cell of B)`, { field: missing });
  }
  const seed = options.seed ?? 0;
  const replicates = options.replicates ?? 1000;
  const a = readRunFolder(dirA);
  const b = readRunFolder(dirB);
  for (const r of [a, b]) if (!r.records.length) throw new InputError("run has no records in samples.jsonl", { file: r.dir });
  const key = (r: RunRecord) => `${r.dataset}\u0000${r.id}`;
  const index = (run: RunFolder) => {
    const m = new Map<string, Map<string, RunRecord>>();
    for (const r of run.records) {
      let byKey = m.get(r.cell);
      if (!byKey) m.set(r.cell, (byKey = new Map()));
      byKey.set(key(r), r);
    }
    return m;
  };
  const ia = index(a);
  const ib = index(b);
  const cellsA = cellOrder(a).filter((c) => ia.has(c));
  const cellsB = cellOrder(b).filter((c) => ib.has(c));
  const pairsOf = (ra: Map<string, RunRecord>, rb: Map<string, RunRecord>): Pair[] => [...ra.keys()].filter((k) => rb.has(k)).map((k) => [ra.get(k)!, rb.get(k)!] as const);
  if (options.cellA !== undefined && options.cellB !== undefined) {
    const pick = (run: RunFolder, idx: Map<string, Map<string, RunRecord>>, cells: string[], name: string, flag: string) => {
      const m = idx.get(name);
      if (!m) throw new InputError(`no cell "${name}" with records in this run; ${suggest(name, cells)}`, { file: run.dir, field: flag });
      return m;
    };
    const ca = options.cellA;
    const cb = options.cellB;
    const pairs = pairsOf(pick(a, ia, cellsA, ca, "--cell-a"), pick(b, ib, cellsB, cb, "--cell-b"));
    if (!pairs.length) {
      throw new InputError(`no shared samples: cell "${ca}" of ${basename(a.dir)} and cell "${cb}" of ${basename(b.dir)} have no (dataset, sample) in common`, { field: "runs" });
    }
    const rows = pairedRows(`${ca} − ${cb}`, pairs, (d) => a.columnOf(d), metric, `compare-cells|${ca}|${cb}`, seed, replicates);
    return { a, b, metric, percent: PERCENT.has(metric), replicates, seed, cells: { a: ca, b: cb }, rows, onlyA: [], onlyB: [] };
  }
  const rows: ComparisonRow[] = [];
  for (const cell of cellsA.filter((c) => ib.has(c))) {
    const pairs = pairsOf(ia.get(cell)!, ib.get(cell)!);
    if (!pairs.length) continue;
    rows.push(...pairedRows(cell, pairs, (d) => a.columnOf(d), metric, `compare|${cell}`, seed, replicates));
  }
  if (!rows.length) {
    throw new InputError(`no shared samples: ${basename(a.dir)} and ${basename(b.dir)} have no (cell, sample) in common (cells ${JSON.stringify(cellsA.slice(0, 4))} vs ${JSON.stringify(cellsB.slice(0, 4))})`, { field: "runs" });
  }
  return { a, b, metric, percent: PERCENT.has(metric), replicates, seed, rows, onlyA: cellsA.filter((c) => !ib.has(c)), onlyB: cellsB.filter((c) => !ia.has(c)) };
}

/** Values with one decimal (percent) or two; differences and their intervals one more, so an interval just clear of 0 does not print as "+0.0". */
function num(v: number, percent: boolean, signed = false): string {
  if (Number.isNaN(v)) return "–";
  const x = percent ? 100 * v : v;
  const s = x.toFixed((percent ? 1 : 2) + (signed ? 1 : 0));
  return signed && x >= 0 ? `+${s}` : s;
}

function label(run: RunFolder, cell?: string): string {
  const s = run.summary;
  return `${basename(run.dir)}${s?.experiment ? ` (${s.experiment}, ${s.profile ?? "?"} profile, seed ${s.seed ?? "?"}${s.simulated ? ", SIMULATED" : ""})` : ""}${cell === undefined ? "" : `, cell "${cell}"`}`;
}

/** Plain-text table for the terminal. */
export function comparisonText(c: Comparison): string {
  const unit = c.percent ? " (%)" : "";
  const head = ["cell", "dataset", "n", `A ${c.metric}${unit}`, `B ${c.metric}${unit}`, "A − B", "95% CI", ""];
  const body = c.rows.map((r) => [r.cell, r.dataset, String(r.n), num(r.a, c.percent), num(r.b, c.percent), num(r.diff, c.percent, true), r.ci ? `[${num(r.ci[0], c.percent, true)}, ${num(r.ci[1], c.percent, true)}]` : "n < 2", r.flagged ? "*" : ""]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((x, i) => (i < 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ").trimEnd();
  const out = [`A: ${label(c.a, c.cells?.a)}`, `B: ${label(c.b, c.cells?.b)}`, "", line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line), ""];
  out.push(`Paired bootstrap over shared samples (${c.replicates} resamples, seed ${c.seed}); * = the 95% interval of A − B excludes 0.`);
  if (c.onlyA.length) out.push(`Only in A (not compared): ${c.onlyA.join(", ")}`);
  if (c.onlyB.length) out.push(`Only in B (not compared): ${c.onlyB.join(", ")}`);
  return `${out.join("\n")}\n`;
}

/** A self-contained comparison page. */
export function comparisonHtml(c: Comparison): string {
  const unit = c.percent ? " (%)" : "";
  const rows = c.rows
    .map((r) => `<tr${r.flagged ? ' class="flagged"' : ""}><td>${esc(r.cell)}</td><td>${esc(r.dataset)}</td><td>${r.n}</td><td>${num(r.a, c.percent)}</td><td>${num(r.b, c.percent)}</td><td>${num(r.diff, c.percent, true)}</td><td>${r.ci ? `[${num(r.ci[0], c.percent, true)}, ${num(r.ci[1], c.percent, true)}]` : "n &lt; 2"}</td><td class="flag">${r.flagged ? "excludes 0" : ""}</td></tr>`)
    .join("");
  const sim = [c.a, c.b].some((r) => r.summary?.simulated) ? `<div class="simulated">SIMULATED: at least one run used synthetic data and/or a simulated MLLM.</div>` : "";
  const what = c.cells ? `cell “${esc(c.cells.a)}” − cell “${esc(c.cells.b)}”` : "A − B";
  const body = `<h1>Comparison: ${esc(c.metric)}, ${what} on shared samples</h1>
${sim}
<p>A: <a href="${esc(c.a.dir)}/report.html">${esc(label(c.a, c.cells?.a))}</a><br>B: <a href="${esc(c.b.dir)}/report.html">${esc(label(c.b, c.cells?.b))}</a></p>
<table><tr><th>cell</th><th>dataset</th><th>n shared</th><th>A ${esc(c.metric)}${unit}</th><th>B ${esc(c.metric)}${unit}</th><th>A − B</th><th>95% CI</th><th></th></tr>${rows}</table>
<p class="muted">Paired bootstrap over shared samples (${c.replicates} resamples, seed ${c.seed}): each resample draws the same samples for both ${c.cells ? "cells" : "runs"}. Highlighted rows: the interval excludes 0.</p>
${c.onlyA.length ? `<p class="muted">Only in A (not compared): ${esc(c.onlyA.join(", "))}</p>` : ""}
${c.onlyB.length ? `<p class="muted">Only in B (not compared): ${esc(c.onlyB.join(", "))}</p>` : ""}`;
  const title = c.cells ? `Comparison ${c.cells.a} (${basename(c.a.dir)}) vs ${c.cells.b} (${basename(c.b.dir)})` : `Comparison ${basename(c.a.dir)} vs ${basename(c.b.dir)}`;
  return page("compare", title, body, "tr.flagged td { background: #fff3e0; }");
}
