import { niceTicks } from "@resagent/core";
import type { PlotSpec } from "../config/schema.js";
import type { CellMetrics } from "../summary.js";
import type { TableData } from "../table.js";
import { Plot } from "./svg.js";
import { ellipsize, textWidth, wrapText } from "./text.js";

/** Tableau 10: distinct hues that survive the common colour-vision deficiencies better than rainbow ramps. */
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#9c755f", "#edc948", "#ff9da7", "#bab0ac"];
const PAD = 16;
const TITLE = 13;
const SMALL = 10;
const TICK = 10;

/** `hex` mixed with white (t = share of white): the paper's bars are the pale version of ours. */
function pale(hex: string, t = 0.6): string {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `#${c.map((v) => Math.round(v + (255 - v) * t).toString(16).padStart(2, "0")).join("")}`;
}

const METRIC_LABELS: Record<string, string> = {
  mIoU: "mIoU",
  gIoU: "gIoU",
  cIoU: "cIoU",
  acc: "accuracy",
  precision: "precision",
  recall: "recall",
  f1: "F1",
  conf: "mean confidence",
  tp: "true positives",
  fp: "false positives",
  tn: "true negatives",
  fn: "false negatives",
  available: "points kept per sample",
  queriesPerSample: "MLLM queries per sample",
  msPerSample: "ms per sample",
  decodeMsPerSample: "decoder ms per sample",
  samples: "samples",
  groundingFailures: "grounding failures",
};

export interface ChartOptions {
  /** The small grey line under the title saying what made the figure. */
  provenance?: string;
}

interface Column {
  header: string;
  percent: boolean;
  metric: string | undefined;
  /** Per non-paper-only row, in display units (percent ×100). */
  ours: (number | null)[];
  lo: (number | null)[];
  hi: (number | null)[];
  paper: (number | null)[];
}

/**
 * The table columns a plot names. A header that a command-line --sweep split into groups
 * ("Avg. (verifier.tau=0.5)", ...) selects every group.
 */
function tableColumns(t: TableData, header: string): Column[] {
  let idx = [t.headers.indexOf(header)].filter((i) => i >= 0);
  if (!idx.length) idx = t.headers.flatMap((h, i) => (h.startsWith(`${header} (`) ? [i] : []));
  if (!idx.length) throw new Error(`plot column "${header}" is not in the table (${t.headers.join(", ")})`);
  const rows = t.rows.filter((r) => !r.paperOnly);
  return idx.map((i) => {
    const scale = t.percent[i] ? 100 : 1;
    const num = (v: number | null | undefined) => (v === null || v === undefined || Number.isNaN(v) ? null : scale * v);
    return {
      header: t.headers[i]!,
      percent: t.percent[i]!,
      metric: t.metrics?.[i],
      ours: rows.map((r) => num(r.ours[i])),
      lo: rows.map((r) => num(r.ci?.[i]?.[0])),
      hi: rows.map((r) => num(r.ci?.[i]?.[1])),
      paper: rows.map((r) => (typeof r.paper[i] === "number" ? (r.paper[i] as number) : null)),
    };
  });
}

function yAxisLabel(cols: Column[]): string {
  const names = [...new Set(cols.map((c) => (c.metric ? (METRIC_LABELS[c.metric] ?? c.metric) : "value")))];
  const percent = cols.every((c) => c.percent);
  const prefix = new Set(cols.map((c) => c.header)).size === 1 && cols[0]!.header !== names[0] ? `${cols[0]!.header}: ` : "";
  return `${prefix}${names.join(" / ")}${percent ? " (%)" : ""}`;
}

/** "key=value" labels sharing one key become an axis titled by the key with the values as ticks. */
function xAxis(labels: string[], fallback: string): { title: string; ticks: string[] } {
  const parts = labels.map((l) => l.match(/^([^=|]+)=(.+)$/));
  const key = parts[0]?.[1];
  if (labels.length && key && parts.every((p) => p && p[1] === key)) return { title: key.trim(), ticks: parts.map((p) => p![2]!.trim()) };
  return { title: fallback, ticks: labels };
}

interface LegendEntry {
  label: string;
  draw: (plot: Plot, x: number, yMid: number) => void;
}

const SWATCH = 22;

/** Legend entries flowed into rows no wider than `width`; returns rows of (entry, x offset). */
function flowLegend(entries: LegendEntry[], width: number): { entry: LegendEntry; x: number; label: string }[][] {
  const rows: { entry: LegendEntry; x: number; label: string }[][] = [[]];
  let x = 0;
  for (const entry of entries) {
    const label = ellipsize(entry.label, width - SWATCH - 6, SMALL);
    const w = SWATCH + 6 + textWidth(label, SMALL) + 18;
    if (x > 0 && x + w > width) {
      rows.push([]);
      x = 0;
    }
    rows[rows.length - 1]!.push({ entry, x, label });
    x += w;
  }
  return rows.filter((r) => r.length);
}

/** Title, provenance and legend stacked at the top; returns the y where the plot area may start. */
function header(plot: Plot, W: number, title: string, provenance: string | undefined, legend: LegendEntry[]): number {
  let y = PAD;
  for (const line of wrapText(title, W - 2 * PAD, TITLE, true, 4)) {
    y += TITLE * 1.3;
    plot.text(PAD, y, line, { size: TITLE, weight: "bold", cls: "title" });
  }
  if (provenance) {
    for (const line of wrapText(provenance, W - 2 * PAD, 9, false, 2)) {
      y += 12;
      plot.text(PAD, y, line, { size: 9, fill: "#666", cls: "provenance" });
    }
  }
  y += 8;
  for (const row of flowLegend(legend, W - 2 * PAD)) {
    y += 16;
    for (const { entry, x, label } of row) {
      entry.draw(plot, PAD + x, y - 4);
      plot.text(PAD + x + SWATCH + 6, y, label, { size: SMALL, cls: "legend" });
    }
  }
  return y + 10;
}

function headerHeight(W: number, title: string, provenance: string | undefined, legend: LegendEntry[]): number {
  const t = wrapText(title, W - 2 * PAD, TITLE, true, 4).length * TITLE * 1.3;
  const p = provenance ? wrapText(provenance, W - 2 * PAD, 9, false, 2).length * 12 : 0;
  return PAD + t + p + 8 + flowLegend(legend, W - 2 * PAD).length * 16 + 10;
}

const barSwatch = (fill: string, stroke?: string) => (plot: Plot, x: number, yMid: number) => {
  plot.root.append("rect").attr("x", x + 4).attr("y", yMid - 6).attr("width", 14).attr("height", 12).attr("fill", fill).attr("stroke", stroke ?? fill);
};
const lineSwatch = (colour: string, dashed: boolean, hollow: boolean) => (plot: Plot, x: number, yMid: number) => {
  const l = plot.root.append("line").attr("x1", x).attr("x2", x + SWATCH).attr("y1", yMid).attr("y2", yMid).attr("stroke", colour).attr("stroke-width", 2);
  if (dashed) l.attr("stroke-dasharray", "5 3");
  plot.root.append("circle").attr("cx", x + SWATCH / 2).attr("cy", yMid).attr("r", 3.5).attr("fill", hollow ? "#fff" : colour).attr("stroke", colour).attr("stroke-width", 1.5);
};

interface XLabels {
  mode: "flat" | "rotated";
  lines: string[][];
  /** Height below the x axis that the labels take. */
  height: number;
  /** How far each label reaches left of its tick (rotated mode). */
  reach: number[];
}

const ROT = 35;

/** Horizontal labels (≤ 2 lines) when they fit the slot, else rotated by 35°. */
function layoutXLabels(ticks: string[], slot: number): XLabels {
  const flat = ticks.map((t) => wrapText(t, slot - 6, TICK, false, 2));
  const whole = flat.every((lines, i) => lines.join(" ") === ticks[i]!.split(/\s+/).join(" "));
  if (whole) return { mode: "flat", lines: flat, height: Math.max(...flat.map((l) => l.length)) * 13 + 6, reach: ticks.map(() => 0) };
  const cut = ticks.map((t) => [ellipsize(t, 200, TICK)]);
  const widths = cut.map((l) => textWidth(l[0]!, TICK));
  const rad = (ROT * Math.PI) / 180;
  const height = Math.max(...widths.map((w) => w * Math.sin(rad) + TICK * Math.cos(rad))) + 12;
  return { mode: "rotated", lines: cut, height, reach: widths.map((w) => w * Math.cos(rad)) };
}

/** Left margin so that every rotated label, hanging left from its tick, stays on the canvas. */
function labelsLeft(xl: XLabels, slot: number): number {
  return PAD + 4 + Math.max(0, ...xl.reach.map((r, i) => r - (i + 0.5) * slot));
}

function fmtValue(v: number, percent: boolean): string {
  return percent ? v.toFixed(1) : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

function fmtTick(v: number, step: number): string {
  const d = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  return v.toFixed(d);
}

/**
 * Ours beside the paper's, per table row: grouped bars from zero, or lines over a sweep. Each
 * column gets its own hue; ours is solid with its 95% interval as an error bar, the paper's the
 * pale (bars) or dashed (lines) version of the same hue. Lines join only the rows of one series
 * (rows "A | key=v" form series A over key).
 */
export function comparisonChart(t: TableData, spec: PlotSpec, opts: ChartOptions = {}): Plot {
  const headers = spec.columns ?? (spec.column ? [spec.column] : [t.headers[0]!]);
  const cols = headers.flatMap((h) => tableColumns(t, h));
  const rowLabels = t.rows.filter((r) => !r.paperOnly).map((r) => r.label);
  const title = spec.title ?? t.title;
  return spec.kind === "line" ? lineChart(cols, rowLabels, title, opts) : barChart(cols, rowLabels, title, opts);
}

interface YScale {
  lo: number;
  hi: number;
  step: number;
  ticks: number[];
  range: [number, number];
}

function yScale(values: number[], percent: boolean, fromZero: boolean): YScale {
  const range: [number, number] = percent ? [0, 100] : [0, Number.POSITIVE_INFINITY];
  const dataLo = values.length ? Math.min(...values) : 0;
  const dataHi = values.length ? Math.max(...values) : 1;
  let lo: number;
  let hi: number;
  if (fromZero) {
    lo = 0;
    hi = percent ? 100 : dataHi > 0 ? dataHi * 1.05 : 1;
  } else {
    const pad = Math.max(percent ? 1 : Math.abs(dataHi) * 0.02 || 0.1, (dataHi - dataLo) * 0.1);
    lo = Math.max(range[0], dataLo - pad);
    hi = Math.min(range[1], dataHi + pad);
  }
  const nice = niceTicks(lo, hi);
  const { step } = nice;
  lo = Math.max(range[0], nice.lo);
  hi = Math.min(range[1], nice.hi);
  if (hi <= lo) hi = lo + step;
  const ticks = nice.ticks.filter((v) => v >= lo - step * 1e-6 && v <= hi + step * 1e-6);
  return { lo, hi, step, ticks, range };
}

/** y axis, grid and axis titles; returns the value → pixel map. */
function drawFrame(plot: Plot, box: { left: number; top: number; right: number; bottom: number }, ys: YScale, yTitle: string, xTitle: string, kind: string): (v: number) => number {
  const y = (v: number) => box.bottom - ((v - ys.lo) / (ys.hi - ys.lo)) * (box.bottom - box.top);
  const g = plot.root
    .append("g")
    .attr("class", "plot-area")
    .attr("data-kind", kind)
    .attr("data-y-domain", `${ys.lo},${ys.hi}`)
    .attr("data-y-range", `${ys.range[0]},${Number.isFinite(ys.range[1]) ? ys.range[1] : "inf"}`)
    .attr("data-baseline", y(ys.lo).toFixed(2));
  for (const v of ys.ticks) {
    g.append("line").attr("x1", box.left).attr("x2", box.right).attr("y1", y(v)).attr("y2", y(v)).attr("stroke", v === ys.lo ? "#444" : "#e4e4e4");
    plot.text(box.left - 6, y(v) + TICK * 0.35, fmtTick(v, ys.step), { anchor: "end", size: TICK, cls: "tick" });
  }
  g.append("line").attr("x1", box.left).attr("x2", box.left).attr("y1", box.top).attr("y2", box.bottom).attr("stroke", "#444");
  const midY = (box.top + box.bottom) / 2;
  plot.text(PAD + SMALL, midY, ellipsize(yTitle, box.bottom - box.top + 40, SMALL), { anchor: "middle", size: SMALL, rotate: -90, cls: "axis-title", weight: "bold" }).attr("data-axis", "y");
  plot.text((box.left + box.right) / 2, plot.height - PAD + 2, xTitle, { anchor: "middle", size: SMALL, cls: "axis-title", weight: "bold" }).attr("data-axis", "x");
  return y;
}

function drawXLabels(plot: Plot, xl: XLabels, xs: number[], axisY: number): void {
  xl.lines.forEach((lines, i) => {
    const x = xs[i]!;
    plot.root.append("line").attr("x1", x).attr("x2", x).attr("y1", axisY).attr("y2", axisY + 4).attr("stroke", "#444");
    if (xl.mode === "flat") lines.forEach((l, k) => plot.text(x, axisY + 16 + 13 * k, l, { anchor: "middle", size: TICK, cls: "tick" }));
    else plot.text(x + 3, axisY + 12, lines[0]!, { anchor: "end", size: TICK, rotate: -ROT, cls: "tick" });
  });
}

function leftMargin(ys: YScale): number {
  return PAD + SMALL * 1.4 + 8 + Math.max(...ys.ticks.map((v) => textWidth(fmtTick(v, ys.step), TICK))) + 8;
}

function barChart(cols: Column[], rows: string[], title: string, opts: ChartOptions): Plot {
  const percent = cols.every((c) => c.percent);
  const hasPaper = cols.some((c) => c.paper.some((v) => v !== null));
  const perCol = hasPaper ? 2 : 1;
  const values = cols.flatMap((c) => [...c.ours, ...c.hi, ...c.paper]).filter((v): v is number => v !== null);
  const ys = yScale(values, percent, true);
  const barW = Math.max(14, Math.min(30, 180 / (cols.length * perCol)));
  const groupW = cols.length * perCol * barW + 28;
  const plotW = Math.max(520, rows.length * groupW);
  const x = xAxis(rows, "configuration (table row)");
  const xl = layoutXLabels(x.ticks, plotW / rows.length);
  const left = Math.max(leftMargin(ys), labelsLeft(xl, plotW / rows.length));
  const W = left + plotW + PAD;
  const legend: LegendEntry[] = [];
  if (cols.length > 1) cols.forEach((c, j) => legend.push({ label: c.header, draw: barSwatch(PALETTE[j % PALETTE.length]!) }));
  legend.push({ label: "ours (error bar: 95% bootstrap interval)", draw: barSwatch(cols.length > 1 ? "#777" : PALETTE[0]!) });
  if (hasPaper) legend.push({ label: "paper", draw: barSwatch(pale(cols.length > 1 ? "#777777" : PALETTE[0]!), cols.length > 1 ? "#777" : PALETTE[0]!) });
  // Value labels above the bars: horizontal when they fit the bar, else vertical; headroom above the axis top for them.
  const labelFits = (s: string) => textWidth(s, 9) <= barW - 2;
  const maxLabel = Math.max(...values.map((v) => textWidth(fmtValue(v, percent), 9)));
  const headroom = (values.every((v) => labelFits(fmtValue(v, percent))) ? 12 : maxLabel) + 8;
  const plotH = 240;
  const head = headerHeight(W, title, opts.provenance, legend);
  const H = head + headroom + plotH + xl.height + SMALL + PAD + 6;
  const plot = new Plot(Math.ceil(W), Math.ceil(H));
  const top = header(plot, W, title, opts.provenance, legend) + headroom;
  const box = { left, top, right: left + plotW, bottom: top + plotH };
  const y = drawFrame(plot, box, ys, yAxisLabel(cols), x.title, "bars");
  const xs = rows.map((_, i) => left + (i + 0.5) * (plotW / rows.length));
  rows.forEach((_, i) => {
    cols.forEach((c, j) => {
      const hue = PALETTE[j % PALETTE.length]!;
      const x0 = xs[i]! - (cols.length * perCol * barW) / 2 + j * perCol * barW;
      const bar = (v: number | null, dx: number, fill: string, stroke: string, who: string) => {
        if (v === null) return;
        plot.root.append("rect").attr("class", "bar").attr("data-series", `${c.header} (${who})`).attr("data-value", v).attr("x", x0 + dx).attr("y", y(Math.max(v, ys.lo))).attr("width", barW - 2).attr("height", Math.max(0, y(ys.lo) - y(Math.max(v, ys.lo)))).attr("fill", fill).attr("stroke", stroke);
      };
      const o = c.ours[i] ?? null;
      bar(o, 0, hue, hue, "ours");
      if (hasPaper) bar(c.paper[i] ?? null, barW, pale(hue), hue, "paper");
      const lo = c.lo[i];
      const hi = c.hi[i];
      const cx = x0 + (barW - 2) / 2;
      if (o !== null && lo !== null && lo !== undefined && hi !== null && hi !== undefined) {
        plot.root.append("line").attr("class", "error-bar").attr("x1", cx).attr("x2", cx).attr("y1", y(lo)).attr("y2", y(hi)).attr("stroke", "#222").attr("stroke-width", 1.2);
        for (const v of [lo, hi]) plot.root.append("line").attr("x1", cx - 4).attr("x2", cx + 4).attr("y1", y(v)).attr("y2", y(v)).attr("stroke", "#222").attr("stroke-width", 1.2);
      }
      const label = (v: number | null, top: number, cxv: number) => {
        if (v === null) return;
        const s = fmtValue(v, percent);
        if (labelFits(s)) plot.text(cxv, top - 4, s, { anchor: "middle", size: 9, cls: "value" });
        else plot.text(cxv + 9 * 0.35, top - 6, s, { anchor: "start", size: 9, rotate: -90, cls: "value" });
      };
      label(o, y(Math.max(o ?? 0, hi ?? 0)), cx);
      if (hasPaper) label(c.paper[i] ?? null, y(c.paper[i] ?? 0), cx + barW);
    });
  });
  drawXLabels(plot, xl, xs, box.bottom);
  return plot;
}

function lineChart(cols: Column[], rows: string[], title: string, opts: ChartOptions): Plot {
  const percent = cols.every((c) => c.percent);
  // Series: the part of a row label before " | " (a cell swept over a key); x: the rest.
  const split = rows.map((r) => {
    const k = r.indexOf(" | ");
    return k < 0 ? { series: "", x: r } : { series: r.slice(0, k), x: r.slice(k + 3) };
  });
  const seriesNames = [...new Set(split.map((s) => s.series))];
  const xNames = [...new Set(split.map((s) => s.x))];
  const x = xAxis(xNames, "configuration (table row)");
  const hasPaper = cols.some((c) => c.paper.some((v) => v !== null));
  const lines = cols.flatMap((c) => seriesNames.map((s) => ({ col: c, series: s, rows: split.flatMap((p, i) => (p.series === s ? [i] : [])) })));
  const values = cols.flatMap((c) => [...c.ours, ...c.lo, ...c.hi, ...c.paper]).filter((v): v is number => v !== null);
  const ys = yScale(values, percent, false);
  const slot = Math.max(64, Math.min(120, 560 / xNames.length));
  const plotW = Math.max(520, xNames.length * slot);
  const xl = layoutXLabels(x.ticks, plotW / xNames.length);
  const left = Math.max(leftMargin(ys), labelsLeft(xl, plotW / xNames.length));
  const W = left + plotW + PAD;
  const name = (l: (typeof lines)[number]) => [cols.length > 1 ? l.col.header : "", l.series].filter(Boolean).join(" · ");
  const legend: LegendEntry[] = [];
  if (lines.length > 1) lines.forEach((l, k) => legend.push({ label: name(l), draw: barSwatch(PALETTE[k % PALETTE.length]!) }));
  const styleHue = lines.length > 1 ? "#555555" : PALETTE[0]!;
  legend.push({ label: "ours (error bar: 95% bootstrap interval)", draw: lineSwatch(styleHue, false, false) });
  if (hasPaper) legend.push({ label: "paper", draw: lineSwatch(styleHue, true, true) });
  const plotH = 240;
  const head = headerHeight(W, title, opts.provenance, legend);
  const H = head + 10 + plotH + xl.height + SMALL + PAD + 6;
  const plot = new Plot(Math.ceil(W), Math.ceil(H));
  const top = header(plot, W, title, opts.provenance, legend) + 10;
  const box = { left, top, right: left + plotW, bottom: top + plotH };
  const y = drawFrame(plot, box, ys, yAxisLabel(cols), x.title, "line");
  const xs = xNames.map((_, i) => left + (i + 0.5) * (plotW / xNames.length));
  const xOf = (row: number) => xs[xNames.indexOf(split[row]!.x)]!;
  lines.forEach((l, k) => {
    const hue = PALETTE[k % PALETTE.length]!;
    const draw = (vals: (number | null)[], dashed: boolean, who: string) => {
      const pts = l.rows.flatMap((i) => (vals[i] === null || vals[i] === undefined ? [] : [[xOf(i), y(vals[i]!)] as const]));
      if (!pts.length) return;
      const pl = plot.root.append("polyline").attr("class", "series").attr("data-series", `${name(l) || l.col.header} (${who})`).attr("points", pts.map(([a, b]) => `${a.toFixed(2)},${b.toFixed(2)}`).join(" ")).attr("fill", "none").attr("stroke", hue).attr("stroke-width", 2);
      if (dashed) pl.attr("stroke-dasharray", "5 3");
      for (const [a, b] of pts) plot.root.append("circle").attr("cx", a).attr("cy", b).attr("r", 3.5).attr("fill", dashed ? "#fff" : hue).attr("stroke", hue).attr("stroke-width", 1.5);
    };
    if (hasPaper) draw(l.col.paper, true, "paper");
    draw(l.col.ours, false, "ours");
    for (const i of l.rows) {
      const lo = l.col.lo[i];
      const hi = l.col.hi[i];
      if (lo === null || lo === undefined || hi === null || hi === undefined) continue;
      const cx = xOf(i);
      plot.root.append("line").attr("class", "error-bar").attr("x1", cx).attr("x2", cx).attr("y1", y(lo)).attr("y2", y(hi)).attr("stroke", hue).attr("stroke-width", 1.2);
      for (const v of [lo, hi]) plot.root.append("line").attr("x1", cx - 4).attr("x2", cx + 4).attr("y1", y(v)).attr("y2", y(v)).attr("stroke", hue).attr("stroke-width", 1.2);
    }
  });
  drawXLabels(plot, xl, xs, box.bottom);
  return plot;
}

/** Relative luminance (sRGB), for choosing dark or light text on a fill. */
function luminance(r: number, g: number, b: number): number {
  const lin = (c: number) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

/** Confusion matrices (paper Fig. 5): one 2x2 panel per row of the experiment, shaded by share of answers. */
export function confusionChart(cells: { label: string; metrics: CellMetrics }[], title: string, opts: ChartOptions = {}): Plot {
  const size = 200;
  const gap = 60;
  const left = PAD + SMALL * 1.4 + 8 + textWidth("gold yes", SMALL) + 10;
  const W = Math.max(left + cells.length * (size + gap) - gap + PAD, 520);
  const legend: LegendEntry[] = [];
  const head = headerHeight(W, title, opts.provenance, legend);
  const H = head + 24 + size + 22 + SMALL + PAD + 10;
  const plot = new Plot(Math.ceil(W), Math.ceil(H));
  const top = header(plot, W, title, opts.provenance, legend) + 24;
  plot.root.append("g").attr("class", "plot-area").attr("data-kind", "confusion");
  // Light to dark blue; text turns white only where the fill is dark enough to read it.
  const from = [239, 243, 255];
  const to = [8, 48, 107];
  cells.forEach(({ label, metrics }, i) => {
    const { tp, fp, tn, fn } = metrics.points;
    const total = Math.max(1, tp + fp + tn + fn);
    const ox = left + i * (size + gap);
    plot.text(ox + size / 2, top - 8, ellipsize(label, size + gap - 10, 12, true), { anchor: "middle", size: 12, weight: "bold", cls: "panel-title" });
    const quads: [number, number, number, string][] = [
      [0, 0, tp, "TP"],
      [1, 0, fn, "FN"],
      [0, 1, fp, "FP"],
      [1, 1, tn, "TN"],
    ];
    for (const [c, r, v, name] of quads) {
      const share = v / total;
      const rgb = from.map((f, k) => Math.round(f + (to[k]! - f) * Math.min(1, share / 0.5)));
      const [R, G, B] = rgb as [number, number, number];
      const ink = luminance(R, G, B) < 0.3 ? "#ffffff" : "#111111";
      const x0 = ox + (c * size) / 2;
      const y0 = top + (r * size) / 2;
      plot.root.append("rect").attr("class", "cell").attr("x", x0).attr("y", y0).attr("width", size / 2).attr("height", size / 2).attr("fill", `rgb(${R},${G},${B})`).attr("stroke", "#fff").attr("data-ink", ink);
      plot.text(x0 + size / 4, y0 + size / 4, `${name} ${v}`, { anchor: "middle", size: 12, fill: ink, cls: "cell-label" });
      plot.text(x0 + size / 4, y0 + size / 4 + 16, `${(100 * share).toFixed(1)}%`, { anchor: "middle", size: SMALL, fill: ink, cls: "cell-label" });
    }
    plot.text(ox + size / 4, top + size + 15, "yes", { anchor: "middle", size: SMALL, cls: "tick" });
    plot.text(ox + (3 * size) / 4, top + size + 15, "no", { anchor: "middle", size: SMALL, cls: "tick" });
    if (i === 0) {
      plot.text(ox - 6, top + size / 4 + 4, "gold yes", { anchor: "end", size: SMALL, cls: "tick" });
      plot.text(ox - 6, top + (3 * size) / 4 + 4, "gold no", { anchor: "end", size: SMALL, cls: "tick" });
    }
  });
  plot.text(PAD + SMALL, top + size / 2, "gold label", { anchor: "middle", size: SMALL, rotate: -90, cls: "axis-title", weight: "bold" }).attr("data-axis", "y");
  plot.text((left + W - PAD) / 2, H - PAD + 2, "verifier answer (predicted)", { anchor: "middle", size: SMALL, cls: "axis-title", weight: "bold" }).attr("data-axis", "x");
  return plot;
}
