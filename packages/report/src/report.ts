import { existsSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { writeFileAtomic } from "@resagent/core";
import { galleryScript, type GalleryCard, type GalleryData } from "./client.js";
import { esc, page, renderValue, scriptJson } from "./html.js";
import { tableLatex } from "./latex.js";
import { COLOURS, writeOverlays } from "./overlay.js";
import { cellOrder, failureKinds, readRunFolder, verifierErrors, WRONG_OBJECT_BOX_IOU, type RunFolder, type SummaryTable } from "./run.js";

/** Runs with at most this many records show every card at load; larger ones page. */
export const ALL_CARDS_LIMIT = 500;
const PAGE_SIZE = 200;

export interface ReportOptions {
  /** Parallel overlay workers (sharp has its own thread pool; a few suffice). */
  concurrency?: number;
  /** At most this many overlay pictures (whole samples, round-robin over datasets); 0 = all. Default DEFAULT_MAX_OVERLAYS. */
  maxOverlays?: number;
}

export interface ReportResult {
  files: string[];
  records: number;
  overlays: number;
  /** Records whose image (or dataset) was unavailable; their cards say why. */
  missingImages: number;
}

/**
 * Write `report.html` (and `table.tex`) into a run folder from the files in it: summary.json,
 * config.resolved.yaml, samples.jsonl, the plots, plus the dataset's images for the overlays.
 * Nothing is recomputed from a model; every number shown is read from those files.
 */
export async function writeReport(runDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const run = readRunFolder(runDir);
  const overlays = await writeOverlays(run.dir, run.records, run.datasets, {
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
    ...(options.maxOverlays !== undefined ? { maxOverlays: options.maxOverlays } : {}),
  });
  const cells = cellOrder(run);
  const cards: GalleryCard[] = run.records.map((r, i) => {
    const o = overlays.get(r);
    const v = verifierErrors(r);
    // Run files are untrusted: every field takes the type the page expects, whatever the file holds.
    const box = Array.isArray(r.box) && r.box.length === 4 && r.box.every((x) => typeof x === "number") ? [...r.box] : null;
    const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
    return {
      k: `${r.id}|${r.cell}`,
      id: r.id,
      cell: r.cell,
      ds: run.columnOf(r.dataset),
      phrase: String(r.expression ?? ""),
      iou: r.iou,
      biou: typeof r.boxIoU === "number" ? r.boxIoU : null,
      box,
      fail: r.groundingFailure !== undefined && r.groundingFailure !== null ? String(r.groundingFailure) : r.box === null ? "no box" : null,
      kinds: failureKinds(r),
      q: count(r.queries),
      verr: v.wrong,
      verrUsed: v.wrongUsed,
      scored: v.scored,
      pos: count(r.positives),
      neg: count(r.negatives),
      img: o?.file ?? null,
      note: o?.note ?? null,
      i,
      qs: (Array.isArray(r.queries) ? r.queries : []).map((q) => [String(q?.queue ?? ""), finiteOr(q?.rank, 0), typeof q?.pYes === "number" ? q.pYes : null, String(q?.decision ?? ""), q?.gold === undefined ? null : q.gold ? 1 : 0, q?.used ? 1 : 0]),
    };
  });
  const datasets = [...new Set([...Object.keys(run.datasets), ...cards.map((c) => c.ds)])].filter((d) => cards.some((c) => c.ds === d));
  const gallery: GalleryData = { cells: cells.filter((c) => cards.some((k) => k.cell === c)), datasets, cards, pageSize: cards.length <= ALL_CARDS_LIMIT ? ALL_CARDS_LIMIT : PAGE_SIZE };
  const html = reportHtml(run, gallery);
  const files: string[] = [];
  await writeFileAtomic(join(run.dir, "report.html"), html);
  files.push(join(run.dir, "report.html"));
  if (run.summary?.table) {
    await writeFileAtomic(join(run.dir, "table.tex"), tableLatex(run.summary.table, { simulated: run.summary.simulated === true }));
    files.push(join(run.dir, "table.tex"));
  }
  return { files, records: run.records.length, overlays: [...overlays.values()].filter((o) => o.file).length, missingImages: [...overlays.values()].filter((o) => o.note && !o.note.startsWith("overlay not drawn")).length };
}

const finiteOr = (v: unknown, fallback: number): number => (typeof v === "number" && Number.isFinite(v) ? v : fallback);

function fmt(v: number | null | undefined, percent: boolean, ci?: [number, number] | null): string {
  if (v === null || v === undefined || Number.isNaN(v)) return "–";
  const scale = percent ? 100 : 1;
  const digits = percent ? (ci ? 1 : 2) : Math.abs(v) >= 100 ? 0 : 2;
  const main = (scale * v).toFixed(digits);
  return ci ? `${main} <span class="pm">±${((scale * (ci[1] - ci[0])) / 2).toFixed(digits)}</span>` : main;
}

export function tableHtml(t: SummaryTable): string {
  const ourRows = t.rows.filter((r) => !r.paperOnly);
  const nHeader = t.headers.map((_, i) => {
    const ns = new Set(ourRows.map((r) => r.n?.[i] ?? null));
    const [only] = [...ns];
    return ns.size === 1 && typeof only === "number" ? ` <span class="muted">(n=${only})</span>` : "";
  });
  const head = `<tr><th></th>${t.headers.map((h, i) => `<th>${esc(h)}${nHeader[i]}</th>`).join("")}</tr>`;
  const body = t.rows
    .map((r) => {
      const cells = t.headers.map((_, i) => {
        const p = r.paper[i];
        if (r.paperOnly) return `<td><i>${p === null || p === undefined ? "–" : esc(p)}</i></td>`;
        const n = r.n?.[i];
        const ours = fmt(r.ours[i], t.percent[i] ?? false, r.ci?.[i]) + (nHeader[i] || typeof n !== "number" ? "" : ` <span class="muted">(n=${n})</span>`);
        return `<td>${ours}${p === null || p === undefined || p === "" ? "" : `<br><span class="paper">paper ${esc(p)}</span>`}</td>`;
      });
      return `<tr><td>${r.paperOnly ? `<i>${esc(r.label)}</i> <span class="muted">(paper)</span>` : esc(r.label)}</td>${cells.join("")}</tr>`;
    })
    .join("");
  const iv = t.intervals;
  const notes = [
    ...(iv ? [`± is half the width of a ${100 * iv.level}% ${iv.method} (${iv.replicates} resamples, seed ${iv.seed}); the exact ends are in summary.json and table.csv.`] : []),
    ...(t.notes ?? []),
    ...t.rows.filter((r) => r.note).map((r) => `${r.label}: ${r.note}`),
  ];
  return `<table class="results">${head}${body}</table>${notes.length ? `<ul class="muted">${notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>` : ""}`;
}

const METRIC_COLUMNS: [string, string, boolean][] = [
  ["mIoU", "mIoU", true],
  ["gIoU", "gIoU", true],
  ["cIoU", "cIoU", true],
  ["acc", "point acc.", true],
  ["f1", "point F1", true],
  ["available", "kept points", false],
  ["queriesPerSample", "queries/sample", false],
  ["groundingFailureRate", "grounding failures", true],
];

/** Every cell × dataset with n and intervals, from summary.json's metrics. */
function metricsHtml(run: RunFolder): string {
  const m = run.summary?.metrics;
  if (!m) return `<p class="muted">summary.json has no metrics.</p>`;
  const read = (x: Record<string, unknown>, name: string): number | null => {
    const seg = x.segmentation as Record<string, number> | undefined;
    const pts = x.points as Record<string, number> | undefined;
    const v =
      name === "mIoU" || name === "gIoU" || name === "cIoU"
        ? seg?.[name]
        : name === "acc"
          ? pts?.accuracy
          : name === "f1"
            ? pts?.f1
            : name === "groundingFailureRate"
              ? typeof x.groundingFailures === "number" && typeof x.samples === "number" && x.samples
                ? x.groundingFailures / x.samples
                : undefined
              : (x[name] as number | undefined);
    return typeof v === "number" ? v : null;
  };
  const rows: string[] = [];
  for (const cell of cellOrder(run)) {
    for (const [col, metrics] of Object.entries(m[cell] ?? {})) {
      const x = metrics as Record<string, unknown>;
      const ci = (x.ci95 ?? {}) as Record<string, [number, number]>;
      rows.push(`<tr><td>${esc(cell)}</td><td>${esc(col)}</td><td>${esc(x.samples ?? "–")}</td>${METRIC_COLUMNS.map(([k, , pct]) => `<td>${fmt(read(x, k), pct, ci[k])}</td>`).join("")}</tr>`);
    }
  }
  return `<table><tr><th>cell</th><th>dataset</th><th>n</th>${METRIC_COLUMNS.map(([, h]) => `<th>${esc(h)}</th>`).join("")}</tr>${rows.join("")}</table>`;
}

function plotsHtml(run: RunFolder): string {
  const declared = ((run.config?.plots as { file?: string }[] | undefined) ?? []).map((p) => p.file).filter((f): f is string => typeof f === "string");
  const found = existsSync(run.dir) ? readdirSync(run.dir).filter((f) => f.endsWith(".png")).map((f) => f.slice(0, -4)) : [];
  const files = [...new Set([...declared.filter((f) => found.includes(f)), ...found])];
  if (!files.length) return `<p class="muted">No plots in this run.</p>`;
  return files.map((f) => `<figure><a href="${esc(f)}.svg"><img src="${esc(f)}.png" alt="plot ${esc(f)}" class="plot"></a><figcaption class="muted">${esc(f)}.png (<a href="${esc(f)}.svg">svg</a>)</figcaption></figure>`).join("");
}

const KNOWN_SUMMARY_KEYS = new Set(["experiment", "version", "title", "simulated", "profile", "seed", "limitPerDataset", "configHash", "gitCommit", "versions", "machine", "createdAt", "datasets", "sampleCounts", "records", "cells", "mllmRequests", "decoders", "skippedSamples", "metrics", "table", "intervals"]);

function provenanceHtml(run: RunFolder): string {
  const s = run.summary ?? {};
  const main: Record<string, unknown> = {
    "run folder": run.dir,
    experiment: s.experiment ?? (run.config?.name as string | undefined),
    "config version": s.version,
    profile: s.profile,
    seed: s.seed,
    "samples per dataset (limit)": s.limitPerDataset,
    records: `${run.records.length} in samples.jsonl${s.records !== undefined && s.records !== run.records.length ? ` (summary.json counted ${s.records}: the run changed after the summary was written)` : ""}${run.badLines ? `; ${run.badLines} unreadable lines skipped` : ""}`,
    "config hash": s.configHash,
    "git commit": s.gitCommit,
    written: s.createdAt,
    machine: s.machine,
    intervals: s.intervals,
  };
  const other = Object.fromEntries(Object.entries(s).filter(([k]) => !KNOWN_SUMMARY_KEYS.has(k)));
  const cells = Object.entries(s.cells ?? {}).map(([id, c]) => ({ cell: id, ...(c.components ?? {}), ...(c.note ? { note: c.note } : {}) }));
  return `${renderValue(main)}
<details><summary>cells and their components</summary>${renderValue(cells)}</details>
<details><summary>datasets</summary>${renderValue(run.datasets)}</details>
<details><summary>package versions</summary>${renderValue(s.versions ?? {})}</details>
${Object.keys(other).length ? `<details open><summary>other summary fields</summary>${renderValue(other)}</details>` : ""}`;
}

const GALLERY_CSS = `
#controls { display: flex; flex-wrap: wrap; gap: 8px 14px; align-items: center; margin: 8px 0 12px; position: sticky; top: 0; background: #fafafa; padding: 6px 0; z-index: 2; border-bottom: 1px solid var(--line); }
#controls label { font-size: 13px; }
#controls input[type=number] { width: 64px; }
#gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px; font-size: 13px; }
.card img { width: 100%; height: auto; aspect-ratio: 4 / 3; object-fit: contain; display: block; background: #444; border-radius: 3px; }
.card .noimg { height: 120px; display: grid; place-items: center; background: #eee; color: var(--muted); }
.card .meta { margin-top: 4px; color: var(--muted); word-break: break-all; }
.card .phrase { font-style: italic; margin: 2px 0; }
.card .bad { color: var(--bad); }
.tag { display: inline-block; font-size: 11px; padding: 0 6px; border-radius: 8px; margin: 2px 4px 0 0; background: #e8f5e9; color: #1b5e20; }
.tag.grounding-failure, .tag.wrong-object { background: #ffebee; color: #b71c1c; }
.tag.verifier-error { background: #fff3e0; color: #e65100; }
button.all-cells { margin-top: 6px; font-size: 12px; }
details.queries table { font-size: 11px; margin-top: 4px; }
details.queries td, details.queries th { padding: 0 4px; }
details.queries tr.wrong td { background: #fff3e0; color: #b71c1c; }
dialog { width: min(96vw, 1600px); max-height: 92vh; }
#compare-body { display: flex; gap: 10px; overflow-x: auto; }
#compare-body .card { min-width: 340px; flex: 1 0 340px; }
.legend span { margin-right: 14px; }
img.plot { max-width: 100%; height: auto; width: min(100%, 900px); }
`;

function legendHtml(): string {
  const sw = (c: string, dashed = false) => `<svg width="22" height="10" aria-hidden="true"><line x1="1" y1="5" x2="21" y2="5" stroke="${c}" stroke-width="3"${dashed ? ' stroke-dasharray="5 3"' : ""}/></svg>`;
  const dot = (c: string, square = false) => `<svg width="12" height="12" aria-hidden="true">${square ? `<rect x="2" y="2" width="8" height="8" fill="${c}" stroke="#000"/>` : `<circle cx="6" cy="6" r="4.5" fill="${c}" stroke="#000"/>`}</svg>`;
  return `<p class="legend muted">
<span>${sw(COLOURS.predicted)} predicted box and mask outline</span>
<span>${sw(COLOURS.gold, true)} gold box (dashed) and mask outline</span>
<span>${dot("rgb(220,40,40)")}${dot("rgb(220,210,40)")}${dot("rgb(30,210,40)")} queried point by P(yes) 0 → 0.5 → 1 (grey: no answer)</span>
<span>${dot("#bbb")} external queue · ${dot("#bbb", true)} internal queue</span>
<span><svg width="20" height="20" aria-hidden="true"><circle cx="10" cy="10" r="7" fill="none" stroke="#000" stroke-width="3.5"/><circle cx="10" cy="10" r="7" fill="none" stroke="#fff" stroke-width="2"/></svg> chosen positive ·
<svg width="20" height="20" aria-hidden="true"><circle cx="10" cy="10" r="7" fill="none" stroke="#000" stroke-width="3.5"/><circle cx="10" cy="10" r="7" fill="none" stroke="#ff3df5" stroke-width="2"/></svg> chosen negative</span>
</p>
<p class="muted">Failure kinds, checked against gold: <b>grounding failure</b> (no box parsed), <b>wrong object</b> (box IoU with the gold box &lt; ${WRONG_OBJECT_BOX_IOU}), <b>verifier error</b> (a kept yes/no answer contradicts the point's gold label).</p>`;
}

function reportHtml(run: RunFolder, gallery: GalleryData): string {
  const s = run.summary ?? {};
  const title = s.title ?? `${(run.config?.title as string | undefined) ?? basename(run.dir)}`;
  const simulated = s.simulated === true;
  const accounting = {
    ...(s.mllmRequests !== undefined ? { "MLLM requests (summary.json → mllmRequests)": s.mllmRequests } : {}),
    ...(s.decoders !== undefined ? { decoders: s.decoders } : {}),
    ...(s.skippedSamples !== undefined ? { "skipped samples": s.skippedSamples } : {}),
  };
  const body = `
<header>
<h1>${esc(title)}</h1>
${simulated ? `<div class="simulated" id="simulated-label">SIMULATED: synthetic data and/or a simulated MLLM made these numbers; they are not comparable to the paper's.</div>` : ""}
<p class="muted">${esc(s.table?.provenance ?? "")} · <code>${esc(run.dir)}</code></p>
<nav class="muted"><a href="#table">table</a> · <a href="#metrics">metrics</a> · <a href="#plots">plots</a> · <a href="#calls">model calls</a> · <a href="#provenance">provenance</a> · <a href="#samples">samples</a></nav>
</header>
<h2 id="table">Table</h2>
${s.table ? tableHtml(s.table) : `<p class="muted">No summary.json table (the run has not written its results yet).</p>`}
<p class="muted">Also: <a href="table.md">table.md</a> · <a href="table.csv">table.csv</a> · <a href="table.tex">table.tex</a> · <a href="summary.json">summary.json</a> · <a href="config.resolved.yaml">config.resolved.yaml</a> · <a href="samples.jsonl">samples.jsonl</a></p>
<h2 id="metrics">Every cell and dataset (n and 95% intervals)</h2>
${metricsHtml(run)}
<h2 id="plots">Plots</h2>
${plotsHtml(run)}
<h2 id="calls">Model calls</h2>
${Object.keys(accounting).length ? renderValue(accounting) : `<p class="muted">summary.json has no request counters.</p>`}
<h2 id="provenance">Provenance</h2>
${provenanceHtml(run)}
<h2 id="samples">Samples (${gallery.cards.length} records)</h2>
${legendHtml()}
<div id="controls">
<label>cell <select id="f-cell"></select></label>
<label>dataset <select id="f-dataset"></select></label>
<label>IoU from <input id="f-iou-min" type="number" min="0" max="100" step="1" placeholder="0"> to <input id="f-iou-max" type="number" min="0" max="100" step="1" placeholder="100"> %</label>
<label>failure <select id="f-kind"><option value="">any</option><option value="grounding-failure">grounding failure</option><option value="wrong-object">wrong object</option><option value="verifier-error">verifier error</option><option value="none">no failure</option></select></label>
<label>sort <select id="f-sort"><option value="">run order</option><option value="iou-asc">IoU, lowest first</option><option value="iou-desc">IoU, highest first</option></select></label>
<button id="f-prev" hidden>‹ previous</button><button id="f-next" hidden>next ›</button>
<span id="f-count" class="muted"></span>
</div>
<div id="gallery"></div>
<dialog id="compare"><h3 id="compare-title"></h3><button id="compare-close">close</button><div id="compare-body"></div></dialog>
<script id="gallery-data" type="application/json">${scriptJson(gallery)}</script>
`;
  return page("report", `${simulated ? "[SIMULATED] " : ""}${title}`, body, GALLERY_CSS, galleryScript());
}
