import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";

/** The git commit of the working tree (of `cwd`, default the current directory), with "-dirty" when it has uncommitted changes. */
export function gitCommit(cwd?: string): string {
  try {
    const opts = { encoding: "utf8" as const, stdio: ["ignore", "pipe", "ignore"] as ("ignore" | "pipe")[], ...(cwd ? { cwd } : {}) };
    const head = execFileSync("git", ["rev-parse", "HEAD"], opts).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], opts).trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

/** Versions of our packages and the native pieces that change numbers (sharp/libvips). */
export function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of ["core", "metrics", "data", "sampler", "decoder", "mllm", "verifier", "pipeline", "experiments", "cli"]) {
    try {
      const url = import.meta.resolve(`@resagent/${name}/package.json`);
      out[`@resagent/${name}`] = (JSON.parse(readFileSync(new URL(url), "utf8")) as { version: string }).version;
    } catch {
      // not installed in this build
    }
  }
  return out;
}

export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? "unknown cpu"}, ${process.platform}-${process.arch}`;
}
