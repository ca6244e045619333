import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { InputError, claimFile, claimFolder, userPath, writeFileAtomic } from "@resagent/core";
import { findRoot } from "@resagent/experiments";
import { DEFAULT_MAX_OVERLAYS, compareRuns, comparisonHtml, comparisonText, generatorMeta, listRuns, runsHtml, runsText, updateLatest, writeReport } from "@resagent/report";
import type { CommandModule } from "yargs";

/**
 * `--max-overlays`, as `report` and `exp` take it. Read as text and parsed here: yargs reads an
 * empty value as the number 0, which would lift the cap instead of refusing.
 */
export const MAX_OVERLAYS_OPTION = { type: "string", default: String(DEFAULT_MAX_OVERLAYS), describe: "draw overlay pictures for at most this many records (whole samples, round-robin over datasets); 0 = all" } as const;

/** The `--max-overlays` value, checked: one whole number >= 0. */
export function maxOverlays(raw: string | string[]): number {
  if (Array.isArray(raw)) throw new InputError(`given ${raw.length} times (${raw.join(", ")}); give it once`, { field: "--max-overlays" });
  if (!/^\d+$/.test(raw.trim())) throw new InputError(`expected a whole number >= 0 (0 = every overlay), got "${raw}"`, { field: "--max-overlays" });
  return Number(raw);
}

export const reportCommand: CommandModule<object, { run: string; concurrency: number; "max-overlays": string }> = {
  command: "report <run>",
  describe: "(Re)write report.html and table.tex of a run folder from its files (samples.jsonl, summary.json, plots); `exp` and `merge` do this already",
  builder: (y) =>
    y
      .positional("run", { type: "string", demandOption: true, describe: "run folder (results/<experiment>/<run>)" })
      .option("concurrency", { type: "number", default: 4, describe: "overlay images drawn at once" })
      .option("max-overlays", MAX_OVERLAYS_OPTION) as never,
  handler: async (args) => {
    const max = maxOverlays(args["max-overlays"]);
    const t0 = performance.now();
    const dir = userPath(args.run, "report <run>");
    // report.html, table.tex and report-assets/ go into a run folder, beside whatever else is there.
    claimFolder(dir, { origin: "report <run>", kind: "run", allowForeign: true });
    const out = await writeReport(dir, { concurrency: args.concurrency, maxOverlays: max });
    console.log(`${out.records} records, ${out.overlays} overlays${out.missingImages ? ` (${out.missingImages} without their image: the cards say why)` : ""} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n${out.files.map((f) => `  ${f}`).join("\n")}`);
  },
};

interface CompareArgs {
  runA: string;
  runB: string;
  html?: string;
  metric: string;
  seed: number;
  replicates: number;
  "cell-a"?: string;
  "cell-b"?: string;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: "compare <runA> <runB>",
  describe: "Paired difference A − B per cell and dataset on the samples both runs share, with a paired-bootstrap 95% interval (* when it excludes 0)",
  builder: (y) =>
    y
      .positional("runA", { type: "string", demandOption: true, describe: "run folder A" })
      .positional("runB", { type: "string", demandOption: true, describe: "run folder B" })
      .option("html", { type: "string", describe: "also write the comparison as a self-contained HTML page to this file" })
      .option("metric", { type: "string", default: "mIoU", describe: "mIoU, gIoU, cIoU, acc, precision, recall, f1, conf, available, queriesPerSample or groundingFailureRate" })
      .option("seed", { type: "number", default: 0, describe: "seed of the bootstrap resampling" })
      .option("replicates", { type: "number", default: 1000, describe: "bootstrap resamples" })
      .option("cell-a", { type: "string", describe: "with --cell-b: compare this cell of run A with cell --cell-b of run B, paired by (dataset, sample id); runA and runB may be the same folder" })
      .option("cell-b", { type: "string", describe: "with --cell-a: the cell of run B to subtract" }) as never,
  handler: async (args) => {
    const c = compareRuns(userPath(args.runA, "compare <runA>"), userPath(args.runB, "compare <runB>"), { metric: args.metric, seed: args.seed, replicates: args.replicates, cellA: args["cell-a"], cellB: args["cell-b"] });
    console.log(comparisonText(c));
    if (args.html) {
      const file = claimFile(userPath(args.html, "--html"), { origin: "--html", what: "a comparison page written by resagent compare", ours: (head) => head.includes(generatorMeta("compare")) });
      await mkdir(dirname(file), { recursive: true });
      await writeFileAtomic(file, comparisonHtml(c));
      console.log(`written ${file}`);
    }
  },
};

export const runsCommand: CommandModule<object, { out?: string }> = {
  command: "runs",
  describe: "List every run under the results root (experiment, profile, seed, n, commit, config hash, date, headline, complete or not), point <exp>/latest at the newest, write runs.json and index.html there",
  builder: (y) => y.option("out", { type: "string", describe: "results root (default <repo>/results, as for `exp --out`)" }) as never,
  handler: async (args) => {
    const origin = args.out !== undefined ? "--out" : "results root";
    const root = args.out !== undefined ? userPath(args.out, "--out") : join(findRoot(), "results");
    // Only a results root is listed and written into (runs.json, index.html, <experiment>/latest).
    // Not a run, an experiment's folder or a dataset: runs.json and the latest links would land inside.
    claimFolder(root, { origin, kind: "results", allowForeign: true });
    const runs = listRuns(root);
    if (runs.length) {
      // Checked before anything is written, the latest links included.
      claimFile(join(root, "runs.json"), { origin, what: "a runs list written by resagent runs", ours: isRunsJson });
      claimFile(join(root, "index.html"), { origin, what: "a runs index written by resagent runs", ours: (head) => head.includes(generatorMeta("runs")) || head.includes("<title>resagent runs</title>") });
    }
    const latest = await updateLatest(root, runs);
    process.stdout.write(runsText(runs, root));
    if (runs.length) {
      await writeFileAtomic(join(root, "runs.json"), `${JSON.stringify(runs, null, 2)}\n`);
      await writeFileAtomic(join(root, "index.html"), runsHtml(runs, root, latest));
      console.log(`\n${[...latest].map(([e, r]) => `${join(root, e, "latest")} -> ${r}`).join("\n")}\nwritten ${join(root, "runs.json")}, ${join(root, "index.html")}`);
    }
  },
};

/** The start of runs.json as `runs` writes it: a JSON list of run entries, each opening with its experiment. */
function isRunsJson(head: string): boolean {
  return /^\[\s*(\]|\{\s*"experiment":)/.test(head);
}
