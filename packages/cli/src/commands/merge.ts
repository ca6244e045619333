import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InputError, writeFileAtomic } from "@resagent/core";
import { MODEL_CALLS_FILE, loadExperiment, readManifest, readModelCalls, readRecords, writeResults, type RunManifest } from "@resagent/experiments";
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
    const manifests = args.runs.map((dir) => {
      const m = readManifest(dir);
      if (!m) throw new InputError(`not a run folder, or made by an older version (no run.json)`, { file: resolve(dir) });
      if (!m.source) throw new InputError("run has no `source` record (run it with `pnpm exp` to make one)", { file: join(resolve(dir), "run.json") });
      return m;
    });
    const first = manifests[0]!;
    const sameRun = (m: RunManifest) => JSON.stringify([m.source, m.configHash, m.codeHash]) === JSON.stringify([first.source, first.configHash, first.codeHash]);
    manifests.forEach((m, i) => {
      if (!sameRun(m)) throw new InputError(`run ${args.runs[i]} is a different experiment, configuration or code version than ${args.runs[0]} (config ${m.configHash} vs ${first.configHash}, code ${m.codeHash} vs ${first.codeHash})`, { field: "runs" });
    });
    // A shard set is whole when every index 0..n-1 is there once and every shard finished.
    const count = first.shard?.count ?? 1;
    const present = new Map<number, string>();
    manifests.forEach((m, i) => {
      if ((m.shard?.count ?? 1) !== count) throw new InputError(`run ${args.runs[i]} is a shard of ${m.shard?.count ?? 1}, not of ${count}`, { field: "runs" });
      const index = m.shard?.index ?? 0;
      if (present.has(index)) throw new InputError(`shard ${index}/${count} is given twice (${present.get(index)} and ${args.runs[i]})`, { field: "runs" });
      present.set(index, args.runs[i]!);
    });
    const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
    const unfinished = manifests.filter((m) => !m.complete).map((m) => m.shard?.index ?? 0);
    const complete = missing.length === 0 && unfinished.length === 0;
    if (!complete && !args["allow-partial"]) {
      const what = [missing.length ? `missing shard(s) ${missing.map((i) => `${i}/${count}`).join(", ")}` : "", unfinished.length ? `unfinished shard(s) ${unfinished.map((i) => `${i}/${count}`).join(", ")} (rerun them to resume)` : ""].filter(Boolean).join("; ");
      throw new InputError(`incomplete shard set: ${what}; pass --allow-partial to merge anyway (the table then says partial)`, { field: "runs" });
    }
    const s = first.source!;
    const exp = loadExperiment(s.experiment, { profile: s.profile, set: s.set, sweep: s.sweep, allowStandIns: Boolean(s.allowStandIns) });
    const out = resolve(args.out);
    await mkdir(out, { recursive: true });
    // One samples.jsonl in a fixed order: dataset column, then sample id, then cell order.
    const cols = Object.values(exp.config.resolvedDatasets).map((d) => `${d.name}/${d.split}`);
    const cellOrder = new Map(exp.cells.map((c, i) => [c.id, i]));
    const seen = new Set<string>();
    const records = args.runs
      .flatMap((d) => readRecords(join(d, "samples.jsonl")))
      .filter((r) => (seen.has(`${r.id}\u0000${r.cell}`) ? false : (seen.add(`${r.id}\u0000${r.cell}`), true)))
      .sort((a, b) => cols.indexOf(a.dataset) - cols.indexOf(b.dataset) || a.id.localeCompare(b.id, undefined, { numeric: true }) || cellOrder.get(a.cell)! - cellOrder.get(b.cell)!);
    await writeFileAtomic(join(out, "samples.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
    const config = join(args.runs[0]!, "config.resolved.yaml");
    if (existsSync(config)) await writeFileAtomic(join(out, "config.resolved.yaml"), readFileSync(config, "utf8"));
    const { shard: _s, ...whole } = first;
    await writeFileAtomic(join(out, "run.json"), `${JSON.stringify({ ...whole, complete, mergedFrom: [...present.keys()].sort((a, b) => a - b).map((i) => `${i}/${count}`) }, null, 2)}\n`);
    // Each shard's model-call accounting, one line per invocation, tagged with its run.
    const calls = readModelCalls(args.runs);
    await writeFileAtomic(join(out, MODEL_CALLS_FILE), calls.invocations.map((i) => `${JSON.stringify(i)}\n`).join(""));
    const partial = complete ? undefined : { shards: [...present.keys()].filter((i) => !unfinished.includes(i)).sort((a, b) => a - b), of: count };
    const written = await writeResults(exp, out, [join(out, "samples.jsonl")], undefined, partial ? { partial } : {});
    console.log(readFileSync(join(out, "table.md"), "utf8"));
    console.log(`merged ${records.length} records from ${args.runs.length} runs into ${out}${partial ? ` (PARTIAL: ${partial.shards.length} of ${count} shards complete)` : ""}\n${written.files.map((f) => `  ${f}`).join("\n")}`);
  },
};
