import { execFileSync, spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeImage, sha256, type Mask, type Point } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { buildDecoder } from "@resagent/decoder";
import { loadExperiment } from "@resagent/experiments";
import { sampleIoU } from "@resagent/metrics";
import { ComponentPool, Pipeline } from "@resagent/pipeline";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

/** The script lives beside this file's source (tsc does not copy it to dist). */
const SCRIPT = fileURLToPath(new URL("../../src/bench/opencv_grabcut.py", import.meta.url));

/** Runs a program and gives its exit status (null: it could not be started); `doctor` passes a faked one in tests. */
export type StatusOf = (command: string, args: readonly string[]) => number | null;
const spawnStatus: StatusOf = (command, args) => spawnSync(command, args, { encoding: "utf8" }).status;

/** A python with cv2, or why there is none. */
export function findOpenCvPython(env: Readonly<Record<string, string | undefined>> = process.env, status: StatusOf = spawnStatus): { python: string } | { reason: string } {
  const candidates = [env.RESAGENT_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
  for (const python of candidates) {
    if (status(python, ["-c", "import cv2, numpy"]) === 0) return { python };
  }
  return { reason: `no python with cv2 among ${candidates.join(", ")} (apt-get install -y python3-opencv, or set RESAGENT_PYTHON)` };
}

interface Item {
  id: string;
  split: string;
  mode: "tight" | "severe";
  image: string;
  gold: string;
  box: [number, number, number, number];
  positives: [number, number][];
  negatives: [number, number][];
  ours: { boxOnly: { iou: number; ms: number }; points: { iou: number; ms: number } };
}

interface CvRow {
  id: string;
  boxOnly: { iou: number; ms: number };
  points?: { iou: number; ms: number };
}

/**
 * Our graphcut next to OpenCV's grabCut on the scenes, boxes and points of `pnpm exp decoders`
 * (gold boxes tight and severely perturbed, EBD candidates labelled by the gold mask, 2 positives +
 * 1 negative): mIoU averaged over the experiment's splits as its table does, and time per image
 * (ours: the decoder call, on its working crop; OpenCV: grabCut on the full image, 5 iterations,
 * one thread). Samples per split: RESAGENT_BENCH_OPENCV_LIMIT, default the experiment's limit.
 */
export const opencvBench: BenchSuite = {
  name: "opencv",
  description: "graphcut vs OpenCV grabCut on the decoders experiment's scenes (mIoU box-only / box + points; ms per image)",
  async run(): Promise<BenchRow[]> {
    const py = findOpenCvPython();
    if ("reason" in py) return [{ suite: "opencv", name: "comparison skipped", value: 0, unit: "skipped", note: py.reason }];
    const exp = loadExperiment("decoders", { profile: "embedded", ...(process.env.RESAGENT_BENCH_OPENCV_LIMIT ? { set: [`limit=${process.env.RESAGENT_BENCH_OPENCV_LIMIT}`] } : {}) });
    const limit = exp.config.limit;
    const pool = new ComponentPool();
    const cells = { tight: exp.cells.find((c) => c.id === "Tight | box + points")!, severe: exp.cells.find((c) => c.id === "Severe | box + points")! };
    return withTempDir(async (dir) => {
      const items: Item[] = [];
      for (const [mode, cell] of Object.entries(cells) as ["tight" | "severe", (typeof cells)["tight"]][]) {
        const pipe = new Pipeline(cell.pipeline, exp.config.seed, pool);
        const decoder = buildDecoder(cell.pipeline.decoder);
        for (const [col, ref] of Object.entries(exp.config.resolvedDatasets)) {
          const { name, ...options } = ref;
          const ds = (await openDataset(name, options as { split: string })).limit(limit);
          for await (const sample of ds) {
            const bytes = await readFile(sample.imagePath);
            const image = await decodeImage(bytes, sample.imagePath);
            const rec = await pipe.run({ sample, image, imageHash: sha256(bytes), fileBytes: bytes }, cell.id);
            if (!rec.box) continue;
            const box = { x1: rec.box[0], y1: rec.box[1], x2: rec.box[2], y2: rec.box[3] };
            const pts = (v: [number, number][]): Point[] => v.map(([x, y]) => ({ x, y }));
            const gold = sample.goldMask as Mask;
            let t = performance.now();
            const a = await decoder.segment({ image }, { box, positives: [], negatives: [] });
            const msA = performance.now() - t;
            t = performance.now();
            const b = await decoder.segment({ image }, { box, positives: pts(rec.positives), negatives: pts(rec.negatives) });
            const msB = performance.now() - t;
            const goldFile = join(dir, `${items.length}.mask`);
            await writeFile(goldFile, gold.data);
            items.push({
              id: sample.id,
              split: col,
              mode,
              image: sample.imagePath,
              gold: goldFile,
              box: rec.box,
              positives: rec.positives,
              negatives: rec.negatives,
              ours: { boxOnly: { iou: sampleIoU(a.mask, gold).iou, ms: msA }, points: { iou: sampleIoU(b.mask, gold).iou, ms: msB } },
            });
          }
        }
      }
      await pool.dispose();
      const manifest = join(dir, "manifest.json");
      const out = join(dir, "opencv.json");
      await writeFile(manifest, JSON.stringify({ iterations: 5, seedRadius: 4, items }));
      execFileSync(py.python, [SCRIPT, manifest, out], { stdio: ["ignore", "inherit", "inherit"] });
      const cv = JSON.parse(await readFile(out, "utf8")) as { opencv: string; items: CvRow[] };
      const splits = Object.keys(exp.config.resolvedDatasets);
      const rows: BenchRow[] = [];
      /** Mean over splits of the per-split mean, as the decoders table averages. */
      const avg = (mode: string, value: (i: Item, c: CvRow) => number) =>
        (100 *
          splits
            .map((s) => {
              const sel = items.map((it, k) => [it, cv.items[k]!] as const).filter(([it]) => it.mode === mode && it.split === s);
              return sel.reduce((acc, [it, c]) => acc + value(it, c), 0) / Math.max(1, sel.length);
            })
            .reduce((x, y) => x + y, 0)) /
        splits.length;
      const n = `${limit} per split × ${splits.length} splits; OpenCV ${cv.opencv}`;
      for (const mode of ["tight", "severe"]) {
        rows.push(
          { suite: "opencv", name: `${mode} box: graphcut box only (mIoU)`, value: avg(mode, (i) => i.ours.boxOnly.iou), unit: "%", note: n },
          { suite: "opencv", name: `${mode} box: OpenCV grabCut box only (mIoU)`, value: avg(mode, (_, c) => c.boxOnly.iou), unit: "%" },
          { suite: "opencv", name: `${mode} box: graphcut + 2 pos + 1 neg (mIoU)`, value: avg(mode, (i) => i.ours.points.iou), unit: "%" },
          { suite: "opencv", name: `${mode} box: OpenCV grabCut + same points (mIoU)`, value: avg(mode, (_, c) => c.points?.iou ?? c.boxOnly.iou), unit: "%" },
        );
      }
      const sum = (f: (i: Item, c: CvRow) => number) => items.reduce((acc, it, k) => acc + f(it, cv.items[k]!), 0);
      const oursMs = sum((i) => i.ours.boxOnly.ms);
      const cvMs = sum((_, c) => c.boxOnly.ms);
      rows.push(
        { suite: "opencv", name: "graphcut box only, mean ms per image", value: oursMs / items.length, unit: "ms", note: "our crop at maxSide 200" },
        { suite: "opencv", name: "OpenCV grabCut box only, mean ms per image", value: cvMs / items.length, unit: "ms", note: "full 480x360 image, 5 iterations, 1 thread" },
        { suite: "opencv", name: "time ratio graphcut / OpenCV (box only)", value: oursMs / cvMs, unit: "x" },
        { suite: "opencv", name: "time ratio graphcut / OpenCV (box + points)", value: sum((i) => i.ours.points.ms) / sum((_, c) => c.points?.ms ?? c.boxOnly.ms), unit: "x" },
      );
      return rows;
    });
  },
};
