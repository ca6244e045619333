import { registerLearnedBackend } from "./backend.js";
import { registerLearnedValueScorer } from "./ranker-backend.js";

export * from "./features.js";
export * from "./metrics.js";
export * from "./tf.js";
export { conv2dFilterGradient, conv2dForward, conv2dInputGradient, registerFastCpuKernels, type ConvGeometry } from "./kernels.js";
export { readVbrFolder, describeProblems, MAX_UNUSABLE_SHARE, splitByImage, encodeExamples, type VbrExample, type EncodedSet, type VbrFolderProblems } from "./data.js";
export { buildModel, inputTensors, trainModel, fitModel, predict, saveModel, loadModel, BINARY_TASK, VERIFIER_HEAD, type ModelSpec, type TrainSpec, type EpochLog, type FitEpoch, type LearningTask, type ModelHead } from "./model.js";
export { trainVerifier, defaultDataDir, DEFAULT_TRAINING_SET, MODEL_DEFAULTS, TRAIN_DEFAULTS, LEARNED_MODEL_VERSION, type TrainOptions, type TrainReport, type HeldOutReport } from "./train.js";
export { LearnedVerifierBackend, encodeQuery, encodeSymmetric, registerLearnedBackend, readModelMeta, readModelFolder, setAutoTrain, defaultModelDir, DEFAULT_MODEL_DIR, type LearnedModelMeta, type AutoTrain } from "./backend.js";
export { curvesSvg, reliabilitySvg, groupedBarsSvg, type CurveSeries } from "./plots.js";
export { versionOf, trainingProvenance, writeTrainingReports } from "./provenance.js";
export {
  trainPointValue,
  readPointValueFolder,
  encodeCandidates,
  rankingReport,
  defaultPointValueDataDir,
  DEFAULT_POINT_VALUE_SET,
  POINT_VALUE_MODEL_VERSION,
  RANKER_FEATURES,
  RANKER_HEAD,
  RANKER_MODEL_DEFAULTS,
  RANKER_TRAIN_DEFAULTS,
  RANKER_TARGET_SCALE,
  RANKER_SYMMETRIES,
  RANKING_KS,
  type RankerTrainOptions,
  type RankerReport,
  type RankingAtK,
  type RankerModelMeta,
} from "./ranker.js";
export { LearnedValueScorer, registerLearnedValueScorer, readRankerMeta, setRankerAutoTrain, defaultRankerDir, DEFAULT_RANKER_DIR, type RankerAutoTrain } from "./ranker-backend.js";

// Importing the package makes `backend: learned` and `sampler.rank: learned-value` available to configs.
registerLearnedBackend();
registerLearnedValueScorer();
