import { Registry } from "@resagent/core";
import { CenterSampler, GridSampler, RandomSampler } from "./baselines.js";
import { SPIRAL_DEFAULTS, SpiralSampler } from "./spiral.js";
import type { Sampler } from "./types.js";

export const samplers = new Registry<Sampler>("sampler", "sampler")
  .register("ebd-spiral", {
    description: "EBD superellipse spiral with adaptive arc-length sampling and dual queue (paper §3.3, appendix §6)",
    params: Object.keys(SPIRAL_DEFAULTS),
    create: (p) => new SpiralSampler(p),
  })
  .register("random", { description: "uniform random points in the box", params: ["merge"], create: (p) => new RandomSampler(p) })
  .register("grid", { description: "uniform lattice of cell centres", params: ["merge"], create: (p) => new GridSampler(p) })
  .register("center", { description: "box centre plus concentric rings", params: ["merge"], create: (p) => new CenterSampler(p) });

export const samplerNames = (): string[] => samplers.names();
export const describeSamplers = () => samplers.describe();
/** A sampler by registry name; unknown names and parameters fail with the known ones. */
export const createSampler = (name: string, params: Record<string, unknown> = {}): Sampler => samplers.create(name, params);
