import { openDataset } from "@resagent/data";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

export const dataBench: BenchSuite = {
  name: "synthref",
  description: "synthref generation rate (fresh cache) and load rate (warm cache), samples/s",
  async run(): Promise<BenchRow[]> {
    return withTempDir(async (dir) => {
      const n = 40;
      const ds = await openDataset("synthref", { split: "refcocog/val", count: n, cacheDir: dir, sentencesPerRef: 1 });
      let t = performance.now();
      for await (const _ of ds) void _;
      const gen = n / ((performance.now() - t) / 1000);
      t = performance.now();
      for await (const _ of ds) void _;
      const load = n / ((performance.now() - t) / 1000);
      return [
        { suite: "synthref", name: "generate (scene + render + PNG + cache write)", value: gen, unit: "samples/s", note: "480x360, one sentence per image" },
        { suite: "synthref", name: "load from cache (JSON + RLE decode)", value: load, unit: "samples/s" },
      ];
    });
  },
};
