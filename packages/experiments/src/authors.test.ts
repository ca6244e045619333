import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { buildTable, describeCells, findRoot, loadExperiment, readRecords, runExperiment, summarise } from "./index.js";

const root = findRoot();
process.env.RESAGENT_CACHE_DIR ??= await mkdtemp(join(tmpdir(), "resagent-authors-cache-"));

/** A scratch repository root with the real configs and one experiment file. */
async function scratch(name: string, body: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "resagent-authors-"));
  await cp(join(root, "configs"), join(dir, "configs"), { recursive: true });
  await mkdir(join(dir, "experiments"));
  await writeFile(join(dir, "experiments", `${name}.yaml`), body);
  return dir;
}

const UNITS = `version: 1
name: units
title: Table U
limit: 2
datasets:
  sent: refcoco/val
  refs: { use: refcoco/val, unit: ref, sentence: first }
pipeline: { k: 0, decoder: { name: box } }
cells:
  - { id: sentences only, datasets: [sent] }
  - { id: both }
  - { id: refs only, datasets: [refs] }
table: { metric: mIoU, columns: [{ header: S, dataset: sent }, { header: R, dataset: refs }] }
`;

describe("rows on their own datasets, and the sample unit in every table", () => {
  it("a row runs on its datasets only; a ref-unit column keeps its records apart from the sentence column of the same split; a rerun has nothing left to do", async () => {
    const dir = await scratch("units", UNITS);
    const exp = loadExperiment("units", { root: dir });
    expect(exp.config.resolvedDatasets.refs).toMatchObject({ name: "synthref", split: "refcoco/val", unit: "ref", sentence: "first" });
    const runDir = await mkdtemp(join(tmpdir(), "resagent-units-run-"));
    const run = await runExperiment(exp, { runDir, shareRecords: false });
    // 2 + 2 x 2 + 2: "both" runs on both columns, although its first ref sample has the id of the
    // first sentence sample (synthref:refcoco/val:0.0).
    expect(run.newRecords).toBe(8);
    const records = readRecords(join(runDir, "samples.jsonl"));
    expect(records.filter((r) => r.cell === "both").map((r) => [r.dataset, r.id])).toEqual([
      ["synthref/refcoco/val", "synthref:refcoco/val:0.0"],
      ["synthref/refcoco/val", "synthref:refcoco/val:0.1"],
      ["synthref/refcoco/val (refs, first)", "synthref:refcoco/val:0.0"],
      ["synthref/refcoco/val (refs, first)", "synthref:refcoco/val:1.0"],
    ]);
    expect((await runExperiment(exp, { runDir, shareRecords: false })).newRecords).toBe(0);
    const m = summarise(exp, records, null);
    expect(Object.keys(m["sentences only"]!).sort()).toEqual(["all", "sent"]);
    expect(Object.keys(m["refs only"]!).sort()).toEqual(["all", "refs"]);
    const t = buildTable(exp, m, "t");
    expect(t.rows.map((r) => r.ours.map((v) => v !== null))).toEqual([[true, false], [true, true], [false, true]]);
    expect(t.notes).toContain("Samples (what n counts): S: sentences; R: refs (first sentence).");
    expect(describeCells(exp)).toMatch(/cell "refs only": .*datasets = refs \(this row only\)/);
  }, 120_000);

  it("a row naming an unknown dataset column fails with the file and the key", async () => {
    const dir = await scratch("units", UNITS.replace("datasets: [refs]", "datasets: [ref]"));
    expect(() => loadExperiment("units", { root: dir })).toThrow(/units\.yaml: cells\[2\]\.datasets\[0\]: unknown dataset column "ref"; did you mean "refs"/);
    const bad = await scratch("units", UNITS.replace("unit: ref, sentence: first", "unit: refs"));
    expect(() => loadExperiment("units", { root: bad })).toThrow(InputError);
  });
});

describe("experiments/authors.yaml: the released scripts", () => {
  const emb = loadExperiment("authors", { root });
  const cell = (prefix: string) => emb.cells.find((c) => c.id.startsWith(prefix))!;

  it("each script's row runs the datasets its loops run, one sample per ref with its first sentence", () => {
    expect(cell("Router script (").datasets).toEqual(["refcocog-val", "refcocog-test"]);
    expect(cell("Textual baseline").datasets).toHaveLength(8);
    expect(cell("Reported configuration").datasets).toEqual(["val", "testA", "testB"]);
    for (const col of cell("Textual baseline").datasets!) expect(emb.config.resolvedDatasets[col]).toMatchObject({ unit: "ref", sentence: "first" });
    expect(emb.config.resolvedDatasets.val!.unit).toBeUndefined();
  });

  it("the release settings (run scripts and the final script's defaults)", () => {
    const r = cell("Router script (").pipeline;
    expect(r).toMatchObject({ k: 10, kExternal: 4, dedupe: "pixel", onGroundingFailure: "full-image", decode: { fallback: "sam-score", margin: 0, emptyPoints: "centre" } });
    expect(r.verifier).toMatchObject({ format: "vbr-multi", multiMarkers: "final", multiBatch: 8, crop: false, size: 12, sizeMode: "adaptive", sizeMin: 8, sizeMax: 16, positives: 4, negatives: 0, selectionMode: "confidence", earlyStop: false });
    expect(cell("Router script, spiral").pipeline.sampler).toMatchObject({ name: "ebd-spiral", params: { densify: "code", queues: "independent", rank: "spiral" } });
    const t = cell("Textual baseline").pipeline;
    expect(t.sampler).toMatchObject({ name: "random", params: { placement: "final", expand: 0.25 } });
    expect(t.verifier).toMatchObject({ format: "textual:x=, y=", textualSpace: "crop", textualConvention: "qwen3", crop: false });
    const real = loadExperiment("authors", { root, profile: "real" });
    const rr = real.cells.find((c) => c.id.startsWith("Router script ("))!;
    expect(rr.pipeline.mllm).toMatchObject({ backend: "box-file", convention: "absolute" });
    expect(rr.pipeline.sampler).toMatchObject({ name: "authors-learned", params: { standIn: "none" } });
    expect(real.cells.find((c) => c.id.startsWith("Textual"))!.pipeline.mllm).toMatchObject({ backend: "box-file", boxes: { coords: "qwen1000", pattern: "pred_{dataset}_{splitBy}_{split}_qwen3-vl-8b-instruct.jsonl" } });
  });

  it("the learned point scorer: a labelled stand-in on the embedded profile; on real data the row fails before any work, in one line", async () => {
    const router = cell("Router script (");
    expect(router.standIns.map((s) => s.preset)).toEqual(["sampler authors-learned"]);
    expect(buildTable(emb, {}, "t").rows.find((r) => r.label.startsWith("Router script ("))!.label).toMatch(/\[stand-in\]$/);
    expect(cell("Router script, spiral").standIns).toEqual([]);
    // The real profile's preset: the scorer itself, which this harness does not have.
    const asReal = loadExperiment("authors", { root, set: ["limit=1"] });
    const r = asReal.cells.find((c) => c.id === router.id)!;
    r.pipeline = { ...r.pipeline, sampler: { name: "authors-learned", params: { merge: "interleave", poolScale: 4, expand: 0.25, standIn: "none" } } };
    const runDir = await mkdtemp(join(tmpdir(), "resagent-authors-learned-"));
    await expect(runExperiment(asReal, { runDir, shareRecords: false })).rejects.toThrow(/^cell "Router script \(run_resagent_router_qwen2_5\.sh\)": sampler: the authors' learned point-usefulness scorer .* was not released, so this row cannot run on real data/);
    expect(existsSync(join(runDir, "samples.jsonl")) ? await readFile(join(runDir, "samples.jsonl"), "utf8") : "").toBe("");
  });
});
