import { writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { maskToCounts, type Sample } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { VBR_DEFAULTS, cocoToSa1b, generateVbr } from "@resagent/datagen";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

export const datagenBench: BenchSuite = {
  name: "datagen",
  description: "VBR training samples/s (render + crop + JPEG + write) and COCO -> SA-1B images/s",
  async run(): Promise<BenchRow[]> {
    return withTempDir(async (dir) => {
      const cacheDir = join(dir, "cache");
      const ds = await openDataset("synthref", { split: "refcocog/val", count: 60, cacheDir, sentencesPerRef: 1 });
      const samples: Sample[] = [];
      for await (const s of ds) samples.push(s); // generate images first: not part of the rates
      let t = performance.now();
      const v = await generateVbr({ ...VBR_DEFAULTS, sources: [{ name: "synthref", split: "refcocog/val", options: { count: 60, cacheDir, sentencesPerRef: 1 } }], out: join(dir, "vbr"), fraction: 1 });
      const vbrRate = v.samples / ((performance.now() - t) / 1000);
      const images = samples.map((s, i) => ({ id: i, file_name: basename(s.imagePath), width: s.width, height: s.height }));
      const annotations = samples.map((s, i) => ({ id: i, image_id: i, category_id: 1, bbox: [0, 0, 1, 1], iscrowd: 1, segmentation: { size: [s.height, s.width], counts: maskToCounts(s.goldMask!) } }));
      await writeFile(join(dir, "instances.json"), JSON.stringify({ images, annotations }));
      t = performance.now();
      const s = await cocoToSa1b({ instances: join(dir, "instances.json"), images: dirname(samples[0]!.imagePath), out: join(dir, "sa1b"), imageMode: "symlink", seed: 0 });
      const saRate = s.imagesWritten / ((performance.now() - t) / 1000);
      return [
        { suite: "datagen", name: "gen-vbr samples (480x360 synthref)", value: vbrRate, unit: "samples/s", note: `${v.samples} samples` },
        { suite: "datagen", name: "to-sa1b images (1 mask each, RLE -> compressed)", value: saRate, unit: "images/s" },
      ];
    });
  },
};
