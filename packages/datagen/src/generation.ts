import { existsSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { InputError, writeFileAtomic } from "@resagent/core";

/**
 * A generator's folder resumes only the generation that made it: `identity` (the options that
 * shape the data) must equal the one its options.json holds, else other options would mix two
 * data sets in one folder. Writes options.json (identity plus `extra`, which may change between
 * runs) and returns where the records go.
 */
export async function claimGeneration(out: string, identity: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<string> {
  const optionsFile = join(out, "options.json");
  if (existsSync(optionsFile)) {
    const before = JSON.parse(readFileSync(optionsFile, "utf8")) as Record<string, unknown>;
    const changed = Object.keys(identity).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(identity[k]));
    if (changed.length) throw new InputError(`this folder was generated with other options (${changed.map((k) => `${k}: ${JSON.stringify(before[k])} then, ${JSON.stringify(identity[k])} now`).join("; ")}); use another --out or the same options`, { file: out });
  } else if (existsSync(join(out, "records.jsonl"))) {
    throw new InputError("this folder has records but no options.json (made by an older version); use another --out", { file: out });
  }
  await mkdir(out, { recursive: true });
  await writeFileAtomic(optionsFile, `${JSON.stringify({ ...identity, ...extra }, null, 2)}\n`);
  return join(out, "records.jsonl");
}
