import { InputError, suggest } from "@resagent/core";
import { CenterSampler, GridSampler, RandomSampler } from "./baselines.js";
import { SPIRAL_DEFAULTS, SpiralSampler } from "./spiral.js";
import type { Sampler } from "./types.js";

interface SamplerEntry {
  description: string;
  params: readonly string[];
  create(params: Record<string, unknown>): Sampler;
}

const SAMPLERS: Record<string, SamplerEntry> = {
  "ebd-spiral": {
    description: "EBD superellipse spiral with adaptive arc-length sampling and dual queue (paper §3.3, appendix §6)",
    params: Object.keys(SPIRAL_DEFAULTS),
    create: (p) => new SpiralSampler(p),
  },
  random: { description: "uniform random points in the box", params: ["merge"], create: (p) => new RandomSampler(p) },
  grid: { description: "uniform lattice of cell centres", params: ["merge"], create: (p) => new GridSampler(p) },
  center: { description: "box centre plus concentric rings", params: ["merge"], create: (p) => new CenterSampler(p) },
};

export function samplerNames(): string[] {
  return Object.keys(SAMPLERS);
}

export function describeSamplers(): { name: string; description: string; params: readonly string[] }[] {
  return Object.entries(SAMPLERS).map(([name, e]) => ({ name, description: e.description, params: e.params }));
}

/** A sampler by registry name; unknown names and parameters fail with the known ones. */
export function createSampler(name: string, params: Record<string, unknown> = {}): Sampler {
  const entry = SAMPLERS[name];
  if (!entry) throw new InputError(`unknown sampler "${name}"; ${suggest(name, samplerNames())}`, { field: "sampler.name" });
  for (const key of Object.keys(params)) {
    if (!entry.params.includes(key)) {
      throw new InputError(`sampler "${name}" has no parameter "${key}"; ${suggest(key, entry.params)}`, { field: `sampler.params.${key}` });
    }
  }
  return entry.create(params);
}
