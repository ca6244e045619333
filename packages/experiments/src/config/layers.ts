import { InputError, formatPath, isObject } from "@resagent/core";

/**
 * Where a value of a merged config came from: a file and the key path in it, or a command-line
 * flag, or the profile preset it was copied from. Every error about a value names its origin.
 */
export interface Source {
  file?: string;
  /** Key path of the layer's root inside `file` ("" for a whole file, "cells[2].set", "defaults"). */
  field?: string;
  /** When set, the whole layer is this one item (a flag, a sweep value) and sub-paths are not appended. */
  fixed?: string;
  /** The preset this value came from, and who named it. */
  via?: string;
}

interface Origin {
  source: Source;
  /** Path of the layer's root in the merged tree. */
  at: string[];
}

/** {file, field} of a value at `path`, from its origin. */
export function locate(origin: Origin | undefined, path: readonly PropertyKey[]): { file?: string; field: string } {
  if (!origin) return { field: formatPath(path) };
  const { source, at } = origin;
  if (source.fixed) return { ...(source.file ? { file: source.file } : {}), field: source.fixed };
  const rest = formatPath(path.slice(at.length));
  const field = source.field ? (rest ? (rest.startsWith("[") ? `${source.field}${rest}` : `${source.field}.${rest}`) : source.field) : rest;
  return { ...(source.file ? { file: source.file } : {}), field: source.via ? `${field} (${source.via})` : field };
}

/** Resolves "@name" to a preset's content and where it was defined. */
export type PresetResolver = (name: string, usedAt: { file?: string; field: string }) => { value: unknown; source: Source };

const UNSAFE_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Keys whose value names the component; when it changes, the inherited component is replaced, not merged into. */
const DISCRIMINATORS = ["name", "backend"] as const;

/**
 * A config tree built from layers (defaults < profile < files < cells < flags), remembering the
 * origin of every value it holds. Objects merge key by key; other values (arrays too) replace.
 * Inside `presetRoots`, a string "@name" is replaced by the preset's content (replacing whatever
 * was inherited there), and later layers then apply inside it.
 */
export class LayeredConfig {
  value: Record<string, unknown> = {};
  private origins = new Map<string, Origin>();

  constructor(
    private readonly resolvePreset: PresetResolver,
    private readonly presetRoots: readonly string[] = ["pipeline"],
  ) {}

  clone(): LayeredConfig {
    const c = new LayeredConfig(this.resolvePreset, this.presetRoots);
    c.value = structuredClone(this.value);
    c.origins = new Map(this.origins);
    return c;
  }

  /** Apply `layer` at `at` (a path into the tree), as stated by `source`. */
  apply(layer: unknown, source: Source, at: string[] = []): void {
    this.put(at, layer, { source, at });
  }

  /**
   * The origin of the value at `path`: its own, else the first recorded below it (a key that
   * exists only because a deeper value was set there), else the deepest one above it.
   */
  originOf(path: readonly PropertyKey[]): Origin | undefined {
    const k = key(path);
    const own = this.origins.get(k);
    if (own) return own;
    for (const [p, o] of this.origins) if (p.startsWith(`${k}\u0000`)) return o;
    for (let n = path.length - 1; n >= 0; n--) {
      const o = this.origins.get(key(path.slice(0, n)));
      if (o) return o;
    }
    return undefined;
  }

  /** Paths at or under `path` set by a source other than `except`, for "this flag overrides X" notes. */
  sourcesUnder(path: readonly string[]): Source[] {
    const k = key(path);
    return [...this.origins].filter(([p]) => p === k || p.startsWith(`${k}\u0000`)).map(([, o]) => o.source);
  }

  /** Presets whose content is still part of the tree (a preset overridden whole by a later layer is not). */
  presetsInUse(): Set<string> {
    const out = new Set<string>();
    for (const o of this.origins.values()) {
      const m = o.source.field?.match(/^presets\.(.+)$/);
      if (m && o.source.via) out.add(m[1]!);
    }
    return out;
  }

  locate(path: readonly PropertyKey[]): { file?: string; field: string } {
    return locate(this.originOf(path), path);
  }

  private get(path: readonly string[]): unknown {
    let cur: unknown = this.value;
    for (const p of path) cur = isObject(cur) ? cur[p] : undefined;
    return cur;
  }

  private set(path: readonly string[], v: unknown): void {
    if (path.length === 0) {
      if (!isObject(v)) throw new InputError("expected a map at the top level", { field: "" });
      this.value = v;
      return;
    }
    let cur = this.value;
    for (const p of path.slice(0, -1)) {
      if (!isObject(cur[p])) cur[p] = {};
      cur = cur[p] as Record<string, unknown>;
    }
    cur[path[path.length - 1]!] = v;
  }

  private forget(path: readonly string[]): void {
    const k = key(path);
    for (const p of [...this.origins.keys()]) if (p === k || p.startsWith(`${k}\u0000`)) this.origins.delete(p);
  }

  private inPresetRoot(path: readonly string[]): boolean {
    return path.length > 0 && this.presetRoots.includes(path[0]!);
  }

  private put(path: string[], v: unknown, origin: Origin): void {
    // Walking into "__proto__" would write onto every object of the process.
    const unsafe = path.find((p) => UNSAFE_KEYS.has(p));
    if (unsafe !== undefined) throw new InputError(`key "${unsafe}" is not allowed`, locate(origin, path));
    if (typeof v === "string" && v.startsWith("@") && this.inPresetRoot(path)) {
      const used = locate(origin, path);
      const preset = this.resolvePreset(v.slice(1), used);
      this.forget(path);
      this.set(path, undefined);
      this.put(path, structuredClone(preset.value), { source: preset.source, at: path });
      return;
    }
    if (Array.isArray(v) && this.inPresetRoot(path) && v.some(isPresetRef)) {
      // A list of components (an ensemble's experts): each "@name" item is that preset, and its
      // values remember the preset they came from, as a component's do.
      this.forget(path);
      const items = v.map((x, i) => {
        if (!isPresetRef(x)) return x;
        const at = [...path, String(i)];
        const preset = this.resolvePreset(x.slice(1), locate(origin, [...path, i]));
        this.origins.set(key(at), { source: preset.source, at });
        return structuredClone(preset.value);
      });
      this.set(path, items);
      this.origins.set(key(path), origin);
      return;
    }
    if (isObject(v)) {
      const cur = this.get(path);
      // A top-level `name:` is the experiment's, not a component's: an extending file renames, never resets.
      const replaced = !isObject(cur) || (path.length > 0 && DISCRIMINATORS.some((d) => typeof v[d] === "string" && typeof cur[d] === "string" && v[d] !== cur[d]));
      if (replaced) {
        this.forget(path);
        this.set(path, {});
        this.origins.set(key(path), origin);
      }
      for (const [k, x] of Object.entries(v)) this.put([...path, k], x, origin);
      return;
    }
    this.forget(path);
    this.set(path, v);
    this.origins.set(key(path), origin);
  }
}

function key(path: readonly PropertyKey[]): string {
  return path.map(String).join("\u0000");
}

function isPresetRef(v: unknown): v is string {
  return typeof v === "string" && v.startsWith("@");
}
