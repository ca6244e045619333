import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { findRoot } from "@resagent/experiments";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

/** What one command took: wall seconds, CPU seconds of it and everything it waited for (null where the OS does not say), and its status. */
export interface Timed {
  wall: number;
  cpu: number | null;
  status: number;
}

/** Runs a command to completion in `cwd`, its output to ours, with environment changes (undefined: unset). */
export type Exec = (cmd: string, args: string[], cwd: string, env?: Record<string, string | undefined>) => Timed;

/**
 * CPU seconds (user + sys) used so far by this process's waited-for children and their waited-for
 * descendants: Linux's cutime + cstime (/proc/self/stat fields 16 and 17, in clock ticks of 1/100 s
 * as on every Linux we run). Null elsewhere.
 */
export function childCpuSeconds(stat = (): string | undefined => (existsSync("/proc/self/stat") ? readFileSync("/proc/self/stat", "utf8") : undefined)): number | null {
  const text = stat();
  if (!text) return null;
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const cutime = Number(fields[13]);
  const cstime = Number(fields[14]);
  return Number.isFinite(cutime) && Number.isFinite(cstime) ? (cutime + cstime) / 100 : null;
}

export const spawnExec: Exec = (cmd, args, cwd, env = {}) => {
  const cpu0 = childCpuSeconds();
  const t0 = performance.now();
  const vars = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete vars[k];
  const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "inherit", "inherit"], env: vars });
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = childCpuSeconds();
  return { wall, cpu: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0, status: r.status ?? 1 };
};

/** Passed, failed and skipped tests summed over the vitest JSON reports in `dir` (RESAGENT_TEST_REPORT). */
export function countTests(dir: string): { passed: number; failed: number; skipped: number } {
  const n = { passed: 0, failed: 0, skipped: 0 };
  if (!existsSync(dir)) return n;
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".json"))) {
    const r = JSON.parse(readFileSync(join(dir, f), "utf8")) as { numPassedTests?: number; numFailedTests?: number; numPendingTests?: number; numTodoTests?: number };
    n.passed += r.numPassedTests ?? 0;
    n.failed += r.numFailedTests ?? 0;
    n.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  }
  return n;
}

const load = () => loadavg().map((l) => l.toFixed(1)).join("/");

/**
 * The README's quick start, timed as a newcomer meets it. Its two commands each start from a
 * fresh clone of the current commit: `pnpm install` and `pnpm exp table4` (build and scene
 * generation included) in one; `pnpm install`, then `pnpm test` with turbo's cache empty and
 * `pnpm test` again with nothing changed (turbo replays), in another, so the tests find nothing
 * the first command left (its CLI bundle, its run folders). Each row notes the CPU time (user +
 * sys) and the load average before and after: on a shared machine, compare CPU.
 */
export async function measureSuite(exec: Exec, root: string, work: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const git = (args: string[], cwd = root) => spawnSync("git", args, { cwd, encoding: "utf8" });
  const commit = git(["rev-parse", "HEAD"]).stdout.trim();
  const must = (what: string, t: Timed, repo: string) => {
    if (t.status !== 0) throw new Error(`bench suite: ${what} exited with status ${t.status} (in ${repo})`);
    return t;
  };
  const clone = (name: string) => {
    const repo = join(work, name);
    must("git clone", exec("git", ["clone", "--quiet", root, repo], work), repo);
    must("git checkout", exec("git", ["checkout", "--quiet", "--detach", commit], repo), repo);
    return repo;
  };
  const note = (t: Timed, before: string, extra = "") => `${extra}${t.cpu === null ? "" : `CPU ${t.cpu.toFixed(0)} s; `}load ${before} before, ${load()} after; commit ${commit.slice(0, 10)}`;
  // A newcomer has no cache folder of ours: scenes are generated, records computed.
  const fresh = { RESAGENT_CACHE_DIR: undefined };
  const repo = clone("repo");
  let before = load();
  const install = must("pnpm install", exec("pnpm", ["install", "--frozen-lockfile"], repo, fresh), repo);
  rows.push({ suite: "suite", name: "fresh clone: pnpm install", value: install.wall, unit: "s", note: note(install, before) });
  before = load();
  const exp = must("pnpm exp table4", exec("pnpm", ["exp", "table4"], repo, fresh), repo);
  rows.push({ suite: "suite", name: "fresh clone: pnpm install && pnpm exp table4", value: install.wall + exp.wall, unit: "s", note: note({ ...exp, cpu: exp.cpu === null || install.cpu === null ? null : exp.cpu + install.cpu }, before, `exp alone ${exp.wall.toFixed(0)} s; `) });
  const tests = clone("repo-test");
  must("pnpm install", exec("pnpm", ["install", "--frozen-lockfile"], tests, fresh), tests);
  // One report folder for both runs: RESAGENT_* variables are part of turbo's task hashes.
  const reports = join(work, "reports");
  for (const [name, kind] of [["pnpm test, cold (turbo cache empty)", "cold"], ["pnpm test, warm (nothing changed: turbo replays)", "warm"]] as const) {
    before = load();
    const t = exec("pnpm", ["test"], tests, { ...fresh, RESAGENT_TEST_REPORT: reports });
    const n = countTests(reports);
    const counts = kind === "cold" ? `${n.passed} passed, ${n.failed} failed, ${n.skipped} skipped; ` : "";
    rows.push({ suite: "suite", name, value: t.wall, unit: "s", note: note(t, before, `${t.status === 0 ? "" : `FAILED (status ${t.status}); `}${counts}`) });
  }
  return rows;
}

export const suiteBench: BenchSuite = {
  name: "suite",
  description: "the quick start from a fresh clone: pnpm install && pnpm exp table4, pnpm test cold and warm (minutes; wall and CPU seconds)",
  onlyWhenNamed: true,
  run: () => withTempDir((work) => measureSuite(spawnExec, findRoot(), work)),
};
