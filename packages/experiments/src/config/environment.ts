import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { InputError, suggest } from "@resagent/core";
import { ENV_REFERENCE, experimentNames, findRoot, profileNames, readYaml } from "./load.js";
import { isObject } from "@resagent/core";

/** One place a profile names an environment variable: the key path and, inside a preset, its name. */
export interface EnvUse {
  path: string;
  preset?: string;
  /** `${VAR:-default}`: what the profile uses when the variable is unset. */
  default?: string;
}

export interface ProfileVariable {
  name: string;
  uses: EnvUse[];
  /**
   * Used by the profile's datasets or defaults, directly or through a preset the defaults name
   * (e.g. `decoder: "@decoder-base"`): every run of the profile needs it (or its default).
   */
  required: boolean;
  /** Presets that name it. */
  presets: string[];
  /** Experiments whose files (or the files they extend) name one of those presets. */
  experiments: string[];
}

const PRESET_NAME = /^@([\w.+-]+)$/;

function walk(v: unknown, path: string, visit: (s: string, path: string) => void): void {
  if (typeof v === "string") visit(v, path);
  else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`, visit));
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k, visit);
}

/** Presets ("@name") named anywhere in a parsed file. */
function presetsNamed(data: unknown): Set<string> {
  const out = new Set<string>();
  walk(data, "", (s) => {
    const m = PRESET_NAME.exec(s);
    if (m) out.add(m[1]!);
  });
  return out;
}

/** An experiment file and the files it `extends:` (looked up where the loader looks). */
function experimentFiles(file: string, root: string, seen: string[] = []): string[] {
  if (seen.includes(file) || !existsSync(file)) return [];
  const data = readYaml(file);
  const parents = data.extends === undefined ? [] : Array.isArray(data.extends) ? data.extends : [data.extends];
  const out = [file];
  for (const p of parents) {
    if (typeof p !== "string") continue;
    const found = [join(dirname(file), `${p}.yaml`), join(root, "configs", `${p}.yaml`), join(root, "experiments", `${p}.yaml`)].find((c) => existsSync(c));
    if (found) out.push(...experimentFiles(found, root, [...seen, file]));
  }
  return out;
}

/**
 * Every environment variable a profile names (`${VAR}` / `${VAR:-default}` in its datasets,
 * defaults and presets), where, and who needs it: the profile's own runs, or the experiments that
 * name a preset using it. What the variables hold is not read here (see `resagent doctor`).
 */
export function profileEnvironment(profile: string, root = findRoot()): { file: string; variables: ProfileVariable[]; defaultPresets: string[] } {
  const file = join(root, "configs", "profiles", `${profile}.yaml`);
  if (!existsSync(file)) throw new InputError(`unknown profile "${profile}"; ${suggest(profile, profileNames(root))}`, { field: "--profile" });
  const data = readYaml(file);
  const defaultPresets = [...presetsNamed(data.defaults)];
  const vars = new Map<string, ProfileVariable>();
  const note = (section: string, value: unknown, preset?: string) =>
    walk(value, section, (s, path) => {
      for (const m of s.matchAll(ENV_REFERENCE)) {
        const v = vars.get(m[1]!) ?? { name: m[1]!, uses: [], required: false, presets: [], experiments: [] };
        v.uses.push({ path, ...(preset ? { preset } : {}), ...(m[2] !== undefined ? { default: m[2] } : {}) });
        if (!preset || defaultPresets.includes(preset)) v.required = true;
        if (preset && !v.presets.includes(preset)) v.presets.push(preset);
        vars.set(v.name, v);
      }
    });
  note("datasets", data.datasets);
  note("defaults", data.defaults);
  if (isObject(data.presets)) for (const [name, p] of Object.entries(data.presets)) note(`presets.${name}`, p, name);
  const users = new Map<string, string[]>();
  for (const name of experimentNames(root)) {
    const named = new Set<string>();
    for (const f of experimentFiles(join(root, "experiments", `${name}.yaml`), root)) for (const p of presetsNamed(readYaml(f))) named.add(p);
    for (const p of named) users.set(p, [...(users.get(p) ?? []), name]);
  }
  for (const v of vars.values()) v.experiments = [...new Set(v.presets.flatMap((p) => users.get(p) ?? []))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  return { file, variables: [...vars.values()], defaultPresets };
}
