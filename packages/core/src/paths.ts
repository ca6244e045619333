import { lstatSync, readFileSync, readdirSync, realpathSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { InputError } from "./errors.js";

/*
 * Which paths a command was handed, and which folders it may write into or delete. Every command
 * that writes or deletes goes through here, so the rules live in one place:
 * - a path a user named (a flag, an environment variable) is remembered with its origin, so a
 *   file-system error on it (or under it) is reported as one line naming that origin;
 * - a folder name the harness makes from user input (an experiment's `name:`, a `--run-id`) is
 *   one plain name that stays inside its parent;
 * - a folder is written into only when it is missing, empty, or holds the same kind of output the
 *   command writes (and nothing else), and deleted only when it holds nothing the harness did not
 *   write.
 */

// ---------------------------------------------------------------------------------------------
// Where a path came from

const origins = new Map<string, string>();

/** Resolve a path the user handed over and remember where it came from (a flag, a variable). */
export function userPath(raw: string, origin: string): string {
  const abs = resolve(raw);
  origins.set(abs, origin);
  return abs;
}

/** Forget every remembered path (each CLI invocation starts afresh). */
export function forgetUserPaths(): void {
  origins.clear();
}

/** Environment variables whose value is a path, remembered by name (RESAGENT_DATA_ROOT, RESAGENT_CACHE_DIR, ...). */
export function rememberEnvironmentPaths(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("RESAGENT_") || !value) continue;
    // URLs and plain words are not paths.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || !(value.includes("/") || value.startsWith("."))) continue;
    userPath(value, name);
  }
}

/**
 * The origin of the nearest remembered path at or above `path`; else of one below it (creating
 * the folders of `--html a/b/c.html` fails at `a`, above the path the flag named).
 */
export function pathOrigin(path: string): { origin: string; path: string } | undefined {
  const abs = resolve(path);
  for (let p = abs; ; ) {
    const o = origins.get(p);
    if (o) return { origin: o, path: p };
    const up = dirname(p);
    if (up === p) break;
    p = up;
  }
  for (const [p, o] of origins) if (p.startsWith(`${abs}${sep}`)) return { origin: o, path: p };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// File-system errors on user paths

const FS_ERRORS: Record<string, string> = {
  ENOENT: "no such file or folder",
  ENOTDIR: "a file is where a folder is needed",
  EISDIR: "is a folder, expected a file",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EEXIST: "already exists",
  EROFS: "read-only file system",
  ENAMETOOLONG: "name too long",
  ELOOP: "too many symbolic links",
};

/**
 * One line for a Node file-system error (ENOENT, ENOTDIR, EISDIR, EACCES, ENOSPC, EEXIST, ...)
 * on a path: the flag or variable that named it (when known), the path and what went wrong.
 * Undefined for anything else.
 */
export function fileSystemErrorLine(err: unknown): string | undefined {
  const e = err as (NodeJS.ErrnoException & { dest?: unknown }) | undefined;
  if (!e || typeof e !== "object" || typeof e.code !== "string" || !(e.code in FS_ERRORS)) return undefined;
  const path = typeof e.path === "string" ? e.path : undefined;
  const dest = typeof e.dest === "string" ? e.dest : undefined;
  if (!path) return undefined;
  // For a rename or link the destination is the user's path as often as the source.
  const named = pathOrigin(path) ?? (dest ? pathOrigin(dest) : undefined);
  // `mkdir -p` through a file says EEXIST: the same problem as ENOTDIR, said the same way.
  const text = e.code === "EEXIST" && e.syscall === "mkdir" ? FS_ERRORS.ENOTDIR : FS_ERRORS[e.code];
  const what = `${text} (${e.code}${e.syscall ? `, ${e.syscall}` : ""})`;
  if (!named) return `${path}: ${what}`;
  const under = named.path === resolve(path) ? "" : ` (at ${path})`;
  return `${named.origin} ${named.path}: ${what}${under}`;
}

// ---------------------------------------------------------------------------------------------
// Names and containment

/** Names that never name an output folder: they are pointers, or step out of the parent. */
const RESERVED = new Set(["", ".", "..", "latest"]);

/**
 * A folder name made from user input (an experiment's name, a run id): one path component of
 * letters, digits and . _ + = -, not starting with a dot, not "latest" (the pointer to the newest
 * run). Returns it, or throws naming `where`.
 */
export function checkFolderName(name: string, where: { file?: string; field?: string }): string {
  if (RESERVED.has(name) || name.startsWith(".") || !/^[\w.+=-]+$/.test(name)) {
    const why = name === "latest" ? ' ("latest" points at the newest run)' : name === "" ? " (empty)" : "";
    throw new InputError(`expected a folder name of letters, digits and . _ + = - that does not start with a dot and is not "latest", got ${JSON.stringify(name)}${why}`, where);
  }
  return name;
}

/** `path` with its longest existing prefix resolved through symbolic links. */
function realish(path: string): string {
  const abs = resolve(path);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const up = dirname(head);
      if (up === head) return abs;
      tail.push(basename(head));
      head = up;
    }
  }
}

/** Whether `child` lies strictly inside `parent`, both as typed and after resolving symbolic links. */
export function isInside(parent: string, child: string): boolean {
  const strict = (p: string, c: string) => {
    const r = relative(p, c);
    return r !== "" && !r.startsWith(`..${sep}`) && r !== ".." && !isAbsolute(r);
  };
  return strict(resolve(parent), resolve(child)) && strict(realish(parent), realish(child));
}

/**
 * `<root>/<experiment>/<runId>`, checked: both names are plain folder names and the folder
 * resolves (through any symbolic links) strictly inside `<root>/<experiment>/`.
 */
export function runFolderPath(root: string, experiment: string, runId: string, where: { experiment: { file?: string; field?: string }; runId: { file?: string; field?: string } }): string {
  checkFolderName(experiment, where.experiment);
  checkFolderName(runId, where.runId);
  const expDir = join(resolve(root), experiment);
  const dir = join(expDir, runId);
  if (!isInside(expDir, dir)) throw new InputError(`run folder ${dir} resolves to ${realish(dir)}, outside ${realish(expDir)}`, where.runId);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// What a folder holds

/** The kinds of folder the harness writes. */
export type OutputKind = "results" | "experiment" | "run" | "vbr-data" | "point-value-data" | "sa1b" | "verifier-model" | "ranker-model" | "segment";

/** The part of a run's run.json that says who made it. */
export interface RunOwner {
  experiment: string;
  configHash?: string;
  codeHash?: string;
  shard?: { index: number; count: number };
  mergedFrom?: string[];
  complete?: boolean;
  source?: { experiment?: string };
}

export interface FolderInfo {
  path: string;
  state: "missing" | "file" | "empty" | "folder";
  kind?: OutputKind;
  /** What the folder holds, in words, for messages ("a run of table4 (shard 0/2)"). */
  what: string;
  /** Entries the harness did not write (for the kind found; every entry when no kind was found). */
  foreign: string[];
  /** A run folder's run.json (kind "run"; absent for a run of an older version without one). */
  run?: RunOwner;
  /** No kind of output, but images or annotation files: what looks like a dataset. */
  looksLikeData?: boolean;
  /** Run folders inside (kind "experiment" or "results"). */
  runs?: { path: string; run?: RunOwner }[];
}

const IMAGE = /\.(jpe?g|png|bmp|gif|webp|tiff?)$/i;
/** writeFileAtomic's temporary siblings (`<name>.<pid>.<n>.tmp`), left behind only by a kill. */
const TEMP = /\.\d+\.\d+\.tmp$/;

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as unknown;
  } catch {
    return undefined;
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function entriesOf(dir: string): { name: string; dir: boolean; link: boolean }[] {
  return readdirSync(dir, { withFileTypes: true }).map((d) => ({ name: d.name, dir: d.isDirectory(), link: d.isSymbolicLink() }));
}

function readRunOwner(dir: string): RunOwner | undefined {
  const m = readJson(join(dir, "run.json"));
  if (!isObj(m) || typeof m.experiment !== "string") return undefined;
  return m as unknown as RunOwner;
}

/** A run folder made by an older version: records or a summary, no run.json. */
function looksLikeOldRun(names: Set<string>): boolean {
  return names.has("samples.jsonl") || (names.has("summary.json") && names.has("config.resolved.yaml"));
}

const RUN_FILES = new Set(["run.json", "run.lock", "samples.jsonl", "summary.json", "config.resolved.yaml", "table.md", "table.csv", "table.tex", "report.html", "model-calls.jsonl", "report-assets"]);

/** Entries of a run folder the harness did not write. Plots come in .svg + .png pairs. */
function foreignInRun(dir: string): string[] {
  const es = entriesOf(dir);
  const names = new Set(es.map((e) => e.name));
  const foreign: string[] = [];
  for (const e of es) {
    if (TEMP.test(e.name) || /^run\.lock\.stale-\d+$/.test(e.name)) continue;
    if (e.name === "report-assets" && e.dir && !e.link) {
      for (const a of readdirSync(join(dir, e.name))) if (!/^ov-[0-9a-f]+\.jpg$/.test(a) && !TEMP.test(a)) foreign.push(`report-assets/${a}`);
      continue;
    }
    if (RUN_FILES.has(e.name) && !e.dir && !e.link) continue;
    const plot = /^(.+)\.(svg|png)$/.exec(e.name);
    if (plot && !e.dir && !e.link && names.has(`${plot[1]}.svg`) && names.has(`${plot[1]}.png`)) continue;
    foreign.push(e.name);
  }
  return foreign;
}

function describeRun(r: RunOwner | undefined): string {
  if (!r) return "a run folder of an older version (no run.json)";
  const shard = r.shard ? `, shard ${r.shard.index}/${r.shard.count}` : "";
  const merged = r.mergedFrom ? `, merged from ${r.mergedFrom.length} shard(s)` : "";
  return `a run of experiment ${r.experiment}${shard}${merged}`;
}

function list(names: readonly string[], n = 3): string {
  return `${names.slice(0, n).join(", ")}${names.length > n ? `, … (${names.length} in all)` : ""}`;
}

/** What a folder holds that no kind claims: a dataset, images, or other files. */
function describeForeign(names: readonly string[]): { what: string; looksLikeData: boolean } {
  const images = names.filter((n) => IMAGE.test(n)).length;
  const annotations = names.filter((n) => /^(instances|refs|annotations|captions|train\d|val\d)|\.p$|\.pkl$/i.test(n));
  if (annotations.length || images >= Math.max(1, names.length / 2)) {
    return { what: `what looks like a dataset (${[images ? `${images} image file(s)` : "", annotations.length ? list(annotations) : ""].filter(Boolean).join(", ")})`, looksLikeData: true };
  }
  return { what: `${names.length} file(s) or folder(s) the harness did not write (${list(names)})`, looksLikeData: false };
}

/**
 * Identify what a folder holds: nothing, a file, one of the harness's outputs (by the files that
 * kind writes), or something else (a dataset, other files), with the entries the harness did not write.
 */
export function identifyFolder(path: string): FolderInfo {
  const dir = resolve(path);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (err) {
    // A file where one of the parent folders should be: nothing can be written there.
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") return { path: dir, state: "file", what: "under a file, not a folder", foreign: [] };
    return { path: dir, state: "missing", what: "nothing (it does not exist)", foreign: [] };
  }
  if (!st.isDirectory()) return { path: dir, state: "file", what: "a file, not a folder", foreign: [basename(dir)] };
  const es = entriesOf(dir);
  if (es.length === 0) return { path: dir, state: "empty", what: "nothing (empty)", foreign: [] };
  const names = new Set(es.map((e) => e.name));
  const base = { path: dir, state: "folder" as const };

  const run = readRunOwner(dir);
  if (run || looksLikeOldRun(names)) return { ...base, kind: "run", what: describeRun(run), foreign: foreignInRun(dir), ...(run ? { run } : {}) };

  const options = names.has("options.json") ? readJson(join(dir, "options.json")) : undefined;
  if (names.has("records.jsonl") && isObj(options) && typeof options.draw === "string" && options.draw.startsWith("point-value")) {
    // Both generators write options.json and records.jsonl; the draw names which one did.
    const known = new Set(["options.json", "records.jsonl", "stats.json", "sheet.png"]);
    return { ...base, kind: "point-value-data", what: "a gen-point-value teacher set", foreign: es.filter((e) => !known.has(e.name) && !TEMP.test(e.name)).map((e) => e.name) };
  }
  if (names.has("options.json") && (names.has("records.jsonl") || names.has("data.json"))) {
    const known = new Set(["options.json", "records.jsonl", "data.json", "dataset_info.json", "stats.json", "sizes.png", "sheet.png", "images"]);
    return { ...base, kind: "vbr-data", what: "a gen-vbr training set", foreign: es.filter((e) => !known.has(e.name) && !TEMP.test(e.name)).map((e) => e.name) };
  }
  const summary = names.has("summary.json") ? readJson(join(dir, "summary.json")) : undefined;
  if (isObj(summary) && typeof summary.imagesWritten === "number" && typeof summary.annotationsWritten === "number") {
    // One JSON per image and the images themselves, under the COCO file names.
    return { ...base, kind: "sa1b", what: "a to-sa1b conversion", foreign: es.filter((e) => !(e.name.endsWith(".json") || IMAGE.test(e.name) || TEMP.test(e.name))).map((e) => e.name) };
  }
  const modelMeta = names.has("model.json") ? readJson(join(dir, "model.json")) : undefined;
  if (isObj(modelMeta) && isObj(modelMeta.userDefinedMetadata) && isObj(modelMeta.userDefinedMetadata.resagent) && modelMeta.userDefinedMetadata.resagent.kind === "point-value") {
    const known = new Set(["model.json", "weights.bin", "metrics.json", "provenance.json", ...["curves", "ranking-spiral", "ranking-random"].flatMap((n) => [`${n}.svg`, `${n}.png`])]);
    return { ...base, kind: "ranker-model", what: "a trained point-value ranker", foreign: es.filter((e) => !known.has(e.name) && !TEMP.test(e.name)).map((e) => e.name) };
  }
  if (names.has("model.json") && (names.has("provenance.json") || names.has("weights.bin"))) {
    const known = new Set(["model.json", "weights.bin", "metrics.json", "provenance.json", "reliability.svg", "reliability.png", "curves.svg", "curves.png"]);
    return { ...base, kind: "verifier-model", what: "a trained verifier model", foreign: es.filter((e) => !known.has(e.name) && !TEMP.test(e.name)).map((e) => e.name) };
  }
  const segmentJson = es.filter((e) => e.name.endsWith(".json") && names.has(e.name.replace(/\.json$/, ".overlay.png")));
  if (segmentJson.length) {
    const stems = new Set(segmentJson.map((e) => e.name.replace(/\.json$/, "")));
    const ours = (n: string) => TEMP.test(n) || [...stems].some((s) => n === `${s}.json` || n === `${s}.mask.png` || n === `${s}.overlay.png`);
    return { ...base, kind: "segment", what: "segment outputs", foreign: es.filter((e) => !ours(e.name)).map((e) => e.name) };
  }

  // Folders of run folders (an experiment), or of experiment folders (a results root).
  const subdirs = es.filter((e) => e.dir && !e.link);
  const runsIn = (d: string) =>
    entriesOf(d)
      .filter((e) => e.dir && !e.link)
      .flatMap((e) => {
        const p = join(d, e.name);
        const r = readRunOwner(p);
        return r || looksLikeOldRun(new Set(readdirSync(p))) ? [{ path: p, ...(r ? { run: r } : {}) }] : [];
      });
  const own = runsIn(dir);
  if (own.length) {
    const exps = [...new Set(own.map((r) => r.run?.experiment).filter((e): e is string => Boolean(e)))];
    const ok = (e: { name: string; dir: boolean; link: boolean }) => e.name === "latest" || /^\.latest\.\d+$/.test(e.name) || TEMP.test(e.name) || own.some((r) => r.path === join(dir, e.name));
    return { ...base, kind: "experiment", what: `the results of experiment ${exps.length ? exps.join(", ") : basename(dir)} (${own.length} run(s))`, foreign: es.filter((e) => !ok(e)).map((e) => e.name), runs: own };
  }
  const nested = subdirs.map((e) => ({ name: e.name, runs: runsIn(join(dir, e.name)) })).filter((x) => x.runs.length);
  if (nested.length || names.has("runs.json")) {
    // A results root also holds other outputs (segment/, bench/, fig4/) and a README: a container.
    return { ...base, kind: "results", what: `a results root (${nested.length} experiment folder(s): ${list(nested.map((x) => x.name))})`, foreign: [], runs: nested.flatMap((x) => x.runs) };
  }
  const all = es.map((e) => e.name);
  return { ...base, ...describeForeign(all), foreign: all };
}

export interface ClaimOptions {
  /** The flag, variable or argument that named the folder (named in every refusal). */
  origin: string;
  /** The kind of output the command writes there. */
  kind: OutputKind;
  /**
   * For a folder of the same kind: undefined to accept it, or why it is not this command's to
   * overwrite (another experiment's run, another generation).
   */
  accept?: (info: FolderInfo) => string | undefined;
  /**
   * Accept files the harness did not write beside the output (it never touches them): for
   * continuing the same output (a run resumed, a report redrawn), not for a folder handed over
   * as a new destination.
   */
  allowForeign?: boolean;
}

const KIND_WORDS: Record<OutputKind, string> = {
  results: "a results root",
  experiment: "an experiment's results folder",
  run: "a run folder",
  "vbr-data": "a gen-vbr output folder",
  "point-value-data": "a gen-point-value output folder",
  sa1b: "a to-sa1b output folder",
  "verifier-model": "a train-verifier output folder",
  "ranker-model": "a train-point-value output folder",
  segment: "a segment output folder",
};

/**
 * Check that a command may write its `kind` of output into `dir`: the folder is missing, empty,
 * or holds that kind of output and nothing the harness did not write (a results root is a
 * container and may hold anything beside its experiments). Throws an InputError naming the
 * origin, the folder and what is there; returns what was found.
 */
export function claimFolder(dir: string, o: ClaimOptions): FolderInfo {
  const info = identifyFolder(dir);
  const refuse = (why: string): never => {
    throw new InputError(`${info.path} ${why}; expected a new or empty folder, or ${KIND_WORDS[o.kind]}`, { field: o.origin });
  };
  if (info.state === "file") refuse(`is ${info.what}`);
  if (info.state === "missing" || info.state === "empty") return info;
  // A container of other things (a results root beside notes) is fine where foreign files are; a dataset is not.
  if (info.kind === undefined && o.allowForeign && o.kind === "results" && !info.looksLikeData) return info;
  if (info.kind !== o.kind) refuse(`holds ${info.what}`);
  if (info.foreign.length && o.kind !== "results" && !o.allowForeign) refuse(`holds ${info.what} and also ${info.foreign.length} file(s) the harness did not write (${list(info.foreign)})`);
  const reason = o.accept?.(info);
  if (reason) refuse(`holds ${info.what}: ${reason}`);
  return info;
}

/**
 * Delete a run folder for `--fresh`: only when its run.json says the harness made it for
 * `experiment` and it holds nothing the harness did not write. Anything else is refused, and
 * nothing is deleted.
 */
export async function removeRunFolder(dir: string, o: { experiment: string; origin: string; beforeRemove?: () => Promise<void> }): Promise<void> {
  const info = identifyFolder(dir);
  if (info.state === "missing") return;
  const refuse = (why: string): never => {
    throw new InputError(`--fresh deletes only a run folder made by the harness for experiment ${o.experiment}, and ${info.path} ${why}; delete it yourself or choose another run id`, { field: o.origin });
  };
  if (info.state === "file") refuse("is a file");
  if (info.state === "empty") {
    await o.beforeRemove?.();
    await rm(info.path, { recursive: true });
    return;
  }
  if (info.kind !== "run") refuse(`holds ${info.what}`);
  if (!info.run) refuse("has no run.json saying who made it");
  if (info.run!.experiment !== o.experiment) refuse(`holds ${info.what}`);
  if (info.foreign.length) refuse(`also holds ${info.foreign.length} file(s) the harness did not write (${list(info.foreign)})`);
  // The link itself, never what it points at; a run folder is a real folder.
  if (lstatSync(info.path).isSymbolicLink()) refuse("is a symbolic link");
  await o.beforeRemove?.();
  await rm(info.path, { recursive: true });
}

/**
 * Check that a command may (over)write the file `file`: it is missing, or `ours` recognises its
 * start (up to 64 KiB) as this command's earlier output. Throws an InputError naming the origin.
 */
export function claimFile(file: string, o: { origin: string; what: string; ours: (head: string) => boolean }): string {
  const abs = resolve(file);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") throw new InputError(`${abs} lies under a file, not in a folder`, { field: o.origin });
    return abs;
  }
  if (st.isDirectory()) throw new InputError(`${abs} is a folder, expected a file`, { field: o.origin });
  const head = readFileSync(abs).subarray(0, 64 * 1024).toString("utf8");
  if (!o.ours(head)) throw new InputError(`${abs} exists and is not ${o.what}; it is left alone: choose another file name, or delete it yourself`, { field: o.origin });
  return abs;
}
