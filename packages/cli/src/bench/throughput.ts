import { fork } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomStream, readImage, sha256, type RgbImage, type Sample } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { Sam2OnnxDecoder, parseSam2Params } from "@resagent/decoder";
import { tinyDecoder, tinyEncoder } from "@resagent/decoder/testing";
import { OpenAiCompatibleBackend, parseHttpOptions } from "@resagent/mllm";
import { createSampler } from "@resagent/sampler";
import { Verifier, parseVerifierParams } from "@resagent/verifier";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

const CONCURRENCY = 64;

interface Item {
  s: Sample;
  image: RgbImage;
  hash: string;
}

/** The zero-latency server in its own process; resolves with its URL and a way to read its CPU time. */
async function startServer() {
  const child = fork(fileURLToPath(new URL("./zero-latency-server.js", import.meta.url)), [], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const url = await new Promise<string>((resolve, reject) => {
    child.once("message", (m) => resolve((m as { url: string }).url));
    child.once("exit", (code) => reject(new Error(`the bench server exited (${code})`)));
  });
  const cpuMs = () =>
    new Promise<number>((resolve) => {
      child.once("message", (m) => {
        const c = (m as { cpu: NodeJS.CpuUsage }).cpu;
        resolve((c.user + c.system) / 1000);
      });
      child.send("cpu");
    });
  const stop = () => new Promise<void>((resolve) => (child.once("exit", () => resolve()), child.send("stop")));
  return { url, cpuMs, stop };
}

/**
 * The verifier's real VBR query path at concurrency 64 against a server that answers at once:
 * per query, the marker drawn on the sample's image, cropped around box and marker, JPEG-encoded,
 * the request built and sent, the answer's top logprobs parsed and aggregated. What is measured
 * is how many queries per second the client side sustains on this machine's cores.
 */
async function vbrThroughput(items: Item[], seconds: number): Promise<BenchRow[]> {
  const server = await startServer();
  try {
    const backend = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "bench", concurrency: CONCURRENCY, timeoutMs: 60_000 }));
    const verifier = new Verifier(backend, parseVerifierParams());
    const sampler = createSampler("ebd-spiral");
    let next = 0;
    let queries = 0;
    let samples = 0;
    let stopAt = 0;
    const one = async () => {
      const { s, image, hash } = items[next++ % items.length]!;
      // A fresh stream per visit: new marker colours and candidates, so no two requests are the same.
      const id = `${s.id}#${next}`;
      const box = s.goldBox!;
      const candidates = sampler.sample(box, 4, randomStream(0, "sampler", id), { width: image.width, height: image.height }).ordered;
      const r = await verifier.verify({ sampleId: id, expression: s.expression, image, imageHash: hash, width: image.width, height: image.height, box, candidates, rng: randomStream(0, "verifier", id) });
      return r.queries.length;
    };
    const worker = async () => {
      while (performance.now() < stopAt) {
        const n = await one();
        queries += n;
        samples++;
      }
    };
    // Warm-up (JIT, sharp's thread pool, keep-alive sockets), then the measured window.
    stopAt = performance.now() + 1500;
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    queries = 0;
    samples = 0;
    const cpu0 = process.cpuUsage();
    const server0 = await server.cpuMs();
    const t0 = performance.now();
    stopAt = t0 + seconds * 1000;
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const clientMs = (cpu.user + cpu.system) / 1000 / queries;
    const serverMs = ((await server.cpuMs()) - server0) / queries;
    return [
      {
        suite: "throughput",
        name: `VBR queries/s, client at concurrency ${CONCURRENCY}, zero-latency server`,
        value: queries / wall,
        unit: "q/s",
        note: `${queries} queries (${samples} samples, ${(queries / samples).toFixed(1)} per sample) in ${wall.toFixed(1)} s; 640x480 synthref images, marker + crop + JPEG + request + parse; the server runs in its own process`,
      },
      { suite: "throughput", name: "VBR client CPU per query (render, encode, request, parse)", value: clientMs, unit: "ms", note: `server process: ${serverMs.toFixed(2)} ms/query; on N free cores the client alone sustains about N x 1000 / this` },
    ];
  } finally {
    await server.stop();
  }
}

/**
 * The SAM2 decoder's own work around onnxruntime, per prompt and per image, on tiny graphs with
 * the resagent export's names and shapes (their model time is small). Wall time from the
 * decoder's own counters (onnxruntime excluded), and process CPU time of the whole calls
 * (onnxruntime's tiny run included: an upper bound that a busy machine does not inflate).
 */
async function sam2Overhead(items: Item[]): Promise<BenchRow[]> {
  const dec = new Sam2OnnxDecoder(parseSam2Params({ multimask: "stability" }), { encoder: tinyEncoder("resagent"), decoder: tinyDecoder("resagent", 4) });
  const prompts = 8;
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  await dec.prepare({ image: items[0]!.image, key: "warm-up" });
  let c0 = process.cpuUsage();
  for (const { image, hash } of items) await dec.prepare({ image, key: hash });
  const imageCpu = cpuMs(process.cpuUsage(c0)) / items.length;
  let n = 0;
  c0 = process.cpuUsage();
  for (const { s, image, hash } of items) {
    const box = s.goldBox!;
    const rng = randomStream(0, "bench", s.id);
    for (let k = 0; k < prompts; k++, n++) {
      const pt = () => ({ x: rng.uniform(box.x1, box.x2), y: rng.uniform(box.y1, box.y2) });
      await dec.segment({ image, key: hash }, { box, positives: [pt(), pt()], negatives: [pt()] });
    }
  }
  const promptCpu = cpuMs(process.cpuUsage(c0)) / n;
  const st = dec.stats();
  await dec.dispose();
  return [
    { suite: "throughput", name: "sam2 pre/post-processing per prompt outside onnxruntime (wall)", value: st.postprocessMs! / st.decoderCalls!, unit: "ms", note: "resagent export layout (4 masks): prompt tensors, stability choice, bilinear upsampling to 640x480, threshold" },
    { suite: "throughput", name: "sam2 segment() per prompt, process CPU (tiny graph included)", value: promptCpu, unit: "ms", note: `${n} prompts (box + 2 pos + 1 neg) on 16 images` },
    { suite: "throughput", name: "sam2 image preprocessing per image outside onnxruntime (wall)", value: st.preprocessMs! / st.encoderCalls!, unit: "ms", note: "640x480 -> 1024x1024 resize + normalise, once per image (embeddings cached)" },
    { suite: "throughput", name: "sam2 prepare() per image, process CPU (tiny graph included)", value: imageCpu, unit: "ms" },
  ];
}

/**
 * Where RESAGENT_BENCH_SAM2_DIR names an export folder (e.g. tools/sam2_export_check.py's random
 * base-plus), onnxruntime's own time for it on this machine's CPU provider.
 */
async function sam2Model(items: Item[]): Promise<BenchRow[]> {
  const dir = process.env.RESAGENT_BENCH_SAM2_DIR;
  if (!dir) return [{ suite: "throughput", name: "sam2 export on the CPU provider", value: 0, unit: "skipped", note: "set RESAGENT_BENCH_SAM2_DIR to an export folder (tools/export_sam2_onnx.py) to time it" }];
  if (!existsSync(dir)) return [{ suite: "throughput", name: "sam2 export on the CPU provider", value: 0, unit: "skipped", note: `no folder ${dir}` }];
  const name = readdirSync(dir).find((f) => f.endsWith(".encoder.onnx"))?.replace(/\.encoder\.onnx$/, "") ?? dir;
  const dec = new Sam2OnnxDecoder(parseSam2Params({ dir, multimask: "stability" }));
  const use = items.slice(0, 3);
  await dec.prepare({ image: use[0]!.image, key: "warm-up" });
  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  let c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const { image, hash } of use) await dec.prepare({ image, key: `model:${hash}` });
  const encodeMs = (performance.now() - t0) / use.length;
  const encodeCpu = cpuMs(process.cpuUsage(c0)) / use.length;
  c0 = process.cpuUsage();
  const t1 = performance.now();
  let n = 0;
  for (const { s, image, hash } of use) {
    for (let k = 0; k < 4; k++, n++) await dec.segment({ image, key: `model:${hash}` }, { box: s.goldBox!, positives: [], negatives: [] });
  }
  const decodeMs = (performance.now() - t1) / n;
  const decodeCpu = cpuMs(process.cpuUsage(c0)) / n;
  const outside = dec.stats().postprocessMs! / dec.stats().decoderCalls!;
  await dec.dispose();
  return [
    { suite: "throughput", name: `sam2 ${name} encoder per image, CPU provider`, value: encodeMs, unit: "ms", note: `process CPU ${encodeCpu.toFixed(0)} ms (onnxruntime's threads); ${join(dir)}; includes preprocessing` },
    { suite: "throughput", name: `sam2 ${name} decode per prompt, CPU provider`, value: decodeMs, unit: "ms", note: `process CPU ${decodeCpu.toFixed(1)} ms; ${outside.toFixed(1)} ms wall outside onnxruntime` },
  ];
}

export const throughputBench: BenchSuite = {
  name: "throughput",
  description: `client throughput at concurrency ${CONCURRENCY} against a zero-latency server over the verifier's real VBR path; SAM2 decoder overhead per prompt outside onnxruntime (and an export's own time with RESAGENT_BENCH_SAM2_DIR)`,
  async run(): Promise<BenchRow[]> {
    return withTempDir(async (dir) => {
      const ds = await openDataset("synthref", { split: "refcoco/val", count: 16, cacheDir: dir, width: 640, height: 480, sentencesPerRef: 1 });
      const items: Item[] = [];
      for await (const s of ds) {
        const image = await readImage(s.imagePath);
        items.push({ s, image, hash: sha256(image.data).slice(0, 16) });
      }
      const seconds = Number(process.env.RESAGENT_BENCH_THROUGHPUT_SECONDS ?? 10);
      return [...(await vbrThroughput(items, seconds)), ...(await sam2Overhead(items)), ...(await sam2Model(items))];
    });
  },
};
