import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { InputError, formatPath, isObject, issueError, suggest } from "@resagent/core";
import { PIPELINE_DEFAULTS, parsePipelineConfig, pipelineStandIns, type PipelineConfig, type PipelineInput } from "@resagent/pipeline";
import { parse } from "yaml";
import type { z } from "zod";
import { LayeredConfig, type Source } from "./layers.js";
import { parseValue } from "./merge.js";
import { ExperimentFileStructure, ExperimentSchema, ExperimentStructure, PIPELINE_KEYS, ProfileFileStructure, type CellSpec, type DatasetRef, type ExperimentConfig, type ProfileFile } from "./schema.js";

/** The repository root: the nearest folder up from `from` holding experiments/ and configs/. */
export function findRoot(from = process.cwd()): string {
  if (process.env.RESAGENT_ROOT) return resolve(process.env.RESAGENT_ROOT);
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, "experiments")) && existsSync(join(dir, "configs", "profiles"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new InputError(`no experiments/ and configs/profiles/ found above ${from}; run from the repository or set RESAGENT_ROOT`);
    dir = up;
  }
}

export function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new InputError("cannot read config file", { file });
  }
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new InputError(`invalid YAML: ${(err as Error).message.split("\n")[0]}`, { file });
  }
  if (!isObject(data)) throw new InputError("expected a YAML map at the top level", { file });
  return data;
}

export function experimentNames(root = findRoot()): string[] {
  return readdirSync(join(root, "experiments"))
    .filter((f) => f.endsWith(".yaml") && !f.startsWith("_"))
    .map((f) => f.replace(/\.yaml$/, ""))
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}

export function profileNames(root = findRoot()): string[] {
  return readdirSync(join(root, "configs", "profiles"))
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.replace(/\.yaml$/, ""));
}

/** Validate against a schema and throw the first problem as one line. */
function check<T>(schema: z.ZodType<T>, value: unknown, where: (path: readonly PropertyKey[]) => { file?: string; field: string }, base: readonly PropertyKey[] = []): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw issueError(schema, value, r.error.issues, where, base);
}

/** The files of an experiment in the order they apply: `extends:` parents first, the file itself last. */
function extendsChain(file: string, root: string, seen: string[] = []): { file: string; data: Record<string, unknown> }[] {
  if (seen.includes(file)) throw new InputError(`extends cycle: ${[...seen, file].join(" -> ")}`, { file, field: "extends" });
  const data = readYaml(file);
  check(ExperimentFileStructure, data, (p) => ({ file: display(file, root), field: formatPath(p) }));
  const parents = data.extends === undefined ? [] : Array.isArray(data.extends) ? data.extends : [data.extends];
  const chain: { file: string; data: Record<string, unknown> }[] = [];
  for (const p of parents as string[]) {
    const candidates = [join(dirname(file), `${p}.yaml`), join(root, "configs", `${p}.yaml`), join(root, "experiments", `${p}.yaml`)];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new InputError(`extends "${p}" not found (looked for ${candidates.map((c) => display(c, root)).join(", ")})`, { file: display(file, root), field: "extends" });
    chain.push(...extendsChain(found, root, [...seen, file]));
  }
  const { extends: _e, ...own } = data;
  chain.push({ file, data: own });
  return chain;
}

/** Paths shown relative to the repository, as a user would type them. */
function display(file: string, root: string): string {
  const r = relative(root, file);
  return r.startsWith("..") ? file : r;
}

export interface LoadOptions {
  profile?: string;
  /** --set key.path=value, in order; pipeline keys may be written with or without `pipeline.`. */
  set?: string[];
  /** --sweep key.path=v1,v2 (pipeline keys, with or without `pipeline.`): one column group per value. */
  sweep?: string[];
  /** Run a preset's declared stand-in when the preset needs an unset environment variable. */
  allowStandIns?: boolean;
  root?: string;
}

/** A preset that could not be used because its environment is unset, or the stand-in that ran for it. */
export interface StandIn {
  preset: string;
  /** The preset run in its place; absent when none ran (the cell is missing something). */
  use?: string;
  /** Environment variables the preset needs that are unset (none for a component that is a stand-in by its settings). */
  unset: string[];
  note?: string;
}

/** "@x ran in place of @y (VAR unset): note", or for a component that stands in by its settings "<component>: note". */
export function describeStandIn(x: StandIn): string {
  return x.unset.length ? `@${x.use} ran in place of @${x.preset} (${x.unset.join(", ")} unset)${x.note ? `: ${x.note}` : ""}` : `${x.preset}: ${x.note ?? x.use}`;
}

export interface LoadedCell {
  id: string;
  row: string;
  column: string;
  label: string;
  note?: string;
  pipeline: PipelineConfig;
  /** Presets replaced by stand-ins (--allow-stand-ins), recorded in the summary and the table. */
  standIns: StandIn[];
  /** Presets this cell needs whose environment variables are unset (and no stand-in was allowed). */
  missing: StandIn[];
  /** False in a --sweep column group whose values differ from what the cell sets without it (the paper's setting). */
  paperSetting: boolean;
  /** The dataset columns this cell runs on; absent: every one. */
  datasets?: string[];
}

export interface LoadedExperiment {
  config: ExperimentConfig;
  file: string;
  /**
   * Every concrete cell. `row` is the table row (cell id + values of the file's sweep axes);
   * `column` the suffix of command-line --sweep values, which become extra columns.
   */
  cells: LoadedCell[];
  /** Things the user should know before the run (a --set that overrides what cells set themselves). */
  warnings: string[];
  /** Per column sweep group, the pipeline values it sets, for "is this the paper's setting" checks. */
  columnSweepValues: Record<string, unknown>[];
}

/** "key.path=value" split at the first "=". */
function parseAssign(s: string, flag: string): [string, string] {
  const i = s.indexOf("=");
  if (i <= 0) throw new InputError(`expected key.path=value, got "${s}"`, { field: flag });
  return [s.slice(0, i).trim(), s.slice(i + 1)];
}

/**
 * A command-line key as a path from the experiment root. `pipeline.verifier.tau` and the
 * pipeline-relative `verifier.tau` are the same key; everything else is a top-level key.
 */
function keyPath(key: string, flag: string, pipelineOnly: boolean): string[] {
  const parts = key.split(".");
  if (parts.some((p) => p === "")) throw new InputError(`expected a dotted key path, got "${key}"`, { field: flag });
  if (parts[0] === "pipeline") {
    if (parts.length === 1) throw new InputError("name a key inside pipeline, e.g. pipeline.verifier.tau", { field: flag });
    return parts;
  }
  if ((PIPELINE_KEYS as string[]).includes(parts[0]!)) return ["pipeline", ...parts];
  if (pipelineOnly) throw new InputError(`"${parts[0]}" is not a pipeline key; ${suggest(parts[0]!, PIPELINE_KEYS)}`, { field: flag });
  const top = Object.keys(ExperimentSchema.shape);
  if (!top.includes(parts[0]!)) throw new InputError(`unknown key "${parts[0]}"; ${suggest(parts[0]!, [...top, ...PIPELINE_KEYS.map((k) => `pipeline.${k}`)])}`, { field: flag });
  return parts;
}

const SCHEMA_DEFAULTS = { version: 1, seed: 0, limit: 50, concurrency: 2, sweep: {}, paper: {}, plots: [], notes: [], pipeline: PIPELINE_DEFAULTS };

/** `${ENV}` or `${ENV:-default}` inside a config string (name in group 1, default in group 2). */
export const ENV_REFERENCE = /\$\{(\w+)(?::-([^}]*))?\}/g;

/**
 * ${ENV} and ${ENV:-default} in strings. `${ENV}` with ENV unset or empty is recorded in `unset`
 * and left as written, so the config still resolves (and shows what it waits for) while the
 * cells that need it are reported missing instead of running with an empty value.
 */
function expandEnv(v: unknown, unset: Set<string>): unknown {
  if (typeof v === "string")
    return v.replace(ENV_REFERENCE, (whole, name: string, def?: string) => {
      const val = process.env[name];
      if (val !== undefined && val !== "") return val;
      if (def !== undefined) return def;
      unset.add(name);
      return whole;
    });
  if (Array.isArray(v)) return v.map((x) => expandEnv(x, unset));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandEnv(x, unset)]));
  return v;
}

interface Profile {
  name: string;
  file: string;
  data: ProfileFile;
  /** Environment variables the profile's defaults and datasets need that are unset. */
  unset: Set<string>;
}

function loadProfile(name: string, root: string): Profile {
  const path = join(root, "configs", "profiles", `${name}.yaml`);
  if (!existsSync(path)) throw new InputError(`unknown profile "${name}"; ${suggest(name, profileNames(root))}`, { field: "--profile" });
  const file = display(path, root);
  const raw = readYaml(path);
  const unset = new Set<string>();
  // Presets expand when used (a preset's unset variables concern only the cells that use it).
  const expanded = { ...raw, ...(raw.datasets ? { datasets: expandEnv(raw.datasets, unset) } : {}), ...(raw.defaults ? { defaults: expandEnv(raw.defaults, unset) } : {}) };
  const data = check(ProfileFileStructure, expanded, (p) => ({ file, field: formatPath(p) })) as ProfileFile;
  for (const [k, s] of Object.entries(data.standIns ?? {})) {
    if (!data.presets?.[k]) throw new InputError(`no preset "${k}" to stand in for; ${suggest(k, Object.keys(data.presets ?? {}))}`, { file, field: `standIns.${k}` });
    if (!data.presets?.[s.use]) throw new InputError(`unknown preset "${s.use}"; ${suggest(s.use, Object.keys(data.presets ?? {}))}`, { file, field: `standIns.${k}.use` });
  }
  return { name, file, data, unset };
}

/**
 * Load an experiment by name (experiments/<name>.yaml) or path, merged as schema defaults <
 * profile < experiment files (extends first) < --set, then per cell: cell set < file sweep < --set
 * (pipeline keys) < --sweep. Presets resolve first and replace the inherited component; later
 * keys apply inside them. Every cell's resolved pipeline is checked against the schema here,
 * before any sample is touched, and every error names where the value came from.
 */
export function loadExperiment(nameOrPath: string, opts: LoadOptions = {}): LoadedExperiment {
  const root = opts.root ?? findRoot();
  const path = nameOrPath.endsWith(".yaml") ? resolve(nameOrPath) : join(root, "experiments", `${nameOrPath}.yaml`);
  if (!existsSync(path)) throw new InputError(`no experiment "${nameOrPath}"; ${suggest(nameOrPath, experimentNames(root))}`, { file: display(path, root) });
  const file = display(path, root);
  const chain = extendsChain(path, root);
  const own = chain[chain.length - 1]!.data;
  const profile = loadProfile(opts.profile ?? (typeof own.profile === "string" ? own.profile : "embedded"), root);
  const presets = (profile.data.presets ?? {}) as Record<string, unknown>;

  // Preset use is recorded per cell: which presets were replaced by stand-ins, which are missing.
  let presetLog: { standIns: StandIn[]; missing: StandIn[] } = { standIns: [], missing: [] };
  const resolvePreset = (name: string, usedAt: { file?: string; field: string }, seen: string[] = []): { value: unknown; source: Source } => {
    const via = `preset "@${name}" named by ${usedAt.file ? `${usedAt.file}: ` : ""}${usedAt.field}`;
    if (!(name in presets)) throw new InputError(`unknown preset "@${name}" (profile ${profile.name}); ${suggest(name, Object.keys(presets))}`, usedAt);
    const unset = new Set<string>();
    const value = expandEnv(presets[name], unset);
    const standIn = profile.data.standIns?.[name];
    if (unset.size > 0) {
      const entry = { preset: name, unset: [...unset], ...(standIn?.note ? { note: standIn.note } : {}) };
      if (opts.allowStandIns && standIn && !seen.includes(standIn.use)) {
        presetLog.standIns.push({ ...entry, use: standIn.use });
        return resolvePreset(standIn.use, usedAt, [...seen, name]);
      }
      presetLog.missing.push(entry);
    }
    return { value, source: { file: profile.file, field: `presets.${name}`, via } };
  };

  const tree = new LayeredConfig(resolvePreset);
  tree.apply(SCHEMA_DEFAULTS, { fixed: "(schema default)" });
  tree.apply({ ...profile.data.defaults }, { file: profile.file, field: "defaults" });
  for (const f of chain) tree.apply(f.data, { file: display(f.file, root) });
  const cellSets: { path: string[]; value: unknown; source: Source }[] = [];
  const setAt = new Map<string, { flag: string; value: unknown }>();
  for (const s of opts.set ?? []) {
    const [k, raw] = parseAssign(s, "--set");
    const p = keyPath(k, `--set ${s}`, false);
    // The same key twice with two values is a contradiction, not an order to resolve silently.
    const before = setAt.get(p.join("."));
    if (before && JSON.stringify(before.value) !== JSON.stringify(parseValue(raw))) throw new InputError(`sets ${p.join(".")} again, to another value than --set ${before.flag} (or its shorthand flag); give it once`, { field: `--set ${s}` });
    setAt.set(p.join("."), { flag: s, value: parseValue(raw) });
    const source = { fixed: `--set ${s}` };
    // Pipeline keys apply after each cell's own settings (a flag wins over the file).
    if (p[0] === "pipeline") cellSets.push({ path: p, value: parseValue(raw), source });
    else tree.apply(parseValue(raw), source, p);
  }
  tree.value.profile = profile.name;
  const { pipeline: expPipeline, ...rest } = tree.value;
  // A key no layer sets (a missing `cells:`) has no origin: it is missing from the experiment file.
  check(ExperimentStructure, rest, (p) => {
    const at = tree.locate(p);
    return at.file || tree.originOf(p) ? at : { file, ...at };
  });
  const merged = { ...rest, pipeline: expPipeline } as Record<string, unknown>;
  checkCrossReferences(merged as unknown as ExperimentConfig, tree);
  const atExperiment = presetLog;

  const datasetMap = (profile.data.datasets ?? {}) as Record<string, DatasetRef>;
  const resolvedDatasets: Record<string, DatasetRef> = {};
  for (const [col, spec] of Object.entries(merged.datasets as ExperimentConfig["datasets"])) {
    const { use: id, ...unit } = typeof spec === "string" ? { use: spec } : spec;
    const ref = datasetMap[id];
    if (!ref) throw new InputError(`profile "${profile.name}" has no dataset "${id}"; ${suggest(id, Object.keys(datasetMap))}`, tree.locate(["datasets", col, ...(typeof spec === "string" ? [] : ["use"])]));
    // The sample unit is the experiment's choice; the profile says where the data is.
    resolvedDatasets[col] = { ...ref, ...unit };
  }
  const config = { ...merged, resolvedDatasets, notes: [...(profile.data.notes ?? []), ...(merged.notes as string[])] } as unknown as ExperimentConfig;

  // Sweeps: the file's rows, the command line's column groups. Values are checked with the cells.
  const rowAxes = Object.entries(config.sweep).map(([k, values]) => {
    const p = keyPath(k, `${file}: sweep.${k}`, true);
    return { key: k, path: p, values: values.map((v, i) => ({ value: v, source: { file: tree.locate(["sweep", k]).file ?? file, fixed: `sweep.${k}[${i}]` } as Source })) };
  });
  const colAxes = (opts.sweep ?? []).map((s) => {
    const [k, raw] = parseAssign(s, "--sweep");
    const p = keyPath(k, `--sweep ${s}`, true);
    const items = raw.split(",").map((x) => x.trim());
    if (items.some((x) => x === "")) throw new InputError(`empty value in "${raw}"`, { field: `--sweep ${s}` });
    const values = items.map(parseValue);
    const dup = values.find((v, i) => values.findIndex((w) => JSON.stringify(w) === JSON.stringify(v)) !== i);
    if (dup !== undefined) throw new InputError(`value ${JSON.stringify(dup)} is listed twice`, { field: `--sweep ${s}` });
    const short = p.slice(1).join(".");
    return { key: short, path: p, values: values.map((v) => ({ value: v, source: { fixed: `--sweep ${short}=${JSON.stringify(v)}` } as Source })) };
  });
  const seenKeys = new Set<string>();
  for (const a of [...rowAxes, ...colAxes]) {
    const k = a.path.join(".");
    if (seenKeys.has(k)) throw new InputError(`"${a.key}" is swept twice`, { field: "--sweep" });
    seenKeys.add(k);
  }
  type Axis = (typeof rowAxes)[number];
  type Combo = { axis: Axis; value: unknown; source: Source }[];
  const product = (axes: Axis[]): Combo[] => {
    let combos: Combo[] = [[]];
    for (const axis of axes) combos = combos.flatMap((c) => axis.values.map((v) => [...c, { axis, ...v }]));
    return combos;
  };
  const describe = (combo: Combo) => combo.map((c) => `${c.axis.key}=${typeof c.value === "string" ? c.value : JSON.stringify(c.value)}`).join(", ");
  const rowCombos = product(rowAxes);
  const colCombos = product(colAxes);
  config.columnSweeps = colCombos.map(describe).filter(Boolean);

  const warnings: string[] = [];
  const cells: LoadedCell[] = [];
  const overridden = new Map<string, string[]>();
  config.cells.forEach((cell: CellSpec, i) => {
    for (const rowCombo of rowCombos) {
      for (const colCombo of colCombos) {
        presetLog = { standIns: [...atExperiment.standIns], missing: [...atExperiment.missing] };
        const t = tree.clone();
        if (cell.set) t.apply(cell.set, { file: tree.locate(["cells", i]).file ?? file, field: `cells[${i}].set` }, ["pipeline"]);
        for (const c of rowCombo) t.apply(c.value, c.source, c.axis.path);
        for (const s of cellSets) {
          const own = t.sourcesUnder(s.path).filter((src) => src.field?.startsWith("cells[") || src.fixed?.startsWith("sweep."));
          if (own.length) overridden.set(s.source.fixed!, [...(overridden.get(s.source.fixed!) ?? []), cell.id]);
          t.apply(s.value, s.source, s.path);
        }
        let paperSetting = true;
        for (const c of colCombo) {
          const before = c.axis.path.reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), t.value);
          if (JSON.stringify(before) !== JSON.stringify(c.value)) paperSetting = false;
          t.apply(c.value, c.source, c.axis.path);
        }
        // The pipeline package's parse (the same a direct API user calls): defaults filled in, every error located.
        const pipeline = parsePipelineConfig(t.value.pipeline as PipelineInput, (p) => t.locate(p), ["pipeline"]);
        const row = describe(rowCombo) ? `${cell.id} | ${describe(rowCombo)}` : cell.id;
        const column = describe(colCombo);
        const inUse = t.presetsInUse();
        // Presets run in place of unset ones, and components that are stand-ins by their settings.
        const standIns = dedupe([
          ...presetLog.standIns.filter((x) => x.use && inUse.has(x.use)),
          ...pipelineStandIns(pipeline).map((c) => ({ preset: c.component, use: c.component, unset: [], note: c.note })),
        ]);
        const note = [cell.note, ...standIns.map((x) => `STAND-IN: ${describeStandIn(x)}`)].filter(Boolean).join("; ");
        cells.push({
          id: column ? `${row} | ${column}` : row,
          row,
          column,
          label: cell.label ?? cell.id,
          ...(note ? { note } : {}),
          pipeline,
          standIns,
          missing: dedupe(presetLog.missing.filter((x) => inUse.has(x.preset))),
          paperSetting,
          ...(cell.datasets ? { datasets: cell.datasets } : {}),
        });
      }
    }
  });
  for (const [flag, ids] of overridden) warnings.push(`${flag} replaces what ${[...new Set(ids)].length === config.cells.length ? "every cell" : `cell(s) ${[...new Set(ids)].join(", ")}`} set(s) itself`);
  if (profile.unset.size) warnings.push(`profile ${profile.name}: unset environment variable(s) ${[...profile.unset].join(", ")} (dataset roots or defaults are empty)`);
  const columnSweepValues = colCombos.map((combo) => Object.fromEntries(combo.map((c) => [c.axis.path.slice(1).join("."), c.value])));
  return { config, file, cells, warnings, columnSweepValues };
}

function dedupe(xs: StandIn[]): StandIn[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(x.preset) ? false : (seen.add(x.preset), true)));
}

/** What the schema cannot see alone: ids unique, columns naming real datasets, plots naming real columns, paper rows naming real rows. */
function checkCrossReferences(c: ExperimentConfig, tree: LayeredConfig): void {
  const fail = (path: PropertyKey[], msg: string): never => {
    throw new InputError(msg, tree.locate(path));
  };
  if (Object.keys(c.datasets).length === 0) fail(["datasets"], "expected at least one dataset (column id: dataset id, e.g. val: refcoco/val)");
  const ids = new Set<string>();
  c.cells.forEach((cell, i) => {
    if (ids.has(cell.id)) fail(["cells", i, "id"], `duplicate cell id "${cell.id}"`);
    ids.add(cell.id);
  });
  const datasetIds = Object.keys(c.datasets);
  c.cells.forEach((cell, i) => cell.datasets?.forEach((d, j) => datasetIds.includes(d) || fail(["cells", i, "datasets", j], `unknown dataset column "${d}"; ${suggest(d, datasetIds)}`)));
  c.table.columns.forEach((col, i) => {
    if ("dataset" in col && col.dataset !== undefined && col.dataset !== "all" && !datasetIds.includes(col.dataset)) fail(["table", "columns", i, "dataset"], `unknown dataset column "${col.dataset}"; ${suggest(col.dataset, [...datasetIds, "all"])}`);
    if ("average" in col) col.average.forEach((d, j) => datasetIds.includes(d) || fail(["table", "columns", i, "average", j], `unknown dataset column "${d}"; ${suggest(d, datasetIds)}`));
  });
  const headers = c.table.columns.map((col) => col.header);
  c.plots.forEach((p, i) => {
    if (p.kind !== "confusion" && !p.column && !p.columns) fail(["plots", i], `a ${p.kind} plot needs column: (one of ${headers.join(", ")})`);
    for (const [j, h] of (p.columns ?? (p.column ? [p.column] : [])).entries()) {
      if (!headers.includes(h)) fail(["plots", i, p.columns ? "columns" : "column", ...(p.columns ? [j] : [])], `unknown column "${h}"; ${suggest(h, headers)}`);
    }
  });
  const rowIds = new Set(c.table.paperOnlyRows ?? []);
  const sweepRows = Object.entries(c.sweep).reduce<string[][]>((acc, [k, vs]) => acc.flatMap((a) => vs.map((v) => [...a, `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`])), [[]]);
  for (const cell of c.cells) for (const s of sweepRows) rowIds.add(s.length ? `${cell.id} | ${s.join(", ")}` : cell.id);
  for (const [label, values] of Object.entries(c.paper)) {
    if (!rowIds.has(label)) fail(["paper", label], `no row "${label}" for the paper's numbers; ${suggest(label, [...rowIds])}`);
    if (values.length > c.table.columns.length) fail(["paper", label], `${values.length} values for ${c.table.columns.length} columns`);
  }
}
