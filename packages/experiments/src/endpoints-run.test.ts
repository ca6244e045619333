/**
 * A run against two endpoints of one model, one of them down or failing: it finishes with the same
 * records as with both up, the healthy endpoint takes the load, and the accounting says so.
 * Synthref data; grounding and verification through the HTTP client against local vLLM-shaped
 * servers. The endpoints are under test here, not the decoder: masks are the boxes.
 */
import { readFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BackendConfigSchema, GrounderConfigSchema, formatAccounting } from "@resagent/mllm";
import { deadUrl, startTestServer, type Script, type TestServer } from "@resagent/mllm/testing";
import { findRoot, loadExperiment, runExperimentAccounted } from "./index.js";

const root = findRoot();

interface ChatBody {
  messages: { content: { type: string; text?: string; image_url?: { url: string } }[] }[];
}

/** The model: a function of the request only (a Qwen3 box for grounding; yes/no from the marked image's bytes). */
const model: Script = (_n, body) => {
  const b = body as unknown as ChatBody;
  const text = b.messages[0]!.content.find((c) => c.type === "text")!.text!;
  if (text.includes("bounding box")) return { kind: "answer", text: '```json\n[{"bbox_2d": [150, 120, 700, 820], "label": "thing"}]\n```' };
  const bytes = b.messages[0]!.content.find((c) => c.type === "image_url")!.image_url!.url.length;
  const yes = bytes % 3 !== 0;
  return { kind: "answer", text: yes ? "Yes" : "No", top: [{ token: yes ? "Yes" : "No", logprob: -0.1 - (bytes % 7) / 10 }, { token: yes ? "No" : "Yes", logprob: -2.5 }] };
};

describe("a run against two endpoints, one down or failing", () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });
  const serve = async (script: Script) => {
    const s = await startTestServer(script);
    servers.push(s);
    return s;
  };

  async function run(baseUrls: string[]) {
    const exp = loadExperiment("table4", { root, set: ["limit=3", "concurrency=2", 'decoder={"name":"box"}'] });
    exp.cells.splice(0, exp.cells.length, ...exp.cells.filter((c) => c.id === "K=4"));
    for (const k of Object.keys(exp.config.resolvedDatasets)) if (k !== "val") delete exp.config.resolvedDatasets[k];
    const http = { baseUrls, model: "Qwen/Qwen3-VL-8B-Instruct", timeoutMs: 30_000, backoffMs: 1, maxBackoffMs: 4, restAfterFailures: 2, restMs: 60_000 };
    for (const c of exp.cells) {
      // No response cache: every run asks the servers.
      // Components take parsed configs: these replace what the profile loaded, so they go through the same parse.
      c.pipeline.mllm = GrounderConfigSchema.parse({ backend: "openai", convention: "qwen3", pick: "first", cache: "off", http });
      c.pipeline.verifierMllm = BackendConfigSchema.parse({ backend: "openai", cache: "off", http });
    }
    const dir = await mkdtemp(join(tmpdir(), "resagent-endpoints-run-"));
    const result = await runExperimentAccounted(exp, { runDir: dir, shareRecords: false });
    const records = (await readFile(join(dir, "samples.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.stringify({ ...JSON.parse(l), timing: undefined }))
      .sort();
    return { result, records };
  }

  it("finishes with the records of a run with both up; the healthy endpoint took the load", async () => {
    const both = await run([(await serve(model)).url, (await serve(model)).url]);
    expect(both.records.length).toBe(3);
    const requests = both.result.accounting.requests;
    // The test servers share the event loop with the pipeline: a generous timeout, so only the bad endpoint fails.
    expect(Object.values(both.result.accounting.endpoints).map((e) => [e.failed, e.rests])).toEqual([
      [0, 0],
      [0, 0],
    ]);

    for (const bad of [(await serve(() => ({ kind: "status", status: 503 }))).url, await deadUrl()]) {
      const healthy = await serve(model);
      const one = await run([bad, healthy.url]);
      expect(one.records).toEqual(both.records);
      const a = one.result.accounting;
      expect(a.gaveUp).toBe(0);
      expect(a.endpoints[healthy.url]).toEqual({ requests, failed: 0, rests: 0 });
      expect(healthy.requests.length).toBe(requests);
      // Grounding and verification share one client (same model and servers), which rested the
      // bad endpoint once, after 2 failures in a row (plus what was in flight then: at most 8).
      expect(one.result.backendStats.length).toBe(1);
      expect(a.endpoints[bad]!.rests).toBe(1);
      expect(a.endpoints[bad]!.requests).toBe(a.endpoints[bad]!.failed);
      expect(a.endpoints[bad]!.requests).toBeLessThanOrEqual(2 + 8);
      expect(one.result.accountingLine).toBe(formatAccounting(a));
      expect(one.result.accountingLine).toContain(`${bad} ${a.endpoints[bad]!.requests} requests, ${a.endpoints[bad]!.failed} failed, rested 1x`);
    }
  });
});
