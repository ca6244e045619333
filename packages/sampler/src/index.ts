export * from "./types.js";
export * from "./entropy.js";
export { normalise, superellipseRadius, prepareBox } from "./geometry.js";
export { SpiralSampler, normalisedSpiral, type SpiralDraw } from "./spiral.js";
export * from "./params.js";
export { RandomSampler, GridSampler, CenterSampler, AuthorsLearnedSampler, samplerStandIn } from "./baselines.js";
export { dedupePixels, finalRandomCandidates, gridOutsideBox, AUTHORS_LEARNED_MISSING } from "./authors.js";
export { mergeQueues } from "./merge.js";
export { createSampler, buildSampler, samplerNames, describeSamplers, samplers } from "./registry.js";
export {
  pointValue,
  measureTeacher,
  teacherValues,
  OracleValueScorer,
  registerValueScorer,
  valueScorerNames,
  describeValueScorers,
  createValueScorer,
  rankPool,
  type ValueContext,
  type PointValueScorer,
  type TeacherMeasurement,
  type IoUOf,
  type ValueScorerEntry,
} from "./value.js";
