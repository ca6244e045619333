import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { openDataset } from "@resagent/data";
import { pythonAvailable, referImageDir, writeReferFiles } from "@resagent/data/testing";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

export const referBench: BenchSuite = {
  name: "refer",
  description: "REFER index load time and mask decoding rate on a generated RefCOCO-sized fixture (50k refs, 150k sentences; needs python3)",
  async run(): Promise<BenchRow[]> {
    return withTempDir(async (root) => {
      if (!pythonAvailable()) return [{ suite: "refer", name: "skipped: python3 is needed to write the fixture pickle", value: 0, unit: "" }];
      writeReferFiles(root, 50_000);
      const images = referImageDir(root);
      await mkdir(images, { recursive: true });
      // Loading a sample checks the image file exists; the bench decodes masks only.
      for (let k = 0; k < 5000; k++) await writeFile(join(images, `COCO_train2014_${String(k).padStart(12, "0")}.jpg`), "");
      let t = performance.now();
      const ds = await openDataset("refcoco", { split: "train", root });
      const load = (performance.now() - t) / 1000;
      const n = Math.min(2000, ds.size);
      t = performance.now();
      for (let i = 0; i < n; i++) await ds.get(i);
      const rate = n / ((performance.now() - t) / 1000);
      return [
        { suite: "refer", name: "index load (pickle + instances.json), 50k refs", value: load, unit: "s", note: `${ds.size} train sentences indexed` },
        { suite: "refer", name: "samples with gold mask decoded (640x480 polygons)", value: rate, unit: "samples/s" },
      ];
    });
  },
};
