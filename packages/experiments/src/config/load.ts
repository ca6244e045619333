import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { InputError, suggest } from "@resagent/core";
import { PIPELINE_DEFAULTS, type PipelineConfig } from "@resagent/pipeline";
import { parse } from "yaml";
import { deepMerge, expandDotted, isObject, parseValue } from "./merge.js";
import { PIPELINE_KEYS, checkExperiment, type CellSpec, type DatasetRef, type ExperimentConfig } from "./schema.js";

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

/** An experiment file with its `extends:` chain applied (later files win, the file itself last). */
function loadWithExtends(file: string, root: string, seen: string[] = []): Record<string, unknown> {
  if (seen.includes(file)) throw new InputError(`extends cycle: ${[...seen, file].join(" -> ")}`, { file, field: "extends" });
  const data = readYaml(file);
  const parents = data.extends === undefined ? [] : Array.isArray(data.extends) ? data.extends : [data.extends];
  let base: Record<string, unknown> = {};
  for (const p of parents) {
    if (typeof p !== "string") throw new InputError(`expected a file name, got ${JSON.stringify(p)}`, { file, field: "extends" });
    const candidates = [join(dirname(file), `${p}.yaml`), join(root, "configs", `${p}.yaml`), join(root, "experiments", `${p}.yaml`)];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new InputError(`extends "${p}" not found (looked for ${candidates.join(", ")})`, { file, field: "extends" });
    base = deepMerge(base, loadWithExtends(found, root, [...seen, file]));
  }
  const { extends: _e, ...own } = data;
  return deepMerge(base, own);
}

export interface LoadOptions {
  profile?: string;
  /** --set a.b=c, in order. */
  set?: string[];
  /** --sweep a.b=v1,v2 */
  sweep?: string[];
  root?: string;
}

export interface LoadedExperiment {
  config: ExperimentConfig;
  file: string;
  /**
   * Every concrete cell. `row` is the table row (cell id + values of the file's sweep axes);
   * `column` the suffix of command-line --sweep values, which become extra columns.
   */
  cells: { id: string; row: string; column: string; label: string; note?: string; pipeline: PipelineConfig }[];
}

function parseAssign(s: string, flag: string): [string, string] {
  const i = s.indexOf("=");
  if (i <= 0) throw new InputError(`expected key.path=value, got "${s}"`, { field: flag });
  return [s.slice(0, i).trim(), s.slice(i + 1)];
}

/** Replace "@name" strings by the profile's preset of that name, recursively. */
function resolvePresets(v: unknown, presets: Record<string, unknown>, file: string, path: string): unknown {
  if (typeof v === "string" && v.startsWith("@")) {
    const name = v.slice(1);
    if (!(name in presets)) throw new InputError(`unknown preset "${v}"; ${suggest(name, Object.keys(presets))}`, { file, field: path });
    return resolvePresets(presets[name], presets, file, path);
  }
  if (Array.isArray(v)) return v.map((x, i) => resolvePresets(x, presets, file, `${path}[${i}]`));
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolvePresets(x, presets, file, path ? `${path}.${k}` : k)]));
  return v;
}

/** Expand ${ENV} and ${ENV:-default} in strings (profiles point at data and model folders this way). */
function expandEnv(v: unknown): unknown {
  if (typeof v === "string") return v.replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, name: string, def?: string) => process.env[name] ?? def ?? "");
  if (Array.isArray(v)) return v.map(expandEnv);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandEnv(x)]));
  return v;
}

const SCHEMA_DEFAULTS = { version: 1, seed: 0, limit: 50, concurrency: 2, sweep: {}, paper: {}, plots: [], notes: [], pipeline: PIPELINE_DEFAULTS };

/**
 * Load an experiment by name (experiments/<name>.yaml) or path, merged as
 * schema defaults < profile < experiment (with extends) < --set, then checked.
 */
export function loadExperiment(nameOrPath: string, opts: LoadOptions = {}): LoadedExperiment {
  const root = opts.root ?? findRoot();
  const file = nameOrPath.endsWith(".yaml") ? resolve(nameOrPath) : join(root, "experiments", `${nameOrPath}.yaml`);
  if (!existsSync(file)) {
    throw new InputError(`no experiment "${nameOrPath}"; ${suggest(nameOrPath, experimentNames(root))}`, { file });
  }
  const exp = loadWithExtends(file, root);
  const profileName = opts.profile ?? (typeof exp.profile === "string" ? exp.profile : "embedded");
  const profileFile = join(root, "configs", "profiles", `${profileName}.yaml`);
  if (!existsSync(profileFile)) throw new InputError(`unknown profile "${profileName}"; ${suggest(profileName, profileNames(root))}`, { field: "--profile" });
  const profile = expandEnv(readYaml(profileFile)) as Record<string, unknown>;
  const presets = (isObject(profile.presets) ? profile.presets : {}) as Record<string, unknown>;
  const datasetMap = (isObject(profile.datasets) ? profile.datasets : {}) as Record<string, unknown>;
  const profileDefaults = isObject(profile.defaults) ? profile.defaults : {};

  let merged = deepMerge(deepMerge(SCHEMA_DEFAULTS as Record<string, unknown>, profileDefaults), exp);
  for (const s of opts.set ?? []) {
    const [k, v] = parseAssign(s, "--set");
    merged = deepMerge(merged, expandDotted({ [k]: parseValue(v) }));
  }
  merged.profile = profileName;
  const adhoc: Record<string, unknown[]> = {};
  for (const s of opts.sweep ?? []) {
    const [k, v] = parseAssign(s, "--sweep");
    adhoc[k] = v.split(",").map(parseValue);
  }
  merged.pipeline = resolvePresets(merged.pipeline, presets, file, "pipeline");
  checkExperiment(merged, file);

  const resolvedDatasets: Record<string, DatasetRef> = {};
  for (const [col, id] of Object.entries(merged.datasets as Record<string, unknown>)) {
    if (typeof id !== "string") throw new InputError(`expected a dataset id like refcoco/val, got ${JSON.stringify(id)}`, { file, field: `datasets.${col}` });
    const ref = datasetMap[id];
    if (!isObject(ref) || typeof ref.name !== "string" || typeof ref.split !== "string") {
      throw new InputError(`profile "${profileName}" has no dataset "${id}"; ${suggest(id, Object.keys(datasetMap))}`, { file: profileFile, field: `datasets.${id}` });
    }
    resolvedDatasets[col] = ref as DatasetRef;
  }
  const config = { ...merged, resolvedDatasets } as unknown as ExperimentConfig;
  const notes = [...(Array.isArray(profile.notes) ? (profile.notes as string[]) : []), ...config.notes];
  config.notes = notes;

  // cells x file sweep axes (rows) x command-line sweep axes (columns)
  const product = (axes: [string, unknown[]][]) => {
    let combos: Record<string, unknown>[] = [{}];
    for (const [k, values] of axes) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
    return combos;
  };
  const describe = (combo: Record<string, unknown>) => Object.entries(combo).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ");
  const rowCombos = product(Object.entries(config.sweep));
  const colCombos = product(Object.entries(adhoc));
  config.columnSweeps = colCombos.map(describe).filter(Boolean);
  const cells: LoadedExperiment["cells"] = [];
  config.cells.forEach((cell: CellSpec, i) => {
    const set = resolvePresets(expandDotted(cell.set ?? {}), presets, file, `cells[${i}].set`) as Record<string, unknown>;
    for (const k of Object.keys(set)) {
      if (!(PIPELINE_KEYS as readonly string[]).includes(k)) throw new InputError(`unknown pipeline key "${k}"; ${suggest(k, PIPELINE_KEYS)}`, { file, field: `cells[${i}].set.${k}` });
    }
    for (const rowCombo of rowCombos) {
      for (const colCombo of colCombos) {
        const sweepSet = resolvePresets(expandDotted({ ...rowCombo, ...colCombo }), presets, file, "sweep") as Record<string, unknown>;
        const row = describe(rowCombo) ? `${cell.id} | ${describe(rowCombo)}` : cell.id;
        const column = describe(colCombo);
        cells.push({
          id: column ? `${row} | ${column}` : row,
          row,
          column,
          label: cell.label ?? cell.id,
          ...(cell.note ? { note: cell.note } : {}),
          pipeline: deepMerge(deepMerge(config.pipeline, set), sweepSet) as PipelineConfig,
        });
      }
    }
  });
  return { config, file, cells };
}
