import { describe, expect, it } from "vitest";
import type { TableData } from "../table.js";
import { comparisonChart, confusionChart } from "./charts.js";
import { checkPlotSvg, textBoxes } from "./check.js";
import { Plot } from "./svg.js";
import { textWidth, wrapText } from "./text.js";

const LONG = "Table 10: Confidence threshold τ vs point quality and availability (zero-shot; of 8 points) — embedded profile (SIMULATED: synthetic data and/or simulated MLLM; not comparable to the paper's numbers)";

function table(rows: string[], headers: string[], percent: boolean[], metrics: string[]): TableData {
  return {
    title: LONG,
    headers,
    percent,
    metrics,
    notes: [],
    rows: rows.map((label, i) => ({
      label,
      ours: headers.map((_, j) => (percent[j] ? 0.5 + 0.04 * i + 0.01 * j : 8 - i)),
      ci: headers.map((_, j) => (percent[j] ? [0.45 + 0.04 * i, 0.58 + 0.04 * i] : [7.5 - i, 8 - i])),
      n: headers.map(() => 40),
      paper: headers.map((_, j) => (percent[j] ? 55 + 3 * i : 7.9 - i)),
    })),
  };
}

describe("text measurement", () => {
  it("matches DejaVu Sans advance widths and wraps within a width", () => {
    expect(textWidth("0", 1000)).toBe(636);
    expect(textWidth("W", 10, true)).toBeCloseTo(11.03, 2);
    const lines = wrapText(LONG, 300, 13, true);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(textWidth(l, 13, true)).toBeLessThanOrEqual(300);
  });
});

describe("plot checks", () => {
  it("flag text outside the canvas (estimated and rendered), missing axis titles, y beyond the metric and bars off zero", async () => {
    const p = new Plot(400, 200);
    p.text(10, 20, LONG, { size: 13, weight: "bold" });
    p.text(390, 120, "rotated label", { size: 10, rotate: 35 });
    const g = p.root.append("g").attr("class", "plot-area").attr("data-kind", "bars").attr("data-y-domain", "78.8,107.9").attr("data-y-range", "0,100").attr("data-baseline", "180");
    void g;
    p.root.append("rect").attr("class", "bar").attr("data-series", "x (ours)").attr("data-value", 88).attr("x", 50).attr("y", 60).attr("width", 20).attr("height", 100);
    const problems = await checkPlotSvg(p.svg());
    expect(problems.join("\n")).toMatch(/text "Table 10: .*" runs outside the 400x200 canvas/);
    expect(problems.join("\n")).toMatch(/text "rotated label" runs outside/);
    expect(problems.join("\n")).toMatch(/pixels drawn outside the canvas/);
    expect(problems).toContain("no x axis title");
    expect(problems).toContain("no y axis title");
    expect(problems.join("\n")).toMatch(/y axis 78\.8\.\.107\.9 leaves the metric's range 0\.\.100/);
    expect(problems.join("\n")).toMatch(/bar chart's y axis starts at 78\.8, not 0/);
    expect(problems.join("\n")).toMatch(/bar "x \(ours\)" \(88\) ends at y 160\.0, not on the axis at 180/);
  });

  it("flag overlapping text, rotated boxes included", async () => {
    const p = new Plot(300, 200);
    p.text(100, 100, "first label here", { size: 12 });
    p.text(110, 104, "second", { size: 12 });
    p.text(40, 180, "apart", { size: 12, rotate: -90 });
    const problems = await checkPlotSvg(p.svg(), { render: false });
    expect(problems).toEqual(['text "first label here" overlaps "second"']);
    const [, , rotated] = textBoxes(p.svg());
    expect(Math.min(...rotated!.corners.map((c) => c[1]))).toBeLessThan(180 - 20); // runs upwards
  });

  it("pass for our bar, line and confusion charts, long titles and many rows included", async () => {
    const rows = ["Textual | verifier.tau=0", "Textual | verifier.tau=0.6", "VBR | verifier.tau=0", "VBR | verifier.tau=0.6"];
    const t = table(rows, ["Acc", "F1", "Available"], [true, true, false], ["acc", "f1", "available"]);
    for (const spec of [
      { kind: "bars" as const, columns: ["Acc", "F1"], file: "x" },
      { kind: "line" as const, column: "Available", file: "x" },
      { kind: "line" as const, column: "Acc", file: "x" },
    ]) {
      const svg = comparisonChart(t, spec, { provenance: "SIMULATED · embedded · seed 0 · n≤40 · abcdef1234 · 2026-01-01" }).svg();
      expect(await checkPlotSvg(svg)).toEqual([]);
    }
    const many = table(Array.from({ length: 12 }, (_, i) => `a rather long configuration name number ${i}`), ["Val"], [true], ["mIoU"]);
    expect(await checkPlotSvg(comparisonChart(many, { kind: "bars", column: "Val", file: "x" }).svg())).toEqual([]);
    const m = { tp: 30, fp: 2, tn: 3, fn: 5, abstained: 0, n: 40, accuracy: 0.8, precision: 0.9, recall: 0.8, f1: 0.85 };
    const cells = ["Textual '(x,y)'", "VBR"].map((label) => ({ label, metrics: { points: m } as never }));
    expect(await checkPlotSvg(confusionChart(cells, LONG).svg())).toEqual([]);
  });

  it("line charts join only rows of one series and draw ours and the paper at the same x", () => {
    const t = table(["Textual | verifier.tau=0", "Textual | verifier.tau=0.6", "VBR | verifier.tau=0", "VBR | verifier.tau=0.6"], ["Available"], [false], ["available"]);
    const svg = comparisonChart(t, { kind: "line", column: "Available", file: "x" }).svg();
    const lines = [...svg.matchAll(/<polyline[^>]*data-series="([^"]+)"[^>]*points="([^"]+)"/g)].map((m) => ({ series: m[1]!, xs: m[2]!.split(" ").map((p) => Number(p.split(",")[0])) }));
    expect(lines.map((l) => l.series).sort()).toEqual(["Textual (ours)", "Textual (paper)", "VBR (ours)", "VBR (paper)"]);
    for (const l of lines) expect(l.xs).toHaveLength(2);
    const byName = Object.fromEntries(lines.map((l) => [l.series, l.xs]));
    expect(byName["Textual (ours)"]).toEqual(byName["Textual (paper)"]);
    expect(byName["VBR (ours)"]).toEqual(byName["Textual (ours)"]); // same x positions: tau values
    // The x axis is titled by the swept key, its ticks are the values.
    expect(svg).toMatch(/data-axis="x"[^>]*>verifier\.tau</);
  });
});
