// Vitest setup for projects whose tests run experiments with a "learned (tfjs)" row (experiments,
// cli): registers the `learned` backend and points it at an untrained fixture model, so those
// tests exercise the plumbing in seconds instead of training the default model (10 min).
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeUntrainedModel, writeUntrainedRanker } from "./testing.js";
import { MODEL_DEFAULTS, RANKER_MODEL_DEFAULTS, readModelMeta, readRankerMeta } from "./index.js";

const dir = join(tmpdir(), `resagent-learned-fixture-${process.pid}`);
// A fixture left by another process with this pid may be of an older model version or inputs: rewrite it then.
const current = (): boolean => {
  try {
    return JSON.stringify(readModelMeta(dir)?.meta.features) === JSON.stringify(MODEL_DEFAULTS.features);
  } catch {
    return false;
  }
};
if (!existsSync(join(dir, "model.json")) || !current()) await writeUntrainedModel(dir);
process.env.RESAGENT_LEARNED_MODEL = dir;

// The same for `sampler.rank: learned-value` rows (experiments/point-value.yaml).
const rankerDir = join(tmpdir(), `resagent-ranker-fixture-${process.pid}`);
const rankerCurrent = (): boolean => {
  try {
    return JSON.stringify(readRankerMeta(rankerDir)?.meta.features) === JSON.stringify(RANKER_MODEL_DEFAULTS.features);
  } catch {
    return false;
  }
};
if (!rankerCurrent()) await writeUntrainedRanker(rankerDir);
process.env.RESAGENT_POINT_VALUE_MODEL = rankerDir;
