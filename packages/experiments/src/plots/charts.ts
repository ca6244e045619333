import type { PlotSpec } from "../config/schema.js";
import type { CellMetrics } from "../summary.js";
import type { TableData } from "../table.js";
import { Plot } from "./svg.js";

const OURS = "#1f6fd1";
const PAPER = "#bbbbbb";

/** Values of one column: ours (as displayed) and the paper's, per row. */
function columnSeries(t: TableData, header: string): { labels: string[]; ours: (number | null)[]; paper: (number | null)[] } {
  const i = t.headers.indexOf(header);
  if (i < 0) throw new Error(`plot column "${header}" is not in the table (${t.headers.join(", ")})`);
  const rows = t.rows.filter((r) => !r.paperOnly);
  return {
    labels: rows.map((r) => r.label),
    ours: rows.map((r) => (r.ours[i] === null || r.ours[i] === undefined || Number.isNaN(r.ours[i]) ? null : t.percent[i] ? 100 * r.ours[i]! : r.ours[i]!)),
    paper: rows.map((r) => (typeof r.paper[i] === "number" ? (r.paper[i] as number) : null)),
  };
}

function axisRange(values: (number | null)[]): [number, number] {
  const v = values.filter((x): x is number => x !== null);
  if (!v.length) return [0, 1];
  let lo = Math.min(...v);
  let hi = Math.max(...v);
  const pad = Math.max(1, (hi - lo) * 0.15);
  lo = Math.max(0, lo - pad);
  hi = hi + pad;
  return [lo, hi];
}

/** Grouped bars (or lines) of one or more columns, ours beside the paper's. */
export function comparisonChart(t: TableData, spec: PlotSpec): Plot {
  const columns = spec.columns ?? (spec.column ? [spec.column] : [t.headers[0]!]);
  const series = columns.map((c) => ({ header: c, ...columnSeries(t, c) }));
  const labels = series[0]!.labels;
  // Room on the right for the last rotated row label.
  const right = 150;
  const W = Math.max(560, 140 + labels.length * columns.length * 54) + right - 30;
  const H = 380;
  const left = 60;
  const top = 50;
  const bottom = 90;
  const plot = new Plot(W, H);
  plot.text(left, 24, spec.title ?? t.title, { size: 13, weight: "bold" });
  const [lo, hi] = axisRange(series.flatMap((s) => [...s.ours, ...s.paper]));
  const y = (v: number) => top + (H - top - bottom) * (1 - (v - lo) / (hi - lo));
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    plot.root.append("line").attr("x1", left).attr("x2", W - right + 10).attr("y1", y(v)).attr("y2", y(v)).attr("stroke", "#e4e4e4");
    plot.text(left - 6, y(v) + 4, v.toFixed(1), { anchor: "end", size: 10 });
  }
  const groupW = (W - left - right) / labels.length;
  const barW = Math.min(22, groupW / (2 * columns.length + 1));
  labels.forEach((label, i) => {
    const gx = left + i * groupW + groupW / 2;
    series.forEach((s, j) => {
      const x0 = gx + (j - columns.length / 2) * 2 * barW;
      const draw = (v: number | null, dx: number, fill: string) => {
        if (v === null) return;
        if (spec.kind === "line") {
          plot.root.append("circle").attr("cx", x0 + dx + barW / 2).attr("cy", y(v)).attr("r", 4).attr("fill", fill);
        } else {
          plot.root.append("rect").attr("x", x0 + dx).attr("y", y(v)).attr("width", barW - 1).attr("height", Math.max(0, H - bottom - y(v))).attr("fill", fill);
        }
      };
      draw(s.ours[i] ?? null, 0, OURS);
      draw(s.paper[i] ?? null, barW, PAPER);
    });
    plot.root.append("text").attr("transform", `translate(${gx},${H - bottom + 14}) rotate(25)`).attr("font-size", 10).text(label.length > 34 ? `${label.slice(0, 33)}…` : label);
  });
  if (spec.kind === "line") {
    series.forEach((s) => {
      for (const [vals, colour] of [[s.ours, OURS], [s.paper, PAPER]] as const) {
        const pts = vals.map((v, i) => (v === null ? null : `${left + i * groupW + groupW / 2 - columns.length * barW + barW / 2 + (colour === PAPER ? barW : 0)},${y(v)}`)).filter(Boolean);
        plot.root.append("polyline").attr("points", pts.join(" ")).attr("fill", "none").attr("stroke", colour).attr("stroke-width", 1.5);
      }
    });
  }
  plot.root.append("rect").attr("x", W - 230).attr("y", 34).attr("width", 10).attr("height", 10).attr("fill", OURS);
  plot.text(W - 215, 43, `ours (${columns.join(", ")})`, { size: 10 });
  if (series.some((s) => s.paper.some((v) => v !== null))) {
    plot.root.append("rect").attr("x", W - 230).attr("y", 50).attr("width", 10).attr("height", 10).attr("fill", PAPER);
    plot.text(W - 215, 59, "paper", { size: 10 });
  }
  return plot;
}

/** Confusion matrices (paper Fig. 5): one 2x2 panel per row of the experiment. */
export function confusionChart(cells: { label: string; metrics: CellMetrics }[], title: string): Plot {
  const size = 190;
  const plot = new Plot(60 + cells.length * (size + 90), size + 120);
  plot.text(20, 24, title, { size: 13, weight: "bold" });
  cells.forEach(({ label, metrics }, i) => {
    const { tp, fp, tn, fn } = metrics.points;
    const total = Math.max(1, tp + fp + tn + fn);
    const ox = 90 + i * (size + 90);
    const oy = 60;
    const cellsXY: [number, number, number, string][] = [
      [0, 0, tp, "TP"],
      [1, 0, fn, "FN"],
      [0, 1, fp, "FP"],
      [1, 1, tn, "TN"],
    ];
    plot.text(ox + size / 2, oy - 10, label, { anchor: "middle", size: 12, weight: "bold" });
    for (const [c, r, v, name] of cellsXY) {
      const shade = Math.round(255 - (200 * v) / total);
      plot.root.append("rect").attr("x", ox + (c * size) / 2).attr("y", oy + (r * size) / 2).attr("width", size / 2).attr("height", size / 2).attr("fill", `rgb(${shade},${shade},255)`).attr("stroke", "#fff");
      plot.text(ox + (c * size) / 2 + size / 4, oy + (r * size) / 2 + size / 4, `${name} ${v}`, { anchor: "middle", size: 12, fill: v / total > 0.3 ? "#fff" : "#111" });
      plot.text(ox + (c * size) / 2 + size / 4, oy + (r * size) / 2 + size / 4 + 16, `${((100 * v) / total).toFixed(1)}%`, { anchor: "middle", size: 10, fill: v / total > 0.3 ? "#fff" : "#111" });
    }
    plot.text(ox + size / 4, oy + size + 16, "pred yes", { anchor: "middle", size: 10 });
    plot.text(ox + (3 * size) / 4, oy + size + 16, "pred no", { anchor: "middle", size: 10 });
    plot.text(ox - 6, oy + size / 4, "gold yes", { anchor: "end", size: 10 });
    plot.text(ox - 6, oy + (3 * size) / 4, "gold no", { anchor: "end", size: 10 });
  });
  return plot;
}
