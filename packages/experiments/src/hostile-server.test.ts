/**
 * The real profile against a hostile model server (500s, 429s, hangs past the timeout, bodies that
 * are not JSON, answers without the requested logprobs, sockets closed mid-body, each at 5-15% of
 * requests): one invocation finishes with exactly the records a well-behaved server gives, every
 * fault is counted by kind, and the API key is written nowhere. Same fixture as real-path.test.ts:
 * REFER files written by python3, tiny SAM2 ONNX models, a vLLM-shaped local server.
 */
import { mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pythonAvailable } from "@resagent/data/testing";
import { addAccounting, emptyAccounting, formatAccounting, type HttpBackendOptions, type ModelCallAccounting } from "@resagent/mllm";
import { hostile, startTestServer, yesNoReply, type Script, type TestServer } from "@resagent/mllm/testing";
import { findRoot, loadExperiment, runExperimentAccounted, writeResults, type AccountedRunResult } from "./index.js";
import { makeRealProfileFixture } from "./real-fixture.js";

const root = findRoot();
const python = pythonAvailable();

interface ChatBody {
  messages: { content: { type: string; text?: string; image_url?: { url: string } }[] }[];
}

/**
 * What a model would answer, a function of the request: a Qwen3 box for grounding (no box for one
 * phrase: a grounding parse failure), yes/no from the marked image's bytes (now and then neither:
 * an abstention).
 */
const model: Script = (_n, body) => {
  const b = body as unknown as ChatBody;
  const text = b.messages[0]!.content.find((c) => c.type === "text")!.text!;
  if (text.includes("bounding box")) return { kind: "answer", text: text.includes("second 3") ? "I cannot find it." : '```json\n[{"bbox_2d": [100, 100, 600, 700], "label": "thing"}]\n```' };
  const bytes = b.messages[0]!.content.find((c) => c.type === "image_url")!.image_url!.url.length;
  if (bytes % 5 === 0) return { kind: "answer", text: "Maybe", top: [{ token: "Maybe", logprob: -0.1 }, { token: "Unclear", logprob: -2 }] };
  const yes = bytes % 3 !== 0;
  return yesNoReply(yes);
};

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

describe("real profile against a hostile model server", () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  it.skipIf(!python)("finishes in one invocation with the well-behaved server's records, counts every fault by kind, and writes the API key nowhere (skipped without python3, which writes the REFER fixture)", async () => {
    const { data, sam } = await makeRealProfileFixture();

    const calm = await startTestServer(model);
    const faults = hostile(model, { seed: 3, rates: { status500: 0.1, status429: 0.05, hang: 0.05, malformed: 0.1, noLogprobs: 0.15, drop: 0.1 }, hangMs: 2_500 });
    const rough = await startTestServer(faults);
    servers.push(calm, rough);
    const secret = "sk-hostile-DO-NOT-LEAK-9f8e7d";

    const env: Record<string, string> = {
      RESAGENT_DATA_ROOT: data,
      RESAGENT_MLLM_MODEL: "Qwen/Qwen3-VL-8B-Instruct",
      RESAGENT_VBR_MODEL: "resagent-vbr-lora",
      RESAGENT_SAM2_DIR: sam,
      RESAGENT_SAM2_ADAPTED_DIR: sam,
      RESAGENT_HOSTILE_TEST_KEY: secret,
    };
    const saved = Object.fromEntries([...Object.keys(env), "RESAGENT_MLLM_URL"].map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const logs: string[] = [];
    /** One invocation into a fresh run folder with its own response cache. */
    const run = async (server: TestServer, into?: { dir: string; cache: string }): Promise<{ dir: string; cache: string; result: AccountedRunResult; ms: number }> => {
      process.env.RESAGENT_MLLM_URL = server.url;
      const exp = loadExperiment("table4", { root, profile: "real", set: ["limit=2", "concurrency=2"] });
      exp.cells.splice(0, exp.cells.length, ...exp.cells.filter((c) => c.id === "K=0" || c.id === "K=4"));
      delete exp.config.resolvedDatasets.val; // its second ref has no annotation (the data tests cover it)
      const cache = into?.cache ?? (await mkdtemp(join(tmpdir(), "resagent-hostile-cache-")));
      for (const c of exp.cells) {
        for (const b of [c.pipeline.mllm, c.pipeline.verifierMllm!] as { http: HttpBackendOptions; cacheDir?: string }[]) {
          // Hangs last 2.5 s: a 1.5 s timeout sees them, and nothing else comes near it.
          b.http = { ...b.http, apiKeyEnv: "RESAGENT_HOSTILE_TEST_KEY", timeoutMs: 1_500, retries: 12, backoffMs: 1, maxBackoffMs: 8 };
          b.cacheDir = cache;
        }
      }
      const dir = into?.dir ?? (await mkdtemp(join(tmpdir(), "resagent-hostile-run-")));
      const t0 = performance.now();
      const result = await runExperimentAccounted(exp, { runDir: dir, log: (l) => logs.push(l), onAccounting: (l) => logs.push(l) });
      const ms = performance.now() - t0;
      await writeResults(exp, dir, [join(dir, "samples.jsonl")], result);
      return { dir, cache, result, ms };
    };
    try {
      const good = await run(calm);
      const bad = await run(rough);
      const strip = async (d: string) => (await readFile(join(d, "samples.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.stringify({ ...JSON.parse(l), timing: undefined }));
      const want = await strip(good.dir);
      expect(want.length).toBe(2 * 4);
      expect(await strip(bad.dir)).toEqual(want);
      expect(bad.result.newRecords).toBe(8);

      // Every injected fault is a failed attempt of its own kind, retried; nothing gave up.
      const a = bad.result.accounting;
      const i = faults.injected;
      for (const n of Object.values(i)) expect(n).toBeGreaterThan(0);
      expect(a.failed.http).toEqual({ "500": i.status500, "429": i.status429 });
      expect(a.failed).toMatchObject({ malformedBody: i.malformed, missingLogprobs: i.noLogprobs, socket: i.drop, other: 0 });
      expect(a.failed.timeout).toBeGreaterThanOrEqual(i.hang);
      expect(a.gaveUp).toBe(0);
      expect(a.requests).toBe(rough.requests.length);
      expect(a.retries).toBe(rough.requests.length - calm.requests.length);
      // The same calls as against the calm server, the same cache hits, the same abstentions.
      const g = good.result.accounting;
      const endpoints = { [calm.url]: { requests: calm.requests.length, failed: 0, rests: 0 } };
      expect(g).toEqual({ ...emptyAccounting(), queries: g.queries, cacheHits: g.cacheHits, requests: calm.requests.length, abstentions: g.abstentions, groundingParseFailures: g.groundingParseFailures, endpoints });
      expect([a.queries, a.cacheHits, a.abstentions, a.groundingParseFailures]).toEqual([g.queries, g.cacheHits, g.abstentions, g.groundingParseFailures]);
      // Abstentions and grounding parse failures are what the records say.
      const records = want.map((l) => JSON.parse(l) as { groundingFailure?: string; queries: { pYes: number | null }[] });
      expect(a.groundingParseFailures).toBe(records.filter((r) => r.groundingFailure).length);
      expect(a.groundingParseFailures).toBe(2); // "second 3", in the K=0 and the K=4 cell
      expect(a.abstentions).toBe(records.flatMap((r) => r.queries).filter((q) => q.pYes === null).length);
      expect(a.abstentions).toBeGreaterThan(0);
      expect(a.queries).toBe(a.cacheHits + calm.requests.length);

      // The printed line shows each kind with its count.
      const line = bad.result.accountingLine;
      expect(logs).toContain(line);
      expect(line).toBe(formatAccounting(a));
      expect(line).toContain(`failed attempts: ${i.status500 + i.status429} HTTP status (429: ${i.status429}, 500: ${i.status500}), ${a.failed.timeout} timeout, ${i.drop} socket, ${i.malformed} malformed body, ${i.noLogprobs} missing logprobs;`);

      // summary.json keeps the invocation and the cumulative sum.
      const summary = JSON.parse(await readFile(join(bad.dir, "summary.json"), "utf8")) as { modelCalls: { invocations: { status: string; newRecords: number; accounting: ModelCallAccounting }[]; cumulative: ModelCallAccounting } };
      expect(summary.modelCalls.invocations).toHaveLength(1);
      expect(summary.modelCalls.invocations[0]).toMatchObject({ status: "done", newRecords: 8, accounting: a });
      expect(summary.modelCalls.cumulative).toEqual(a);

      // A torn line in the middle of samples.jsonl and of a response cache: only those are lost;
      // the next invocation says so, redoes the one record, and adds its own accounting line.
      const samplesFile = join(bad.dir, "samples.jsonl");
      const lines = (await readFile(samplesFile, "utf8")).trim().split("\n");
      lines[2] = lines[2]!.slice(0, 60);
      await writeFile(samplesFile, `${lines.join("\n")}\n`);
      const cacheFile = (await filesUnder(bad.cache)).find((f) => f.endsWith(".jsonl"))!;
      const cached = (await readFile(cacheFile, "utf8")).trim().split("\n");
      expect(cached.length).toBeGreaterThan(2);
      cached[1] = cached[1]!.slice(0, 30);
      await writeFile(cacheFile, `${cached.join("\n")}\n`);
      const again = await run(rough, bad);
      expect(logs.some((l) => l.endsWith("samples.jsonl: dropped 1 torn line(s), kept 7 record(s); the dropped samples run again"))).toBe(true);
      expect(again.result.newRecords).toBe(1);
      expect(again.result.accounting).toMatchObject({ cacheLinesSkipped: 1, gaveUp: 0 });
      expect((await strip(bad.dir)).sort()).toEqual([...want].sort());
      const resumed = JSON.parse(await readFile(join(bad.dir, "summary.json"), "utf8")) as typeof summary;
      expect(resumed.modelCalls.invocations.map((x) => x.newRecords)).toEqual([8, 1]);
      expect(resumed.modelCalls.cumulative).toEqual(addAccounting(a, again.result.accounting));

      // The key went to the server, and nowhere else: no result file, no cache line, no log.
      expect(rough.requests.every((r) => r.headers.authorization === `Bearer ${secret}`)).toBe(true);
      for (const d of [good.dir, good.cache, bad.dir, bad.cache]) for (const f of await filesUnder(d)) expect(await readFile(f, "utf8"), f).not.toContain(secret);
      expect(logs.join("\n")).not.toContain(secret);

      // For the report: the hostile run's cost in wall time next to the calm one's.
      console.info(`hostile-server run: ${bad.ms.toFixed(0)} ms vs ${good.ms.toFixed(0)} ms well-behaved; ${line}`);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
