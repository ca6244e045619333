import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testCacheDir } from "@resagent/data/testing";
import { findRoot, loadExperiment, runExperiment, writeResults } from "./index.js";

// Its own file (a slow one) so that it runs beside the smoke runs of experiments.test.ts.
const root = findRoot();
process.env.RESAGENT_CACHE_DIR = await testCacheDir("resagent-decoders-cache-");

describe("decoders experiment (issue #4's check)", () => {
  it("on synthref with gold boxes and gold point labels: box decoder < graphcut from the box < graphcut with 2 pos + 1 neg", { timeout: 240_000 }, async () => {
    // 12 per split: the order holds there as it does at 20 and 40 per split (synthref v2, issue 14's
    // graphcut: box only -> box + points 86.7 -> 88.2 at 12, 86.2 -> 88.0 at 20, 85.0 -> 86.9 at 40),
    // and each sample decodes at full size.
    const exp = loadExperiment("decoders", { root, set: ["limit=12"] });
    exp.cells.splice(3); // the tight-box rows
    const dir = await mkdtemp(join(tmpdir(), "resagent-decoders-"));
    const run = await runExperiment(exp, { runDir: dir, concurrency: 2 });
    // The masks are under test, not the report (its own tests draw overlays): a few pictures.
    const out = await writeResults(exp, dir, [join(dir, "samples.jsonl")], run, { maxOverlays: 4 });
    const avg = (id: string) => out.metrics[id]!.all!.segmentation.mIoU;
    const [box, boxOnly, points] = ["Tight | box decoder", "Tight | box only", "Tight | box + points"].map(avg) as [number, number, number];
    expect(boxOnly).toBeGreaterThan(box + 0.2);
    expect(points).toBeGreaterThan(boxOnly);
    // The plot has its own title; the SIMULATED mark still shows on it.
    const svg = await readFile(out.files.find((f) => f.endsWith("avg.svg"))!, "utf8");
    expect(svg).toMatch(/SIMULATED · embedded · seed 0/);
  });
});
