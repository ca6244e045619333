import { randomStream, readImage, type RgbImage } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { OpenAiCompatibleBackend, type ChatRequest } from "@resagent/mllm";
import { startTestServer } from "@resagent/mllm/testing";
import { renderMarkers, markerCrop, type Marker } from "@resagent/verifier";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timeIt, type BenchRow, type BenchSuite } from "./index.js";

const req = (i: number): ChatRequest => ({ content: [{ type: "image", hash: `h${i}`, render: async () => Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]) }, { type: "text", text: `q${i}` }], maxTokens: 1, topLogprobs: 5 });

export const mllmBench: BenchSuite = {
  name: "mllm",
  description: "client throughput against a local server with 50 ms latency (queries/s at concurrency 1, 4, 16); marker render + JPEG encode per VBR query",
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    const server = await startTestServer(() => ({ kind: "answer", text: "Yes", top: [{ token: "Yes", logprob: -0.1 }, { token: "No", logprob: -2.4 }], delayMs: 50 }));
    try {
      let base = 0;
      for (const c of [1, 4, 16]) {
        const b = new OpenAiCompatibleBackend({ baseUrls: [server.url], model: "bench", concurrency: c });
        const n = 16 * c;
        const t = performance.now();
        await Promise.all(Array.from({ length: n }, (_, i) => b.complete(req(i), { kind: "verify", sampleId: String(i), imageWidth: 1, imageHeight: 1 })));
        const qps = n / ((performance.now() - t) / 1000);
        if (c === 1) base = qps;
        rows.push({ suite: "mllm", name: `queries/s at concurrency ${c} (50 ms server)`, value: qps, unit: "q/s", note: `speed-up ${(qps / base).toFixed(2)}x = ${(qps / base / c).toFixed(2)} of ideal` });
      }
    } finally {
      await server.close();
    }
    const dir = await mkdtemp(join(tmpdir(), "resagent-bench-"));
    try {
      const ds = await openDataset("synthref", { split: "refcoco/val", count: 1, cacheDir: dir, width: 640, height: 480 });
      const s = await ds.get(0);
      const image: RgbImage = await readImage(s.imagePath);
      const r = randomStream(0, "bench");
      const marker = (): Marker => ({ point: { x: r.uniform(40, 600), y: r.uniform(40, 440) }, colour: "red", shape: "star", size: 24 });
      const full = await timeIt(() => renderMarkers(image, [marker()]), 1500);
      const cropped = await timeIt(() => {
        const m = [marker()];
        return renderMarkers(image, m, markerCrop(m, s.goldBox!, 640, 480));
      }, 1500);
      rows.push({ suite: "mllm", name: "marker render + JPEG, 640x480, full image", value: full.msPerCall, unit: "ms/query" });
      rows.push({ suite: "mllm", name: "marker render + crop + JPEG, 640x480", value: cropped.msPerCall, unit: "ms/query" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return rows;
  },
};
