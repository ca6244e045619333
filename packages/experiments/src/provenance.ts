import { packageVersion } from "@resagent/core";

/** Versions of our packages and the native pieces that change numbers (sharp/libvips). */
export function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of ["core", "metrics", "data", "sampler", "decoder", "mllm", "verifier", "pipeline", "experiments", "cli"]) {
    // Absent when not installed in this build.
    const v = packageVersion(`@resagent/${name}`, import.meta.url);
    if (v) out[`@resagent/${name}`] = v;
  }
  return out;
}
