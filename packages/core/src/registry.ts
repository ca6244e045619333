import { InputError, suggest } from "./errors.js";

export interface RegistryEntry<T> {
  description: string;
  /** The parameter names `create` accepts; anything else is a config error. */
  params: readonly string[];
  create(params: Record<string, unknown>): T;
}

/**
 * Components by name (samplers, decoders...). Unknown names and parameters fail with the known
 * ones and a "did you mean", naming the config field (e.g. `decoder.name`).
 */
export class Registry<T> {
  private readonly entries = new Map<string, RegistryEntry<T>>();

  /** `field` is the config key the name comes from, e.g. "sampler" for sampler.name / sampler.params. */
  constructor(
    readonly kind: string,
    readonly field: string,
  ) {}

  register(name: string, entry: RegistryEntry<T>): this {
    this.entries.set(name, entry);
    return this;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  describe(): { name: string; description: string; params: readonly string[] }[] {
    return [...this.entries].map(([name, e]) => ({ name, description: e.description, params: e.params }));
  }

  create(name: string, params: Record<string, unknown> = {}): T {
    const entry = this.entries.get(name);
    if (!entry) throw new InputError(`unknown ${this.kind} "${name}"; ${suggest(name, this.names())}`, { field: `${this.field}.name` });
    for (const key of Object.keys(params)) {
      if (!entry.params.includes(key)) {
        throw new InputError(`${this.kind} "${name}" has no parameter "${key}"; ${suggest(key, entry.params)}`, { field: `${this.field}.params.${key}` });
      }
    }
    return entry.create(params);
  }
}
