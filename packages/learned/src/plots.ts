import { escapeMarkup } from "@resagent/core";
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

/** Training curves: loss and accuracy per epoch, train and held-out. */
export function curvesSvg(logs: readonly EpochLog[], title: string, footer: string): string {
  const n = Math.max(1, logs.length);
  const maxLoss = Math.max(0.8, ...logs.map((l) => Math.max(l.trainLoss, l.heldOutLoss)));
  const yMax = Math.ceil(maxLoss * 5) / 5;
  const xTicks = Array.from({ length: n + 1 }, (_, i) => i).filter((i) => n <= 12 || i % Math.ceil(n / 12) === 0);
  const yTicks = Array.from({ length: Math.round(yMax / 0.2) + 1 }, (_, i) => Math.round(i * 0.2 * 10) / 10);
  const f = frame(title, footer, "epoch", "loss (BCE) / accuracy", n, yMax, xTicks, yTicks);
  const series: [keyof EpochLog, string, string, string][] = [
    ["trainLoss", "#1f6fd1", "", "train loss"],
    ["heldOutLoss", "#1f6fd1", 'stroke-dasharray="5 3"', "held-out loss"],
    ["trainAccuracy", "#d1461f", "", "train accuracy"],
    ["heldOutAccuracy", "#d1461f", 'stroke-dasharray="5 3"', "held-out accuracy"],
  ];
  // Losses and accuracies live above 0.4 in practice: the legend goes low, clear of the curves.
  const legendTop = f.y(0.3);
  const lines = series
    .map(([k, colour, dash, label], i) => {
      const pts = logs.map((l) => `${f.x(l.epoch).toFixed(1)},${f.y(l[k]).toFixed(1)}`).join(" ");
      return `<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="2" ${dash}/>${logs.map((l) => `<circle cx="${f.x(l.epoch)}" cy="${f.y(l[k])}" r="2.5" fill="${colour}"/>`).join("")}<line x1="${f.x(0) + 12}" y1="${legendTop + i * 16}" x2="${f.x(0) + 40}" y2="${legendTop + i * 16}" stroke="${colour}" stroke-width="2" ${dash}/><text x="${f.x(0) + 46}" y="${legendTop + 4 + i * 16}" font-size="11" ${FONT}>${label}</text>`;
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f.W}" height="${f.H}">${f.parts.join("")}${lines}</svg>`;
}
