import { escapeMarkup, niceTicks } from "@resagent/core";
import type { ReliabilityBin } from "./metrics.js";
import type { EpochLog } from "./model.js";

const FONT = 'font-family="DejaVu Sans"';

/** A square plot frame with [0, 1] axes (or given ranges), title and footer; returns SVG pieces and scales. */
function frame(title: string, footer: string, xLabel: string, yLabel: string, xMax: number, yMax: number, xTicks: number[], yTicks: number[]) {
  const W = 640;
  const H = 460;
  const L = 60;
  const R = 20;
  const T = 50;
  const B = 80;
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => H - B - (v / yMax) * (H - T - B);
  const parts = [
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="14" font-weight="bold" ${FONT}>${escapeMarkup(title)}</text>`,
    `<text x="${L}" y="${H - 12}" font-size="10" fill="#555" ${FONT}>${escapeMarkup(footer)}</text>`,
    `<line x1="${L}" y1="${y(0)}" x2="${x(xMax)}" y2="${y(0)}" stroke="black"/><line x1="${L}" y1="${y(0)}" x2="${L}" y2="${y(yMax)}" stroke="black"/>`,
    ...xTicks.map((t) => `<text x="${x(t)}" y="${y(0) + 16}" font-size="10" text-anchor="middle" ${FONT}>${t}</text>`),
    ...yTicks.map((t) => `<text x="${L - 6}" y="${y(t) + 4}" font-size="10" text-anchor="end" ${FONT}>${t}</text><line x1="${L}" y1="${y(t)}" x2="${x(xMax)}" y2="${y(t)}" stroke="#eee"/>`),
    `<text x="${(L + x(xMax)) / 2}" y="${y(0) + 34}" font-size="11" text-anchor="middle" ${FONT}>${escapeMarkup(xLabel)}</text>`,
    `<text transform="translate(16 ${(T + y(0)) / 2}) rotate(-90)" font-size="11" text-anchor="middle" ${FONT}>${escapeMarkup(yLabel)}</text>`,
  ];
  return { W, H, x, y, parts };
}

/** Reliability diagram of P(yes): observed share of yes per bin against the diagonal, with counts. */
export function reliabilitySvg(bins: readonly ReliabilityBin[], ece: number, title: string, footer: string): string {
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const f = frame(title, footer, "predicted P(yes)", "observed share of yes", 1, 1, ticks, ticks);
  const bars = bins
    .filter((b) => b.count > 0)
    .map((b) => {
      const w = f.x(b.hi) - f.x(b.lo) - 2;
      return `<rect x="${f.x(b.lo) + 1}" y="${f.y(b.fracYes)}" width="${w}" height="${f.y(0) - f.y(b.fracYes)}" fill="#1f6fd1" opacity="0.8"/><circle cx="${f.x(b.meanP)}" cy="${f.y(b.meanP)}" r="3" fill="#d1461f"/><text x="${f.x((b.lo + b.hi) / 2)}" y="${f.y(b.fracYes) - 4}" font-size="9" text-anchor="middle" ${FONT}>${b.count}</text>`;
    })
    .join("");
  const diag = `<line x1="${f.x(0)}" y1="${f.y(0)}" x2="${f.x(1)}" y2="${f.y(1)}" stroke="#888" stroke-dasharray="4 3"/>`;
  const legend = `<text x="${f.x(0.02)}" y="${f.y(0.95)}" font-size="11" ${FONT}>ECE ${ece.toFixed(3)} · bars: share of yes (n above) · dots: mean P(yes)</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}">${f.parts.join("")}${bars}${diag}${legend}</svg>`;
}

/** One line of a curves plot: which field of the epoch log, its colour, dash and legend label. */
export type CurveSeries<T> = [keyof T & string, string, string, string];

const VERIFIER_CURVES: CurveSeries<EpochLog>[] = [
  ["trainLoss", "#1f6fd1", "", "train loss"],
  ["heldOutLoss", "#1f6fd1", 'stroke-dasharray="5 3"', "held-out loss"],
  ["trainAccuracy", "#d1461f", "", "train accuracy"],
  ["heldOutAccuracy", "#d1461f", 'stroke-dasharray="5 3"', "held-out accuracy"],
];

/**
 * Training curves per epoch: by default the verifier's loss and accuracy, train and held-out;
 * other models name their series and y label (the y axis then runs to their largest value).
 */
export function curvesSvg<T extends { epoch: number }>(logs: readonly T[], title: string, footer: string, options?: { series: CurveSeries<T>[]; yLabel: string }): string {
  const series = (options?.series ?? VERIFIER_CURVES) as CurveSeries<T>[];
  const value = (l: T, k: keyof T & string) => l[k] as unknown as number;
  const n = Math.max(1, logs.length);
  // The verifier's losses and accuracies on a fixed 0.2 grid from 0; other curves on d3's nice axis.
  const fixedMax = Math.ceil(Math.max(0.8, ...logs.map((l) => Math.max(value(l, "trainLoss" as keyof T & string), value(l, "heldOutLoss" as keyof T & string)))) * 5) / 5;
  const axis = options ? niceTicks(0, Math.max(1e-9, ...logs.flatMap((l) => series.map(([k]) => value(l, k))))) : undefined;
  const yMax = axis ? axis.hi : fixedMax;
  const xTicks = Array.from({ length: n + 1 }, (_, i) => i).filter((i) => n <= 12 || i % Math.ceil(n / 12) === 0);
  const yTicks = axis ? axis.ticks : Array.from({ length: Math.round(yMax / 0.2) + 1 }, (_, i) => Number((i * 0.2).toPrecision(3)));
  const f = frame(title, footer, "epoch", options?.yLabel ?? "loss (BCE) / accuracy", n, yMax, xTicks, yTicks);
  // Losses and accuracies live above 0.4 in practice: the legend goes low, clear of the curves.
  const legendTop = options ? f.y(yMax) + 8 : f.y(0.3);
  const lines = series
    .map(([k, colour, dash, label], i) => {
      const pts = logs.map((l) => `${f.x(l.epoch).toFixed(1)},${f.y(value(l, k)).toFixed(1)}`).join(" ");
      return `<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="2" ${dash}/>${logs.map((l) => `<circle cx="${f.x(l.epoch)}" cy="${f.y(value(l, k))}" r="2.5" fill="${colour}"/>`).join("")}<line x1="${f.x(0) + 12}" y1="${legendTop + i * 16}" x2="${f.x(0) + 40}" y2="${legendTop + i * 16}" stroke="${colour}" stroke-width="2" ${dash}/><text x="${f.x(0) + 46}" y="${legendTop + 4 + i * 16}" font-size="11" ${FONT}>${label}</text>`;
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}">${f.parts.join("")}${lines}</svg>`;
}

/**
 * Grouped bars: for each group (e.g. k = 1..4) one bar per series (e.g. random, spiral, learned,
 * oracle), labelled with its value; `upperBound` names the series drawn hatched-grey as an upper bound.
 */
export function groupedBarsSvg(groups: readonly { label: string; values: Record<string, number> }[], series: readonly { key: string; label: string; colour: string }[], title: string, footer: string, yLabel: string): string {
  const W = 640;
  const axis = niceTicks(0, Math.max(1e-9, ...groups.flatMap((g) => series.map((s) => g.values[s.key] ?? 0))));
  const maxV = axis.hi;
  const ticks = axis.ticks;
  const f = frame(title, footer, "", yLabel, groups.length, maxV, [], ticks);
  const slot = (f.x(1) - f.x(0)) * 0.8;
  const bw = slot / series.length;
  const parts: string[] = [];
  groups.forEach((g, gi) => {
    const x0 = f.x(gi) + (f.x(1) - f.x(0)) * 0.1;
    parts.push(`<text x="${f.x(gi + 0.5)}" y="${f.y(0) + 16}" font-size="11" text-anchor="middle" ${FONT}>${escapeMarkup(g.label)}</text>`);
    series.forEach((s, si) => {
      const v = g.values[s.key] ?? 0;
      const x = x0 + si * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${f.y(v).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(f.y(0) - f.y(v)).toFixed(1)}" fill="${s.colour}"/>`);
      parts.push(`<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(f.y(v) - 3).toFixed(1)}" font-size="8" text-anchor="middle" ${FONT}>${v.toPrecision(2)}</text>`);
    });
  });
  series.forEach((s, si) => {
    const y = 36;
    const x = f.x(0) + 8 + si * 140;
    parts.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${s.colour}"/><text x="${x + 14}" y="${y}" font-size="11" ${FONT}>${escapeMarkup(s.label)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${f.H}">${f.parts.join("")}${parts.join("")}</svg>`;
}
