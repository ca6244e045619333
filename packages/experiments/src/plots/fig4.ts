import { randomStream, type Box, type Point } from "@resagent/core";
import { DIRECTIONS, END_POINTS, SpiralSampler, parseSpiralParams, type SpiralParamsInput } from "@resagent/sampler";
import { Plot, polyline } from "./svg.js";

export interface Fig4Options {
  seed: number;
  /** Candidates per queue drawn in colour. */
  k: number;
  /**
   * Aspect ratios (w:h) as rows. The paper's three were lost in the text extraction ("three
   * representative aspect ratios (, , and )"); 1:1, 2:1 and 1:2 are our choice.
   */
  aspects: readonly [number, number][];
  params?: SpiralParamsInput;
}

export const FIG4_DEFAULTS: Fig4Options = { seed: 0, k: 4, aspects: [[1, 1], [2, 1], [1, 2]] };

/** Where along a path (fractions of its points) the direction arrows sit. */
const ARROW_AT = [0.45, 0.7, 0.88] as const;

/**
 * Arrowheads along a path, pointing the way it is walked (centre -> end point), so clockwise and
 * counter-clockwise panels differ at a glance.
 */
export function directionArrows(path: readonly Point[], at: readonly number[] = ARROW_AT): { at: Point; angle: number }[] {
  const n = path.length;
  return at.map((f) => {
    const i = Math.min(n - 2, Math.max(1, Math.round(f * (n - 1))));
    const a = path[Math.max(0, i - 2)]!;
    const b = path[Math.min(n - 1, i + 2)]!;
    return { at: path[i]!, angle: Math.atan2(b.y - a.y, b.x - a.x) };
  });
}

/**
 * Paper Fig. 4: superellipse spiral trajectories and their samples for each aspect ratio (rows)
 * and each of the 8 (direction, end point) configurations (columns). Each queue has its own draw
 * (the authors' code calls the generator once per queue): with the configuration fixed, the two
 * draws walk the same spiral with different start offsets and jitter. External (centre-proximal)
 * candidates are blue, internal (boundary-proximal) orange, the draws' other samples grey;
 * arrowheads show the direction of travel.
 */
export function fig4Plot(opts: Fig4Options = FIG4_DEFAULTS): Plot {
  const cell = 150;
  const pad = 14;
  const top = 62;
  const left = 46;
  const configs = DIRECTIONS.flatMap((d) => END_POINTS.map((e) => [d, e] as const));
  const plot = new Plot(left + configs.length * cell + pad, top + opts.aspects.length * cell + 40);
  plot.text(left, 20, "Fig. 4 — EBD superellipse spiral (8 turns, 3000 points, n = 5, sigmoid growth) and adaptive arc-length samples", { size: 13, weight: "bold" });
  plot.text(left, 36, `Aspect ratios ${opts.aspects.map(([w, h]) => `${w}:${h}`).join(", ")} are our choice (the paper's three were lost in the text). CW / CCW as seen on screen (y down).`, { size: 10, fill: "#555" });
  configs.forEach(([d, e], j) => plot.text(left + j * cell + cell / 2, top - 6, `${d.toUpperCase()} ${d === "cw" ? "↻" : "↺"}, end ${e}`, { anchor: "middle", size: 10 }));
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
      const sampler = new SpiralSampler(parseSpiralParams({ ...opts.params, direction: d, end: e }));
      const rng = () => randomStream(opts.seed, "fig4", `${aw}:${ah}/${d}/${e}`);
      // The queues' own draws, exactly as sample() makes them (split draws share one).
      const independent = sampler.params.queues === "independent";
      const draws = independent ? [sampler.draw(box, rng().fork("external")), sampler.draw(box, rng().fork("internal"))] : [sampler.draw(box, rng())];
      const cands = sampler.sample(box, opts.k, rng());
      plot.root.append("rect").attr("x", ox).attr("y", oy).attr("width", w).attr("height", h).attr("fill", "#f6f6f3").attr("stroke", "#555").attr("stroke-width", 1);
      plot.root.append("polyline").attr("points", polyline(draws[0]!.path(3))).attr("fill", "none").attr("stroke", "#9aa7b8").attr("stroke-width", 0.6);
      for (const arrow of directionArrows(draws[0]!.path(1))) {
        const deg = (arrow.angle * 180) / Math.PI;
        plot.root
          .append("polygon")
          .attr("points", "5,0 -4,-3.8 -4,3.8")
          .attr("transform", `translate(${arrow.at.x.toFixed(2)},${arrow.at.y.toFixed(2)}) rotate(${deg.toFixed(1)})`)
          .attr("fill", "#3b4a5e");
      }
      for (const draw of draws) for (const p of draw.samples) plot.root.append("circle").attr("cx", p.x).attr("cy", p.y).attr("r", 1.8).attr("fill", "#777");
      const last = draws[0]!.path(1).at(-1)!;
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
    ["#1f6fd1", `external queue (first ${opts.k} samples of its draw)`],
    ["#f08a00", `internal queue (last ${opts.k} samples of its own draw)`],
    ["#777", "other samples of the two draws"],
  ];
  legend.forEach(([c, s], k) => {
    plot.root.append("circle").attr("cx", left + 8 + k * 300).attr("cy", ly - 4).attr("r", 4).attr("fill", c);
    plot.text(left + 18 + k * 300, ly, s, { size: 11 });
  });
  plot.text(left + 3 * 300, ly, `▶ direction of travel · ring: spiral end point · seed ${opts.seed}`, { size: 11 });
  return plot;
}
