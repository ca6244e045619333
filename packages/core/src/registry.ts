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

  describe(): { name: string; description: string; params: readonly string[] }[] {
    return this.all().map(([name, e]) => ({ name, description: e.description, params: objectKeys(e.params) }));
  }
}

/** The keys of an object schema (through defaults, optionals and refinements). */
function objectKeys(schema: z.ZodType): string[] {
  type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; shape?: Record<string, unknown> };
  let s: z.ZodType | undefined = schema;
  for (;;) {
    const def: Def = (s as unknown as { _zod: { def: Def } })._zod.def;
    if (def.type === "object") return Object.keys(def.shape ?? {});
    s = def.innerType ?? def.in;
    if (!s) return [];
  }
}
