import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { resolve } from "node:path";

/** Where results came from, written beside them (summary.json, bench rows, trained models, --version). */

/**
 * The git commit of the working tree (of `cwd`, default the current directory), with "-dirty" when
 * it has uncommitted changes; asked of git once per folder and process (a run that writes many
 * results, a sweep or the test suite, pays for git once). A process goes on running the code it
 * loaded whatever is committed meanwhile, so the first answer stays its answer; "unknown" (no git,
 * no repository) is asked again.
 */
export function gitCommit(cwd?: string): string {
  const dir = resolve(cwd ?? ".");
  const known = commits.get(dir);
  if (known !== undefined) return known;
  const commit = askGit(dir);
  if (commit !== "unknown") commits.set(dir, commit);
  return commit;
}
const commits = new Map<string, string>();

function askGit(cwd: string): string {
  try {
    const opts = { encoding: "utf8" as const, stdio: ["ignore", "pipe", "ignore"] as ("ignore" | "pipe")[], cwd };
    const head = execFileSync("git", ["rev-parse", "HEAD"], opts).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], opts).trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/** The machine, in words: CPU count and model, platform and architecture. */
export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? "unknown cpu"}, ${process.platform}-${process.arch}`;
}

/**
 * The version of an installed package, resolved as the module at `from` (its import.meta.url)
 * resolves it (pnpm gives each package only its own dependencies); undefined when it is not there.
 */
export function packageVersion(name: string, from: string): string | undefined {
  try {
    const file = createRequire(from).resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return undefined;
  }
}
