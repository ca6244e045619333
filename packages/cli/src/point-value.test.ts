/** gen-point-value and train-point-value as a user runs them: files, summaries, refusals, exit status. */
import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { captureCli } from "./testing.js";

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "resagent-cli-pv-"));
  process.env.RESAGENT_CACHE_DIR = join(tmp, "cache");
});

describe("point value commands", () => {
  it("gen-point-value writes teacher data and a value-map sheet, resumes, refuses other options; train-point-value trains on it", { timeout: 300_000 }, async () => {
    const data = join(tmp, "pv");
    const base = ["gen-point-value", "--source", "synthref:refcoco/val", "--spiral", "1", "--random", "1", "--out", data];
    let run = await captureCli([...base, "--samples", "3", "--sheet", "2"]);
    expect(run.code, run.err.join("\n")).toBe(0);
    expect(run.out.join("\n")).toMatch(/^3 objects, 12 candidates \(27 decodes, \d+ s CPU this run\); box-only IoU 0\.\d{3}; value > 0 for/m);
    expect(run.out.join("\n")).toMatch(/k=1: spiral's first/);
    for (const f of ["records.jsonl", "options.json", "stats.json", "sheet.png"]) expect(existsSync(join(data, f)), f).toBe(true);
    const stats = JSON.parse(await readFile(join(data, "stats.json"), "utf8")) as { simulated: string; decoder: string };
    expect(stats.simulated).toMatch(/SIMULATED/);
    expect(stats.decoder).toMatch(/^graphcut/);
    run = await captureCli([...base, "--samples", "3", "--sheet", "0"]);
    expect(run.code).toBe(0);
    expect(run.err.join("\n")).toMatch(/resumed: 3 objects were already measured/);
    run = await captureCli([...base, "--samples", "3", "--box", "none"]);
    expect(run.code).toBe(2);
    expect(run.err.join("\n")).toMatch(/pv: this folder was generated with other options \(box: "severe" then, "none" now\)/);
    run = await captureCli([...base, "--samples", "0"]);
    expect(run.code).toBe(2);
    expect(run.err.join("\n")).toMatch(/--samples: expected an integer >= 1, got 0/);

    const model = join(tmp, "ranker");
    run = await captureCli(["train-point-value", "--data", data, "--out", model, "--epochs", "1", "--held-out", "0.4"]);
    expect(run.code, run.err.join("\n")).toBe(0);
    expect(run.out.join("\n")).toMatch(/held-out spiral pool, k=1 \(\d+ lists\): learned [\d.]+ · spiral [\d.]+ · oracle \(UPPER BOUND\) [\d.]+ · random [\d.]+; gap closed/);
    for (const f of ["model.json", "metrics.json", "provenance.json", "curves.png", "ranking-spiral.png"]) expect(existsSync(join(model, f)), f).toBe(true);
  });

  it("ls names the point rankings", async () => {
    const run = await captureCli(["ls", "samplers"]);
    expect(run.code).toBe(0);
    expect(run.out.join("\n")).toMatch(/point rankings \(pipeline\.sampler\.rank[^\n]*\n\s+oracle-value\s+UPPER BOUND[^\n]*\n\s+learned-value\s+tfjs point-value ranker/);
  });
});
