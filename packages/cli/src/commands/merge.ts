import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { InputError, claimFolder, readJsonLinesTolerant, userPath, writeFileAtomic } from "@resagent/core";
import { MODEL_CALLS_FILE, expectedSamples, recordKey, loadExperiment, readManifest, readModelCalls, writeResults, type LoadedExperiment, type RunManifest } from "@resagent/experiments";
import { datasetSource } from "@resagent/data";
import type { SampleRecord } from "@resagent/pipeline";
import { RECORD_VERSION, recordProblem } from "@resagent/records";
import type { CommandModule } from "yargs";

interface MergeArgs {
  runs: string[];
  out: string;
  "allow-partial": boolean;
}

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: "merge <runs..>",
  describe: "Combine the shard runs (--shard i/n) of one experiment into one run: samples.jsonl, summary, table, plots; refuses an incomplete shard set",
  builder: (y) =>
    y
      .positional("runs", { type: "string", array: true, demandOption: true, describe: "run folders (results/<exp>/<run>-shard<i>of<n>)" })
      .option("out", { type: "string", demandOption: true, describe: "folder for the merged run" })
      .option("allow-partial", { type: "boolean", default: false, describe: "merge even when shards are missing or unfinished; the table and summary then say \"partial: k of n shards\"" }) as never,
  handler: async (args) => {
    const dirs = args.runs.map((d) => userPath(d, "merge <runs>"));
    const manifests = dirs.map((dir) => {
      const m = readManifest(dir);
      if (!m) throw new InputError(`not a run folder, or made by an older version (no run.json)`, { file: dir });
      if (!m.source) throw new InputError("run has no `source` record (run it with `pnpm exp` to make one)", { file: join(dir, "run.json") });
      return m;
    });
    const first = manifests[0]!;
    const sameRun = (m: RunManifest) => JSON.stringify([m.source, m.configHash, m.codeHash]) === JSON.stringify([first.source, first.configHash, first.codeHash]);
    manifests.forEach((m, i) => {
      if (!sameRun(m)) throw new InputError(`run ${args.runs[i]} is a different experiment, configuration or code version than ${args.runs[0]} (config ${m.configHash} vs ${first.configHash}, code ${m.codeHash} vs ${first.codeHash})`, { field: "runs" });
    });
    // A shard set is whole when every index 0..n-1 is there once and every shard finished.
    const count = first.shard?.count ?? 1;
    const present = new Map<number, number>();
    manifests.forEach((m, i) => {
      if ((m.shard?.count ?? 1) !== count) throw new InputError(`run ${args.runs[i]} is a shard of ${m.shard?.count ?? 1}, not of ${count}`, { field: "runs" });
      const index = m.shard?.index ?? 0;
      if (!Number.isInteger(index) || index < 0 || index >= count) throw new InputError(`run ${args.runs[i]} says it is shard ${index} of ${count}`, { file: join(dirs[i]!, "run.json"), field: "shard" });
      if (present.has(index)) throw new InputError(`shard ${index}/${count} is given twice (${args.runs[present.get(index)!]} and ${args.runs[i]})`, { field: "runs" });
      present.set(index, i);
    });
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
    const unfinished = manifests.filter((m) => !m.complete).map((m) => m.shard?.index ?? 0);
    const s = first.source!;
    const exp = loadExperiment(s.experiment, { profile: s.profile, set: s.set, sweep: s.sweep, allowStandIns: Boolean(s.allowStandIns) });
    const out = userPath(args.out, "--out");
    if (dirs.includes(out)) throw new InputError(`${out} is one of the runs being merged; give the merged run a folder of its own`, { field: "--out" });
    claimFolder(out, {
      origin: "--out",
      kind: "run",
      accept: (f) => (f.run?.mergedFrom && f.run.experiment === first.experiment && f.run.configHash === first.configHash && f.run.codeHash === first.codeHash ? undefined : "it is not an earlier merge of these shards"),
    });
    // Every shard against what its run.json promises: records per cell and dataset, no torn
    // lines, no records of another shard or another experiment.
    const check = await checkShards(exp, dirs, manifests);
    const problems = check.problems;
    const complete = missing.length === 0 && unfinished.length === 0 && problems.length === 0;
    if (!complete && !args["allow-partial"]) {
      const what = [
        missing.length ? `missing shard(s) ${missing.map((i) => `${i}/${count}`).join(", ")}` : "",
        unfinished.length ? `unfinished shard(s) ${unfinished.map((i) => `${i}/${count}`).join(", ")} (rerun them to resume)` : "",
        problems.length ? `${problems.length} problem(s): ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? "; …" : ""}` : "",
      ]
        .filter(Boolean)
        .join("; ");
      throw new InputError(`incomplete shard set: ${what}; pass --allow-partial to merge anyway (the table then says partial)`, { field: "runs" });
    }
    await mkdir(out, { recursive: true });
    // One samples.jsonl in a fixed order: dataset column, then sample id, then cell order.
    const cols = Object.values(exp.config.resolvedDatasets).map((d) => datasetSource(d));
    const cellOrder = new Map(exp.cells.map((c, i) => [c.id, i]));
    const records = check.records.sort((a, b) => cols.indexOf(a.dataset) - cols.indexOf(b.dataset) || a.id.localeCompare(b.id, undefined, { numeric: true }) || cellOrder.get(a.cell)! - cellOrder.get(b.cell)!);
    await writeFileAtomic(join(out, "samples.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const config = join(dirs[0]!, "config.resolved.yaml");
    if (existsSync(config)) await writeFileAtomic(join(out, "config.resolved.yaml"), readFileSync(config, "utf8"));
    const { shard: _s, skipped: _k, expectedSamples: _e, ...whole } = first;
    const expectedSamples: Record<string, number> = {};
    for (const m of manifests) for (const [d, n] of Object.entries(m.expectedSamples ?? {})) expectedSamples[d] = (expectedSamples[d] ?? 0) + n;
    const skipped = manifests.flatMap((m) => m.skipped ?? []);
    const merged: RunManifest = { ...whole, recordVersion: RECORD_VERSION, complete, ...(Object.keys(expectedSamples).length ? { expectedSamples } : {}), ...(skipped.length ? { skipped } : {}), mergedFrom: [...present.keys()].sort((a, b) => a - b).map((i) => `${i}/${count}`) };
    await writeFileAtomic(join(out, "run.json"), `${JSON.stringify(merged, null, 2)}\n`);
    // Each shard's model-call accounting, one line per invocation, tagged with its run.
    const calls = readModelCalls(args.runs);
    await writeFileAtomic(join(out, MODEL_CALLS_FILE), calls.invocations.map((i) => `${JSON.stringify(i)}\n`).join(""));
    const bad = new Set(check.badShards);
    const partial = complete ? undefined : { shards: [...present.keys()].filter((i) => !unfinished.includes(i) && !bad.has(i)).sort((a, b) => a - b), of: count, ...(problems.length ? { problems } : {}) };
    const written = await writeResults(exp, out, [join(out, "samples.jsonl")], undefined, partial ? { partial } : {});
    console.log(readFileSync(join(out, "table.md"), "utf8"));
    for (const p of problems) console.error(`PARTIAL: ${p}`);
    console.log(`merged ${records.length} records from ${args.runs.length} runs into ${out}${partial ? ` (PARTIAL: ${partial.shards.length} of ${count} shards complete and whole)` : ""}\n${written.files.map((f) => `  ${f}`).join("\n")}`);
  },
};


/**
 * Read every shard's records and hold each to its run.json: a complete shard has one record per
 * sample for every cell and dataset (its expected samples, less those it skipped), no torn lines,
 * no records of cells or datasets the experiment does not have, and none that another shard
 * already holds. Returns the records (each (sample, cell) once) and what is wrong, per shard.
 */
async function checkShards(exp: LoadedExperiment, dirs: string[], manifests: RunManifest[]): Promise<{ records: SampleRecord[]; problems: string[]; badShards: number[] }> {
  const cells = exp.cells.map((c) => c.id);
  const source = (col: string) => datasetSource(exp.config.resolvedDatasets[col]!);
  const datasets = Object.keys(exp.config.resolvedDatasets).map(source);
  // A cell with `datasets:` runs on those columns only.
  const datasetsOf = new Map(exp.cells.map((c) => [c.id, c.datasets ? c.datasets.map(source) : datasets]));
  const problems: string[] = [];
  const badShards: number[] = [];
  const owner = new Map<string, number>();
  const records: SampleRecord[] = [];
  for (const [i, dir] of dirs.entries()) {
    const m = manifests[i]!;
    const name = `shard ${m.shard ? `${m.shard.index}/${m.shard.count}` : "0/1"} (${dir})`;
    const before = problems.length;
    const file = join(dir, "samples.jsonl");
    // Each line held to the record schema; the lines kept are written out as they were read.
    let firstProblem: string | undefined;
    const isRecord = (v: unknown): v is SampleRecord => {
      const problem = recordProblem(v);
      firstProblem ??= problem;
      return problem === undefined;
    };
    const { values, skipped: torn } = readJsonLinesTolerant(file, isRecord);
    if (torn) problems.push(`${name}: ${torn} torn or unreadable line(s) in samples.jsonl${firstProblem ? ` (first not a record: ${firstProblem})` : ""}`);
    const have = new Map<string, number>();
    let foreign = 0;
    let others = 0;
    for (const r of values) {
      if (!datasetsOf.get(r.cell)?.includes(r.dataset)) {
        foreign++;
        continue;
      }
      const key = recordKey(r.dataset, r.id, r.cell);
      const at = owner.get(key);
      if (at === i) continue; // written twice by one shard (a resume): the same record
      if (at !== undefined) {
        others++;
        continue;
      }
      owner.set(key, i);
      records.push(r);
      have.set(`${r.cell}\u0000${r.dataset}`, (have.get(`${r.cell}\u0000${r.dataset}`) ?? 0) + 1);
    }
    if (foreign) problems.push(`${name}: ${foreign} record(s) of cells or datasets this experiment does not have`);
    if (others) problems.push(`${name}: ${others} record(s) another shard already holds`);
    if (m.complete) {
      const expected = m.expectedSamples ?? (await expectedSamples(exp, m.shard));
      const skipped = new Map<string, number>();
      for (const k of m.skipped ?? []) skipped.set(k.dataset, (skipped.get(k.dataset) ?? 0) + 1);
      for (const cell of cells) {
        for (const d of datasetsOf.get(cell)!) {
          const want = (expected[d] ?? 0) - (skipped.get(d) ?? 0);
          const got = have.get(`${cell}\u0000${d}`) ?? 0;
          if (got !== want) problems.push(`${name} says complete but cell "${cell}" has ${got} of ${want} record(s) for ${d}`);
        }
      }
    }
    if (problems.length > before) badShards.push(m.shard?.index ?? 0);
  }
  return { records, problems, badShards };
}
