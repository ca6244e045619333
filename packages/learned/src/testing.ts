import { buildModel, saveModel } from "./model.js";
import { POINT_VALUE_MODEL_VERSION, RANKER_HEAD, RANKER_MODEL_DEFAULTS, RANKER_TARGET_SCALE, type RankerModelMeta } from "./ranker.js";
import { loadTf } from "./tf.js";
import { LEARNED_MODEL_VERSION, MODEL_DEFAULTS } from "./train.js";

/**
 * The fixtures' layers: the default inputs (what the backends check and encode) through a few
 * filters each. Nothing is learned here, so width buys nothing, and the tests that run them
 * pay for every convolution on the CPU backend.
 */
const FIXTURE_LAYERS = { filters: [4, 4, 4], patchFilters: [4, 4, 4], dense: 8 };

/**
 * An initialised but untrained model in `dir`, labelled as such: for tests of other packages that
 * run experiments with a learned row, where the plumbing is under test, not the verifier's skill.
 * Its description says "untrained test fixture" wherever it shows.
 */
export async function writeUntrainedModel(dir: string, seed = 0): Promise<void> {
  const { tf } = await loadTf(undefined, () => {});
  const model = buildModel(tf, { ...MODEL_DEFAULTS, ...FIXTURE_LAYERS }, seed);
  await saveModel(tf, model, dir, {
    resagent: { version: LEARNED_MODEL_VERSION, features: MODEL_DEFAULTS.features, symmetries: 1, trainedOn: "nothing (untrained test fixture)", heldOutAccuracy: 0, heldOutN: 0, seed, backend: "test", gitCommit: "test" },
  });
  model.dispose();
}

/** An initialised but untrained point-value ranker in `dir`, labelled as such (see writeUntrainedModel). */
export async function writeUntrainedRanker(dir: string, seed = 0): Promise<void> {
  const { tf } = await loadTf(undefined, () => {});
  const model = buildModel(tf, { ...RANKER_MODEL_DEFAULTS, ...FIXTURE_LAYERS }, seed, RANKER_HEAD);
  const meta: RankerModelMeta = {
    kind: "point-value",
    version: POINT_VALUE_MODEL_VERSION,
    features: RANKER_MODEL_DEFAULTS.features,
    // One view, not the trained ranker's eight: nothing to average for an untrained model.
    symmetries: 1,
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
