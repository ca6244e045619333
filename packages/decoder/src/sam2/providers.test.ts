import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { parseSam2Params } from "../params.js";
import { Sam2OnnxDecoder } from "./decoder.js";
import { probeProviders, providerLibrary, type OfferedProvider } from "./providers.js";
import { tinyDecoder, tinyEncoder } from "./tiny-models.js";

const models = () => ({ encoder: tinyEncoder("resagent"), decoder: tinyDecoder("resagent", 4) });
const W = 64;
const H = 48;
const image = { width: W, height: H, data: new Uint8Array(W * H * 3).fill(90) };
const prompt = { box: { x1: 8, y1: 8, x2: 40, y2: 30 }, positives: [], negatives: [] };
const CPU_ONLY: OfferedProvider[] = [{ name: "cpu", bundled: true }];
const WITH_GPU: OfferedProvider[] = [...CPU_ONLY, { name: "cuda", bundled: false }, { name: "tensorrt", bundled: false }];

/** The error a decode fails with (and that it did fail: no mask came back on CPU instead). */
async function failure(dec: Sam2OnnxDecoder): Promise<InputError> {
  const err = await dec.segment({ image }, prompt).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  return err as InputError;
}

describe("sam2-onnx execution providers", () => {
  it("names the provider its sessions ran on, and only once they ran", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({}), models());
    expect(dec.describe()).toMatch(/cpu provider requested, sessions not opened yet/);
    await dec.segment({ image }, prompt);
    expect(dec.describe()).toMatch(/ran on onnxruntime-node \d+\.\d+\.\d+ cpu provider/);
  });

  it.each(["cuda", "tensorrt"] as const)("fails in one line when this onnxruntime build offers no %s provider, and never falls back to CPU", async (provider) => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({ provider }), models(), { providers: () => CPU_ONLY });
    const err = await failure(dec);
    expect(err.message).not.toContain("\n");
    expect(err.field).toBe("decoder.params.provider");
    expect(err.message).toMatch(new RegExp(`offers no ${provider} execution provider \\(it offers cpu\\); run \`pnpm setup:gpu\``));
    expect(dec.describe()).toMatch(new RegExp(`${provider} provider requested, sessions not opened yet`));
    expect(dec.stats().decoderCalls).toBe(0);
  });

  it("fails in one line naming the missing provider library and the setup command", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({ provider: "cuda" }), models(), { providers: () => WITH_GPU, libraryExists: () => false });
    const err = await failure(dec);
    expect(err.message).not.toContain("\n");
    expect(err.message).toContain(`the cuda execution provider cannot open the SAM2 encoder: its library ${providerLibrary("cuda")} is not installed; run \`pnpm setup:gpu\``);
    expect(dec.stats().encoderCalls).toBe(0);
  });

  it("passes onnxruntime's own refusal on as one line when the library is there but will not load", async () => {
    // The library check is faked to pass; onnxruntime then really tries the CUDA provider. Where
    // it is installed and a GPU is present (after `pnpm setup:gpu`), the decoder runs on it.
    const dec = new Sam2OnnxDecoder(parseSam2Params({ provider: "cuda" }), models(), { providers: () => WITH_GPU, libraryExists: () => true });
    const real = providerLibrary("cuda");
    const outcome = await dec.segment({ image }, prompt).then(
      () => "ran" as const,
      (e: unknown) => e as Error,
    );
    if (outcome === "ran") {
      expect(real && existsSync(real)).toBeTruthy();
      expect(dec.describe()).toMatch(/ran on onnxruntime-node \S+ cuda provider/);
    } else {
      expect(outcome).toBeInstanceOf(InputError);
      expect(outcome.message).not.toContain("\n");
      expect(outcome.message).toMatch(/the cuda execution provider cannot open the SAM2 encoder: .+; run `pnpm setup:gpu`/);
      expect(dec.describe()).not.toMatch(/ran on/);
    }
  });

  it("accepts cpu, cuda and tensorrt and names them when given something else", () => {
    expect(() => parseSam2Params({ provider: "rocm" as never })).toThrow(/decoder\.params\.provider.*cpu.*cuda.*tensorrt/);
  });

  it("probes each provider by opening a session on it alone, not by the list", async () => {
    const opened: string[] = [];
    const probes = await probeProviders({
      lister: () => WITH_GPU,
      libraryExists: (p) => p.endsWith("libonnxruntime_providers_cuda.so") || p.endsWith("onnxruntime_providers_cuda.dll"),
      open: async (name) => {
        opened.push(name);
        if (name === "cuda") throw new Error("CUDA failure 100: no CUDA-capable device is detected\nmore");
      },
    });
    expect(opened).toEqual(["cpu", "cuda"]);
    expect(probes).toEqual([
      { name: "cpu", offered: true, usable: true, detail: "bundled with onnxruntime-node; a session opened and ran" },
      { name: "cuda", offered: true, usable: false, detail: "a session would not open: CUDA failure 100: no CUDA-capable device is detected" },
      { name: "tensorrt", offered: true, usable: false, detail: expect.stringMatching(/^its library .*tensorrt.* is not installed$/) },
    ]);
    const none = await probeProviders({ lister: () => CPU_ONLY, open: async () => undefined });
    expect(none.map((p) => [p.name, p.offered, p.usable])).toEqual([
      ["cpu", true, true],
      ["cuda", false, false],
      ["tensorrt", false, false],
    ]);
  });

  it("opens a real session on the CPU provider of this machine's onnxruntime-node", async () => {
    const [cpu] = await probeProviders();
    expect(cpu).toMatchObject({ name: "cpu", offered: true, usable: true });
  });
});
