import { z } from "zod";
import { InputError, suggest } from "./errors.js";

/**
 * The one validation path of parameters: every package owns the zod schema of its components'
 * parameters, and both a direct API user (`parseGraphcutParams(input)`) and the config loader
 * (which composes those schemas and names each value's file, key path or flag) parse through
 * it; a zod failure becomes one plain InputError line here, with a "did you mean" for a typo.
 */

type Issue = z.core.$ZodIssue;
/** Where a path inside the parsed value came from: a file and key path, or a flag. */
export type Located = (path: readonly PropertyKey[]) => { file?: string; field: string };

/** Plain-object check (YAML maps), not arrays or null. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "a.b[2].c" from ["a", "b", 2, "c"]. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * Parse `value` with a package's schema: the parsed value (defaults filled in), or an InputError
 * naming the field. `where` is the key path of `value` ("decoder.params"), or a locator that names
 * the file, key path or flag of each path (the config loader's), with `base` prepended to paths.
 */
export function parseParams<S extends z.ZodType>(schema: S, value: unknown, where: string | Located, base: readonly PropertyKey[] = []): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const locate: Located = typeof where === "string" ? (p) => ({ field: formatPath([...(where ? [where] : []), ...p]) }) : where;
  throw issueError(schema, value, r.error.issues, locate, base);
}

/** Marks a schema node as a component: a config replaces it whole (a preset "@name" may stand for it) instead of merging into it. */
export function asComponent<S extends z.ZodType>(schema: S): S {
  return schema.meta({ component: true }) as S;
}

export function isComponent(schema: z.ZodType): boolean {
  return (schema.meta() as { component?: boolean } | undefined)?.component === true;
}

/** The zod definition of a schema node, as far as walking it needs. */
interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  valueType?: z.ZodType;
  element?: z.ZodType;
  in?: z.ZodType;
  values?: unknown[];
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schema node that describes `path` inside `value`, choosing union options by the value found there. */
function schemaAt(schema: z.ZodType, value: unknown, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  let v = value;
  for (let i = 0; ; i++) {
    s = unwrap(s, v);
    if (!s || i === path.length) return s;
    const p = path[i]!;
    const d = defOf(s);
    if (d.type === "object") s = d.shape?.[String(p)];
    else if (d.type === "record") s = d.valueType;
    else if (d.type === "array") s = d.element;
    else return undefined;
    v = isObject(v) || Array.isArray(v) ? (v as Record<string, unknown>)[p as string] : undefined;
  }
}

function unwrap(s: z.ZodType | undefined, v: unknown): z.ZodType | undefined {
  while (s) {
    const d = defOf(s);
    if (d.type === "optional" || d.type === "nullable" || d.type === "default" || d.type === "prefault" || d.type === "readonly") s = d.innerType;
    else if (d.type === "pipe") s = d.in;
    else if (d.type === "union") s = pickOption(d, v);
    else return s;
  }
  return s;
}

/** The union option a value means: by its discriminator, else the first object option for a map, else the first. */
function pickOption(d: Def, v: unknown): z.ZodType | undefined {
  const opts = d.options ?? [];
  if (isObject(v)) {
    const objects = opts.map((o) => unwrap(o, v)).filter((o): o is z.ZodType => !!o && defOf(o).type === "object");
    for (const o of objects) {
      const shape = defOf(o).shape ?? {};
      const match = Object.entries(shape).find(([k, f]) => {
        const lit = defOf(unwrap(f, undefined) ?? f);
        return lit.type === "literal" && k in v && (lit.values ?? []).includes(v[k]);
      });
      if (match) return o;
    }
    return objects[0];
  }
  return opts.find((o) => defOf(unwrap(o, v) ?? o).type !== "object") ?? opts[0];
}

function knownKeys(schema: z.ZodType, value: unknown, path: readonly PropertyKey[]): string[] {
  const s = schemaAt(schema, value, path);
  const d = s ? defOf(s) : undefined;
  return d?.type === "object" ? Object.keys(d.shape ?? {}) : [];
}

function received(value: unknown): string {
  if (value === undefined) return "nothing";
  // JSON would print YAML's .nan and .inf as null: name them as the file wrote them.
  if (typeof value === "number" && !Number.isFinite(value)) return Number.isNaN(value) ? ".nan (not a number)" : value > 0 ? ".inf (infinity)" : "-.inf (minus infinity)";
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v));
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const p of path) v = isObject(v) || Array.isArray(v) ? (v as Record<string, unknown>)[p as string] : undefined;
  return v;
}

/**
 * The most specific issue inside a union failure: the branch the value was meant for, i.e. the
 * one with the fewest problems (a map is not meant for a string branch); on a tie, a branch that
 * names an unknown key, since a typo is the likeliest cause.
 */
function innermost(issue: Issue, value: unknown, base: readonly PropertyKey[]): { issue: Issue; path: PropertyKey[] } {
  const path = [...base, ...issue.path];
  if (issue.code !== "invalid_union" || !("errors" in issue) || issue.errors.length === 0) return { issue, path };
  const branches = issue.errors
    .filter((errs) => errs.length > 0)
    .map((errs) => errs.map((e) => innermost(e, value, path)))
    .map((b) => ({ b, wrongType: b.some((x) => x.issue.code === "invalid_type" && x.path.length === path.length), typo: b.some((x) => x.issue.code === "unrecognized_keys") }));
  const ranked = branches.sort((x, y) => Number(x.wrongType) - Number(y.wrongType) || x.b.length - y.b.length || Number(y.typo) - Number(x.typo));
  const best = ranked[0];
  if (!best) return { issue, path };
  return best.b.find((x) => x.issue.code === "unrecognized_keys") ?? best.b[0]!;
}

/**
 * One plain line for the first problem zod found: where it is (file and key path, or the flag),
 * what was found, what was expected, and the nearest known key for a typo.
 */
export function issueError(schema: z.ZodType, value: unknown, issues: readonly Issue[], where: Located, base: readonly PropertyKey[] = []): InputError {
  const { issue, path } = innermost(issues[0]!, value, []);
  const found = valueAt(value, path);
  const inside = path.length ? ` in ${formatPath(path)}` : "";
  let msg: string;
  let at = path;
  switch (issue.code) {
    case "unrecognized_keys": {
      const k = issue.keys[0]!;
      at = [...path, k];
      const known = knownKeys(schema, value, path);
      if (known.length === 0) {
        // Nothing to suggest: say why (e.g. `--set decoder.params.x` reaching a cell whose decoder is `box`).
        const owner = valueAt(value, path.slice(0, -1));
        const name = isObject(owner) && typeof owner.name === "string" ? owner.name : undefined;
        const what = name !== undefined && path[path.length - 1] === "params" ? `${String(path[path.length - 2])} "${name}" takes no parameters` : "this map takes no keys";
        msg = `unknown key "${k}"${inside}: ${what}`;
      } else msg = `unknown key "${k}"${inside}; ${suggest(k, known)}`;
      break;
    }
    case "invalid_value":
      if (found === undefined) msg = `missing (expected ${issue.values.map((x) => JSON.stringify(x)).join(" | ")})`;
      else if (typeof found === "string") msg = `unknown value ${received(found)}; ${suggest(found, issue.values.map(String))}`;
      else msg = `expected ${issue.values.map((x) => JSON.stringify(x)).join(" | ")}, got ${received(found)}`;
      break;
    case "invalid_union":
      if ("discriminator" in issue && issue.discriminator) {
        const opts = ((issue as unknown as { options?: unknown[] }).options ?? []).map(String);
        // "unknown decoder" reads better than "unknown name": the key above the discriminator says what it is.
        const kind = issue.discriminator === "name" && path.length >= 2 ? String(path[path.length - 2]) : issue.discriminator;
        msg = found === undefined ? `missing ${issue.discriminator} (one of ${opts.join(", ")})` : `unknown ${kind} ${received(found)}; ${suggest(String(found), opts)}`;
      } else msg = `expected ${describeExpected(schemaAt(schema, value, path))}, got ${received(found)}`;
      break;
    case "invalid_type":
      if (found === undefined) msg = `missing (expected ${issue.expected === "object" ? "a map" : issue.expected})`;
      else if (issue.expected === "object") msg = `expected a map of settings, got ${received(found)}${inside ? "" : ""}`;
      else msg = `expected ${issue.expected === "int" ? "an integer" : issue.expected}, got ${received(found)}${issue.expected === "number" && typeof found === "string" ? " (a number, without quotes)" : ""}`;
      break;
    case "too_small":
    case "too_big": {
      const bound = issue.code === "too_small" ? `${issue.inclusive === false ? ">" : ">="} ${String(issue.minimum)}` : `${issue.inclusive === false ? "<" : "<="} ${String(issue.maximum)}`;
      msg = issue.origin === "array" || issue.origin === "string" ? `${issue.message.replace(/^Too (small|big): /, "")}, got ${received(found)}` : `expected a number ${bound}, got ${received(found)}`;
      break;
    }
    case "invalid_format":
      msg = `expected ${issue.format === "regex" ? "a string of the form the key needs" : issue.format}, got ${received(found)}`;
      break;
    default:
      msg = `${issue.message}, got ${received(found)}`;
  }
  const loc = where([...base, ...at]);
  // "in verifier" helps after a flag; after a file's key path it only repeats it.
  if (inside && loc.field.endsWith(formatPath(at))) msg = msg.replace(inside, "");
  // A flag that set a whole map (an ensemble's experts, inline) names only itself: say where inside it.
  else if (at.length && issue.code !== "unrecognized_keys" && loc.field.startsWith("--") && !loc.field.includes(formatPath(at).replace(/(\[\d+\])+$/, ""))) msg = `${formatPath(at)}: ${msg}`;
  return new InputError(msg, loc);
}

function describeExpected(s: z.ZodType | undefined): string {
  if (!s) return "a valid value";
  const d = defOf(s);
  if (d.type === "object") return `a map with keys ${Object.keys(d.shape ?? {}).join(", ")}`;
  return d.type;
}

/** Schema building blocks the packages share, so a range reads the same everywhere ("expected a number >= 1"). */
export const zInt = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
export const zFraction = () => z.number().min(0).max(1);
export const zNonNegative = () => z.number().min(0);
export const zPositive = () => z.number().gt(0);
export const zEnum = <T extends string>(values: readonly T[]) => z.enum(values as [T, ...T[]]);
