import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputError, claimFolder, removeRunFolder, userPath } from "@resagent/core";
import { datasetSource } from "@resagent/data";
import { MAX_OVERLAYS_OPTION, maxOverlays } from "./report.js";
import { acquireRunLock, buildPipelines, defaultRunId, describeCells, findRoot, loadExperiment, runExperimentAccounted, runFolderFor, writeResults, type LoadedExperiment } from "@resagent/experiments";
import { listRuns, updateLatest } from "@resagent/report";
import type { Argv, CommandModule } from "yargs";
import { Progress, progressIntervalSeconds } from "../progress.js";
import { resolveAutoShard } from "./shard.js";

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
  "dry-run": boolean;
  "max-overlays": string;
  share: boolean;
  "allow-stand-ins": boolean;
}

/** `--shard i/n`, or `auto` / `auto/N` from the scheduler's environment (see shard.ts). */
export function parseShard(s: string | undefined, env: NodeJS.ProcessEnv = process.env): { index: number; count: number; from?: string } | undefined {
  if (!s) return undefined;
  if (s.startsWith("auto")) return resolveAutoShard(s, env);
  const m = s.match(/^(\d+)\/(\d+)$/);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new InputError(`expected i/n with 0 <= i < n, got "${s}"`, { field: "--shard" });
  return { index: Number(m[1]), count: Number(m[2]) };
}

/** --set values plus the shorthand flags, in the order they apply. */
function expSet(args: Pick<ExpArgs, "limit" | "seed" | "concurrency" | "set">): string[] {
  const set = [...(args.set ?? [])];
  const shorthand = [["limit", args.limit, 1], ["seed", args.seed, 0], ["concurrency", args.concurrency, 1]] as const;
  for (const [k, v, min] of shorthand) {
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < min) throw new InputError(`expected an integer >= ${min}, got ${Number.isNaN(v) ? "a non-number" : v}`, { field: `--${k}` });
    set.push(`${k}=${v}`);
  }
  return set;
}

export type LoadArgs = Pick<ExpArgs, "name" | "profile" | "limit" | "seed" | "concurrency" | "set" | "sweep"> & { "allow-stand-ins"?: boolean };

export function loadFromArgs(args: LoadArgs): LoadedExperiment {
  return loadExperiment(args.name, { ...(args.profile ? { profile: args.profile } : {}), set: expSet(args), sweep: args.sweep ?? [], allowStandIns: Boolean(args["allow-stand-ins"]) });
}

/** Options shared by `exp` and `validate`: which experiment, on which profile, with which overrides. */
export function configOptions<T>(y: Argv<T>) {
  return y
    .positional("name", { type: "string", demandOption: true, describe: "experiments/<name>.yaml (see `pnpm resagent ls`)" })
    .option("profile", { type: "string", describe: "configs/profiles/<profile>.yaml: embedded (default) or real" })
    .option("set", { type: "string", array: true, default: [], describe: "override a config key: --set pipeline.verifier.tau=0.7 (pipeline keys may drop `pipeline.`: --set verifier.tau=0.7); applies after each cell's own settings" })
    .option("sweep", { type: "string", array: true, default: [], describe: "one column group per value, same key forms as --set: --sweep pipeline.verifier.tau=0.5,0.7" })
    .option("allow-stand-ins", { type: "boolean", default: false, describe: "run a preset's declared stand-in when the preset needs an unset environment variable (e.g. the zero-shot verifier for the LoRA one); tables and summary say which" });
}

/** Stop before any work when a cell needs a preset whose environment is unset (no stand-in allowed). */
export function refuseMissing(exp: LoadedExperiment): void {
  const cell = exp.cells.find((c) => c.missing.length > 0);
  if (!cell) return;
  const m = cell.missing[0]!;
  throw new InputError(
    `cell "${cell.id}" needs preset @${m.preset}, which needs ${m.unset.join(", ")} (unset); set it, or pass --allow-stand-ins to run the profile's stand-in in its place (the table says so)`,
    { field: `--profile ${exp.config.profile}` },
  );
}

/** In a dry run, missing presets are shown in the cell listing rather than stopping it. */
function refuseMissingSoft(exp: LoadedExperiment): void {
  if (exp.cells.some((c) => c.missing.length)) console.error("note: some cells need presets whose environment variables are unset (marked MISSING below); the run would stop there unless --allow-stand-ins");
}

export const expCommand: CommandModule<object, ExpArgs> = {
  command: "exp <name>",
  describe: "Run an experiment (a paper table or figure) and write results/<name>/<run>/: samples.jsonl, summary.json, table.md/csv, plots",
  builder: (y) =>
    configOptions(y)
      .option("limit", { type: "number", describe: "samples per dataset (= --set limit=N)" })
      .option("seed", { type: "number", describe: "seed of every random draw (= --set seed=S); same seed, same results" })
      .option("concurrency", { type: "number", describe: "samples processed at once (= --set concurrency=N); results do not depend on it" })
      .option("shard", { type: "string", describe: "run shard i of n (0-based): --shard 0/4; combine with `pnpm merge`. --shard auto takes i and n from a SLURM job array or a Kubernetes Indexed Job (count from --shard auto/N or RESAGENT_SHARD_COUNT)" })
      .option("run-id", { type: "string", describe: "results folder name (default: profile, seed, limit and a hash of the resolved config and the code, so reruns resume and changes start anew)" })
      .option("fresh", { type: "boolean", default: false, describe: "discard an existing run folder of the same id instead of resuming it (only a run the harness made for this experiment, holding nothing else: docs/safety.md)" })
      .option("out", { type: "string", describe: "results root (default <repo>/results)" })
      .option("skip-bad", { type: "boolean", default: false, describe: "record samples that fail to load (missing image, bad annotation) and go on" })
      .option("share", { type: "boolean", default: true, describe: "copy records of identical cells (same resolved pipeline, seed, dataset and code) from the shared record store instead of recomputing them; --no-share recomputes" })
      .option("dry-run", { type: "boolean", default: false, describe: "print every cell's resolved config and the run folder; run nothing" })
      .option("max-overlays", MAX_OVERLAYS_OPTION) as never,
  handler: async (args) => {
    const overlays = maxOverlays(args["max-overlays"]);
    const exp = loadFromArgs(args);
    buildPipelines(exp); // every component resolves before any work
    const auto = parseShard(args.shard);
    // Recorded exactly like an explicit --shard i/n (run.json, run id), so `merge` and resume match.
    const shard = auto && { index: auto.index, count: auto.count };
    if (auto?.from) console.error(`--shard ${args.shard}: shard ${auto.index}/${auto.count} from the ${auto.from}`);
    const root = args.out !== undefined ? userPath(args.out, "--out") : join(findRoot(), "results");
    // A results root: not a run folder, an experiment's folder or a dataset handed over by mistake.
    claimFolder(root, { origin: args.out !== undefined ? "--out" : "results root", kind: "results", allowForeign: true });
    const runId = args["run-id"] ?? `${defaultRunId(exp)}${shard ? `-shard${shard.index}of${shard.count}` : ""}`;
    const runDir = runFolderFor(root, exp, runId);
    for (const w of exp.warnings) console.error(`note: ${w}`);
    if (args["dry-run"]) {
      refuseMissingSoft(exp);
      console.log(`${exp.config.title}\nprofile ${exp.config.profile}, seed ${exp.config.seed}, up to ${exp.config.limit} samples x ${Object.keys(exp.config.resolvedDatasets).length} datasets (${Object.entries(exp.config.resolvedDatasets).map(([c, d]) => `${c}: ${datasetSource(d)}`).join(", ")})\n`);
      console.log(describeCells(exp));
      console.log(`\nrun folder: ${runDir}${existsSync(join(runDir, "samples.jsonl")) ? " (exists: the run would resume)" : ""}\ndry run: nothing was run.`);
      return;
    }
    refuseMissing(exp);
    if (args.fresh && existsSync(runDir)) {
      // Never delete a folder another process is writing to, nor one the harness did not make for this experiment.
      await removeRunFolder(runDir, {
        experiment: exp.config.name,
        origin: "--fresh",
        beforeRemove: async () => {
          const release = await acquireRunLock(runDir);
          await release();
        },
      });
    }
    console.error(`${exp.config.title}\nprofile ${exp.config.profile}, ${exp.cells.length} cells, up to ${exp.config.limit} samples x ${Object.keys(exp.config.resolvedDatasets).length} datasets -> ${runDir}`);
    const intervalSeconds = progressIntervalSeconds(); // a bad value stops here, before any work
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
      shareRecords: args.share,
      source: { experiment: args.name, profile: exp.config.profile, set: expSet(args), sweep: args.sweep ?? [], ...(args["allow-stand-ins"] ? { allowStandIns: true } : {}) },
      log: (l) => console.error(l),
      onStart: ({ total: samples, done, resumedRecords }) => {
        // Before the bar, which then starts from what was already done.
        if (resumedRecords) console.error(`resumed: ${resumedRecords} records were already done (${done} of ${samples} samples complete)`);
        if (done < samples) bar = new Progress(exp.config.name, samples, { start: done, intervalSeconds });
      },
      progress: (done, all) => bar?.update(done, all),
    });
    bar?.finish();
    if (run.sharedRecords) console.error(`shared: ${run.sharedRecords} of ${run.newRecords} new records were copied from identical cells (same pipeline, seed, dataset and code) instead of recomputed`);
    const out = await writeResults(exp, runDir, [join(runDir, "samples.jsonl")], run, { maxOverlays: overlays });
    // results/<exp>/latest follows the newest complete run.
    await updateLatest(root, listRuns(root).filter((e) => e.experiment === exp.config.name));
    const md = out.files.find((f) => f.endsWith("table.md"))!;
    const { readFile } = await import("node:fs/promises");
    console.log(`\n${await readFile(md, "utf8")}`);
    console.log(`files:\n${out.files.map((f) => `  ${f}`).join("\n")}\n  ${join(runDir, "samples.jsonl")}`);
    console.error(run.accountingLine);
  },
};
