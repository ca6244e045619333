import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { join, relative } from "node:path";
import { InputError, writeFileAtomic } from "@resagent/core";
import { esc, page } from "./html.js";
import { readRunFolder, type RunFolder } from "./run.js";

export interface RunEntry {
  experiment: string;
  run: string;
  dir: string;
  profile: string | null;
  seed: number | null;
  /** Samples per dataset the run asked for. */
  limit: number | null;
  /** Records in samples.jsonl. */
  records: number;
  gitCommit: string | null;
  configHash: string | null;
  /** When the results were written (summary.json), else when samples.jsonl last changed. */
  date: string;
  simulated: boolean | null;
  /** Best value of the table's first column, with its row: the run's headline number. */
  headline: string | null;
  complete: boolean;
  /** Why a run is not complete (no summary yet, summary older than the samples, a shard). */
  status: string;
  hasReport: boolean;
}

const LATEST = "latest";

function countLines(file: string): number {
  if (!existsSync(file)) return 0;
  const text = readFileSync(file, "utf8");
  let n = 0;
  for (const line of text.split("\n")) if (line.trim()) n++;
  return n;
}

function headline(run: RunFolder): string | null {
  const t = run.summary?.table;
  if (!t || !t.headers.length) return null;
  const rows = t.rows.filter((r) => !r.paperOnly && typeof r.ours[0] === "number" && !Number.isNaN(r.ours[0]));
  if (!rows.length) return null;
  const lowerBetter = ["msPerSample", "decodeMsPerSample", "queriesPerSample", "fp", "fn", "groundingFailures"].includes(t.metrics?.[0] ?? "");
  const top = rows.reduce((x, y) => ((lowerBetter ? y.ours[0]! < x.ours[0]! : y.ours[0]! > x.ours[0]!) ? y : x));
  const v = top.ours[0]!;
  const shown = t.percent[0] ? (100 * v).toFixed(1) : v.toFixed(2);
  return `${t.headers[0]} ${t.metrics?.[0] ?? ""} ${shown} (${top.label})`.replace(/\s+/g, " ");
}

function entry(experiment: string, run: string, dir: string): RunEntry | null {
  let folder: RunFolder;
  try {
    folder = readRunFolder(dir, { records: false });
  } catch (err) {
    // A run written by a newer resagent is listed, with why it cannot be read; anything else is not a run.
    if (!(err instanceof InputError) || err.field !== "recordVersion") return null;
    const lines = countLines(join(dir, "samples.jsonl"));
    const when = existsSync(join(dir, "samples.jsonl")) ? statSync(join(dir, "samples.jsonl")).mtime : statSync(dir).mtime;
    return { experiment, run, dir, profile: null, seed: null, limit: null, records: lines, gitCommit: null, configHash: null, date: when.toISOString(), simulated: null, headline: null, complete: false, status: err.message, hasReport: existsSync(join(dir, "report.html")) };
  }
  const s = folder.summary;
  const cfg = folder.config ?? {};
  const lines = countLines(join(dir, "samples.jsonl"));
  const samplesTime = existsSync(join(dir, "samples.jsonl")) ? statSync(join(dir, "samples.jsonl")).mtime.toISOString() : statSync(dir).mtime.toISOString();
  const shard = /-shard(\d+)of(\d+)$/.exec(run);
  let status = "complete";
  if (!s) status = `running or stopped: ${lines} records, no summary.json yet`;
  else if (typeof s.records === "number" && s.records !== lines) status = `samples.jsonl has ${lines} records, summary.json ${s.records}: rerun to finish and rewrite`;
  else if (shard) status = `shard ${shard[1]} of ${shard[2]}: merge the shards for the full run`;
  const num = (v: unknown) => (typeof v === "number" ? v : null);
  return {
    experiment,
    run,
    dir,
    profile: (s?.profile ?? (cfg.profile as string | undefined)) ?? null,
    seed: num(s?.seed ?? cfg.seed),
    limit: num(s?.limitPerDataset ?? cfg.limit),
    records: lines,
    gitCommit: s?.gitCommit ?? null,
    configHash: s?.configHash ?? null,
    date: s?.createdAt ?? samplesTime,
    simulated: typeof s?.simulated === "boolean" ? s.simulated : null,
    headline: headline(folder),
    complete: status === "complete",
    status,
    hasReport: existsSync(join(dir, "report.html")),
  };
}

/** Every run under a results root (`<root>/<experiment>/<run>/`), newest first within each experiment. */
export function listRuns(root: string): RunEntry[] {
  if (!existsSync(root)) return [];
  const out: RunEntry[] = [];
  for (const exp of readdirSync(root).sort()) {
    const expDir = join(root, exp);
    if (!lstatSync(expDir).isDirectory()) continue;
    const runs: RunEntry[] = [];
    for (const run of readdirSync(expDir)) {
      if (run === LATEST) continue;
      const dir = join(expDir, run);
      // A symlink is a pointer (ours or the user's), not a run of its own.
      if (!lstatSync(dir).isDirectory()) continue;
      const e = entry(exp, run, dir);
      if (e) runs.push(e);
    }
    runs.sort((a, b) => b.date.localeCompare(a.date) || a.run.localeCompare(b.run));
    out.push(...runs);
  }
  return out;
}

function isOurLatest(expDir: string, file: string, st: NonNullable<ReturnType<typeof lstatSync>>): boolean {
  const sibling = (name: string) => /^[\w.+=-]+$/.test(name) && !name.startsWith(".") && existsSync(join(expDir, name)) && lstatSync(join(expDir, name)).isDirectory();
  if (st.isSymbolicLink()) return sibling(readlinkSync(file));
  if (!st.isFile() || st.size > 256) return false;
  const text = readFileSync(file, "utf8");
  return /^[^\n]+\n?$/.test(text) && sibling(text.trim());
}

/**
 * Point `<root>/<experiment>/latest` at the newest complete run of each experiment (the newest
 * run when none is complete): a relative symlink, or a text file holding the run's folder name
 * where the file system refuses symlinks. Returns experiment -> run.
 */
export async function updateLatest(root: string, runs: readonly RunEntry[], options: { symlink?: (target: string, path: string) => void } = {}): Promise<Map<string, string>> {
  const link = options.symlink ?? ((target: string, path: string) => symlinkSync(target, path, "dir"));
  const chosen = new Map<string, string>();
  for (const e of runs) {
    const cur = chosen.get(e.experiment);
    const curEntry = cur ? runs.find((r) => r.experiment === e.experiment && r.run === cur) : undefined;
    // runs come newest first per experiment: keep the first complete one, else the first.
    if (!curEntry || (!curEntry.complete && e.complete)) chosen.set(e.experiment, e.run);
  }
  for (const [exp, run] of chosen) {
    const file = join(root, exp, LATEST);
    let existing: ReturnType<typeof lstatSync> | undefined;
    try {
      existing = lstatSync(file);
    } catch {
      existing = undefined;
    }
    if (existing?.isSymbolicLink() && readlinkSync(file) === run) continue;
    // Only a pointer the harness made is replaced: a link to a sibling run folder, or a text file
    // naming one. A folder, a file or a link of the user's named "latest" is left alone.
    if (existing && !isOurLatest(join(root, exp), file, existing)) continue;
    const tmp = join(root, exp, `.${LATEST}.${process.pid}`);
    rmSync(tmp, { force: true });
    try {
      link(run, tmp);
      renameSync(tmp, file); // atomic replace of the old link or text file
    } catch {
      rmSync(tmp, { force: true });
      await writeFileAtomic(file, `${run}\n`);
    }
  }
  return chosen;
}

export function runsText(runs: readonly RunEntry[], root: string): string {
  if (!runs.length) return `no runs under ${root}\n`;
  const head = ["experiment", "run", "profile", "seed", "n", "records", "commit", "config", "date", "headline", "status"];
  const body = runs.map((r) => [
    r.experiment,
    r.run,
    `${r.profile ?? "?"}${r.simulated ? " (SIM)" : ""}`,
    r.seed === null ? "?" : String(r.seed),
    r.limit === null ? "?" : String(r.limit),
    String(r.records),
    r.gitCommit ? `${r.gitCommit.slice(0, 10)}${r.gitCommit.endsWith("-dirty") ? "-dirty" : ""}` : "?",
    r.configHash?.slice(0, 10) ?? "?",
    r.date.slice(0, 16).replace("T", " "),
    r.headline ?? "–",
    r.complete ? "complete" : `INCOMPLETE: ${r.status}`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((x, i) => x.padEnd(widths[i]!)).join("  ").trimEnd();
  return `${[line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n")}\n\nn = samples per dataset the run asked for; headline = best value of the table's first column; SIM = simulated components.\n`;
}

/** `<root>/index.html`: the runs table with links to each run's report. */
export function runsHtml(runs: readonly RunEntry[], root: string, latest: Map<string, string>): string {
  const rows = runs
    .map((r) => {
      const rel = relative(root, r.dir);
      const name = r.hasReport ? `<a href="${esc(rel)}/report.html">${esc(r.run)}</a>` : esc(r.run);
      const isLatest = latest.get(r.experiment) === r.run ? ' <span class="muted">(latest)</span>' : "";
      return `<tr><td>${esc(r.experiment)}</td><td>${name}${isLatest}</td><td>${esc(r.profile ?? "?")}${r.simulated ? ' <b class="flag">SIMULATED</b>' : ""}</td><td>${esc(r.seed ?? "?")}</td><td>${esc(r.limit ?? "?")}</td><td>${r.records}</td><td><code>${esc(r.gitCommit?.slice(0, 12) ?? "?")}</code></td><td><code>${esc(r.configHash ?? "?")}</code></td><td>${esc(r.date.slice(0, 16).replace("T", " "))}</td><td>${esc(r.headline ?? "–")}</td><td>${r.complete ? "complete" : `<span class="flag">${esc(r.status)}</span>`}</td></tr>`;
    })
    .join("");
  return page("runs", 
    "resagent runs",
    `<h1>Runs under ${esc(root)}</h1><table><tr><th>experiment</th><th>run</th><th>profile</th><th>seed</th><th>n</th><th>records</th><th>commit</th><th>config hash</th><th>date</th><th>headline</th><th>status</th></tr>${rows}</table><p class="muted">n = samples per dataset the run asked for; headline = best value of the table's first column.</p>`,
  );
}
