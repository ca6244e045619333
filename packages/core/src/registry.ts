import type { z } from "zod";
import { InputError, suggest } from "./errors.js";
import { parseParams } from "./params.js";

/**
 * Things by name (datasets, MLLM backends, samplers, decoders). A name is registered once (a
 * second registration throws: one would silently replace the other); an unknown name fails with
 * the known ones and a "did you mean", naming the config field it came from.
 */
export class Registry<V> {
  private readonly entries = new Map<string, V>();

  /** `field` is the config key the name comes from, e.g. "decoder.name" or "mllm.backend". */
  constructor(
    readonly kind: string,
    readonly field: string,
  ) {}

  register(name: string, value: V): this {
    if (this.entries.has(name)) throw new Error(`${this.kind} "${name}" is registered twice`);
    this.entries.set(name, value);
    return this;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** The entry of `name`; an unknown name fails with the known ones. `hint` is added to that message. */
  get(name: string, hint = ""): V {
    const v = this.entries.get(name);
    if (v === undefined) throw new InputError(`unknown ${this.kind} "${name}"; ${suggest(name, this.names())}${hint}`, { field: this.field });
    return v;
  }

  all(): [string, V][] {
    return [...this.entries];
  }
}

/** A component kind's entry: what it is, the schema of its parameters, and how to build one from parsed parameters. */
export interface Component<T, S extends z.ZodType = z.ZodType> {
  description: string;
  /** The component's parameter schema (the package's own, with defaults and descriptions). */
  params: S;
  create(params: z.output<S>): T;
}

/**
 * Components with parameters (samplers, decoders): `{ name, params }` in configs. `create` parses
 * the parameters with the component's schema (a direct API user's one call); `build` takes
 * parameters that were parsed already (a loaded config's), so they are not validated twice.
 */
export class ComponentRegistry<T> extends Registry<Component<T>> {
  /** `kind` names the config key too: `decoder` -> decoder.name, decoder.params. */
  constructor(kind: string) {
    super(kind, `${kind}.name`);
  }

  add<S extends z.ZodType>(name: string, entry: Component<T, S>): this {
    return this.register(name, entry as unknown as Component<T>);
  }

  /** The parameters of `name` parsed with its schema: defaults filled in, or an InputError naming the key. */
  parse(name: string, params: unknown = {}): unknown {
    return parseParams(this.get(name).params, params, `${this.kind}.params`);
  }

  create(name: string, params: unknown = {}): T {
    const entry = this.get(name);
    return entry.create(parseParams(entry.params, params, `${this.kind}.params`));
  }

  /** Build from parameters already parsed by this component's schema (a loaded pipeline config's). */
  build(name: string, parsed: unknown): T {
    return this.get(name).create(parsed);
  }

  /** The parameter names of `name`, from its schema. */
  paramNames(name: string): string[] {
    return objectKeys(this.get(name).params);
  }

  /** Every component with its parameters: name, default (from the schema) and description. */
  describe(): { name: string; description: string; params: ParamDoc[] }[] {
    return this.all().map(([name, e]) => ({ name, description: e.description, params: paramDocs(e.params) }));
  }
}

/** One parameter of a component as `ls` and the docs show it. */
export interface ParamDoc {
  name: string;
  /** Its default (from the schema), absent when it has none. */
  default?: unknown;
  description?: string;
}

/** The parameters of an object schema with their defaults and descriptions. */
export function paramDocs(schema: z.ZodType): ParamDoc[] {
  const r = schema.safeParse({});
  const defaults = r.success && r.data !== null && typeof r.data === "object" ? (r.data as Record<string, unknown>) : {};
  return objectKeys(schema).map((name) => {
    const field = fieldOf(schema, name);
    const description = descriptionOf(field);
    return { name, ...(name in defaults ? { default: defaults[name] } : {}), ...(description ? { description } : {}) };
  });
}

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, z.ZodType> };
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

function fieldOf(schema: z.ZodType, key: string): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  while (s) {
    const def = defOf(s);
    if (def.type === "object") return def.shape?.[key];
    s = def.innerType ?? def.in;
  }
  return undefined;
}

/** A field's description, on it or on what its default or optional wraps. */
function descriptionOf(field: z.ZodType | undefined): string | undefined {
  let s = field;
  while (s) {
    if (s.description) return s.description;
    const def = defOf(s);
    s = def.type === "default" || def.type === "prefault" || def.type === "optional" || def.type === "nullable" ? def.innerType : undefined;
  }
  return undefined;
}

/** The keys of an object schema (through defaults, optionals and refinements). */
function objectKeys(schema: z.ZodType): string[] {
  let s: z.ZodType | undefined = schema;
  while (s) {
    const def = defOf(s);
    if (def.type === "object") return Object.keys(def.shape ?? {});
    s = def.innerType ?? def.in;
  }
  return [];
}
