import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import onnxProto from "onnx-proto";
import { InputError } from "@resagent/core";

/** Execution providers the SAM2 decoder may be asked for (`decoder.params.provider`). */
export const SAM2_PROVIDERS = ["cpu", "cuda", "tensorrt"] as const;
export type Sam2Provider = (typeof SAM2_PROVIDERS)[number];

/** A provider as onnxruntime-node lists it: `bundled` false means its library is installed separately. */
export interface OfferedProvider {
  name: string;
  bundled: boolean;
}

/** Which providers this onnxruntime-node build knows (injectable so tests can fake a machine). */
export type ProviderLister = () => readonly OfferedProvider[];

export const listOrtProviders: ProviderLister = () => ort.listSupportedBackends();

/** The one command that installs the GPU providers (tools/setup-gpu.sh). */
export const GPU_SETUP_HINT = "run `pnpm setup:gpu` on a machine with an NVIDIA driver, CUDA 12 and cuDNN 9 (docs/gpu.md), or set decoder.params.provider: cpu";

const require = createRequire(import.meta.url);

export function ortVersion(): string {
  try {
    return (require("onnxruntime-node/package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** Where onnxruntime-node loads its native libraries from; its installer puts the CUDA and TensorRT providers here. */
export function ortBinaryDir(): string {
  return join(dirname(require.resolve("onnxruntime-node/package.json")), "bin", "napi-v6", platform(), arch());
}

/** The provider's shared library on this platform, when it is a separate file (Linux: cuda, tensorrt). */
export function providerLibrary(name: string): string | undefined {
  if (name === "cpu" || name === "webgpu") return undefined;
  const file = platform() === "win32" ? `onnxruntime_providers_${name}.dll` : `libonnxruntime_providers_${name}.so`;
  return join(ortBinaryDir(), file);
}

/**
 * Refuse a provider this onnxruntime-node build does not list, before any session is opened:
 * a name it does not know would otherwise surface as "no available backend found".
 */
export function checkProviderOffered(provider: Sam2Provider, lister: ProviderLister = listOrtProviders): void {
  const offered = lister().map((p) => p.name);
  if (!offered.includes(provider)) {
    throw new InputError(`onnxruntime-node ${ortVersion()} on ${platform()}/${arch()} offers no ${provider} execution provider (it offers ${offered.join(", ") || "none"}); ${GPU_SETUP_HINT}`, { field: "decoder.params.provider" });
  }
}

/**
 * Why a session could not be opened on a GPU provider, as one line naming the provider, the reason
 * and the fix. Never retried on CPU: the run asked for the GPU, and its numbers and timings must
 * come from the provider it names.
 */
export function providerLoadError(provider: Sam2Provider, what: string, reason: string): InputError {
  return new InputError(`the ${provider} execution provider cannot open the SAM2 ${what}: ${reason}; ${GPU_SETUP_HINT}`, { field: "decoder.params.provider" });
}

/** The reason for a provider whose library file is absent (the workspace skips onnxruntime-node's download of it). */
export function libraryMissing(lib: string): string {
  return `its library ${lib} is not installed`;
}

/** A one-node float graph (Identity), small enough to open on any provider to see whether it loads. */
function identityModel(): Uint8Array {
  const { onnx } = onnxProto;
  const info = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } });
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: "", version: 17 }],
    producerName: "resagent-provider-probe",
    graph: { name: "probe", node: [{ opType: "Identity", input: ["x"], output: ["y"] }], input: [info("x")], output: [info("y")] },
  }).finish();
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

export interface ProviderProbe {
  name: string;
  /** Listed by this onnxruntime-node build. */
  offered: boolean;
  /** A session opened and ran on it, with no other provider given. */
  usable: boolean;
  detail: string;
}

/** How a provider is opened: injectable so doctor's tests can fake what a machine answers. */
export type SessionOpener = (provider: string) => Promise<void>;

/** Open and run the probe graph on `provider` alone; throws what onnxruntime throws. */
export const openOnProvider: SessionOpener = async (provider) => {
  const session = await ort.InferenceSession.create(identityModel(), { executionProviders: [provider] });
  try {
    await session.run({ x: new ort.Tensor("float32", Float32Array.from([1]), [1]) });
  } finally {
    await session.release();
  }
};

/**
 * Try each provider the SAM2 decoder offers, as onnxruntime-node lists them: open a session on it
 * alone and run it. Tried, not assumed: the CUDA and TensorRT providers are listed whether or not
 * their libraries and drivers are there.
 */
export async function probeProviders(options: { lister?: ProviderLister; open?: SessionOpener; libraryExists?: (path: string) => boolean; quiet?: boolean } = {}): Promise<ProviderProbe[]> {
  const { lister = listOrtProviders, open = openOnProvider, libraryExists = existsSync } = options;
  // onnxruntime logs a failed session on stderr in several lines of its own; the probe's answer
  // says it in one. Takes effect only before the process opens its first session.
  if (options.quiet) ort.env.logLevel = "fatal";
  const offered = lister();
  const out: ProviderProbe[] = [];
  for (const name of SAM2_PROVIDERS) {
    const listed = offered.find((p) => p.name === name);
    if (!listed) {
      out.push({ name, offered: false, usable: false, detail: "not offered by this build" });
      continue;
    }
    // A provider library that is not there cannot load: said without letting onnxruntime try.
    const lib = providerLibrary(name);
    if (lib && !libraryExists(lib)) {
      out.push({ name, offered: true, usable: false, detail: libraryMissing(lib) });
      continue;
    }
    try {
      await open(name);
      out.push({ name, offered: true, usable: true, detail: listed.bundled ? "bundled with onnxruntime-node; a session opened and ran" : "installed; a session opened and ran" });
    } catch (err) {
      out.push({ name, offered: true, usable: false, detail: `a session would not open: ${firstLine(err)}` });
    }
  }
  return out;
}
