import { existsSync, readFileSync } from "node:fs";
import { appendFile, mkdir, open, readFile, rename, truncate, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

let counter = 0;

/**
 * Write a file so that readers see either the old content or the new, never a torn file:
 * write to a temporary sibling, fsync, then rename over the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${counter++}.tmp`;
  await writeFile(tmp, data);
  const fh = await open(tmp, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** At most this many restarts are tried when salvaging a torn line (a long corrupt line stays cheap). */
const MAX_SALVAGE_TRIES = 1000;

/**
 * One line of a JSON-lines file. A line that does not parse is torn (a killed writer), or a torn
 * write that the next append ran into: then the line is `<torn prefix>{...complete value...}`, and
 * the value after the prefix is kept. `torn` says whether anything was dropped.
 */
function parseJsonLine(line: string): { value?: unknown; torn: boolean } {
  try {
    return { value: JSON.parse(line) as unknown, torn: false };
  } catch {
    // The first "{" from which the rest parses is the start of the glued value: a "{" nested
    // inside it leaves unbalanced closers and does not parse.
    let tries = 0;
    for (let i = line.indexOf("{", 1); i > 0 && tries < MAX_SALVAGE_TRIES; i = line.indexOf("{", i + 1), tries++) {
      if (line[i + 1] !== '"') continue;
      try {
        return { value: JSON.parse(line.slice(i)) as unknown, torn: true };
      } catch {
        // keep looking
      }
    }
    return { torn: true };
  }
}

const acceptAll = <T>(_v: unknown): _v is T => true;

/**
 * Read a JSON-lines file that a killed process (or a torn write anywhere in it) may have damaged,
 * and repair it for appending: every line that parses (and passes `accept`) is kept, wherever it
 * is; only the torn ones are dropped, and `dropped` says how many. A torn last line is cut off; a
 * torn line in the middle makes the file be rewritten (atomically) with the good lines only.
 */
export async function repairJsonLines<T>(file: string, accept: (v: unknown) => v is T = acceptAll<T>): Promise<{ values: T[]; dropped: number }> {
  if (!existsSync(file)) return { values: [], dropped: 0 };
  const bytes = await readFile(file);
  const values: T[] = [];
  const kept: string[] = [];
  let dropped = 0;
  /** End of the last good line before the first torn one: a torn tail is cut back to here. */
  let cleanPrefix = 0;
  /** Whether a good line (or a salvaged value) follows a torn one: then the file is rewritten. */
  let goodAfterTorn = false;
  let start = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.toString("utf8", start, end);
    if (line.trim()) {
      const { value, torn } = parseJsonLine(line);
      const ok = value !== undefined && accept(value);
      if (ok) {
        values.push(value);
        kept.push(torn ? JSON.stringify(value) : line);
        if (torn || dropped > 0) goodAfterTorn = true;
      }
      if (torn || !ok) dropped++;
      else if (dropped === 0) cleanPrefix = Math.min(end + 1, bytes.length);
    }
    start = end + 1;
  }
  if (dropped === 0) {
    // A last line without its newline gets one, so the next append starts on a line of its own.
    if (bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a) await appendFile(file, "\n");
  } else if (!goodAfterTorn) {
    await truncate(file, cleanPrefix); // only a torn tail, what a kill leaves: cut it off
  } else {
    await writeFileAtomic(file, kept.length ? `${kept.join("\n")}\n` : "");
  }
  return { values, dropped };
}

/** `repairJsonLines` for callers that need only the values. */
export async function readJsonLinesRepairing<T>(file: string): Promise<T[]> {
  return (await repairJsonLines<T>(file)).values;
}

/**
 * Read a JSON-lines file that other processes may be appending to, without touching it: every
 * line that parses (and passes `accept`), and how many did not (a torn last line, a corrupt or
 * torn one in the middle: the lines after it are read all the same). A missing file is empty.
 */
export function readJsonLinesTolerant<T>(file: string, accept: (v: unknown) => v is T = acceptAll<T>): { values: T[]; skipped: number } {
  const values: T[] = [];
  let skipped = 0;
  if (!existsSync(file)) return { values, skipped };
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const { value, torn } = parseJsonLine(line);
    const ok = value !== undefined && accept(value);
    if (ok) values.push(value);
    if (torn || !ok) skipped++;
  }
  return { values, skipped };
}
