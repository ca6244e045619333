import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { appendFile, mkdir, open, type FileHandle } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { readJsonLinesTolerant } from "./fs.js";
import { sha256 } from "./hash.js";

/**
 * Append-only JSON lines that many writer processes share, on one machine or on a network
 * filesystem (the response cache and the shared record store of a sharded run on a cluster).
 *
 * A store `x.jsonl` is the file `x.jsonl` (read only: what versions before segments wrote) plus
 * the folder `x/`, where every writer appends to a segment of its own. One file per writer because
 * a shared file is not safe on NFS: O_APPEND there is emulated by each client from its cached file
 * size, so two hosts appending overwrite each other's lines, and clients split large writes, so
 * lines get spliced (the concurrent-writer test shows both on two sshfs mounts). In a file with
 * one writer nothing interleaves, and a kill leaves at worst a torn last line that nobody appends to.
 *
 * Every line is sealed with a checksum of the rest of its text, `{"_sum":"<16 hex>",...}`, so a
 * line damaged in any way that still parses (a splice, a partially flushed page) is skipped, never
 * served. Segment names start with their creation time, so name order is creation order and the
 * same files always load in the same order.
 */

const SUM = '{"_sum":"';
/** `{"_sum":"` + 16 hex + `",` */
const PREFIX_LENGTH = SUM.length + 16 + 2;

const sumOf = (rest: string): string => sha256(rest).slice(0, 16);

/** One sealed line (without its newline) for a JSON object with at least one key. */
export function sealLine(value: object): string {
  const json = JSON.stringify(value);
  if (!json.startsWith("{") || json === "{}") throw new TypeError("sealLine takes an object with at least one key");
  const rest = json.slice(1);
  return `${SUM}${sumOf(rest)}",${rest}`;
}

/**
 * The value of a sealed line, without its `_sum` key; undefined when the line is not sealed, or
 * its checksum does not match. A line that a torn write ran into (`<torn prefix>{"_sum":...}`)
 * gives the sealed value after the prefix, with `torn` set.
 */
export function openSealed(line: string): { value?: Record<string, unknown>; torn: boolean } {
  let at = line.lastIndexOf(SUM);
  while (at >= 0) {
    const sum = line.slice(at + SUM.length, at + SUM.length + 16);
    const rest = line.slice(at + PREFIX_LENGTH);
    if (line.slice(at + SUM.length + 16, at + PREFIX_LENGTH) === '",' && /^[0-9a-f]{16}$/.test(sum) && sumOf(rest) === sum) {
      try {
        return { value: JSON.parse(`{${rest}`) as Record<string, unknown>, torn: at > 0 };
      } catch {
        return { torn: true };
      }
    }
    // A match further left covers this one: a splice that still ends in a sealed line is caught here.
    at = at > 0 ? line.lastIndexOf(SUM, at - 1) : -1;
  }
  return { torn: true };
}

/** The segment folder of a store: `x.jsonl` -> `x`. */
export function segmentDir(file: string): string {
  return file.replace(/\.jsonl$/, "");
}

/** The segments of a store, in load order. */
export function segmentFiles(file: string): string[] {
  const dir = segmentDir(file);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.endsWith(".jsonl"))
    .sort()
    .map((n) => join(dir, n));
}

/**
 * Every value of a store, in load order (the legacy file, then the segments by name), and how many
 * lines were skipped: torn (a writer killed, or one still writing the line), corrupt, or failing
 * their checksum. Never writes. Lines of the legacy file need no seal (older versions wrote none);
 * segment lines do.
 */
export function readSegmented<T>(file: string, accept: (v: unknown) => v is T): { values: T[]; skipped: number; files: number } {
  const legacy = readJsonLinesTolerant(file, accept);
  const values: T[] = [...legacy.values];
  let skipped = legacy.skipped;
  let files = existsSync(file) ? 1 : 0;
  for (const f of segmentFiles(file)) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue; // removed under us: nothing to read
    }
    files++;
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const { value, torn } = openSealed(line);
      const ok = value !== undefined && accept(value);
      if (ok) values.push(value);
      if (torn || !ok) skipped++;
    }
  }
  return { values, skipped, files };
}

let segmentCounter = 0;

/**
 * Appends sealed lines to this process's own segment of a store, created on the first append.
 * `keepOpen` holds the file open until `close()` (many small appends); otherwise every append opens
 * and closes it (a store with many files and no close).
 */
export class SegmentWriter {
  /** The segment, once the first append made it. */
  path?: string;
  private handle?: Promise<FileHandle>;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly file: string,
    readonly options: { keepOpen: boolean } = { keepOpen: true },
  ) {}

  private async create(): Promise<string> {
    const dir = segmentDir(this.file);
    await mkdir(dir, { recursive: true });
    const host = hostname().replace(/[^\w.-]/g, "_").slice(0, 40);
    const path = join(dir, `${Date.now().toString().padStart(14, "0")}-${host}-${process.pid}-${segmentCounter++}-${randomBytes(4).toString("hex")}.jsonl`);
    // "wx": the name is ours alone; never append to another writer's segment.
    await (await open(path, "wx")).close();
    this.path = path;
    return path;
  }

  /** Append one sealed line; appends land in call order, each whole before the next begins. */
  append(value: object): Promise<void> {
    const line = Buffer.from(`${sealLine(value)}\n`, "utf8");
    this.chain = this.chain.then(async () => {
      const path = this.path ?? (await this.create());
      if (!this.options.keepOpen) return appendFile(path, line);
      this.handle ??= open(path, "a");
      const h = await this.handle;
      // A short write continues where it stopped.
      for (let off = 0; off < line.length; ) off += (await h.write(line, off, line.length - off)).bytesWritten;
    });
    return this.chain;
  }

  async close(): Promise<void> {
    await this.chain;
    const h = this.handle;
    this.handle = undefined;
    if (h) await (await h).close();
  }
}
