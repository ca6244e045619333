import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { InputError, writeFileAtomic } from "@resagent/core";
import { tableMarkdown, type TableData } from "./table.js";

/**
 * Result numbers in the docs are generated, never copied by hand: a run is *published* into a small
 * committed manifest (`results/published/<name>.json`: the run's table and where it came from), and
 * every `<!-- results:<name> -->` ... `<!-- /results -->` block of README.md and docs/*.md is
 * rewritten from it (other block kinds, such as the commands' `--help`, are rendered the same way). A test checks the blocks are up to date, so a stale number fails CI.
 */
export const PUBLISHED_DIR = join("results", "published");
const FORMAT = "resagent-published/1";

interface PublishedBase {
  format: typeof FORMAT;
  /** The manifest's name: the block `<!-- results:<name> -->` renders it. */
  name: string;
  /** Where it came from, relative to the repository root. */
  source: string;
  gitCommit: string;
  createdAt: string;
}

/** An `exp` or `merge` run: its table as the run drew it, and its identity. */
export interface PublishedTable extends PublishedBase {
  kind: "table";
  experiment: string;
  runId: string;
  profile: string;
  seed: number;
  simulated: boolean;
  records: number;
  configHash: string;
  codeHash: string;
  table: TableData;
}

/** A flat list of measured figures (a bench run, a trained model's metrics). */
export interface PublishedFigures extends PublishedBase {
  kind: "figures";
  title: string;
  machine?: string;
  rows: { name: string; value: string; note?: string }[];
}

export type Published = PublishedTable | PublishedFigures;

function readJson(path: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new InputError(`${path}: cannot read ${what}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InputError(`${path}: not a JSON object (${what})`);
}

function field<T>(obj: Record<string, unknown>, key: string, file: string, check: (v: unknown) => v is T, expected: string): T {
  const v = obj[key];
  if (!check(v)) throw new InputError(`${file}: ${key}: expected ${expected}`);
  return v;
}
const isString = (v: unknown): v is string => typeof v === "string" && v.length > 0;
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v);

/** Only committed code makes published numbers: a dirty tree's figures could not be reproduced. */
function requireClean(commit: string, file: string, allowDirty: boolean): void {
  if (allowDirty) return;
  if (commit.endsWith("-dirty") || commit === "unknown") throw new InputError(`${file}: gitCommit is "${commit}": publish only runs made from a committed tree (or pass --allow-dirty for a draft)`);
}

/**
 * The manifest of a run folder (summary.json, as `exp`/`merge` wrote it) or of a bench result
 * (`results/bench/*.json`): what `resagent publish` writes into results/published/.
 */
export function publishedFrom(root: string, path: string, options: { name?: string; allowDirty?: boolean } = {}): Published {
  // `latest` is a link: the manifest names the run folder itself.
  const abs = existsSync(path) ? realpathSync(path) : resolve(path);
  const source = relative(root, abs) || ".";
  if (existsSync(abs) && statSync(abs).isDirectory() && existsSync(join(abs, "metrics.json")) && !existsSync(join(abs, "summary.json"))) return trainedModelFigures(abs, source, options);
  if (existsSync(abs) && statSync(abs).isDirectory()) {
    const file = join(abs, "summary.json");
    const s = readJson(file, "a run's summary (run `resagent report` or finish the run first)");
    const gitCommit = field(s, "gitCommit", file, isString, "a commit");
    requireClean(gitCommit, file, options.allowDirty ?? false);
    if (s.partial) throw new InputError(`${file}: a PARTIAL merge (some shards missing) cannot be published`);
    const experiment = field(s, "experiment", file, isString, "the experiment's name");
    const table = field(s, "table", file, isObject, "the run's table") as unknown as TableData;
    if (!Array.isArray(table.headers) || !Array.isArray(table.rows)) throw new InputError(`${file}: table: expected headers and rows`);
    return {
      format: FORMAT,
      kind: "table",
      name: options.name ?? experiment,
      source,
      experiment,
      runId: basename(abs),
      profile: field(s, "profile", file, isString, "a profile name"),
      seed: field(s, "seed", file, isNumber, "a number"),
      simulated: field(s, "simulated", file, isBoolean, "true or false"),
      records: field(s, "records", file, isNumber, "a number"),
      configHash: field(s, "configHash", file, isString, "a hash"),
      codeHash: field(s, "codeHash", file, isString, "a hash"),
      gitCommit,
      createdAt: field(s, "createdAt", file, isString, "a date"),
      table,
    };
  }
  const b = readJson(abs, "a bench result (results/bench/*.json) or a run folder");
  const rows = field(b, "rows", abs, Array.isArray, "the bench's rows") as unknown[];
  const gitCommit = field(b, "commit", abs, isString, "a commit");
  requireClean(gitCommit, abs, options.allowDirty ?? false);
  return {
    format: FORMAT,
    kind: "figures",
    name: options.name ?? basename(abs).replace(/\.json$/, ""),
    source,
    title: typeof b.title === "string" ? b.title : `pnpm bench (${basename(abs)})`,
    ...(typeof b.machine === "string" ? { machine: b.machine } : {}),
    gitCommit,
    createdAt: field(b, "date", abs, isString, "a date"),
    rows: rows.map((r, i) => {
      if (!isObject(r) || !isString(r.suite) || !isString(r.name) || !isNumber(r.value)) throw new InputError(`${abs}: rows[${i}]: expected {suite, name, value, unit}`);
      return { name: `${r.suite}: ${r.name}`, value: `${formatFigure(r.value)}${typeof r.unit === "string" && r.unit ? ` ${r.unit}` : ""}`, ...(typeof r.note === "string" ? { note: r.note } : {}) };
    }),
  };
}

const pct = (v: unknown) => (isNumber(v) ? `${(100 * v).toFixed(1)}%` : "–");
const interval = (v: unknown) => {
  const [lo, hi] = Array.isArray(v) ? (v as unknown[]) : [];
  return isNumber(lo) && isNumber(hi) ? `${(100 * lo).toFixed(1)}–${(100 * hi).toFixed(1)}%` : "–";
};

/** A model folder written by `train-verifier` or `train-point-value` (metrics.json + provenance.json): its held-out figures. */
function trainedModelFigures(dir: string, source: string, options: { name?: string; allowDirty?: boolean }): PublishedFigures {
  const mFile = join(dir, "metrics.json");
  const pFile = join(dir, "provenance.json");
  const m = readJson(mFile, "a trained model's metrics");
  const prov = readJson(pFile, "a trained model's provenance");
  const gitCommit = field(prov, "gitCommit", pFile, isString, "a commit");
  requireClean(gitCommit, pFile, options.allowDirty ?? false);
  const held = field(m, "heldOut", mFile, isObject, "held-out metrics");
  const secs = isObject(m.seconds) ? m.seconds : {};
  const data = isObject(prov.data) ? prov.data : {};
  const backend = isObject(m.backend) ? `${String(m.backend.package ?? "?")}@${String(m.backend.version ?? "?")} (${String(m.backend.backend ?? "?")})` : "–";
  const s = (v: unknown) => (isNumber(v) ? `${v.toFixed(0)} s` : "–");
  const time = { name: "time: CPU / wall", value: `${s(secs.cpu)} / ${s(secs.wall)}`, note: `data ${s(secs.data)}, training ${s(secs.training)}` };
  const head = {
    format: FORMAT as typeof FORMAT,
    kind: "figures" as const,
    name: options.name ?? basename(dir),
    source,
    title: `${basename(dir)}: held-out figures of the trained model (${typeof m.trainedOn === "string" ? m.trainedOn : "unknown data"})`,
    ...(typeof prov.machine === "string" ? { machine: prov.machine } : {}),
    gitCommit,
    createdAt: field(prov, "date", pFile, isString, "a date"),
  };
  // train-point-value: per candidate pool, the held-out rankings at each k (lists with more than k candidates only).
  if (Array.isArray(held.spiral) || Array.isArray(held.random)) {
    const v = (x: unknown) => (isNumber(x) ? x.toFixed(4) : "–");
    const rows = (["spiral", "random"] as const).flatMap((pool) =>
      (Array.isArray(held[pool]) ? (held[pool] as unknown[]) : []).filter(isObject).filter((r) => isNumber(r.lists) && r.lists > 0).map((r) => ({
        name: `${pool} pool, k = ${String(r.k)}: mean teacher value of the first k, learned / spiral / oracle (UPPER BOUND) / random`,
        value: `${v(r.learned)} / ${v(r.spiral)} / ${v(r.oracle)} / ${v(r.random)}`,
        note: `share of the spiral-to-oracle gap closed ${isNumber(r.gapClosed) ? r.gapClosed.toFixed(2) : "n/a"}, bootstrap over held-out images ${Array.isArray(r.gapClosedBootstrap95ByImage) ? `[${(r.gapClosedBootstrap95ByImage as unknown[]).map((x) => (isNumber(x) ? x.toFixed(2) : "?")).join(", ")}]` : "–"}; ${String(r.lists)} lists`,
      })),
    );
    return { ...head, rows: [...rows, time, { name: "backend", value: backend }] };
  }
  const train = field(m, "train", mFile, isObject, "train metrics");
  return {
    ...head,
    rows: [
      { name: "held-out accuracy", value: pct(held.accuracy), note: `Wilson 95% ${interval(held.accuracyWilson95)}; bootstrap over held-out images ${interval(held.accuracyBootstrap95ByImage)}` },
      { name: "held-out precision / recall / F1", value: `${pct(held.precision)} / ${pct(held.recall)} / ${pct(held.f1)}` },
      { name: "held-out ECE / log loss", value: `${isNumber(held.ece) ? held.ece.toFixed(3) : "–"} / ${isNumber(held.logLoss) ? held.logLoss.toFixed(3) : "–"}` },
      { name: "held-out queries (n)", value: String(held.n ?? "–"), note: `${String(data.heldOut ?? "?")} held-out of ${String(data.records ?? "?")} records; split by source image` },
      { name: "train accuracy", value: pct(train.accuracy), note: `n = ${String(train.n ?? "?")}` },
      time,
      { name: "backend", value: backend },
    ],
  };
}

function formatFigure(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function publishedPath(root: string, name: string): string {
  if (!/^[\w.+-]+$/.test(name)) throw new InputError(`--name ${JSON.stringify(name)}: expected letters, digits, . _ + - (it names results/published/<name>.json)`);
  return join(root, PUBLISHED_DIR, `${name}.json`);
}

export async function writePublished(root: string, p: Published): Promise<string> {
  const path = publishedPath(root, p.name);
  await writeFileAtomic(path, `${JSON.stringify(p, null, 2)}\n`);
  return path;
}

export function readPublished(root: string, name: string, where: string): Published {
  const path = publishedPath(root, name);
  if (!existsSync(path)) throw new InputError(`${where}: names results/published/${name}.json, which does not exist (publish a run: pnpm resagent publish <run dir> --name ${name})`);
  const p = readJson(path, "a published manifest");
  if (p.format !== FORMAT || (p.kind !== "table" && p.kind !== "figures")) throw new InputError(`${path}: format: expected "${FORMAT}" with kind table or figures`);
  return p as unknown as Published;
}

const shortCommit = (c: string) => c.slice(0, 10);

/** The block's text: the table as the run drew it, stamped with the run, commit and n. */
export function renderPublished(p: Published): string {
  if (p.kind === "table") {
    // The run's own title line becomes bold text: docs pick their own heading levels.
    const md = tableMarkdown(p.table).replace(/^### (.*)$/m, "**$1**");
    return `${md}\n<sub>Generated from \`results/published/${p.name}.json\`: run \`${p.experiment}/${p.runId}\`, ${p.records} records, commit ${shortCommit(p.gitCommit)}, ${p.createdAt.slice(0, 10)}. Rerun: \`pnpm exp ${p.experiment}\`; republish: \`pnpm resagent publish ${p.source} --name ${p.name}\`.</sub>\n`;
  }
  const lines = [`**${p.title}**`, "", "| measured | value | note |", "|---|---|---|"];
  for (const r of p.rows) lines.push(`| ${r.name.replace(/\|/g, "\\|")} | ${r.value} | ${(r.note ?? "").replace(/\|/g, "\\|")} |`);
  lines.push("", `<sub>Generated from \`results/published/${p.name}.json\`${p.machine ? `: ${p.machine}` : ""}, commit ${shortCommit(p.gitCommit)}, ${p.createdAt.slice(0, 10)}.</sub>`);
  return `${lines.join("\n")}\n`;
}

/** Renders one generated block from its argument (`<!-- kind:arg -->`) in the doc `file`; `where` names the doc and block for errors. */
export type BlockRenderer = (arg: string, at: { file: string; where: string }) => string;

const BLOCK = /<!-- ([a-z]+):([\w.+-]+) -->\n[\s\S]*?<!-- \/\1 -->/g;

/** The files whose blocks are generated: README.md and every docs/*.md. */
export function generatedDocFiles(root: string): string[] {
  const docs = join(root, "docs");
  const inDocs = existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith(".md")).map((f) => join(docs, f)) : [];
  return [join(root, "README.md"), ...inDocs.sort()];
}

/**
 * A doc's text with every generated block rendered afresh: `results` blocks from their published
 * manifests, other kinds by the renderers given (the CLI adds its `--help` texts).
 */
export function regenerateDoc(root: string, file: string, text: string, renderers: Record<string, BlockRenderer> = {}): string {
  const all: Record<string, BlockRenderer> = { results: (name, at) => renderPublished(readPublished(root, name, at.where)), packages: (arg, at) => packageMap(root, arg, at), ...renderers };
  return text.replace(BLOCK, (_, kind: string, arg: string) => {
    const where = `${relative(root, file)}: <!-- ${kind}:${arg} -->`;
    const render = all[kind];
    if (!render) throw new InputError(`${where}: unknown block kind "${kind}" (known: ${Object.keys(all).join(", ")})`);
    return `<!-- ${kind}:${arg} -->\n${render(arg, { file, where })}<!-- /${kind} -->`;
  });
}

/** `<!-- packages:index -->`: every workspace package and its job, as its package.json describes it. */
function packageMap(root: string, arg: string, at: { file: string; where: string }): string {
  if (arg !== "index") throw new InputError(`${at.where}: expected <!-- packages:index -->`);
  const dir = join(root, "packages");
  const rows = readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, "package.json")))
    .sort()
    .map((d) => {
      const pkg = readJson(join(dir, d, "package.json"), "a package manifest");
      return `| [\`${String(pkg.name)}\`](${relative(dirname(at.file), join(dir, d))}) | ${String(pkg.description ?? "").replace(/\|/g, "\\|")} |`;
    });
  return `| package | its job |\n|---|---|\n${rows.join("\n")}\n`;
}

/** Rewrite (or, with `check`, only compare) every generated doc; returns each doc that has blocks, and whether it was or is stale. */
export async function regenerateDocs(root: string, options: { check: boolean; renderers?: Record<string, BlockRenderer> }): Promise<{ file: string; stale: boolean; blocks: number }[]> {
  const out: { file: string; stale: boolean; blocks: number }[] = [];
  for (const file of generatedDocFiles(root)) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    const blocks = [...text.matchAll(BLOCK)].length;
    if (!blocks) continue;
    const fresh = regenerateDoc(root, file, text, options.renderers);
    const stale = fresh !== text;
    if (stale && !options.check) await writeFileAtomic(file, fresh);
    out.push({ file, stale, blocks });
  }
  return out;
}

/** Every manifest under results/published/ (for `resagent publish --list`). */
export function listPublished(root: string): string[] {
  const dir = join(root, PUBLISHED_DIR);
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort() : [];
}
