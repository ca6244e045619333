import { readFile } from "node:fs/promises";
import { decodeImage, sha256 } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { OpenAiCompatibleBackend, parseHttpOptions, parseChatResponse, type ChatBackend, type ChatCompletion, type ChatRequest } from "@resagent/mllm";
import { TimingAccumulator } from "@resagent/metrics";
import { ComponentPool, PIPELINE_DEFAULTS, Pipeline, parsePipelineConfig } from "@resagent/pipeline";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

/**
 * Everything the OpenAI-compatible client does except the network: render the marked image,
 * JPEG + base64 it, build and serialise the request body, then parse a canned vLLM response.
 * Model (and server) time is zero by construction, so what is measured is the harness's own.
 */
class NoNetworkBackend implements ChatBackend {
  readonly name = "openai-no-network";
  readonly simulated = false;
  readonly needsImages = true;
  readonly identity = "bench";
  private readonly http = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: ["http://127.0.0.1:9/v1"], model: "bench" }));
  private n = 0;
  describe(): string {
    return "OpenAI-compatible client without the network (bench)";
  }
  async complete(request: ChatRequest): Promise<ChatCompletion> {
    const body = await this.http.serializeBody(request);
    void body.length;
    const box = request.maxTokens > 1;
    const yes = ++this.n % 3 !== 0;
    const response = JSON.stringify({
      choices: [
        {
          message: { content: box ? '```json\n[{"bbox_2d": [150, 180, 650, 820], "label": "target"}]\n```' : yes ? "Yes" : "No" },
          logprobs: box ? null : { content: [{ token: yes ? "Yes" : "No", logprob: -0.2, top_logprobs: [{ token: "Yes", logprob: yes ? -0.2 : -1.7 }, { token: "No", logprob: yes ? -1.7 : -0.2 }] }] },
        },
      ],
    });
    return { ...parseChatResponse(JSON.parse(response)), cached: false, latencyMs: 0 };
  }
}

/**
 * Harness overhead: the full K = 4 pipeline with the client minus its network (above) and the
 * `box` decoder (no decoder time). What remains is ours: image load and decode, marker rendering,
 * JPEG + base64, request building, response parsing, sampling, aggregation, RLE, metrics.
 */
export const pipelineBench: BenchSuite = {
  name: "pipeline",
  description: "harness overhead per sample excluding model time (target <= 15 ms, ceiling 48 ms), with the per-stage breakdown",
  async run(): Promise<BenchRow[]> {
    return withTempDir(async (dir) => {
      const ds = await openDataset("synthref", { split: "refcoco/val", count: 30, cacheDir: dir, width: 640, height: 480, sentencesPerRef: 1 });
      const cfg = parsePipelineConfig({
        ...PIPELINE_DEFAULTS,
        mllm: { backend: "simulated", convention: "qwen3", pick: "first", cache: "off" },
        decoder: { name: "box" },
        k: 4,
      });
      // The network-free client answers both stages.
      const pool = new ComponentPool();
      pool.provideBackend(cfg.mllm, 0, new NoNetworkBackend());
      const pipe = new Pipeline(cfg, 0, pool);
      const timing = new TimingAccumulator();
      let queries = 0;
      let i = 0;
      for await (const s of ds) {
        const t0 = performance.now();
        const bytes = await readFile(s.imagePath);
        const image = await decodeImage(bytes, s.imagePath);
        const imageHash = sha256(bytes);
        const load = performance.now() - t0;
        const rec = await pipe.run({ sample: s, image, imageHash, fileBytes: bytes }, "bench");
        if (i++ < 3) continue; // warm-up
        const { mllmQueries, cacheHits: _c, ...stages } = rec.timing;
        queries += mllmQueries ?? 0;
        timing.addAll({ ...stages, load, overhead: (stages.total ?? 0) + load });
      }
      const sm = timing.summary();
      const rows: BenchRow[] = [
        { suite: "pipeline", name: "harness overhead per sample (load + all stages, median)", value: sm.overhead!.median, unit: "ms", note: `p90 ${sm.overhead!.p90.toFixed(1)} ms; ${(queries / sm.overhead!.n).toFixed(1)} MLLM requests/sample built and parsed; network excluded` },
      ];
      for (const k of ["load", "ground", "sample", "verify", "decode"]) if (sm[k]) rows.push({ suite: "pipeline", name: `  stage ${k} (median)`, value: sm[k]!.median, unit: "ms" });
      return rows;
    });
  },
};

