import { join } from "node:path";
import { machine, packageVersion, svgToPng, writeFileAtomic } from "@resagent/core";
import type { TfInfo } from "./tf.js";

/** An installed package's version (as this package resolves it), or "unknown". */
export function versionOf(pkg: string): string {
  return packageVersion(pkg, import.meta.url) ?? "unknown";
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
    machine: machine(),
    date: new Date().toISOString(),
  };
}
