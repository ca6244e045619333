import { join, resolve } from "node:path";
import { rm } from "node:fs/promises";
import { InputError } from "@resagent/core";
import { buildPipelines, defaultRunId, findRoot, loadExperiment, runExperimentAccounted, writeResults, type LoadedExperiment } from "@resagent/experiments";
import type { CommandModule } from "yargs";
import { Progress } from "../progress.js";

export interface ExpArgs {
  name: string;
  profile?: string;
  limit?: number;
  seed?: number;
  concurrency?: number;
  set: string[];
  sweep: string[];
  shard?: string;
  "run-id"?: string;
  fresh: boolean;
  out?: string;
  "skip-bad": boolean;
}

export function parseShard(s: string | undefined): { index: number; count: number } | undefined {
  if (!s) return undefined;
  const m = s.match(/^(\d+)\/(\d+)$/);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new InputError(`expected i/n with 0 <= i < n, got "${s}"`, { field: "--shard" });
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** --set values plus the shorthand flags, in the order they apply. */
function expSet(args: Pick<ExpArgs, "limit" | "seed" | "concurrency" | "set">): string[] {
  const set = [...(args.set ?? [])];
  if (args.limit !== undefined) set.push(`limit=${args.limit}`);
  if (args.seed !== undefined) set.push(`seed=${args.seed}`);
  if (args.concurrency !== undefined) set.push(`concurrency=${args.concurrency}`);
  return set;
}

export function loadFromArgs(args: Pick<ExpArgs, "name" | "profile" | "limit" | "seed" | "concurrency" | "set" | "sweep">): LoadedExperiment {
  return loadExperiment(args.name, { ...(args.profile ? { profile: args.profile } : {}), set: expSet(args), sweep: args.sweep ?? [] });
}

export const expCommand: CommandModule<object, ExpArgs> = {
  command: "exp <name>",
  describe: "Run an experiment (a paper table or figure) and write results/<name>/<run>/: samples.jsonl, summary.json, table.md/csv, plots",
  builder: (y) =>
    y
      .positional("name", { type: "string", demandOption: true, describe: "experiments/<name>.yaml (see `resagent ls`)" })
      .option("profile", { type: "string", describe: "configs/profiles/<profile>.yaml: embedded (default) or real" })
      .option("limit", { type: "number", describe: "samples per dataset" })
      .option("seed", { type: "number" })
      .option("concurrency", { type: "number", describe: "samples processed at once" })
      .option("set", { type: "string", array: true, default: [], describe: "override a config key: --set pipeline.verifier.tau=0.7" })
      .option("sweep", { type: "string", array: true, default: [], describe: "ad-hoc sweep, one column group per value: --sweep pipeline.verifier.tau=0.5,0.7" })
      .option("shard", { type: "string", describe: "run shard i of n (0-based): --shard 0/4; combine with `resagent merge`" })
      .option("run-id", { type: "string", describe: "results folder name (default: derived from profile, seed, limit and config hash, so reruns resume)" })
      .option("fresh", { type: "boolean", default: false, describe: "discard an existing run with the same id instead of resuming it" })
      .option("out", { type: "string", describe: "results root (default <repo>/results)" })
      .option("skip-bad", { type: "boolean", default: false, describe: "record samples that fail to load (missing image, bad annotation) and go on" }) as never,
  handler: async (args) => {
    const exp = loadFromArgs(args);
    buildPipelines(exp); // every component resolves before any work
    const shard = parseShard(args.shard);
    const root = args.out ? resolve(args.out) : join(findRoot(), "results");
    const runId = args["run-id"] ?? `${defaultRunId(exp)}${shard ? `-shard${shard.index}of${shard.count}` : ""}`;
    const runDir = join(root, exp.config.name, runId);
    if (args.fresh) await rm(runDir, { recursive: true, force: true });
    const total = Object.keys(exp.config.resolvedDatasets).length * exp.config.limit;
    console.error(`${exp.config.title}\nprofile ${exp.config.profile}, ${exp.cells.length} cells, up to ${exp.config.limit} samples x ${Object.keys(exp.config.resolvedDatasets).length} datasets -> ${runDir}`);
    let bar: Progress | undefined;
    const run = await runExperimentAccounted(exp, {
      // A failed run prints its model-call accounting before its error; a finished one at the very end.
      onAccounting: (line, _a, status) => {
        if (status === "failed") {
          bar?.finish();
          console.error(line);
        }
      },
      runDir,
      ...(shard ? { shard } : {}),
      skipBadSamples: args["skip-bad"],
      source: { experiment: args.name, profile: exp.config.profile, set: expSet(args), sweep: args.sweep ?? [] },
      log: (l) => console.error(l),
      progress: (_done, all) => {
        bar ??= new Progress(exp.config.name, all || total);
        bar.tick();
      },
    });
    bar?.finish();
    if (run.resumedRecords) console.error(`resumed: ${run.resumedRecords} records were already done`);
    const out = await writeResults(exp, runDir, [join(runDir, "samples.jsonl")], run);
    const md = out.files.find((f) => f.endsWith("table.md"))!;
    const { readFile } = await import("node:fs/promises");
    console.log(`\n${await readFile(md, "utf8")}`);
    console.log(`files:\n${out.files.map((f) => `  ${f}`).join("\n")}\n  ${join(runDir, "samples.jsonl")}`);
    console.error(run.accountingLine);
  },
};
