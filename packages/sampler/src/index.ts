export * from "./types.js";
export * from "./entropy.js";
export { normalise, superellipseRadius, prepareBox } from "./geometry.js";
export { SpiralSampler, normalisedSpiral, type SpiralDraw } from "./spiral.js";
export * from "./params.js";
export { RandomSampler, GridSampler, CenterSampler } from "./baselines.js";
export { mergeQueues } from "./merge.js";
export { createSampler, buildSampler, samplerNames, describeSamplers, samplers } from "./registry.js";
