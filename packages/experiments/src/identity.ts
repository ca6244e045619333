import { existsSync, readFileSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, join, relative, resolve } from "node:path";
import { InputError, identifyFolder, runFolderPath, sha256, stableStringify, writeFileAtomic } from "@resagent/core";
import { parseRunManifest, type RunManifest } from "@resagent/records";
import { findRoot, type LoadedExperiment } from "./config/load.js";

/**
 * A hash of the code that produces results: every source file of packages/*\/src (tests and
 * benchmarks aside), the package manifests and the lockfile. A documentation-only commit leaves
 * it unchanged, so runs resume; any change to what computes numbers starts a new run. (The git
 * commit stays in provenance, but cannot serve here: a README edit would restart every run.)
 */
export function codeHash(root = findRoot()): string {
  const cached = codeHashes.get(root);
  if (cached) return cached;
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) {
        if (name !== "node_modules" && name !== "bench") walk(p);
      } else if (/\.(ts|js|mjs|json|py)$/.test(name) && !/\.test\.ts$/.test(name)) files.push(p);
    }
  };
  const packages = join(root, "packages");
  if (existsSync(packages)) {
    for (const d of readdirSync(packages).sort()) {
      if (existsSync(join(packages, d, "src"))) walk(join(packages, d, "src"));
      if (existsSync(join(packages, d, "package.json"))) files.push(join(packages, d, "package.json"));
    }
  }
  if (existsSync(join(root, "pnpm-lock.yaml"))) files.push(join(root, "pnpm-lock.yaml"));
  const h = sha256(files.map((f) => `${relative(root, f)}\u0000${sha256(readFileSync(f))}`).join("\n")).slice(0, 16);
  codeHashes.set(root, h);
  return h;
}
const codeHashes = new Map<string, string>();

/**
 * HTTP settings that decide how answers are fetched, not what they are (the response cache keys
 * answers by model, never by URL). They stay out of a run's identity, so the shards of one run on
 * a cluster, each given the endpoints near it, and a rerun with other timeouts share run folders.
 */
export const TRANSPORT_KEYS = ["baseUrls", "apiKeyEnv", "timeoutMs", "concurrency", "retries", "backoffMs", "maxBackoffMs", "restAfterFailures", "restMs", "maxResponseBytes"] as const;

/** A copy of `v` without the transport keys of any `http` object in it. */
export function withoutTransport(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutTransport);
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "http" && x !== null && typeof x === "object" && !Array.isArray(x)) {
      out[k] = Object.fromEntries(Object.entries(x).filter(([hk]) => !(TRANSPORT_KEYS as readonly string[]).includes(hk)));
    } else out[k] = withoutTransport(x);
  }
  return out;
}

/** Everything that changes a run's numbers, apart from the code: cells, datasets, seed, limit. */
export function configIdentity(exp: LoadedExperiment): Record<string, unknown> {
  const { config, cells } = exp;
  return {
    experiment: config.name,
    version: config.version,
    cells: cells.map((c) => ({ id: c.id, pipeline: withoutTransport(c.pipeline) })),
    datasets: config.resolvedDatasets,
    seed: config.seed,
    limit: config.limit,
  };
}

export function configHash(exp: LoadedExperiment): string {
  return sha256(stableStringify(configIdentity(exp))).slice(0, 16);
}

/** A run's folder name: profile, seed, limit and a hash of the resolved config and the code. */
export function defaultRunId(exp: LoadedExperiment): string {
  const { config } = exp;
  const key = sha256(`${configHash(exp)}:${codeHash()}`).slice(0, 10);
  return `${config.profile}-seed${config.seed}-n${config.limit}-${key}`;
}

/** run.json: what made a run folder, so a resume can refuse a folder made by something else (its shape is @resagent/records'). */
export type { RunManifest } from "@resagent/records";

/** The experiment an experiment file defines: its file name without .yaml (what `exp <name>` is given). */
function experimentOfSource(source: string): string {
  return basename(source).replace(/\.yaml$/, "");
}

/**
 * The run folder `<root>/<name>/<runId>` of an experiment, checked before anything is written:
 * the experiment's `name:` and the run id are plain folder names that stay inside their parents
 * (not ".", "..", "latest", empty), `name:` does not take another experiment file's results
 * folder, and the folder does not already hold runs of another experiment.
 */
export function runFolderFor(root: string, exp: LoadedExperiment, runId: string, runIdField = "--run-id"): string {
  const name = exp.config.name;
  const dir = runFolderPath(root, name, runId, { experiment: { file: exp.file, field: "name" }, runId: { field: runIdField } });
  const own = experimentOfSource(exp.file);
  const repo = findRoot();
  const other = join(repo, "experiments", `${name}.yaml`);
  if (own !== name && existsSync(other) && resolve(other) !== resolve(repo, exp.file)) {
    throw new InputError(`"${name}" is the name of experiments/${name}.yaml: its results folder belongs to that experiment; give this one a name of its own`, { file: exp.file, field: "name" });
  }
  const there = identifyFolder(join(root, name));
  const foreign = (there.runs ?? []).find((r) => r.run && (r.run.experiment !== name || (r.run.source?.experiment !== undefined && experimentOfSource(r.run.source.experiment) !== own)));
  if (foreign) {
    throw new InputError(`${join(root, name)} holds runs of another experiment (${foreign.path}: run.json says ${foreign.run!.source?.experiment ?? foreign.run!.experiment}); give this one a name of its own`, { file: exp.file, field: "name" });
  }
  return dir;
}

/** A run folder's run.json, held to RunManifestSchema (a newer recordVersion or a missing field: one line naming file and field); undefined when there is none. */
export function readManifest(runDir: string): RunManifest | undefined {
  const f = join(runDir, "run.json");
  if (!existsSync(f)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(f, "utf8"));
  } catch {
    throw new InputError("unreadable run manifest (not JSON)", { file: f });
  }
  return parseRunManifest(raw, f);
}

export async function writeManifest(runDir: string, m: RunManifest): Promise<void> {
  await writeFileAtomic(join(runDir, "run.json"), `${JSON.stringify(m, null, 2)}\n`);
}

/**
 * Refuse to resume a folder made by a different resolved config or different code: its records
 * would be mixed with new ones under one name. `--fresh` (or another `--run-id`) is the way out.
 */
export function checkResumable(runDir: string, exp: LoadedExperiment, shard?: { index: number; count: number }): RunManifest | undefined {
  const m = readManifest(runDir);
  const fix = "pass --fresh to discard it, or choose another --run-id";
  if (!m) {
    // --fresh deletes only what a run.json says the harness made: this one is the user's to remove.
    if (existsSync(join(runDir, "samples.jsonl"))) throw new InputError("this run folder has records but no run.json (made by an older version of resagent); delete it yourself, or choose another --run-id", { file: runDir });
    return undefined;
  }
  if (m.configHash !== configHash(exp)) throw new InputError(`this run folder was made by a different configuration (${m.experiment}, config ${m.configHash}; now ${configHash(exp)}); ${fix}`, { file: runDir });
  if (m.codeHash !== codeHash()) throw new InputError(`this run folder was made by different code (code hash ${m.codeHash}; now ${codeHash()}); ${fix}`, { file: runDir });
  if (JSON.stringify(m.shard ?? null) !== JSON.stringify(shard ?? null)) throw new InputError(`this run folder holds ${m.shard ? `shard ${m.shard.index}/${m.shard.count}` : "a whole run"}, not ${shard ? `shard ${shard.index}/${shard.count}` : "a whole run"}; ${fix}`, { file: runDir });
  return m;
}

interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  command: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Take the run folder's lock (run.lock): a second process on the same folder stops with one line
 * naming the holder, so two runs never append the same records. A lock left by a process that no
 * longer runs (a kill -9) is taken over with a warning. Returns the release function.
 */
export async function acquireRunLock(runDir: string, warn: (line: string) => void = () => {}): Promise<() => Promise<void>> {
  const file = join(runDir, "run.lock");
  const me: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), command: process.argv.slice(2).join(" ") };
  const mine = JSON.stringify(me);
  for (let attempt = 0; ; attempt++) {
    try {
      await writeFile(file, mine, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 3) throw err;
    }
    const text = await readFile(file, "utf8").catch(() => "");
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(text) as LockHolder;
    } catch {
      holder = undefined; // torn or empty: its writer died mid-write
    }
    if (holder && holder.host !== me.host) {
      throw new InputError(`run folder is locked by process ${holder.pid} on host ${holder.host} since ${holder.startedAt}; if that process is gone, delete ${file}`, { file: runDir });
    }
    if (holder && alive(holder.pid)) {
      throw new InputError(`run folder is in use by process ${holder.pid} (since ${holder.startedAt}${holder.command ? `: ${holder.command}` : ""}); wait for it to finish or stop it`, { file: runDir });
    }
    // Stale: move it aside atomically (only one taker wins the rename), then check it was the one judged stale.
    const aside = `${file}.stale-${process.pid}`;
    try {
      await rename(file, aside);
    } catch {
      continue;
    }
    if ((await readFile(aside, "utf8").catch(() => "")) !== text) {
      await rename(aside, file).catch(() => undefined);
      continue;
    }
    await unlink(aside).catch(() => undefined);
    warn(`warning: took over the lock of process ${holder?.pid ?? "?"}, which no longer runs (${runDir})`);
  }
  let released = false;
  const releaseSync = () => {
    if (released) return;
    released = true;
    try {
      if (readFileSync(file, "utf8") === mine) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.once("exit", releaseSync);
  return async () => {
    process.off("exit", releaseSync);
    if (released) return;
    released = true;
    if ((await readFile(file, "utf8").catch(() => "")) === mine) await unlink(file).catch(() => undefined);
  };
}
