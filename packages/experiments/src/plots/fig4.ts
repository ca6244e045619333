import { randomStream, type Box } from "@resagent/core";
import { DIRECTIONS, END_POINTS, SpiralSampler, type SpiralParams } from "@resagent/sampler";
import { Plot, polyline } from "./svg.js";

export interface Fig4Options {
  seed: number;
  /** Candidates per queue drawn in colour. */
  k: number;
  /** Aspect ratios (w:h) as rows. */
  aspects: readonly [number, number][];
  params?: Partial<SpiralParams>;
}

export const FIG4_DEFAULTS: Fig4Options = { seed: 0, k: 4, aspects: [[1, 1], [2, 1], [1, 2]] };

/**
 * Paper Fig. 4: superellipse spiral trajectories and their samples for each aspect ratio (rows)
 * and each of the 8 (direction, end point) configurations (columns). External (centre-proximal)
 * candidates are blue, internal (boundary-proximal) orange, other samples grey.
 */
export function fig4Plot(opts: Fig4Options = FIG4_DEFAULTS): Plot {
  const cell = 150;
  const pad = 14;
  const top = 46;
  const left = 46;
  const configs = DIRECTIONS.flatMap((d) => END_POINTS.map((e) => [d, e] as const));
  const plot = new Plot(left + configs.length * cell + pad, top + opts.aspects.length * cell + 40);
  plot.text(left, 20, "Fig. 4 — EBD superellipse spiral (8 turns, 3000 points, n = 5, sigmoid growth) and adaptive arc-length samples", { size: 13, weight: "bold" });
  configs.forEach(([d, e], j) => plot.text(left + j * cell + cell / 2, top - 6, `${d.toUpperCase()}, end ${e}`, { anchor: "middle", size: 10 }));
  opts.aspects.forEach(([aw, ah], i) => {
    plot.text(8, top + i * cell + cell / 2, `${aw}:${ah}`, { size: 12, weight: "bold" });
    configs.forEach(([d, e], j) => {
      const inner = cell - 2 * pad;
      const scale = inner / Math.max(aw, ah);
      const w = aw * scale;
      const h = ah * scale;
      const ox = left + j * cell + pad + (inner - w) / 2;
      const oy = top + i * cell + pad + (inner - h) / 2;
      const box: Box = { x1: ox, y1: oy, x2: ox + w, y2: oy + h };
      const sampler = new SpiralSampler({ ...opts.params, direction: d, end: e });
      const rng = () => randomStream(opts.seed, "fig4", `${aw}:${ah}/${d}/${e}`);
      const draw = sampler.draw(box, rng());
      const cands = sampler.sample(box, opts.k, rng());
      plot.root.append("rect").attr("x", ox).attr("y", oy).attr("width", w).attr("height", h).attr("fill", "#f6f6f3").attr("stroke", "#555").attr("stroke-width", 1);
      plot.root.append("polyline").attr("points", polyline(draw.path(3))).attr("fill", "none").attr("stroke", "#9aa7b8").attr("stroke-width", 0.6);
      for (const p of draw.samples) plot.root.append("circle").attr("cx", p.x).attr("cy", p.y).attr("r", 1.8).attr("fill", "#777");
      const last = draw.path(1).at(-1)!;
      plot.root.append("circle").attr("cx", last.x).attr("cy", last.y).attr("r", 2.5).attr("fill", "none").attr("stroke", "#222");
      for (const c of cands.ordered) {
        plot.root
          .append("circle")
          .attr("cx", c.point.x)
          .attr("cy", c.point.y)
          .attr("r", 3.6)
          .attr("fill", c.queue === "external" ? "#1f6fd1" : "#f08a00")
          .attr("stroke", "#fff")
          .attr("stroke-width", 0.8);
      }
    });
  });
  const ly = top + opts.aspects.length * cell + 22;
  const legend: [string, string][] = [
    ["#1f6fd1", `external queue (first ${opts.k} samples, centre-proximal)`],
    ["#f08a00", `internal queue (last ${opts.k} samples, boundary-proximal)`],
    ["#777", "other samples"],
  ];
  legend.forEach(([c, s], k) => {
    plot.root.append("circle").attr("cx", left + 8 + k * 340).attr("cy", ly - 4).attr("r", 4).attr("fill", c);
    plot.text(left + 18 + k * 340, ly, s, { size: 11 });
  });
  plot.text(left + 3 * 340, ly, `ring: spiral end point · seed ${opts.seed}`, { size: 11 });
  return plot;
}
