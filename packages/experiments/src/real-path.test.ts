/**
 * The real profile end to end, with no weights or data to download: REFER files written by
 * python3 (Python-2-style pickles), Qwen-VL played by a local server that answers in vLLM's exact
 * response shape, SAM2 played by tiny ONNX models with the ORT export's names. Everything between
 * them (config loading with env interpolation, REFER loader, HTTP client, grounding parser,
 * markers, logprob aggregation, SAM2 pre/post-processing, disk response cache, results) is the
 * code a real run uses.
 */
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pythonAvailable } from "@resagent/data/testing";
import { boxPrompt } from "@resagent/mllm";
import { startTestServer, yesNoReply, type TestServer } from "@resagent/mllm/testing";
import { findRoot, loadExperiment, runExperiment, writeResults } from "./index.js";
import { makeRealProfileFixture } from "./real-fixture.js";

const root = findRoot();

const python = pythonAvailable();

interface ChatBody {
  messages: { content: { type: string; text?: string; image_url?: { url: string } }[] }[];
  logprobs?: boolean;
  top_logprobs?: number;
  model: string;
}

describe("real profile, end to end against a local vLLM-shaped server and tiny SAM2 ONNX models", () => {
  let server: TestServer | undefined;
  afterAll(async () => server?.close());

  it.skipIf(!python)("runs Table 4 (K = 0 and 4) on REFER files, then reruns from the disk cache with no requests (skipped without python3, which writes the REFER fixture)", async () => {
    const { data, sam } = await makeRealProfileFixture();

    // Grounding: a Qwen3 box (0-1000 grid). Verification: yes or no by a property of the marked
    // image, so answers are a deterministic function of the request, as a model's would be.
    server = await startTestServer((_n, body) => {
      const b = body as unknown as ChatBody;
      const text = b.messages[0]!.content.find((c) => c.type === "text")!.text!;
      if (text.includes("bounding box")) return { kind: "answer", text: '```json\n[{"bbox_2d": [100, 100, 600, 700], "label": "thing"}]\n```' };
      const yes = b.messages[0]!.content.find((c) => c.type === "image_url")!.image_url!.url.length % 3 !== 0;
      return yesNoReply(yes);
    });
    const env = {
      RESAGENT_DATA_ROOT: data,
      RESAGENT_MLLM_URL: server.url,
      RESAGENT_MLLM_MODEL: "Qwen/Qwen3-VL-8B-Instruct",
      RESAGENT_VBR_MODEL: "resagent-vbr-lora",
      RESAGENT_SAM2_DIR: sam,
      RESAGENT_SAM2_ADAPTED_DIR: sam,
      RESAGENT_CACHE_DIR: join(data, "cache"),
    };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      const load = () => {
        const exp = loadExperiment("table4", { root, profile: "real", set: ["limit=2", "concurrency=2"] });
        exp.cells.splice(0, exp.cells.length, ...exp.cells.filter((c) => c.id === "K=0" || c.id === "K=4"));
        // val's second ref has no annotation (a bad-file case the data tests cover): keep the clean splits.
        delete exp.config.resolvedDatasets.val;
        return exp;
      };
      const exp = load();
      const dir = await mkdtemp(join(tmpdir(), "resagent-real-run-"));
      const run = await runExperiment(exp, { runDir: dir });
      expect(run.newRecords).toBe(2 * 4); // 2 cells x (testA 2 + testB 2 sentences)
      await writeResults(exp, dir, [join(dir, "samples.jsonl")], run);
      const summary = JSON.parse(await readFile(join(dir, "summary.json"), "utf8")) as { simulated: boolean; title: string; decoders: { description: string; stats: Record<string, number> }[] };
      expect(summary.simulated).toBe(false);
      expect(summary.title).not.toMatch(/SIMULATED/);

      const records = (await readFile(join(dir, "samples.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { cell: string; expression: string; box: number[]; queries: { pYes: number; decision: string }[]; positives: unknown[]; negatives: unknown[]; mask: { size: number[] }; union: number; decode?: { branch: string; boxScore?: number } });
      for (const r of records) {
        // 0-1000 grid -> pixels of the 64x48 image
        expect(r.box).toEqual([6.4, 4.8, 38.4, 33.6]);
        expect(r.mask.size).toEqual([48, 64]);
        expect(r.union).toBeGreaterThan(0);
      }
      const k4 = records.filter((r) => r.cell === "K=4");
      expect(k4.every((r) => r.queries.length > 0 && r.queries.every((q) => q.pYes > 0 && q.pYes < 1))).toBe(true);
      // Eq. 6 over the top-k: Yes at -0.1 against No at -2.5
      const pYes = Math.exp(-0.1) / (Math.exp(-0.1) + Math.exp(-2.5));
      expect(k4.flatMap((r) => r.queries.map((q) => q.pYes)).some((p) => Math.abs(p - pYes) < 1e-6)).toBe(true);

      // What the server saw: the paper's grounding prompt with the image; the verifier with logprobs.
      const bodies = server.requests.map((q) => q.body as unknown as ChatBody);
      const grounding = bodies.filter((b) => b.messages[0]!.content.some((c) => c.text?.includes("bounding box")));
      const verify = bodies.filter((b) => b.logprobs);
      expect(grounding.length).toBe(4); // one per sentence: the K=0 and K=4 cells share the answer
      for (const b of grounding) {
        expect(b.model).toBe("Qwen/Qwen3-VL-8B-Instruct");
        expect(b.messages[0]!.content.find((c) => c.type === "image_url")!.image_url!.url).toMatch(/^data:image\/(png|jpeg);base64,/);
      }
      expect(records.some((r) => grounding.some((b) => b.messages[0]!.content.some((c) => c.text === boxPrompt(r.expression))))).toBe(true);
      expect(verify.length).toBeGreaterThan(0);
      expect(verify.every((b) => b.model === "resagent-vbr-lora" && (b.top_logprobs ?? 0) > 0)).toBe(true);
      // SAM2: one encoder call per distinct image, whatever the number of prompts.
      const samStats = summary.decoders.find((d) => d.description.startsWith("sam2"))!.stats;
      expect(samStats!.encoderCalls).toBe(2); // testA ref 2 (image 3), testB ref 3 (image 1), two sentences each
      // K=0: one decode per sentence; K=4: box + points and the box alone (decode.fallback sam-score).
      expect(samStats!.decoderCalls).toBe(4 + 2 * 4);
      expect(records.filter((r) => r.cell === "K=4").every((r) => r.decode?.boxScore !== undefined && ["points", "box"].includes(r.decode.branch))).toBe(true);
      expect(summary.decoders.find((d) => d.description.startsWith("sam2"))!.description).toMatch(/ort export, 3 mask outputs, the highest predicted IoU taken/);

      // A rerun into a fresh folder answers everything from the disk cache.
      const before = server.requests.length;
      const dir2 = await mkdtemp(join(tmpdir(), "resagent-real-run-"));
      await runExperiment(load(), { runDir: dir2 });
      expect(server.requests.length).toBe(before);
      const strip = async (d: string) => (await readFile(join(d, "samples.jsonl"), "utf8")).trim().split("\n").map((l) => JSON.stringify({ ...JSON.parse(l), timing: undefined }));
      expect(await strip(dir2)).toEqual(await strip(dir));
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
