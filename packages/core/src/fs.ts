import { existsSync, readFileSync } from "node:fs";
import { mkdir, open, readFile, rename, truncate, writeFile } from "node:fs/promises";
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

/**
 * Read a JSON-lines file that a killed process may have left with a torn last line: parse the
 * complete lines and cut the file back to them, so appending can continue cleanly.
 */
export async function readJsonLinesRepairing<T>(file: string): Promise<T[]> {
  if (!existsSync(file)) return [];
  const bytes = await readFile(file);
  const out: T[] = [];
  let start = 0;
  let valid = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    const line = bytes.toString("utf8", start, end);
    if (line.trim()) {
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        break;
      }
      valid = Math.min(end + 1, bytes.length);
    }
    start = end + 1;
  }
  if (valid < bytes.length) await truncate(file, valid);
  return out;
}

/**
 * Read a JSON-lines file that other processes may be appending to, without touching it: every
 * line that parses (and passes `accept`), and how many did not (a torn last line, a corrupt one).
 * A missing file is empty.
 */
export function readJsonLinesTolerant<T>(file: string, accept: (v: unknown) => v is T = (_v): _v is T => true): { values: T[]; skipped: number } {
  const values: T[] = [];
  let skipped = 0;
  if (!existsSync(file)) return { values, skipped };
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (accept(v)) values.push(v);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { values, skipped };
}
