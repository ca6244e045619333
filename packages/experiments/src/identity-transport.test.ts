/**
 * A run's identity leaves out how answers are fetched (endpoint URLs, timeouts, retries, resting):
 * shards of one run on a cluster, each pointed at other endpoints, share one run id and merge.
 */
import { describe, expect, it } from "vitest";
import { configHash, defaultRunId, findRoot, loadExperiment } from "./index.js";
import type { HttpBackendOptions } from "@resagent/mllm";

const root = findRoot();
const env = { RESAGENT_VBR_MODEL: "resagent-vbr" };

function load(set: string[]) {
  const saved = process.env.RESAGENT_VBR_MODEL;
  Object.assign(process.env, env);
  try {
    return loadExperiment("table4", { root, profile: "real", set, allowStandIns: true });
  } finally {
    if (saved === undefined) delete process.env.RESAGENT_VBR_MODEL;
    else process.env.RESAGENT_VBR_MODEL = saved;
  }
}

describe("run identity and HTTP transport settings", () => {
  it("endpoints, timeouts, retries and resting do not change the run id; the model and temperature do", () => {
    const base = load([]);
    const moved = load([
      'pipeline.mllm.http.baseUrls=["http://gpu1:8000/v1","http://gpu2:8000/v1"]',
      'pipeline.verifierMllm.http.baseUrls=["http://gpu3:8000/v1"]',
      "pipeline.mllm.http.timeoutMs=5000",
      "pipeline.mllm.http.retries=9",
      "pipeline.mllm.http.concurrency=32",
      "pipeline.mllm.http.restAfterFailures=5",
      "pipeline.mllm.http.restMs=1000",
    ]);
    expect((moved.cells[0]!.pipeline.mllm as { http: HttpBackendOptions }).http.baseUrls).toEqual(["http://gpu1:8000/v1", "http://gpu2:8000/v1"]);
    expect(configHash(moved)).toBe(configHash(base));
    expect(defaultRunId(moved)).toBe(defaultRunId(base));
    expect(configHash(load(["pipeline.mllm.http.model=Qwen/Qwen2.5-VL-7B-Instruct"]))).not.toBe(configHash(base));
    expect(configHash(load(["pipeline.mllm.http.temperature=0.5"]))).not.toBe(configHash(base));
    expect(configHash(load(["pipeline.verifier.tau=0.6"]))).not.toBe(configHash(base));
  });
});
