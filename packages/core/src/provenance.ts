import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";

/** Where results came from, written beside them (summary.json, bench rows, trained models, --version). */

/**
 * The git commit of the working tree (of `cwd`, default the current directory), with "-dirty" when
 * it has uncommitted changes; asked of git once per folder and process. A process goes on running
 * the code it loaded whatever is committed meanwhile, and one that writes many results (a sweep,
 * the test suite) then pays for git once.
 */
export function gitCommit(cwd?: string): string {
  const dir = cwd ?? process.cwd();
  let commit = commits.get(dir);
  if (commit === undefined) commits.set(dir, (commit = askGit(dir)));
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
