import { describe, expect, it } from "vitest";
import { findRoot } from "@resagent/experiments";
import type { ProviderProbe } from "@resagent/decoder";
import type { ProbeResult } from "@resagent/mllm";
import { runDoctor, type DoctorLine, type Machine } from "./commands/doctor.js";
import { captureCli } from "./testing.js";

const root = findRoot();
const GiB = 1024 ** 3;
const CPU_ONLY: ProviderProbe[] = [
  { name: "cpu", offered: true, usable: true, detail: "bundled with onnxruntime-node; a session opened and ran" },
  { name: "cuda", offered: true, usable: false, detail: "its library /ort/bin/libonnxruntime_providers_cuda.so is not installed" },
  { name: "tensorrt", offered: true, usable: false, detail: "its library /ort/bin/libonnxruntime_providers_tensorrt.so is not installed" },
];
const REFCOCO_VAL = { refs: 3811, sentences: 10834, images: 1500 };

/** A machine where everything answers as given; `overrides` changes one thing at a time. */
function fakeMachine(overrides: Partial<Machine> & { dirs?: string[]; files?: string[] } = {}): Machine & { probed: string[] } {
  const dirs = new Set(overrides.dirs ?? []);
  const files = new Set(overrides.files ?? []);
  const probed: string[] = [];
  return {
    env: {},
    nodeVersion: "20.19.1",
    exists: (p) => files.has(p) || dirs.has(p),
    isDirectory: (p) => dirs.has(p),
    run: (cmd, args) => (cmd === "pnpm" && args[0] === "--version" ? { status: 0, stdout: "10.34.9\n" } : undefined),
    ortVersion: () => "1.23.2",
    ortProviders: async () => CPU_ONLY,
    gpu: () => ({ visible: false, detail: "no nvidia-smi, no /dev/nvidia0" }),
    tfInstalled: (p) => p === "@tensorflow/tfjs",
    freeBytes: () => 50 * GiB,
    sam2Export: async (dir) => `${dir}/sam2.1_hiera_base_plus.encoder.onnx + ${dir}/sam2.1_hiera_base_plus.decoder.onnx: resagent export (decoder outputs all_low_res_masks, all_iou_predictions); 4 mask outputs (single-mask token + 3 multimask): multimask stability reproduces SAM2's multimask_output=False`,
    datasetStats: async (name, split) => (name === "reasonseg" ? { images: split === "val" ? 200 : 779, sentences: 1 } : name === "refcoco" && split === "val" ? REFCOCO_VAL : { refs: 1, sentences: 1, images: 1 }),
    probeEndpoint: async (e): Promise<ProbeResult> => {
      probed.push(e.model);
      return e.model === "Qwen/Qwen3-VL-8B-Instruct" ? { ok: true, lines: [`models: ${e.baseUrls[0]}/models serves ${e.model}`, 'logprobs: answer "Yes", top 5'] } : { ok: false, lines: [`models: ${e.baseUrls[0]}/models does not serve "${e.model}" (it serves Qwen/Qwen3-VL-8B-Instruct); set the model name the server lists`] };
    },
    ...overrides,
    probed,
  };
}

const line = (lines: DoctorLine[], what: string) => lines.filter((l) => l.what === what);
const missing = (lines: DoctorLine[]) => lines.filter((l) => l.status === "MISSING").map((l) => l.what);

describe("resagent doctor on a faked machine", () => {
  it("embedded profile: needs Node and pnpm only, notes the rest with the fix", async () => {
    const lines = await runDoctor(fakeMachine(), { profile: "embedded", probe: false, root });
    expect(missing(lines)).toEqual([]);
    expect(line(lines, "node")[0]).toMatchObject({ status: "ok", detail: expect.stringMatching(/^20\.19\.1 \(package\.json engines: node >=20\.19\)/) });
    expect(line(lines, "pnpm")[0]).toMatchObject({ status: "ok", detail: "10.34.9" });
    expect(line(lines, "ort cpu")[0]).toMatchObject({ status: "ok" });
    expect(line(lines, "ort cuda")[0]).toMatchObject({ status: "note", detail: expect.stringContaining("libonnxruntime_providers_cuda.so is not installed; run `pnpm setup:gpu`") });
    expect(line(lines, "gpu")[0]).toMatchObject({ status: "note", detail: expect.stringMatching(/^none visible \(no nvidia-smi/) });
    expect(line(lines, "tfjs")[0]!.detail).toMatch(/^would load @tensorflow\/tfjs because @tensorflow\/tfjs-node-gpu not installed; @tensorflow\/tfjs-node not installed/);
    expect(line(lines, "chromium")[0]).toMatchObject({ status: "note", detail: expect.stringContaining("apt-get install -y chromium") });
    expect(line(lines, "opencv")[0]).toMatchObject({ status: "note", detail: expect.stringContaining("python3-opencv") });
    expect(line(lines, "torch")[0]).toMatchObject({ status: "note" });
    // The embedded profile names no environment variable and no model server.
    expect(lines.some((l) => l.what.startsWith("RESAGENT_") || l.what === "endpoint")).toBe(false);
    expect(line(lines, "disk cache")[0]).toMatchObject({ status: "ok", detail: expect.stringMatching(/50\.0 GiB free$/) });
  });

  it("fails on an old Node or a missing pnpm, naming the fix", async () => {
    const lines = await runDoctor(fakeMachine({ nodeVersion: "18.20.0", run: () => undefined }), { profile: "embedded", probe: false, root });
    expect(missing(lines)).toEqual(["node", "pnpm"]);
    expect(line(lines, "node")[0]!.detail).toMatch(/18\.20\.0 is older than package\.json's engines \(node >=20\.19\); install Node 20\.19 or newer/);
    expect(line(lines, "pnpm")[0]!.detail).toMatch(/corepack enable.*npm i -g pnpm@10\.34\.9/);
  });

  it("real profile on a bare machine: the data root and the SAM2 folder are missing, the optional variables are notes naming their experiments", async () => {
    const lines = await runDoctor(fakeMachine(), { profile: "real", probe: false, root });
    expect(missing(lines)).toEqual(["RESAGENT_DATA_ROOT", "RESAGENT_SAM2_DIR"]);
    expect(line(lines, "RESAGENT_SAM2_DIR")[0]!.detail).toMatch(/^unset; needed by every run of profile real: set it to a folder with the encoder and decoder \.onnx files of tools\/export_sam2_onnx\.py/);
    expect(line(lines, "RESAGENT_DATA_ROOT")[0]!.detail).toMatch(/^data \(unset: the profile's default\): no such folder/);
    expect(line(lines, "RESAGENT_VBR_MODEL_QWEN2_5_3B")[0]).toMatchObject({ status: "note", detail: expect.stringMatching(/^unset; needed by experiments table11 \(presets @verifier-qwen2\.5-3b\).*--allow-stand-ins/) });
    expect(line(lines, "ort cpu")[0]!.detail).toContain("the SAM2 decoder of profile real runs on cpu");
    expect(line(lines, "endpoint")[0]).toMatchObject({ status: "ok", detail: expect.stringContaining("http://localhost:8000/v1: ") });
  });

  it("real profile, everything in place: reads the export style and the REFER split sizes, probes the servers", async () => {
    const env = { RESAGENT_DATA_ROOT: "/data", RESAGENT_SAM2_DIR: "/models/b+", RESAGENT_MLLM_URL: "http://gpu:8000/v1", RESAGENT_VBR_MODEL: "resagent-vbr" };
    const m = fakeMachine({ env, dirs: ["/data", "/models/b+"] });
    const lines = await runDoctor(m, { profile: "real", probe: true, root });
    expect(missing(lines)).toEqual([]);
    expect(line(lines, "RESAGENT_SAM2_DIR")[0]).toMatchObject({ status: "ok", detail: expect.stringContaining("resagent export") });
    expect(line(lines, "data refcoco/val")[0]).toMatchObject({ status: "ok", detail: "3811 refs, 10834 sentences, 1500 images" });
    // A split whose sizes differ from the published ones is flagged, not failed.
    expect(line(lines, "data refcoco/testA")[0]).toMatchObject({ status: "WARNING", detail: expect.stringContaining("published: 1975 refs, 5657 sentences") });
    expect(line(lines, "data reasonseg/val")[0]).toMatchObject({ status: "ok" });
    // The default model is needed and served; the LoRA verifier name is optional and not served here.
    const endpoints = line(lines, "endpoint");
    expect(endpoints.filter((l) => l.detail.startsWith("Qwen/Qwen3-VL-8B-Instruct (every run)")).map((l) => l.status)).toEqual(["ok", "ok"]);
    expect(endpoints.find((l) => l.detail.startsWith("resagent-vbr"))).toMatchObject({ status: "note", detail: expect.stringContaining('does not serve "resagent-vbr"') });
    expect(m.probed).toContain("Qwen/Qwen3-VL-8B-Instruct");
    expect(m.probed).toContain("resagent-vbr");
  });

  it("real profile: a server that does not serve the default model fails the check", async () => {
    const m = fakeMachine({ env: { RESAGENT_DATA_ROOT: "/data", RESAGENT_SAM2_DIR: "/m" }, dirs: ["/data", "/m"], probeEndpoint: async (e) => ({ ok: false, lines: [`models: ${e.baseUrls[0]}/models: fetch failed (connect ECONNREFUSED 127.0.0.1:8000)`] }) });
    const lines = await runDoctor(m, { profile: "real", probe: true, root });
    expect(missing(lines)).toEqual(["endpoint"]);
    expect(line(lines, "endpoint").find((l) => l.status === "MISSING")!.detail).toMatch(/^Qwen\/Qwen3-VL-8B-Instruct \(every run\): models: http:\/\/localhost:8000\/v1\/models: fetch failed/);
  });

  it("real profile: an export folder onnxruntime cannot open, or one without the single-mask output", async () => {
    const env = { RESAGENT_DATA_ROOT: "/data", RESAGENT_SAM2_DIR: "/m" };
    const broken = await runDoctor(fakeMachine({ env, dirs: ["/data", "/m"], sam2Export: async () => Promise.reject(new Error("decoder.params.decoder: no *decoder*.onnx file in the folder (found: notes.txt)")) }), { profile: "real", probe: false, root });
    expect(missing(broken)).toEqual(["RESAGENT_SAM2_DIR"]);
    expect(line(broken, "RESAGENT_SAM2_DIR")[0]!.detail).toBe("/m: decoder.params.decoder: no *decoder*.onnx file in the folder (found: notes.txt)");
    const three = await runDoctor(fakeMachine({ env, dirs: ["/data", "/m"], sam2Export: async () => "samexporter export; 3 mask outputs; warning: no single-mask output" }), { profile: "real", probe: false, root });
    expect(line(three, "RESAGENT_SAM2_DIR")[0]!.status).toBe("WARNING");
    expect(missing(three)).toEqual([]);
  });

  it("--provider cuda: the CUDA provider and a GPU become needed; installed and visible, they pass", async () => {
    const env = { RESAGENT_DATA_ROOT: "/data", RESAGENT_SAM2_DIR: "/m" };
    const bare = await runDoctor(fakeMachine({ env, dirs: ["/data", "/m"] }), { profile: "real", probe: false, root, provider: "cuda" });
    expect(missing(bare)).toEqual(["ort cuda", "gpu"]);
    expect(line(bare, "ort cuda")[0]!.detail).toMatch(/not installed \(the SAM2 decoder of profile real runs on cuda, --provider\); run `pnpm setup:gpu`/);
    const gpuBox = fakeMachine({
      env,
      dirs: ["/data", "/m"],
      ortProviders: async () => CPU_ONLY.map((p) => (p.name === "cuda" ? { ...p, usable: true, detail: "installed; a session opened and ran" } : p)),
      gpu: () => ({ visible: true, detail: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-x)" }),
      tfInstalled: () => true,
    });
    const ready = await runDoctor(gpuBox, { profile: "real", probe: false, root, provider: "cuda" });
    expect(missing(ready)).toEqual([]);
    expect(line(ready, "gpu")[0]).toMatchObject({ status: "ok", detail: "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-x)" });
    expect(line(ready, "tfjs")[0]!.detail).toMatch(/^would load @tensorflow\/tfjs-node-gpu \(then @tensorflow\/tfjs-node, @tensorflow\/tfjs if it fails to load\)/);
  });

  it("a RESAGENT_TFJS forcing a package that is not installed is missing; little disk is a warning", async () => {
    const lines = await runDoctor(fakeMachine({ env: { RESAGENT_TFJS: "node-gpu" }, freeBytes: () => 0.5 * GiB }), { profile: "embedded", probe: false, root });
    expect(missing(lines)).toEqual(["tfjs"]);
    expect(line(lines, "tfjs")[0]!.detail).toMatch(/RESAGENT_TFJS: RESAGENT_TFJS=node-gpu but @tensorflow\/tfjs-node-gpu is not installed/);
    expect(line(lines, "disk results")[0]).toMatchObject({ status: "WARNING", detail: expect.stringContaining("0.5 GiB free") });
  });
});

describe("resagent doctor on this machine", () => {
  it("runs from the command line; an unknown profile is a usage error with the known ones", async () => {
    const run = await captureCli(["doctor"]);
    expect(run.out.join("\n")).toMatch(/^resagent doctor: profile embedded/);
    expect(run.out.some((l) => /^ok +ort cpu +onnxruntime-node \d/.test(l))).toBe(true);
    expect(run.code).toBe(run.out.some((l) => l.startsWith("MISSING")) ? 1 : 0);
    const bad = await captureCli(["doctor", "--profile", "reall"]);
    expect(bad.code).toBe(2);
    expect(bad.err.join("\n")).toMatch(/--profile: unknown profile "reall"; did you mean "real"\?/);
    // It starts pnpm, python and onnxruntime sessions: slow on a busy machine.
  }, 300_000);
});
