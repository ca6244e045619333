// Vitest setup for projects whose tests run experiments with a "learned (tfjs)" row (experiments,
// cli): registers the `learned` backend and points it at an untrained fixture model, so those
// tests exercise the plumbing in seconds instead of training the default model (10 min).
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeUntrainedModel } from "./testing.js";
import "./index.js";

const dir = join(tmpdir(), `resagent-learned-fixture-${process.pid}`);
if (!existsSync(join(dir, "model.json"))) await writeUntrainedModel(dir);
process.env.RESAGENT_LEARNED_MODEL = dir;
