import { ComponentRegistry } from "@resagent/core";
import { AuthorsLearnedSampler, CenterSampler, GridSampler, RandomSampler } from "./baselines.js";
import { AuthorsLearnedParamsSchema, BaselineParamsSchema, RandomParamsSchema, SpiralParamsSchema, type SamplerConfig } from "./params.js";
import { SpiralSampler } from "./spiral.js";
import type { Sampler } from "./types.js";

export const samplers = new ComponentRegistry<Sampler>("sampler")
  .add("ebd-spiral", {
    description: "EBD superellipse spiral with adaptive arc-length sampling and dual queue (paper §3.3, appendix §6)",
    params: SpiralParamsSchema,
    create: (p) => new SpiralSampler(p),
  })
  .add("random", { description: "uniform random points in the box, or the authors' final script's random strategy (placement: final)", params: RandomParamsSchema, create: (p) => new RandomSampler(p) })
  .add("grid", { description: "uniform lattice of cell centres", params: BaselineParamsSchema, create: (p) => new GridSampler(p) })
  .add("center", { description: "box centre plus concentric rings", params: BaselineParamsSchema, create: (p) => new CenterSampler(p) })
  .add("authors-learned", {
    description: "the authors' learned point strategy (scorer not released: fails before any work; standIn unscored-pool runs a labelled stand-in)",
    params: AuthorsLearnedParamsSchema,
    create: (p) => new AuthorsLearnedSampler(p),
  });

export const samplerNames = (): string[] => samplers.names();
export const describeSamplers = () => samplers.describe();
/** A sampler by registry name, its parameters checked and completed by its schema; unknown names and parameters fail with the known ones. */
export const createSampler = (name: string, params: unknown = {}): Sampler => samplers.create(name, params);
/** A sampler from a parsed config (a loaded pipeline's `sampler`). */
export const buildSampler = (cfg: SamplerConfig): Sampler => samplers.build(cfg.name, cfg.params);
