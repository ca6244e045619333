/**
 * Configs that cannot lie: every key at every depth is checked against the one schema, errors
 * name where the value came from, presets resolve before overrides, sweeps are checked like
 * --set, stand-ins are explicit, and a run folder belongs to one resolved config and one code.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { InputError } from "@resagent/core";
import { makeReferFixture, pythonAvailable, referImageDir, testCacheDir } from "@resagent/data/testing";
import { GRAPHCUT_DEFAULTS, GraphcutParamsSchema, SAM2_DEFAULTS, Sam2ParamsSchema, describeDecoders } from "@resagent/decoder";
import { HttpOptionsSchema } from "@resagent/mllm";
import { SpiralParamsSchema, describeSamplers } from "@resagent/sampler";
import { VerifierParamsSchema } from "@resagent/verifier";
import { buildTable, writeResults, acquireRunLock, checkResumable, codeHash, defaultRunId, describeCells, experimentNames, findRoot, jsonSchemaFiles, loadExperiment, runExperiment, type LoadOptions } from "./index.js";

const root = findRoot();
const cacheDir = await testCacheDir("resagent-cfg-cache-");
process.env.RESAGENT_CACHE_DIR = cacheDir;
/** Where runs are under test, not the decoder (graphcut has its own tests): masks are the boxes. */
const BOX = 'decoder={"name":"box"}';

function error(name: string, opts: LoadOptions = {}): string {
  try {
    loadExperiment(name, { root, ...opts });
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return (e as Error).message;
  }
  return "no error";
}

describe("one schema, every depth", () => {
  it("rejects unknown keys at any depth, naming the flag, the key and the nearest known key", () => {
    expect(error("table4", { set: ["pipeline.verifier.tua=0.7"] })).toMatch(/^--set pipeline\.verifier\.tua=0\.7: unknown key "tua" in verifier; did you mean "tau"\? \(known: format, shape, colour, size, crop, topK, aggregation, tau, /);
    expect(error("table4", { set: ["mllm.presett=x"] })).toMatch(/^--set mllm\.presett=x: unknown key "presett" in mllm; did you mean "preset"/);
    expect(error("table4", { profile: "real", set: ["pipeline.mllm.http.timeoutMss=5"] })).toMatch(/^--set pipeline\.mllm\.http\.timeoutMss=5: unknown key "timeoutMss" in mllm\.http; did you mean "timeoutMs"/);
    expect(error("table4", { set: ["pipeline.verifier=vbr"] })).toBe('--set pipeline.verifier=vbr: expected a map of settings, got "vbr"');
    expect(error("table4", { set: ["pipeline.decoder.params.maxSid=100"] })).toMatch(/unknown key "maxSid" in decoder\.params; did you mean "maxSide"/);
    // A decoder with no parameters: say so rather than list no known keys (the decoders
    // experiment's "box decoder" cells use the parameterless `box` decoder).
    expect(error("decoders", { set: ["decoder.params.sampling=area"] })).toMatch(/unknown key "sampling" in decoder\.params: decoder "box" takes no parameters$/);
    expect(error("table4", { set: ["pipeline.decoder.name=grapcut"] })).toMatch(/^--set pipeline\.decoder\.name=grapcut: unknown decoder "grapcut"; did you mean "graphcut"/);
    expect(error("table4", { set: ["pipeline.mllm.preset=zero-sho"] })).toMatch(/unknown value "zero-sho"; did you mean "zero-shot"/);
    expect(error("table4", { set: ["limt=3"] })).toMatch(/^--set limt=3: unknown key "limt"; did you mean "limit"/);
    // Values the components used to check themselves are the schema's now.
    expect(error("table4", { set: ["pipeline.sampler.params.points=1"] })).toBe("--set pipeline.sampler.params.points=1: expected a number >= 2, got 1");
    expect(error("table4", { set: ["pipeline.sampler.params.rank=topk"] })).toMatch(/^--set pipeline\.sampler\.params\.rank=topk: unknown value "topk"/);
    expect(error("table4", { set: ["pipeline.sampler.params.coeffMin=2"] })).toMatch(/^--set pipeline\.sampler\.params\.coeffMin=2: expected coeffMin <= coeffMax \(2 > 1\.5\)/);
    expect(error("table4", { set: ["pipeline.sampler.params.queues=shared"] })).toMatch(/unknown value "shared"; known: independent, split/);
    // Simulated-model overrides are the preset's own fields, merged one by one.
    expect(error("table4", { set: ["mllm.overrides.boxNoise=0.1"] })).toMatch(/unknown key "boxNoise" in mllm\.overrides; known: description, grounding, vbr, textual/);
    expect(error("table4", { set: ["mllm.overrides.grounding.wrongRat=0.1"] })).toMatch(/unknown key "wrongRat" in mllm\.overrides\.grounding; did you mean "wrongRate"/);
    expect(error("table4", { set: ["mllm.overrides.grounding.modeCorrelation=0.5", "mllm.overrides.vbr.slope=3"] })).toBe("no error");
    // A key of one component is unknown to another: table7 has random-sampler cells.
    expect(error("table7", { set: ["pipeline.sampler.params.queues=split"] })).toMatch(/unknown key "queues" in sampler\.params; known: merge/);
  });

  it("checks http values when the config loads, not at request time", () => {
    expect(error("table4", { profile: "real", set: ["pipeline.mllm.http.timeoutMs=abc"] })).toBe('--set pipeline.mllm.http.timeoutMs=abc: expected number, got "abc" (a number, without quotes)');
    expect(error("table4", { profile: "real", set: ["pipeline.mllm.http.retries=-1"] })).toBe("--set pipeline.mllm.http.retries=-1: expected a number >= 0, got -1");
    expect(error("table4", { profile: "real", set: ["pipeline.mllm.http.concurrency=0"] })).toBe("--set pipeline.mllm.http.concurrency=0: expected a number >= 1, got 0");
    expect(error("table4", { profile: "real", set: ["pipeline.mllm.http.baseUrls=[\"localhost:8000\"]"] })).toBe('--set pipeline.mllm.http.baseUrls=["localhost:8000"]: expected url, got "localhost:8000"');
  });

  it("names the file for a value that came from a file, and a preset with who named it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-cfg-"));
    const file = join(dir, "x.yaml");
    await writeFile(file, "version: 1\nname: x\ntitle: Table X\ndatasets: { val: refcoco/val }\ntable: { metric: mIoU, columns: [{ header: Val, dataset: val }] }\ncells: [{ id: a, set: { verifier: { tau: 1.5 } } }]\n");
    expect(error(file)).toMatch(/x\.yaml: cells\[0\]\.set\.verifier\.tau: expected a number <= 1, got 1\.5$/);
    // The embedded verifier presets have no box convention: used as a grounder, the preset is named.
    expect(error("table4", { set: ["pipeline.mllm=@verifier-zero-shot"] })).toMatch(
      /^configs\/profiles\/embedded\.yaml: presets\.verifier-zero-shot\.convention \(preset "@verifier-zero-shot" named by --set pipeline\.mllm=@verifier-zero-shot\): missing/,
    );
    // --limit and friends are attributed to the flag, not to the experiment's file.
    expect(error("table4", { set: ["limit=0"] })).toBe("--set limit=0: expected a number >= 1, got 0");
  });

  it("checks table and plot specs and the paper's rows before any work", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-cfg-"));
    const base = "version: 1\nname: x\ntitle: Table X\ndatasets: { val: refcoco/val }\n";
    const cases: [string, RegExp][] = [
      ["table: { metric: mIoU, columns: [{ header: Val, datset: val }] }\ncells: [{ id: a }]\n", /table\.columns\[0\]\.datset: unknown key "datset"; did you mean "dataset"/],
      ["table: { metric: mIoU, columns: [{ header: Val, dataset: vall }] }\ncells: [{ id: a }]\n", /table\.columns\[0\]\.dataset: unknown dataset column "vall"; did you mean "val"/],
      ["table: { metric: mIoU, columns: [{ header: Val, dataset: val }] }\ncells: [{ id: a }]\nplots: [{ kind: bars, column: Avg., file: avg }]\n", /plots\[0\]\.column: unknown column "Avg\."/],
      ["table: { metric: mIoU, columns: [{ header: Val, dataset: val }] }\ncells: [{ id: a }]\npaper: { b: [1] }\n", /paper\.b: no row "b" for the paper's numbers; did you mean "a"/],
      ["table: { metric: mIoU, columns: [{ header: Val, dataset: val }] }\ncells: [{ id: a }, { id: a }]\n", /cells\[1\]\.id: duplicate cell id "a"/],
    ];
    for (const [i, [body, want]] of cases.entries()) {
      const file = join(dir, `c${i}.yaml`);
      await writeFile(file, base + body);
      expect(error(file)).toMatch(want);
    }
  });

  it("defines each parameter once, in its package's schema: its default, its check, the editors' JSON Schema and `ls` all come from there", () => {
    const schemaJson = jsonSchemaFiles()["schema.json"];
    const components: [string, z.ZodObject][] = [
      ["ebd-spiral", SpiralParamsSchema as unknown as z.ZodObject],
      ["graphcut", GraphcutParamsSchema],
      ["sam2-onnx", Sam2ParamsSchema],
      ["verifier", VerifierParamsSchema as unknown as z.ZodObject],
      ["http", HttpOptionsSchema],
    ];
    let described = 0;
    for (const [name, schema] of components) {
      for (const [key, field] of Object.entries(schema.shape)) {
        expect(schemaJson, `${name}.${key} in configs/schema.json`).toContain(`"${key}": {`);
        const description = field.description ?? (field as unknown as { unwrap?: () => z.ZodType }).unwrap?.().description;
        if (description) {
          described++;
          expect(schemaJson, `${name}.${key}'s description`).toContain(JSON.stringify(description).slice(1, -1));
        }
      }
    }
    expect(described).toBeGreaterThan(40);
    // `resagent ls decoders` and `ls samplers` list each parameter with its default and description.
    const graphcut = describeDecoders().find((d) => d.name === "graphcut")!.params;
    expect(graphcut.map((p) => p.name)).toEqual(Object.keys(GraphcutParamsSchema.shape));
    expect(graphcut.find((p) => p.name === "maxSide")).toEqual({ name: "maxSide", default: 200, description: "longest side of the working crop (box + background ring); larger crops are downsampled" });
    expect(describeSamplers().find((d) => d.name === "ebd-spiral")!.params.map((p) => p.name)).toEqual(Object.keys((SpiralParamsSchema as unknown as z.ZodObject).shape));
    // A resolved cell states every parameter, with the schema's defaults where nothing else set one.
    const cell = loadExperiment("table4", { root }).cells[0]!.pipeline;
    expect(Object.keys(cell.verifier)).toEqual(Object.keys((VerifierParamsSchema as unknown as z.ZodObject).shape));
    expect(cell.decoder).toEqual({ name: "graphcut", params: GRAPHCUT_DEFAULTS });
  });

  it("resolves the checks the config schema and the components used to disagree on, once", () => {
    // topK: at least 1 (top-k of nothing has no probability to aggregate; no logprobs at all is aggregation: decoded).
    expect(error("table4", { set: ["verifier.topK=0"] })).toBe("--set verifier.topK=0: expected a number >= 1, got 0");
    // outsideBias: the decoder refused a negative bias that the config schema let through.
    expect(error("table4", { set: ["decoder.params.outsideBias=-1"] })).toBe("--set decoder.params.outsideBias=-1: expected a number >= 0, got -1");
    // sizeMin <= sizeMax: the verifier checked it, the config schema did not.
    expect(error("table4", { set: ["verifier.sizeMin=20"] })).toBe("--set verifier.sizeMin=20: expected sizeMin <= sizeMax (20 > 16), got 20");
  });

  it("writes configs/schema.json and configs/profile.schema.json from the schema (stale files fail here: pnpm resagent schema --write)", () => {
    for (const [name, text] of Object.entries(jsonSchemaFiles())) expect(readFileSync(join(root, "configs", name), "utf8")).toBe(text);
    for (const n of experimentNames(root)) expect(readFileSync(join(root, "experiments", `${n}.yaml`), "utf8")).toMatch(/^# yaml-language-server: \$schema=\.\.\/configs\/schema\.json\n/);
  });
});

describe("presets, overrides and sweeps", () => {
  it("resolves presets in an ensemble's expert list, names the field of a bad value, and labels oracle-best rows as upper bounds (issue 17)", () => {
    const e = loadExperiment("grounding", { root });
    const medoid = e.cells.find((c) => c.id === "medoid")!.pipeline.grounding!;
    expect(medoid.router).toBe("medoid");
    expect(medoid.experts.map((x) => [x.backend, (x as { preset?: string }).preset, x.convention])).toEqual([
      ["simulated", "qwen3-vl-8b", "qwen3"],
      ["simulated", "qwen3-vl-4b", "qwen3"],
      ["simulated", "qwen3-vl-30b-a3b", "qwen3"],
      ["simulated", "glm-4.6v-flash", "qwen3"],
    ]);
    // The single-grounder cells have none: the default path.
    expect(e.cells.find((c) => c.id === "Qwen3-VL-8B")!.pipeline.grounding).toBeUndefined();
    const set = (g: unknown) => ({ set: [`pipeline.grounding=${JSON.stringify(g)}`] });
    const two = ["@grounder-qwen3-vl-8b", "@grounder-qwen3-vl-4b"];
    expect(error("grounding", set({ router: "medoids", experts: two }))).toMatch(/: unknown value "medoids"; did you mean "medoid"\? \(known: medoid, trimmed-mean, vote-mean, mean, first-valid, oracle-best\)$/);
    expect(error("grounding", set({ router: "medoid", experts: ["@grounder-qwen3-vl-8b"] }))).toMatch(/: an ensemble needs at least 2 grounders/);
    expect(error("grounding", set({ router: "medoid", experts: [two[0], { backend: "simulated", preset: "qwen3-vl-4b" }] }))).toMatch(/: grounding\.experts\[1\]\.convention: missing \(expected "qwen2\.5" \| "qwen3"/);
    expect(error("grounding", set({ router: "vote-mean", voteIoU: 2, experts: two }))).toMatch(/: expected a number <= 1, got 2$/);
    expect(error("grounding", set({ router: "medoid", experts: [two[0], "@grounder-qwen3-vl-9b"] }))).toMatch(/unknown preset "@grounder-qwen3-vl-9b" \(profile embedded\); did you mean "grounder-qwen3-vl-8b"/);
    const labels = buildTable(e, {}, "t").rows.map((r) => r.label);
    expect(labels.filter((l) => /oracle-best/.test(l))).toEqual(["oracle-best [UPPER BOUND: uses gold]", "oracle-best, +2 broken [UPPER BOUND: uses gold]"]);
    expect(labels).toContain("medoid");
  });

  it("resolves a preset first, then applies overrides inside it", () => {
    const e = loadExperiment("table4", { root, set: ["pipeline.decoder.params.maxSide=100"] });
    // K=0 runs @decoder-large (graphcut defaults), the others @decoder-adapted (maxSide 260, 4 iterations).
    expect(e.cells[0]!.pipeline.decoder).toEqual({ name: "graphcut", params: { ...GRAPHCUT_DEFAULTS, maxSide: 100 } });
    for (const c of e.cells.slice(1)) expect(c.pipeline.decoder).toEqual({ name: "graphcut", params: { ...GRAPHCUT_DEFAULTS, maxSide: 100, iterations: 4 } });
  });

  it("replaces the inherited component with a preset instead of merging into it: Table 6 runs four decoders", () => {
    const e = loadExperiment("table6", { root });
    const decoders = e.cells.map((c) => JSON.stringify(c.pipeline.decoder));
    expect(new Set(decoders).size).toBe(4);
    expect(e.cells.find((c) => c.id === "Large, not adapted")!.pipeline.decoder).toEqual({ name: "graphcut", params: GRAPHCUT_DEFAULTS });
  });

  it("accepts pipeline keys with or without `pipeline.` in --set and --sweep, and refuses empty, duplicate and unknown sweeps", () => {
    const a = loadExperiment("table4", { root, sweep: ["verifier.tau=0.5,0.7"] });
    const b = loadExperiment("table4", { root, sweep: ["pipeline.verifier.tau=0.5,0.7"] });
    expect(b.cells.map((c) => [c.id, c.pipeline])).toEqual(a.cells.map((c) => [c.id, c.pipeline]));
    expect(a.cells.map((c) => c.pipeline.verifier.tau)).toEqual([0.5, 0.7, 0.5, 0.7, 0.5, 0.7, 0.5, 0.7, 0.5, 0.7]);
    expect(loadExperiment("table4", { root, set: ["verifier.tau=0.6"] }).cells[1]!.pipeline.verifier.tau).toBe(0.6);
    expect(error("table4", { sweep: ["verifier.tau=0.5,0.5"] })).toBe("--sweep verifier.tau=0.5,0.5: value 0.5 is listed twice");
    expect(error("table4", { sweep: ["verifier.tau=0.5,,0.7"] })).toBe('--sweep verifier.tau=0.5,,0.7: empty value in "0.5,,0.7"');
    expect(error("table4", { sweep: ["verifier.tua=0.5,0.7"] })).toMatch(/^--sweep verifier\.tua=0\.5: unknown key "tua" in verifier; did you mean "tau"/);
    expect(error("table4", { sweep: ["verifier.tau=0.5,2"] })).toBe("--sweep verifier.tau=2: expected a number <= 1, got 2");
    expect(error("table4", { sweep: ["limit=1,2"] })).toMatch(/--sweep limit=1,2: "limit" is not a pipeline key/);
  });

  it("marks which column group runs the paper's setting, and notes a --set that overrides the cells' own settings", () => {
    const e = loadExperiment("table4", { root, sweep: ["verifier.tau=0.5,0.7"] });
    expect(e.cells.filter((c) => c.paperSetting).map((c) => c.column)).toEqual(Array(5).fill("verifier.tau=0.5"));
    expect(loadExperiment("table4", { root, set: ["pipeline.k=2"] }).warnings).toEqual(["--set pipeline.k=2 replaces what every cell set(s) itself"]);
    expect(loadExperiment("table4", { root, set: ["pipeline.verifier.tau=0.6"] }).warnings).toEqual([]);
  });

  it("writes tables and plots for a --sweep run: a plot per column group, the paper's numbers beside the paper's setting only", async () => {
    const exp = loadExperiment("table4", { root, set: ["limit=1", BOX], sweep: ["verifier.tau=0.5,0.7"] });
    exp.cells.splice(4); // K=0 and K=2, both taus
    const dir = await mkdtemp(join(tmpdir(), "resagent-sweep-"));
    await runExperiment(exp, { runDir: dir });
    const out = await writeResults(exp, dir, [join(dir, "samples.jsonl")]);
    expect(out.files.map((f) => f.slice(dir.length + 1)).filter((f) => f.endsWith(".png"))).toEqual(["k-sweep-verifier.tau=0.5.png", "k-sweep-verifier.tau=0.7.png"]);
    expect(out.table.headers).toEqual(expect.arrayContaining(["Avg. (verifier.tau=0.5)", "Avg. (verifier.tau=0.7)"]));
    const k0 = out.table.rows.find((r) => r.label === "K=0")!;
    const avg5 = out.table.headers.indexOf("Avg. (verifier.tau=0.5)");
    const avg7 = out.table.headers.indexOf("Avg. (verifier.tau=0.7)");
    expect(k0.paper[avg5]).toBe(76.59);
    expect(k0.paper[avg7]).toBeNull();
  });

  it("lists every cell's resolved config for --dry-run and validate", () => {
    const text = describeCells(loadExperiment("table4", { root }));
    expect(text).toMatch(/^every cell:\n {4}mllm\.backend = simulated/);
    expect(text).toMatch(/cell "K=0": verifierMllm\.preset = zero-shot; k = 0; decoder\.params\.maxSide = 200; decoder\.params\.iterations = 3\ncell "K=2": verifierMllm\.preset = finetuned; k = 2; decoder\.params\.maxSide = 260/);
  });
});

describe("stand-ins are explicit", () => {
  const env = (vars: Record<string, string | undefined>, fn: () => void) => {
    const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(vars)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
    try {
      fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };

  it("reports a LoRA verifier or adapted decoder whose location is unset as missing, never falls back silently", () => {
    env({ RESAGENT_VBR_MODEL: undefined, RESAGENT_SAM2_ADAPTED_DIR: undefined, RESAGENT_SAM2_DIR: "/models/sam2" }, () => {
      const e = loadExperiment("table4", { root, profile: "real" });
      expect(e.cells[1]!.missing.map((m) => m.preset).sort()).toEqual(["decoder-adapted", "verifier-finetuned"]);
      expect(e.cells[1]!.pipeline.verifierMllm).toMatchObject({ http: { model: "${RESAGENT_VBR_MODEL}" } });
      expect(e.cells[1]!.standIns).toEqual([]);
    });
  });

  it("runs the declared stand-in with allowStandIns, and the cell says which", () => {
    env({ RESAGENT_VBR_MODEL: undefined, RESAGENT_SAM2_ADAPTED_DIR: undefined, RESAGENT_SAM2_DIR: "/models/sam2" }, () => {
      const e = loadExperiment("table4", { root, profile: "real", allowStandIns: true });
      const cell = e.cells[1]!;
      expect(cell.missing).toEqual([]);
      expect(cell.standIns.map((s) => [s.preset, s.use])).toEqual(expect.arrayContaining([["decoder-adapted", "decoder-base"], ["verifier-finetuned", "verifier-zero-shot"]]));
      expect(cell.pipeline.decoder).toEqual({ name: "sam2-onnx", params: { ...SAM2_DEFAULTS, dir: "/models/sam2" } });
      expect(cell.note).toMatch(/STAND-IN: @decoder-base ran in place of @decoder-adapted \(RESAGENT_SAM2_ADAPTED_DIR unset\)/);
    });
    env({ RESAGENT_VBR_MODEL: "vbr-lora", RESAGENT_SAM2_ADAPTED_DIR: "/models/adapted", RESAGENT_SAM2_DIR: "/models/sam2" }, () => {
      const e = loadExperiment("table4", { root, profile: "real", allowStandIns: true });
      expect(e.cells.every((c) => c.standIns.length === 0 && c.missing.length === 0)).toBe(true);
      expect(e.cells[1]!.pipeline.decoder).toEqual({ name: "sam2-onnx", params: { ...SAM2_DEFAULTS, dir: "/models/adapted" } });
    });
  });
});

describe("run identity and safety", () => {
  it("derives the run id from the resolved config and the code, not the commit", () => {
    const a = defaultRunId(loadExperiment("table4", { root }));
    expect(defaultRunId(loadExperiment("table4", { root }))).toBe(a);
    expect(defaultRunId(loadExperiment("table4", { root, set: ["pipeline.verifier.tau=0.6"] }))).not.toBe(a);
    expect(codeHash(root)).toMatch(/^[0-9a-f]{16}$/);
  });

  it("hashes the code that produces results: docs and tests do not count, sources do", async () => {
    const make = async (files: Record<string, string>) => {
      const dir = await mkdtemp(join(tmpdir(), "resagent-code-"));
      for (const [f, text] of Object.entries(files)) {
        await mkdir(join(dir, f, ".."), { recursive: true });
        await writeFile(join(dir, f), text);
      }
      return codeHash(dir);
    };
    const base = { "packages/a/src/x.ts": "export const x = 1;\n", "packages/a/package.json": "{}", "README.md": "# a\n", "packages/a/src/x.test.ts": "test\n" };
    const h = await make(base);
    expect(await make({ ...base, "README.md": "# a, now documented\n" })).toBe(h);
    expect(await make({ ...base, "packages/a/src/x.test.ts": "another test\n" })).toBe(h);
    expect(await make({ ...base, "packages/a/src/x.ts": "export const x = 2;\n" })).not.toBe(h);
    expect(await make({ ...base, "pnpm-lock.yaml": "lockfileVersion: 9\n" })).not.toBe(h);
  });

  it("refuses to resume a folder made by another config, and a second process on a live folder", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-id-"));
    const small = loadExperiment("table5", { root, set: ["limit=1", BOX] });
    await runExperiment(small, { runDir: dir, stopAfter: 1 });
    expect(() => checkResumable(dir, small)).not.toThrow();
    const other = loadExperiment("table5", { root, set: ["limit=1", BOX, "pipeline.verifier.tau=0.6"] });
    await expect(runExperiment(other, { runDir: dir })).rejects.toThrow(/made by a different configuration .*pass --fresh to discard it, or choose another --run-id/);
    // A lock held by a live process (this one) stops a second run on the folder.
    const release = await acquireRunLock(dir);
    await expect(runExperiment(small, { runDir: dir })).rejects.toThrow(/run folder is in use by process \d+/);
    await release();
    // A lock left by a process that no longer runs is taken over with a warning.
    await writeFile(join(dir, "run.lock"), JSON.stringify({ pid: 999_999_999, host: (await import("node:os")).hostname(), startedAt: "then", command: "exp" }));
    const warnings: string[] = [];
    await runExperiment(small, { runDir: dir, log: (l) => warnings.push(l) });
    expect(warnings.join("\n")).toMatch(/took over the lock of process 999999999/);
    expect(JSON.parse(readFileSync(join(dir, "run.json"), "utf8"))).toMatchObject({ complete: true, experiment: "table5" });
  });

  it("two concurrent runs on one folder never duplicate a record", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-id-"));
    const exp = loadExperiment("table5", { root, set: ["limit=1", BOX] });
    const results = await Promise.allSettled([runExperiment(exp, { runDir: dir }), runExperiment(exp, { runDir: dir })]);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
    const lines = readFileSync(join(dir, "samples.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { id: string; cell: string });
    expect(new Set(lines.map((r) => `${r.id}|${r.cell}`)).size).toBe(lines.length);
    expect(lines).toHaveLength(3 * exp.cells.length);
  });

  it.skipIf(!pythonAvailable())("stops every worker at the first fatal error, closes the file after them and reports that error (concurrency 4; needs python3 for the REFER fixture)", async () => {
    const data = await makeReferFixture();
    await unlink(join(referImageDir(data), "COCO_train2014_000000000003.jpg"));
    const exp = loadExperiment("table4", { root, set: ["limit=10"] });
    exp.config.resolvedDatasets = { val: { name: "refcoco", split: "testA", root: data }, val2: { name: "refcoco", split: "val", root: data } };
    const dir = await mkdtemp(join(tmpdir(), "resagent-id-"));
    await expect(runExperiment(exp, { runDir: dir, concurrency: 4 })).rejects.toThrow(/image of ref 2 is missing/);
    // Whatever was written is whole lines (no EBADF, no torn write), and the lock is released.
    const text = readFileSync(join(dir, "samples.jsonl"), "utf8");
    expect(text === "" || text.endsWith("\n")).toBe(true);
    expect(existsSync(join(dir, "run.lock"))).toBe(false);
  });
});
