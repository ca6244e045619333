import { mkdtemp, readFile, writeFile, mkdir, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { makeReferFixture, pythonAvailable, referImageDir } from "@resagent/data/testing";
import { buildPipelines, checkPlotSvg, experimentNames, findRoot, loadExperiment, readRecords, runExperiment, writeResults } from "./index.js";

const root = findRoot();
const cacheDir = await mkdtemp(join(tmpdir(), "resagent-exp-cache-"));
process.env.RESAGENT_CACHE_DIR = cacheDir;

/** samples.jsonl lines without the wall-clock `timing` key. */
async function stripped(file: string): Promise<string[]> {
  return (await readFile(file, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const { timing: _t, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(rest);
    });
}

describe("experiment configs", () => {
  it("every experiment resolves on the embedded and the real profile", () => {
    const names = experimentNames(root);
    expect(names).toEqual(expect.arrayContaining(["table1", "table2", "table3", "table4", "table5", "table6", "table7", "table8", "table9", "table10", "table11", "fig1", "fig5", "grounding", "ensemble"]));
    for (const n of names) {
      const emb = loadExperiment(n, { root });
      expect(emb.config.title).toMatch(/^(Table|Fig|Decoders|Authors|Grounding|Ensemble|Point value)/);
      buildPipelines(emb);
      const real = loadExperiment(n, { root, profile: "real" });
      expect(Object.values(real.config.resolvedDatasets).every((d) => d.name !== "synthref")).toBe(true);
    }
  });

  it("merges defaults < profile < experiment < --set and expands sweeps", () => {
    const e = loadExperiment("table10", { root, set: ["limit=3", "pipeline.verifier.topK=4"], sweep: ["verifier.aggregation=pa,decoded"] });
    expect(e.config.limit).toBe(3);
    expect(e.cells).toHaveLength(3 * 4 * 2); // Textual, VBR, VBR learned (tfjs) x 4 tau x 2 aggregations
    expect(e.cells[0]!.pipeline.verifier.topK).toBe(4);
    expect(e.cells.map((c) => c.pipeline.verifier.tau)).toContain(0.7);
    expect(e.config.columnSweeps).toEqual(["verifier.aggregation=pa", "verifier.aggregation=decoded"]);
  });

  it("fails before any work with the file, the key path and a suggestion", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-badcfg-"));
    await cp(join(root, "configs"), join(dir, "configs"), { recursive: true });
    await mkdir(join(dir, "experiments"));
    const write = (name: string, body: string) => writeFile(join(dir, "experiments", `${name}.yaml`), body);
    const base = "version: 1\nname: x\ntitle: Table X\ndatasets: { val: refcoco/val }\ntable: { metric: mIoU, columns: [{ header: Val, dataset: val }] }\n";
    await write("unknowncomp", `${base}cells: [{ id: a, set: { sampler: { name: ebd-spirl } } }]\n`);
    await write("wrongtype", `${base}limit: many\ncells: [{ id: a }]\n`);
    await write("typo", `${base}cells: [{ id: a, set: { verifer: { tau: 0.5 } } }]\n`);
    await write("preset", `${base}cells: [{ id: a, set: { decoder: "@decoder-adaptd" } }]\n`);
    await write("metric", base.replace("metric: mIoU", "metric: miou") + "cells: [{ id: a }]\n");
    await write("stat", base.replace("dataset: val }", "dataset: val }, { header: T, stat: msPerSampel }") + "cells: [{ id: a }]\n");
    const err = (name: string) => {
      try {
        buildPipelines(loadExperiment(name, { root: dir }));
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        return (e as Error).message;
      }
      return "no error";
    };
    expect(err("unknowncomp")).toMatch(/^experiments\/unknowncomp\.yaml: cells\[0\]\.set\.sampler\.name: unknown sampler "ebd-spirl"; did you mean "ebd-spiral"/);
    expect(err("wrongtype")).toMatch(/wrongtype\.yaml: limit: expected number, got "many"/);
    expect(err("typo")).toMatch(/cells\[0\]\.set\.verifer: unknown key "verifer"; did you mean "verifier"/);
    expect(err("preset")).toMatch(/cells\[0\]\.set\.decoder: unknown preset "@decoder-adaptd" \(profile embedded\); did you mean "decoder-adapted"/);
    expect(err("metric")).toMatch(/metric\.yaml: table\.metric: unknown value "miou"; did you mean "mIoU"/);
    expect(err("stat")).toMatch(/stat\.yaml: table\.columns\[1\]\.stat: unknown value "msPerSampel"; did you mean "msPerSample"\? \(known: .*decodeMsPerSample/);
    expect(() => loadExperiment("tabel4", { root })).toThrow(/no experiment "tabel4"; did you mean "table4"/);
    expect(() => loadExperiment("table4", { root, profile: "embeded" })).toThrow(/unknown profile "embeded"; did you mean "embedded"/);
  });
});

describe("runner", () => {
  const small = () => loadExperiment("table5", { root, set: ["limit=3"] });

  it("writes identical samples.jsonl (timings aside) at concurrency 1 and 8, and across reruns", { timeout: 240_000 }, async () => {
    const a = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const b = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const c = await mkdtemp(join(tmpdir(), "resagent-run-"));
    // Computed each time (no shared records): the computation itself must not depend on concurrency.
    await runExperiment(small(), { runDir: a, concurrency: 1, shareRecords: false });
    await runExperiment(small(), { runDir: b, concurrency: 8, shareRecords: false });
    await runExperiment(small(), { runDir: c, concurrency: 3, shareRecords: false });
    const la = await stripped(join(a, "samples.jsonl"));
    expect(la).toHaveLength(3 * 3 * 6);
    expect(await stripped(join(b, "samples.jsonl"))).toEqual(la);
    expect(await stripped(join(c, "samples.jsonl"))).toEqual(la);
  });

  it("resumes a killed run to the same file, with nothing missing or duplicated", async () => {
    const full = await mkdtemp(join(tmpdir(), "resagent-run-"));
    await runExperiment(small(), { runDir: full, concurrency: 2, shareRecords: false });
    const want = await stripped(join(full, "samples.jsonl"));
    for (const stopAfter of [1, 4, 7]) {
      const dir = await mkdtemp(join(tmpdir(), "resagent-run-"));
      await runExperiment(small(), { runDir: dir, concurrency: 2, stopAfter, shareRecords: false });
      // a kill in the middle of writing a line
      const file = join(dir, "samples.jsonl");
      await writeFile(file, `${await readFile(file, "utf8")}{"id":"synthref:refcoco/testB:1.0","cell":"(1`);
      const second = await runExperiment(small(), { runDir: dir, concurrency: 4, shareRecords: false });
      expect(second.resumedRecords).toBe(stopAfter * 6);
      expect(await stripped(file)).toEqual(want);
    }
  }, 240_000);

  it("copies the records of identical cells instead of recomputing them, in another run or another table", async () => {
    const exp = loadExperiment("table4", { root, set: ["limit=1"] });
    const a = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const first = await runExperiment(exp, { runDir: a });
    expect(first.sharedRecords).toBe(0);
    // The same pipelines under other cell names (a one-value sweep of the value they already have).
    const renamed = loadExperiment("table4", { root, set: ["limit=1"], sweep: ["verifier.tau=0.5"] });
    const b = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const second = await runExperiment(renamed, { runDir: b });
    expect(second.sharedRecords).toBe(second.newRecords);
    const relabel = (lines: string[]) => lines.map((l) => l.replace(/"cell":"(K=\d)( \| verifier\.tau=0\.5)?"/, '"cell":"$1"'));
    expect(relabel(await stripped(join(b, "samples.jsonl")))).toEqual(relabel(await stripped(join(a, "samples.jsonl"))));
    expect(readRecords(join(b, "samples.jsonl")).every((r) => r.timing.shared === 1)).toBe(true);
  });

  it("sweeps over pos/neg counts reuse the model's answers, and summaries say so", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const exp = small();
    // Counts the model calls of this computation: records copied from other tests' identical cells would carry theirs.
    const run = await runExperiment(exp, { runDir: dir, shareRecords: false });
    const { metrics } = await writeResults(exp, dir, [join(dir, "samples.jsonl")], run);
    const summary = JSON.parse(await readFile(join(dir, "summary.json"), "utf8")) as { mllmRequests: { queries: number; issuedToBackends: number }; simulated: boolean; gitCommit: string; versions: Record<string, string> };
    expect(summary.simulated).toBe(true);
    expect(summary.versions["@resagent/experiments"]).toBe("0.1.0");
    // Grounding is asked once per sample; verification questions of the six cells overlap.
    const records = readRecords(join(dir, "samples.jsonl"));
    const uniqueQueries = new Set(records.flatMap((r) => [`${r.id}/ground`, ...r.queries.map((q) => `${r.id}/${q.point.x},${q.point.y}`)])).size;
    expect(summary.mllmRequests.issuedToBackends).toBe(uniqueQueries);
    expect(summary.mllmRequests.queries).toBeGreaterThan(2 * summary.mllmRequests.issuedToBackends);
    expect(metrics["(2,1)"]!.all!.samples).toBe(9);
    expect(await readFile(join(dir, "table.md"), "utf8")).toMatch(/\| \(2,1\) \| \d+\.\d ±\d+\.\d ‹79\.45, [+−]\d+\.\d›/);
  });
});

describe("every experiment runs on the embedded profile (smoke size) and its plots pass the checks", () => {
  it.each(experimentNames(root))("%s", async (name) => {
    // Two samples per dataset: enough for intervals, so the error bars are drawn and checked too.
    const exp = loadExperiment(name, { root, set: ["limit=2"] });
    const dir = await mkdtemp(join(tmpdir(), `resagent-smoke-${name}-`));
    const run = await runExperiment(exp, { runDir: dir, concurrency: 2 });
    // A cell with datasets: runs on those columns only.
    expect(run.newRecords).toBe(2 * exp.cells.reduce((n, c) => n + (c.datasets ?? Object.keys(exp.config.resolvedDatasets)).length, 0));
    const out = await writeResults(exp, dir, [join(dir, "samples.jsonl")], run);
    expect(out.files.some((f) => f.endsWith("table.md"))).toBe(true);
    expect(out.table.title).toMatch(/SIMULATED/);
    const svgs = out.files.filter((f) => f.endsWith(".svg"));
    expect(svgs).toHaveLength(exp.config.plots.length);
    for (const f of svgs) expect({ file: f, problems: await checkPlotSvg(await readFile(f, "utf8")) }).toEqual({ file: f, problems: [] });
    // The run's report is written with the table: one card per record.
    const html = await readFile(join(dir, "report.html"), "utf8");
    expect(html.match(/"k":"/g)).toHaveLength(run.newRecords);
  }, 180_000);
});

describe("decoders experiment (issue #4's check)", () => {
  it("on synthref with gold boxes and gold point labels: box decoder < graphcut from the box < graphcut with 2 pos + 1 neg", { timeout: 240_000 }, async () => {
    // 20 per split (synthref v2, issue 14's graphcut): box 49.4, box only 86.2, box + points 88.0
    // (at 12 per split 86.7 -> 88.2, at 40 85.0 -> 86.9).
    const exp = loadExperiment("decoders", { root, set: ["limit=20"] });
    exp.cells.splice(3); // the tight-box rows
    const dir = await mkdtemp(join(tmpdir(), "resagent-decoders-"));
    const run = await runExperiment(exp, { runDir: dir, concurrency: 2 });
    const out = await writeResults(exp, dir, [join(dir, "samples.jsonl")], run);
    const avg = (id: string) => out.metrics[id]!.all!.segmentation.mIoU;
    const [box, boxOnly, points] = ["Tight | box decoder", "Tight | box only", "Tight | box + points"].map(avg) as [number, number, number];
    expect(boxOnly).toBeGreaterThan(box + 0.2);
    expect(points).toBeGreaterThan(boxOnly);
    // The plot has its own title; the SIMULATED mark still shows on it.
    const svg = await readFile(out.files.find((f) => f.endsWith("avg.svg"))!, "utf8");
    expect(svg).toMatch(/SIMULATED · embedded · seed 0/);
  });
});

describe("bad samples", () => {
  it("are recorded and skipped when configured, and stop the run otherwise", async () => {
    const { unlink } = await import("node:fs/promises");
    if (!pythonAvailable()) return; // the REFER fixture needs python3 (the data tests say so visibly)
    const data = await makeReferFixture();
    const images = referImageDir(data);
    await unlink(join(images, "COCO_train2014_000000000003.jpg"));
    const exp = loadExperiment("table4", { root, set: ["limit=10"] });
    exp.config.resolvedDatasets = { val: { name: "refcoco", split: "testA", root: data } };
    exp.cells.splice(1);
    const dir = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const run = await runExperiment(exp, { runDir: dir, skipBadSamples: true });
    // testA: refs 2 (image 3, missing) and 4 (image 2): two sentences each
    expect(run.skipped.map((s) => s.id)).toEqual(["refcoco:unc:2.20", "refcoco:unc:2.21"]);
    expect(run.skipped[0]!.error).toMatch(/COCO_train2014_000000000003\.jpg: image of ref 2 is missing/);
    expect(run.newRecords).toBe(2);
    await expect(runExperiment(exp, { runDir: await mkdtemp(join(tmpdir(), "resagent-run-")) })).rejects.toThrow(/image of ref 2 is missing/);
  });
});
