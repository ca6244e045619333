export * from "./types.js";
export * from "./entropy.js";
export { normalise, superellipseRadius, prepareBox } from "./geometry.js";
export { SpiralSampler, SPIRAL_DEFAULTS, SPIRAL_RANKS, type SpiralRank, DIRECTIONS, END_POINTS, normalisedSpiral, type SpiralParams, type SpiralDraw, type Direction, type EndPoint } from "./spiral.js";
export { RandomSampler, GridSampler, CenterSampler } from "./baselines.js";
export { mergeQueues } from "./merge.js";
export { createSampler, samplerNames, describeSamplers, samplers } from "./registry.js";
