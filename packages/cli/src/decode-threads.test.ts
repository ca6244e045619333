/**
 * Graph-cut decodes on worker threads, as `pnpm exp` runs them: the thread script is the one the
 * CLI's bundle carries (bin/bundle.js), so what is checked here is what users run.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { readImage, type Point } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { testCacheDir } from "@resagent/data/testing";
import { GraphCutDecoder, decodeGraphcut, parseGraphcutParams } from "@resagent/decoder";

const cliDir = fileURLToPath(new URL("..", import.meta.url));
const root = join(cliDir, "..", "..");
interface Bundle {
  cli: string;
  graphcutThread: string;
}
const { ensureBundle, GRAPHCUT_THREAD_KEY } = (await import(pathToFileURL(join(cliDir, "bin", "bundle.js")).href)) as { ensureBundle(outDir?: string): Promise<Bundle>; GRAPHCUT_THREAD_KEY: symbol };

describe("graph-cut decode threads", () => {
  it("give the in-process decoder's masks and scores, byte for byte, from the bundled thread script", { timeout: 120_000 }, async () => {
    // The bundle `pnpm exp` runs (built here when stale, as `pnpm exp` would; the next test's run finds it current).
    const bundle = await ensureBundle();
    // Named for this test's decoders only: the next test file in this worker decodes in-process again.
    const globals = globalThis as Record<symbol, unknown>;
    const before = globals[GRAPHCUT_THREAD_KEY];
    onTestFinished(() => {
      globals[GRAPHCUT_THREAD_KEY] = before;
    });
    globals[GRAPHCUT_THREAD_KEY] = bundle.graphcutThread;
    process.env.RESAGENT_CACHE_DIR = await testCacheDir();
    // A coarse working crop: what crosses to the thread and back is the same at any size.
    const params = parseGraphcutParams({ maxSide: 96 });
    const decoder = new GraphCutDecoder(params);
    const ds = await openDataset("synthref", { split: "refcoco/val" });
    const asks = [];
    for (let i = 0; i < 2; i++) {
      const s = await ds.get(i);
      const image = await readImage(s.imagePath);
      const box = s.goldBox!;
      const at = (fx: number, fy: number): Point => ({ x: box.x1 + fx * (box.x2 - box.x1), y: box.y1 + fy * (box.y2 - box.y1) });
      for (const prompt of [
        { box, positives: [], negatives: [] },
        { box, positives: [at(0.5, 0.5), at(0.3, 0.6)], negatives: [at(0.05, 0.05)] },
        { box, positives: [at(0.02, 0.98)], negatives: [at(0.5, 0.5)] },
      ])
        asks.push({ image, prompt, key: s.id });
    }
    const threaded = await Promise.all(asks.map((a) => decoder.segment({ image: a.image, key: a.key }, a.prompt)));
    expect(decoder.stats()).toMatchObject({ decodes: asks.length });
    expect(decoder.stats().decodeThreads).toBeGreaterThan(0);
    expect(bundle.graphcutThread).toMatch(/\/graphcut-thread-[0-9a-f]{16}\.mjs$/);
    asks.forEach((a, i) => {
      const inProcess = decodeGraphcut(params, a.image, a.prompt);
      expect(threaded[i]!.score).toBe(inProcess.score);
      expect(Buffer.from(threaded[i]!.mask.data).equals(Buffer.from(inProcess.mask.data)), `ask ${i}`).toBe(true);
    });
  });

  it("run under `pnpm exp`, and the run's summary says on how many", { timeout: 180_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), "resagent-threads-run-"));
    const run = spawnSync(process.execPath, [join(cliDir, "bin", "from-source.js"), "exp", "table4", "--limit", "1", "--set", "decoder.params.maxSide=48", "--max-overlays", "4", "--out", out, "--run-id", "t"], {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, RESAGENT_CACHE_DIR: await testCacheDir(), RESAGENT_DECODE_THREADS: "2" },
    });
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(await readFile(join(out, "table4", "t", "summary.json"), "utf8")) as { decoders: { description: string; stats: Record<string, number> }[] };
    const graphcut = summary.decoders.filter((d) => d.description.startsWith("graphcut"));
    expect(graphcut.length).toBeGreaterThan(0);
    for (const d of graphcut) expect(d.stats.decodeThreads).toBeGreaterThan(0);
  });
});
