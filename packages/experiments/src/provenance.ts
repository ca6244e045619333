import { readFileSync } from "node:fs";

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
