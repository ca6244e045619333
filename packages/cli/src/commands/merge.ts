import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InputError, writeFileAtomic } from "@resagent/core";
import { MODEL_CALLS_FILE, loadExperiment, readModelCalls, readRecords, writeResults } from "@resagent/experiments";
import { parse } from "yaml";
import type { CommandModule } from "yargs";

interface Source {
  experiment: string;
  profile: string;
  set: string[];
  sweep: string[];
}

export const mergeCommand: CommandModule<object, { runs: string[]; out: string }> = {
  command: "merge <runs..>",
  describe: "Combine shard runs (--shard i/n) of one experiment into one run: samples.jsonl, summary, table, plots",
  builder: (y) =>
    y
      .positional("runs", { type: "string", array: true, demandOption: true, describe: "run folders" })
      .option("out", { type: "string", demandOption: true, describe: "folder for the merged run" }) as never,
  handler: async (args) => {
    const sources = args.runs.map((dir) => {
      const f = join(dir, "config.resolved.yaml");
      if (!existsSync(f)) throw new InputError("not a run folder (no config.resolved.yaml)", { file: resolve(dir) });
      const src = (parse(readFileSync(f, "utf8")) as { source?: Source }).source;
      if (!src) throw new InputError("run has no `source` record (made by an older version?)", { file: f, field: "source" });
      return src;
    });
    const first = JSON.stringify(sources[0]);
    sources.forEach((s, i) => {
      if (JSON.stringify(s) !== first) throw new InputError(`run ${args.runs[i]} is a different experiment or configuration than ${args.runs[0]}`, { field: "runs" });
    });
    const s = sources[0]!;
    const exp = loadExperiment(s.experiment, { profile: s.profile, set: s.set, sweep: s.sweep });
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
    await writeFileAtomic(join(out, "config.resolved.yaml"), readFileSync(join(args.runs[0]!, "config.resolved.yaml"), "utf8"));
    // Each shard's model-call accounting, one line per invocation, tagged with its run.
    const calls = readModelCalls(args.runs);
    await writeFileAtomic(join(out, MODEL_CALLS_FILE), calls.invocations.map((i) => `${JSON.stringify(i)}\n`).join(""));
    const written = await writeResults(exp, out, [join(out, "samples.jsonl")]);
    console.log(readFileSync(join(out, "table.md"), "utf8"));
    console.log(`merged ${records.length} records from ${args.runs.length} runs into ${out}\n${written.files.map((f) => `  ${f}`).join("\n")}`);
  },
};
