import { registerLearnedBackend } from "./backend.js";

export * from "./features.js";
export * from "./metrics.js";
export * from "./tf.js";
export { conv2dFilterGradient, conv2dForward, conv2dInputGradient, registerFastCpuKernels, type ConvGeometry } from "./kernels.js";
export { readVbrFolder, describeProblems, MAX_UNUSABLE_SHARE, splitByImage, encodeExamples, type VbrExample, type EncodedSet, type VbrFolderProblems } from "./data.js";
export { buildModel, inputTensors, trainModel, predict, saveModel, loadModel, type ModelSpec, type TrainSpec, type EpochLog } from "./model.js";
export { trainVerifier, defaultDataDir, DEFAULT_TRAINING_SET, MODEL_DEFAULTS, TRAIN_DEFAULTS, LEARNED_MODEL_VERSION, type TrainOptions, type TrainReport, type HeldOutReport } from "./train.js";
export { LearnedVerifierBackend, encodeQuery, registerLearnedBackend, readModelMeta, setAutoTrain, defaultModelDir, DEFAULT_MODEL_DIR, type LearnedModelMeta, type AutoTrain } from "./backend.js";
export { curvesSvg, reliabilitySvg } from "./plots.js";

// Importing the package makes `backend: learned` available to configs.
registerLearnedBackend();
