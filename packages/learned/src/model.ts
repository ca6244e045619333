import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, randomStream, writeFileAtomic } from "@resagent/core";
import type * as tfjs from "@tensorflow/tfjs";
import type { EncodedSet } from "./data.js";
import { SCALARS, channelsOf, encodedSizes, transformEncoded, type EncodedBuffers, type FeatureSpec } from "./features.js";
import type { Tf } from "./tf.js";

export interface ModelSpec {
  features: FeatureSpec;
  /** Filters of the box grid's strided 3×3 convolutions (each halves the grid). */
  filters: number[];
  /** Filters of the marker patch's strided 3×3 convolutions (unused without a patch). */
  patchFilters: number[];
  /** Units of the hidden dense layer (after the convolutions and the scalars are joined). */
  dense: number;
  /** L2 weight penalty on the dense layers. */
  l2: number;
}

export interface TrainSpec {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Learning rate is multiplied by this over the last third of the epochs (a simple step decay). */
  finalDecay: number;
  /** Show each training example under a random symmetry of the square per epoch (the answer does not change). */
  augment: boolean;
  seed: number;
}

/** The model's output and name: the verifier's sigmoid P(yes) by default. */
export interface ModelHead {
  output: string;
  name: string;
}
export const VERIFIER_HEAD: ModelHead = { output: "p_yes", name: "vbr_verifier" };

/**
 * A small two-view CNN: the box-region grid and the marker patch each through their own strided
 * 3×3 convolutions, flattened, joined with the scalar features, one hidden dense layer, and a
 * sigmoid output (the verifier's P(yes); the point-value ranker's scaled value). Every initialiser
 * is seeded, and there is no dropout (tfjs re-uses a seeded dropout mask on every batch), so a
 * seed fixes it. Inputs, in order: grid, patch (when the features have one), scalars, phrase (when
 * the features read it: its word bins join the rest before the hidden layer, which can then weigh
 * what it sees by what the phrase names).
 */
export function buildModel(tf: Tf, spec: ModelSpec, seed: number, head: ModelHead = VERIFIER_HEAD): tfjs.LayersModel {
  const S = spec.features.size;
  const P = spec.features.patchSize;
  const C = channelsOf(spec.features);
  let k = 0;
  const init = () => tf.initializers.glorotUniform({ seed: seed * 1000 + k++ });
  const branch = (input: tfjs.SymbolicTensor, filters: number[], prefix: string) => {
    let x = input;
    for (const [i, f] of filters.entries()) {
      x = tf.layers.conv2d({ name: `${prefix}${i + 1}`, filters: f, kernelSize: 3, strides: 2, padding: "same", activation: "relu", kernelInitializer: init() }).apply(x) as tfjs.SymbolicTensor;
    }
    return tf.layers.flatten({ name: `${prefix}_flatten` }).apply(x) as tfjs.SymbolicTensor;
  };
  const grid = tf.input({ shape: [S, S, C], name: "grid" });
  const inputs = [grid];
  const parts = [branch(grid, spec.filters, "conv")];
  if (P > 0) {
    const patch = tf.input({ shape: [P, P, C], name: "patch" });
    inputs.push(patch);
    parts.push(branch(patch, spec.patchFilters, "patch_conv"));
  }
  const scalars = tf.input({ shape: [SCALARS], name: "scalars" });
  inputs.push(scalars);
  parts.push(scalars);
  if (spec.features.phraseBins > 0) {
    const phrase = tf.input({ shape: [spec.features.phraseBins], name: "phrase" });
    inputs.push(phrase);
    parts.push(phrase);
  }
  const joined = tf.layers.concatenate({ name: "join" }).apply(parts) as tfjs.SymbolicTensor;
  const reg = spec.l2 > 0 ? { kernelRegularizer: tf.regularizers.l2({ l2: spec.l2 }) } : {};
  const hidden = tf.layers.dense({ name: "hidden", units: spec.dense, activation: "relu", kernelInitializer: init(), ...reg }).apply(joined) as tfjs.SymbolicTensor;
  const out = tf.layers.dense({ name: head.output, units: 1, activation: "sigmoid", kernelInitializer: init(), ...reg }).apply(hidden) as tfjs.SymbolicTensor;
  return tf.model({ inputs, outputs: out, name: head.name });
}

/** The model's input tensors for n encoded examples (see buildModel for the order). */
export function inputTensors(tf: Tf, buf: EncodedBuffers, spec: FeatureSpec, n: number): tfjs.Tensor[] {
  const S = spec.size;
  const P = spec.patchSize;
  const C = channelsOf(spec);
  const xs: tfjs.Tensor[] = [tf.tensor4d(buf.grid, [n, S, S, C])];
  if (P > 0) xs.push(tf.tensor4d(buf.patch, [n, P, P, C]));
  xs.push(tf.tensor2d(buf.scalars, [n, SCALARS]));
  if (spec.phraseBins > 0) xs.push(tf.tensor2d(buf.phrase, [n, spec.phraseBins]));
  return xs;
}

/** Copy examples `idx` into batch buffers, transformed where `transforms` says so (see transformEncoded). */
function gather(set: EncodedSet, idx: readonly number[], transforms?: readonly number[]): EncodedBuffers & { labels: Float32Array } {
  const z = encodedSizes(set.spec);
  const grid = new Float32Array(idx.length * z.grid);
  const patch = new Float32Array(idx.length * z.patch);
  const scalars = new Float32Array(idx.length * z.scalars);
  const phrase = new Float32Array(idx.length * z.phrase);
  const labels = new Float32Array(idx.length);
  idx.forEach((i, b) => {
    grid.set(set.grid.subarray(i * z.grid, (i + 1) * z.grid), b * z.grid);
    patch.set(set.patch.subarray(i * z.patch, (i + 1) * z.patch), b * z.patch);
    scalars.set(set.scalars.subarray(i * z.scalars, (i + 1) * z.scalars), b * z.scalars);
    phrase.set(set.phrase.subarray(i * z.phrase, (i + 1) * z.phrase), b * z.phrase);
    labels[b] = set.labels[i]!;
  });
  const out = { grid, patch, scalars, phrase, labels };
  if (transforms) transforms.forEach((t, b) => transformEncoded(out, set.spec, t, b));
  return out;
}

/**
 * P(yes) for examples `idx` (all by default), in batches. `symmetries` > 1 averages the model over
 * that many of the 8 symmetries of the square (test-time augmentation: the model was trained
 * under all of them, and the answer does not depend on them).
 */
export function predict(tf: Tf, model: tfjs.LayersModel, set: EncodedSet, idx?: readonly number[], batchSize = 256, symmetries = 1): Float32Array {
  const ids = idx ?? Array.from({ length: set.n }, (_, i) => i);
  const out = new Float32Array(ids.length);
  for (let t = 0; t < symmetries; t++) {
    for (let s = 0; s < ids.length; s += batchSize) {
      const chunk = ids.slice(s, s + batchSize);
      const b = gather(set, chunk, t ? chunk.map(() => t) : undefined);
      const p = tf.tidy(() => (model.predict(inputTensors(tf, b, set.spec, chunk.length)) as tfjs.Tensor).dataSync());
      for (let k = 0; k < chunk.length; k++) out[s + k]! += p[k]! / symmetries;
    }
  }
  return out;
}

/** Mean binary cross-entropy and accuracy at 0.5 of P(yes) `p` for examples `idx` (labels 0/1). */
function lossAndAccuracy(p: Float32Array, set: EncodedSet, idx: readonly number[]): { loss: number; metric: number } {
  let loss = 0;
  let right = 0;
  idx.forEach((i, k) => {
    const q = Math.min(1 - 1e-7, Math.max(1e-7, p[k]!));
    const y = set.labels[i]! === 1;
    loss -= y ? Math.log(q) : Math.log(1 - q);
    if (q >= 0.5 === y) right++;
  });
  return { loss: loss / Math.max(1, idx.length), metric: right / Math.max(1, idx.length) };
}

/**
 * What a model is fitted to: its Keras loss over the sigmoid output (binary cross-entropy also
 * takes soft targets in [0, 1]), the Keras metric shown while training (if any), and the held-out
 * figures of an epoch, measured on one view of each held-out example.
 */
export interface LearningTask {
  loss: "binaryCrossentropy" | "meanSquaredError";
  metric?: "accuracy";
  heldOut(p: Float32Array, set: EncodedSet, idx: readonly number[]): { loss: number; metric: number };
}

/** The verifier's task: P(yes) against 0/1 labels, accuracy at 0.5. */
export const BINARY_TASK: LearningTask = { loss: "binaryCrossentropy", metric: "accuracy", heldOut: lossAndAccuracy };

/** One epoch of fitModel: the running training loss (and metric), the held-out ones. */
export interface FitEpoch {
  epoch: number;
  trainLoss: number;
  /** Running mean of the task's Keras metric (null without one). */
  trainMetric: number | null;
  heldOutLoss: number;
  heldOutMetric: number;
  seconds: number;
}

/** What every training run checks before any work: the held-out share and the epoch count (the verifier's and the ranker's alike). */
export function checkTrainingOptions(heldOut: number, epochs: number): void {
  if (!(heldOut > 0 && heldOut < 1)) throw new InputError(`expected a share in (0, 1), got ${heldOut}`, { field: "heldOut" });
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new InputError(`expected an integer >= 1, got ${epochs}`, { field: "epochs" });
}

/**
 * Mini-batch Adam on the task's loss. The order of examples and their symmetries come from seeded
 * streams per epoch; on the CPU backend the whole run is bit-reproducible for a seed.
 */
export async function fitModel(
  tf: Tf,
  model: tfjs.LayersModel,
  set: EncodedSet,
  split: { train: number[]; test: number[] },
  spec: TrainSpec,
  task: LearningTask,
  onBatch?: (done: number, total: number) => void,
  onEpoch?: (log: FitEpoch) => void,
): Promise<FitEpoch[]> {
  const optimizer = tf.train.adam(spec.learningRate);
  model.compile({ optimizer, loss: task.loss, metrics: task.metric ? [task.metric] : [] });
  const logs: FitEpoch[] = [];
  const batchesPerEpoch = Math.ceil(split.train.length / spec.batchSize);
  let done = 0;
  for (let epoch = 1; epoch <= spec.epochs; epoch++) {
    const t0 = performance.now();
    if (epoch > Math.ceil((2 * spec.epochs) / 3)) (optimizer as unknown as { learningRate: number }).learningRate = spec.learningRate * spec.finalDecay;
    const rng = randomStream(spec.seed, "learned/epoch", String(epoch));
    const order = rng.shuffle(split.train);
    let lossSum = 0;
    let metricSum = 0;
    for (let s = 0; s < order.length; s += spec.batchSize) {
      const idx = order.slice(s, s + spec.batchSize);
      const transforms = spec.augment ? idx.map(() => rng.int(8)) : undefined;
      const b = gather(set, idx, transforms);
      const xs = inputTensors(tf, b, set.spec, idx.length);
      const ys = tf.tensor2d(b.labels, [idx.length, 1]);
      const out = await model.trainOnBatch(xs, ys);
      const [loss, metric] = Array.isArray(out) ? out : [out];
      lossSum += loss! * idx.length;
      metricSum += (metric ?? 0) * idx.length;
      tf.dispose([...xs, ys]);
      onBatch?.(++done, batchesPerEpoch * spec.epochs);
    }
    // The held-out side in one view only: the per-epoch curve, not the reported figure.
    const te = task.heldOut(predict(tf, model, set, split.test), set, split.test);
    const n = Math.max(1, order.length);
    const log: FitEpoch = { epoch, trainLoss: lossSum / n, trainMetric: task.metric ? metricSum / n : null, heldOutLoss: te.loss, heldOutMetric: te.metric, seconds: (performance.now() - t0) / 1000 };
    logs.push(log);
    onEpoch?.(log);
  }
  return logs;
}

export interface EpochLog {
  epoch: number;
  /** Running means over the epoch's batches (augmented, each measured before its update), as Keras reports them. */
  trainLoss: number;
  trainAccuracy: number;
  heldOutLoss: number;
  heldOutAccuracy: number;
  seconds: number;
}

/** The verifier's training: fitModel on BINARY_TASK, its epochs as accuracy curves. */
export async function trainModel(
  tf: Tf,
  model: tfjs.LayersModel,
  set: EncodedSet,
  split: { train: number[]; test: number[] },
  spec: TrainSpec,
  onBatch?: (done: number, total: number) => void,
  onEpoch?: (log: EpochLog) => void,
): Promise<EpochLog[]> {
  const asAccuracy = (l: FitEpoch): EpochLog => ({ epoch: l.epoch, trainLoss: l.trainLoss, trainAccuracy: l.trainMetric ?? 0, heldOutLoss: l.heldOutLoss, heldOutAccuracy: l.heldOutMetric, seconds: l.seconds });
  return (await fitModel(tf, model, set, split, spec, BINARY_TASK, onBatch, onEpoch && ((l) => onEpoch(asAccuracy(l))))).map(asAccuracy);
}

/**
 * Save in TensorFlow.js layers format (model.json + weights.bin, what tfjs-node's `file://`
 * handler writes and `tf.loadLayersModel` reads) through our own IO handler: pure tfjs has no
 * file system handler.
 */
export async function saveModel(tf: Tf, model: tfjs.LayersModel, dir: string, userDefinedMetadata: Record<string, unknown>): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const parts = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const weights = Buffer.concat(parts.map((b) => Buffer.from(b)));
      await writeFileAtomic(join(dir, "weights.bin"), weights);
      const json = {
        format: "layers-model",
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ["./weights.bin"], weights: artifacts.weightSpecs ?? [] }],
        userDefinedMetadata,
      };
      await writeFileAtomic(join(dir, "model.json"), `${JSON.stringify(json)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON", weightDataBytes: weights.length } };
    }),
  );
}

/** Load a model saved by saveModel (or by tfjs-node's file:// handler with one weights file). */
export async function loadModel(tf: Tf, dir: string): Promise<tfjs.LayersModel> {
  const file = join(dir, "model.json");
  let json: { modelTopology?: object; weightsManifest?: { paths: string[]; weights: tfjs.io.WeightsManifestEntry[] }[] };
  try {
    json = JSON.parse(await readFile(file, "utf8")) as typeof json;
  } catch (err) {
    throw new InputError(`cannot read the model: ${(err as Error).message}`, { file });
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) throw new InputError("expected a tfjs layers model (modelTopology, weightsManifest)", { file });
  const specs = json.weightsManifest.flatMap((g) => g.weights);
  const buffers = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p))));
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}
