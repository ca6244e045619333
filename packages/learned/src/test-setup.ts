// Vitest setup for projects whose tests run experiments with a "learned (tfjs)" row or
// `sampler.rank: learned-value` (experiments, cli): importing the package registers both, and each
// is pointed at an untrained fixture model, so those tests exercise the plumbing in seconds instead
// of training the default models. The fixtures are written once per test run, into the run's
// shared fixtures folder (vitest.global-setup.ts), by the first test file that finds them missing;
// loading TensorFlow.js to write them costs a second or more of CPU each time.
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeUntrainedModel, writeUntrainedRanker } from "./testing.js";
import { MODEL_DEFAULTS, RANKER_MODEL_DEFAULTS, readModelMeta, readRankerMeta } from "./index.js";

const root = process.env.RESAGENT_TEST_FIXTURES ?? tmpdir();

/** `dir` holding a fixture of the current model version and inputs: kept; else written beside and renamed in (a concurrent writer's copy is as good). */
async function fixture(dir: string, current: () => boolean, write: (d: string) => Promise<void>): Promise<string> {
  if (existsSync(join(dir, "model.json"))) {
    if (current()) return dir;
    // Left by an older model version (a pid's folder outside a test run): replaced.
    await rm(dir, { recursive: true, force: true });
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  await write(tmp);
  // Renaming onto a folder another file has put there meanwhile fails (not empty): theirs is kept.
  await rename(tmp, dir).catch(() => rm(tmp, { recursive: true, force: true }));
  return dir;
}
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const quietly = (f: () => boolean) => () => {
  try {
    return f();
  } catch {
    return false;
  }
};

const verifierDir = join(root, `resagent-untrained-verifier${process.env.RESAGENT_TEST_FIXTURES ? "" : `-${process.pid}`}`);
process.env.RESAGENT_LEARNED_MODEL = await fixture(verifierDir, quietly(() => same(readModelMeta(verifierDir)?.meta.features, MODEL_DEFAULTS.features)), writeUntrainedModel);
const rankerDir = join(root, `resagent-untrained-ranker${process.env.RESAGENT_TEST_FIXTURES ? "" : `-${process.pid}`}`);
process.env.RESAGENT_POINT_VALUE_MODEL = await fixture(rankerDir, quietly(() => same(readRankerMeta(rankerDir)?.meta.features, RANKER_MODEL_DEFAULTS.features)), writeUntrainedRanker);
