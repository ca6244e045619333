import { randomStream } from "@resagent/core";
import { createSampler } from "@resagent/sampler";
import { timeIt, type BenchRow, type BenchSuite } from "./index.js";

export const samplerBench: BenchSuite = {
  name: "sampler",
  description: "candidate generation per call, K = 4 (target: well under 1 ms)",
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    for (const name of ["ebd-spiral", "random", "grid", "center"]) {
      const s = createSampler(name);
      // Boxes of a few shapes, revisited as in a sweep (the spiral's track is cached per shape).
      const boxes = [
        { x1: 10, y1: 20, x2: 210, y2: 140 },
        { x1: 300, y1: 50, x2: 420, y2: 400 },
        { x1: 5, y1: 5, x2: 600, y2: 460 },
      ];
      let i = 0;
      const warm = await timeIt(() => s.sample(boxes[i++ % 3]!, 4, randomStream(0, "bench", String(i))), 1000);
      rows.push({ suite: "sampler", name: `${name} K=4 (repeated box shapes)`, value: warm.msPerCall * 1000, unit: "µs/call", note: `${warm.perSecond.toFixed(0)} calls/s` });
      if (name === "ebd-spiral") {
        let w = 50;
        const cold = await timeIt(() => s.sample({ x1: 0, y1: 0, x2: w++, y2: 77 }, 4, randomStream(0, "bench", String(w))), 1000);
        rows.push({ suite: "sampler", name: `${name} K=4 (new box shape every call)`, value: cold.msPerCall * 1000, unit: "µs/call", note: `${cold.perSecond.toFixed(0)} calls/s` });
      }
    }
    return rows;
  },
};
