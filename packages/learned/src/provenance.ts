import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { join } from "node:path";
import { svgToPng, writeFileAtomic } from "@resagent/core";
import type { TfInfo } from "./tf.js";

/** The commit of the code that trains (`-dirty` when the tree has uncommitted changes), or "unknown". */
export function gitCommit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return dirty ? `${head}-dirty` : head;
  } catch {
    return "unknown";
  }
}

const require = createRequire(import.meta.url);
/** An installed package's version, or "unknown". */
export function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** "<cores> x <cpu model>, <platform>-<arch>" for provenance files. */
export function machineLine(): string {
  return `${cpus().length} x ${cpus()[0]?.model ?? "unknown cpu"}, ${process.platform}-${process.arch}`;
}

/**
 * Write a trained model's reports beside it: metrics.json, provenance.json and each plot as .svg
 * and .png. Returns the file names written, in that order.
 */
export async function writeTrainingReports(out: string, metrics: object, provenance: object, plots: readonly [string, string][]): Promise<string[]> {
  await writeFileAtomic(join(out, "metrics.json"), `${JSON.stringify(metrics, null, 2)}\n`);
  await writeFileAtomic(join(out, "provenance.json"), `${JSON.stringify(provenance, null, 2)}\n`);
  const files = ["metrics.json", "provenance.json"];
  for (const [name, svg] of plots) {
    await writeFileAtomic(join(out, `${name}.svg`), svg);
    await writeFileAtomic(join(out, `${name}.png`), await svgToPng(svg));
    files.push(`${name}.svg`, `${name}.png`);
  }
  return files;
}

/** provenance.json of a training run: what was asked, on what data, by which code, where and when. */
export function trainingProvenance(config: object, seed: number, data: object, info: TfInfo, commit: string): Record<string, unknown> & { gitCommit: string } {
  return {
    config,
    seed,
    data,
    backend: info,
    versions: { node: process.version, "@resagent/learned": versionOf("@resagent/learned"), "@resagent/datagen": versionOf("@resagent/datagen"), [info.package]: info.version },
    gitCommit: commit,
    machine: machineLine(),
    date: new Date().toISOString(),
  };
}
