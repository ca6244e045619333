import { buildModel, saveModel } from "./model.js";
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
