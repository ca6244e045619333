import { randomStream, readImage, type RgbImage } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { OpenAiCompatibleBackend, parseHttpOptions, type ChatRequest } from "@resagent/mllm";
import { startTestServer } from "@resagent/mllm/testing";
import { renderMarkers, markerCrop, type Marker } from "@resagent/verifier";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timeIt, type BenchRow, type BenchSuite } from "./index.js";

const req = (i: number): ChatRequest => ({ content: [{ type: "image", hash: `h${i}`, render: async () => Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]) }, { type: "text", text: `q${i}` }], maxTokens: 1, topLogprobs: 5 });

export const mllmBench: BenchSuite = {
  name: "mllm",
  description: "client throughput against a local server with 50 ms latency (queries/s at concurrency 1, 4, 16); two endpoints with one down, failing or hanging; marker render + JPEG encode per VBR query",
  async run(): Promise<BenchRow[]> {
    const rows: BenchRow[] = [];
    const server = await startTestServer(() => ({ kind: "answer", text: "Yes", top: [{ token: "Yes", logprob: -0.1 }, { token: "No", logprob: -2.4 }], delayMs: 50 }));
    try {
      let base = 0;
      for (const c of [1, 4, 16]) {
        const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "bench", concurrency: c }));
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
    rows.push(...(await endpointRows()));
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

/**
 * A server with the capacity of a real one: 8 requests at a time, 50 ms each (more wait in line),
 * so one endpoint alone serves half of what two do.
 */
function capacityServer() {
  const free = Array.from({ length: 8 }, () => 0);
  return startTestServer(() => {
    const now = performance.now();
    const i = free.indexOf(Math.min(...free));
    const start = Math.max(now, free[i]!);
    free[i] = start + 50;
    return { kind: "answer", text: "Yes", top: [{ token: "Yes", logprob: -0.1 }, { token: "No", logprob: -2.4 }], delayMs: start + 50 - now };
  });
}

/**
 * Two endpoints of one model (each 8 requests at a time, 50 ms each; client concurrency 16): both
 * up, then one refusing connections, one answering 503, one hanging past a 1 s timeout; with the
 * default resting (after 3 failures in a row, for 30 s) and without it (restAfterFailures 0).
 */
async function endpointRows(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = 480;
  const cases: [string, () => Promise<{ url: string; close(): Promise<void> }>][] = [
    ["both up", capacityServer],
    [
      "one refusing connections",
      async () => {
        const s = await capacityServer();
        await s.close();
        return { url: s.url, close: async () => undefined };
      },
    ],
    ["one answering 503", () => startTestServer(() => ({ kind: "status", status: 503 }))],
    ["one hanging (1 s timeout)", () => startTestServer(() => ({ kind: "stall", ms: 5_000 }))],
  ];
  let base = 0;
  for (const [name, second] of cases) {
    for (const restAfterFailures of name === "both up" ? [3] : [3, 0]) {
      const a = await capacityServer();
      const b = await second();
      try {
        const backend = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [a.url, b.url], model: "bench", concurrency: 16, timeoutMs: 1_000, restAfterFailures }));
        const t = performance.now();
        await Promise.all(Array.from({ length: n }, (_, i) => backend.complete(req(i), { kind: "verify", sampleId: String(i), imageWidth: 1, imageHeight: 1 })));
        const qps = n / ((performance.now() - t) / 1000);
        if (!base) base = qps;
        const bad = backend.accounting().endpoints[b.url];
        rows.push({
          suite: "mllm",
          name: `queries/s, 2 endpoints x 8 slots x 50 ms, ${name}${name === "both up" ? "" : restAfterFailures ? ", resting" : ", no resting"}`,
          value: qps,
          unit: "q/s",
          note: `${(qps / base).toFixed(2)}x both up; second endpoint ${bad?.requests ?? 0} requests, ${bad?.failed ?? 0} failed, rested ${bad?.rests ?? 0}x; ${backend.accounting().retries} retries`,
        });
      } finally {
        await a.close();
        await b.close();
      }
    }
  }
  return rows;
}
