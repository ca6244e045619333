import { buildModel, saveModel } from "./model.js";
import { POINT_VALUE_MODEL_VERSION, RANKER_HEAD, RANKER_MODEL_DEFAULTS, RANKER_SYMMETRIES, RANKER_TARGET_SCALE, type RankerModelMeta } from "./ranker.js";
import { loadTf } from "./tf.js";
import { LEARNED_MODEL_VERSION, MODEL_DEFAULTS } from "./train.js";

/**
 * An initialised but untrained model in `dir`, labelled as such: for tests of other packages that
 * run experiments with a learned row, where the plumbing is under test, not the verifier's skill.
 * Its description says "untrained test fixture" wherever it shows.
 */
export async function writeUntrainedModel(dir: string, seed = 0): Promise<void> {
  const { tf } = await loadTf(undefined, () => {});
  const model = buildModel(tf, MODEL_DEFAULTS, seed);
  await saveModel(tf, model, dir, {
    resagent: { version: LEARNED_MODEL_VERSION, features: MODEL_DEFAULTS.features, symmetries: 1, trainedOn: "nothing (untrained test fixture)", heldOutAccuracy: 0, heldOutN: 0, seed, backend: "test", gitCommit: "test" },
  });
  model.dispose();
}

/** An initialised but untrained point-value ranker in `dir`, labelled as such (see writeUntrainedModel). */
export async function writeUntrainedRanker(dir: string, seed = 0): Promise<void> {
  const { tf } = await loadTf(undefined, () => {});
  const model = buildModel(tf, RANKER_MODEL_DEFAULTS, seed, RANKER_HEAD);
  const meta: RankerModelMeta = {
    kind: "point-value",
    version: POINT_VALUE_MODEL_VERSION,
    features: RANKER_MODEL_DEFAULTS.features,
    symmetries: RANKER_SYMMETRIES,
    targetScale: RANKER_TARGET_SCALE,
    trainedOn: "nothing (untrained test fixture)",
    decoder: "none",
    heldOutGapClosed: { spiral: null, random: null, k: 2 },
    heldOutImages: 0,
    seed,
    backend: "test",
    gitCommit: "test",
  };
  await saveModel(tf, model, dir, { resagent: meta });
  model.dispose();
}
