import { mkdtemp, readFile, writeFile, mkdir, cp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { makeReferFixture, pythonAvailable, referImageDir, testCacheDir } from "@resagent/data/testing";
import { roleSelectionViolations } from "@resagent/verifier";
import { buildPipelines, checkPlotSvg, experimentNames, findRoot, loadExperiment, readRecords, runExperiment, writeResults } from "./index.js";

const root = findRoot();
const cacheDir = await testCacheDir("resagent-exp-cache-");
process.env.RESAGENT_CACHE_DIR = cacheDir;
/** The runner is under test here, not the decoder (graphcut has its own tests): masks are the boxes. */
const BOX = 'decoder={"name":"box"}';

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
  const small = () => loadExperiment("table5", { root, set: ["limit=3", BOX] });

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
    const exp = loadExperiment("table4", { root, set: ["limit=1", BOX] });
    const a = await mkdtemp(join(tmpdir(), "resagent-run-"));
    const first = await runExperiment(exp, { runDir: a });
    expect(first.sharedRecords).toBe(0);
    // The same pipelines under other cell names (a one-value sweep of the value they already have).
    const renamed = loadExperiment("table4", { root, set: ["limit=1", BOX], sweep: ["verifier.tau=0.5"] });
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
  const roles = { records: 0, used: 0, fallbacks: 0 };
  it.each(experimentNames(root))("%s", async (name) => {
    // Two samples per dataset: enough for intervals, so the error bars are drawn and checked too.
    const exp = smallGraphcut(loadExperiment(name, { root, set: ["limit=2"] }));
    const dir = await mkdtemp(join(tmpdir(), `resagent-smoke-${name}-`));
    const run = await runExperiment(exp, { runDir: dir, concurrency: 2 });
    // A cell with datasets: runs on those columns only.
    expect(run.newRecords).toBe(2 * exp.cells.reduce((n, c) => n + (c.datasets ?? Object.keys(exp.config.resolvedDatasets)).length, 0));
    // A few overlay pictures show the drawing works; the report tests cover the rest.
    const out = await writeResults(exp, dir, [join(dir, "samples.jsonl")], run, { maxOverlays: 4 });
    expect(out.files.some((f) => f.endsWith("table.md"))).toBe(true);
    expect(out.table.title).toMatch(/SIMULATED/);
    const svgs = out.files.filter((f) => f.endsWith(".svg"));
    expect(svgs).toHaveLength(exp.config.plots.length);
    for (const f of svgs) expect({ file: f, problems: await checkPlotSvg(await readFile(f, "utf8")) }).toEqual({ file: f, problems: [] });
    // The run's report is written with the table: one card per record.
    const html = await readFile(join(dir, "report.html"), "utf8");
    expect(html.match(/"k":"/g)).toHaveLength(run.newRecords);
    expectQueueRoles(name, exp, out.table.notes, readRecords(join(dir, "samples.jsonl")), roles);
  }, 180_000);

  // Issue 19's rule, scanned above in the records of every pipeline table: which points are asked
  // and used does not depend on the decoder, so the smoke run's records serve.
  it("select: roles in every pipeline table's records: keeps the queue roles in every record of every experiment", () => {
    // Not vacuous: points were used, and some by the fallback rules.
    expect(roles.used).toBeGreaterThan(100);
    expect(roles.fallbacks).toBeGreaterThan(0);
  });
});

/**
 * The experiment with every graphcut decoder working on a small crop: each cell still runs its own
 * decoder and its cuts, at a fraction of the cost. Here the experiment's plumbing is under test;
 * graphcut's masks are the decoder tests' and the decoders experiment's. The full-resolution
 * boundary re-cut is left out: on so coarse a crop its band is most of the box (its own tests are
 * the graphcut stage tests').
 */
function smallGraphcut(exp: ReturnType<typeof loadExperiment>): ReturnType<typeof loadExperiment> {
  for (const c of exp.cells) if (c.pipeline.decoder.name === "graphcut") c.pipeline.decoder = { ...c.pipeline.decoder, params: { ...c.pipeline.decoder.params, maxSide: 32, iterations: 1, refine: false } };
  return exp;
}

/**
 * A point used as a positive from the external queue only after the internal queue was asked out
 * with fewer positives than wanted, and the mirror for negatives; each used point names the rule
 * that chose it; the decoder got exactly the used points. Counts what it saw into `seen`.
 */
function expectQueueRoles(name: string, exp: ReturnType<typeof loadExperiment>, notes: string[], records: ReturnType<typeof readRecords>, seen: { records: number; used: number; fallbacks: number }): void {
  // The table says which candidate and selection rules made it.
  if (name === "table4") expect(notes).toContain("Candidates and point selection: ebd-spiral (one draw per queue; queues by spiral position (authors' code); densify fast-growth), points by queue roles.");
  const cells = new Map(exp.cells.map((c) => [c.id, c.pipeline]));
  for (const r of records) {
    const v = cells.get(r.cell)!.verifier;
    expect(v.select).toBe("roles");
    seen.records++;
    expect(roleSelectionViolations(r.queries, r.candidates, v), `${name} ${r.cell} ${r.id}`).toEqual([]);
    for (const q of r.queries.filter((x) => x.used)) {
      seen.used++;
      expect(q.rule, `${name} ${r.cell} ${r.id}`).toMatch(q.decision === "positive" ? /^(internal-positive|fallback-positive)$/ : /^(external-negative|fallback-negative)$/);
      expect(q.queue).toBe(q.rule === "internal-positive" || q.rule === "fallback-negative" ? "internal" : "external");
      if (q.rule!.startsWith("fallback")) seen.fallbacks++;
    }
    // The decoder got exactly the used points.
    expect(r.positives.length + r.negatives.length).toBe(r.queries.filter((x) => x.used).length);
  }
}

describe("bad samples", () => {
  // The REFER fixture is written by python3's pickle: without it the test is skipped, and says so.
  it.skipIf(!pythonAvailable())("are recorded and skipped when configured, and stop the run otherwise (needs python3 for the REFER fixture)", async () => {
    const { unlink } = await import("node:fs/promises");
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
