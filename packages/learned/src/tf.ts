import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { InputError } from "@resagent/core";
import type * as tfjs from "@tensorflow/tfjs";
import { registerFastCpuKernels } from "./kernels.js";

export type Tf = typeof tfjs;

/** The TensorFlow.js packages we can run on, fastest first. Only the pure-JS one is a dependency. */
export const TF_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs"] as const;
export type TfPackage = (typeof TF_PACKAGES)[number];

/** `RESAGENT_TFJS` values: force one backend instead of choosing. */
export const TF_CHOICES: Record<string, TfPackage> = { "node-gpu": "@tensorflow/tfjs-node-gpu", node: "@tensorflow/tfjs-node", cpu: "@tensorflow/tfjs" };

/** What the machine offers, as far as choosing a backend goes (injectable for tests). */
export interface TfProbe {
  installed(pkg: TfPackage): boolean;
  /** Whether an NVIDIA GPU is visible to this process. */
  gpu(): boolean;
  /** `RESAGENT_TFJS`: "node-gpu" | "node" | "cpu", or undefined to choose. */
  forced: string | undefined;
}

export interface TfPlan {
  /** Packages to try in order; the first that loads wins. */
  order: TfPackage[];
  /** Why each faster option was passed over. */
  reasons: string[];
  forced: boolean;
}

/**
 * Which backend to try: tfjs-node-gpu when it is installed and a GPU is present, else tfjs-node
 * when installed, else pure tfjs on its CPU backend (always installed). `RESAGENT_TFJS` forces one.
 */
export function planTfBackend(probe: TfProbe): TfPlan {
  if (probe.forced !== undefined && probe.forced !== "") {
    const pkg = TF_CHOICES[probe.forced];
    if (!pkg) throw new InputError(`unknown TensorFlow.js backend "${probe.forced}"; expected one of ${Object.keys(TF_CHOICES).join(", ")}`, { field: "RESAGENT_TFJS" });
    if (!probe.installed(pkg)) throw new InputError(`RESAGENT_TFJS=${probe.forced} but ${pkg} is not installed (see the README: "The learned verifier")`, { field: "RESAGENT_TFJS" });
    return { order: [pkg], reasons: [`forced by RESAGENT_TFJS=${probe.forced}`], forced: true };
  }
  const order: TfPackage[] = [];
  const reasons: string[] = [];
  if (!probe.installed("@tensorflow/tfjs-node-gpu")) reasons.push("@tensorflow/tfjs-node-gpu not installed");
  else if (!probe.gpu()) reasons.push("@tensorflow/tfjs-node-gpu installed but no GPU visible");
  else order.push("@tensorflow/tfjs-node-gpu");
  if (probe.installed("@tensorflow/tfjs-node")) order.push("@tensorflow/tfjs-node");
  else reasons.push("@tensorflow/tfjs-node not installed");
  order.push("@tensorflow/tfjs");
  return { order, reasons, forced: false };
}

const require = createRequire(import.meta.url);

/** The probe of this machine: packages resolvable from here, an NVIDIA device node or driver entry. */
export function systemProbe(): TfProbe {
  return {
    installed: (pkg) => {
      try {
        require.resolve(pkg);
        return true;
      } catch {
        return false;
      }
    },
    gpu: () => {
      const visible = process.env.CUDA_VISIBLE_DEVICES;
      if (visible !== undefined && (visible.trim() === "" || visible.trim() === "-1")) return false;
      try {
        if (existsSync("/proc/driver/nvidia/gpus") && readdirSync("/proc/driver/nvidia/gpus").length > 0) return true;
      } catch {
        // unreadable: fall through
      }
      return existsSync("/dev/nvidia0");
    },
    forced: process.env.RESAGENT_TFJS,
  };
}

/** The backend a process runs on: recorded in metrics.json and in the verifier's description. */
export interface TfInfo {
  package: TfPackage;
  version: string;
  /** tfjs backend name: "tensorflow" (libtensorflow, CPU or GPU) or "cpu" (pure JS). */
  backend: string;
  gpu: boolean;
  /** Bit-reproducible for a given seed: true for the pure-JS CPU backend only. */
  deterministic: boolean;
  reasons: string[];
}

function packageVersion(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

let loaded: Promise<{ tf: Tf; info: TfInfo }> | undefined;

/**
 * Load TensorFlow.js once per process on the best available backend (see planTfBackend), and
 * log the choice to stderr. A native package that is installed but fails to load (libtensorflow
 * or CUDA missing) is passed over with its error as the reason, unless it was forced.
 */
export function loadTf(probe: TfProbe = systemProbe(), log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<{ tf: Tf; info: TfInfo }> {
  loaded ??= (async () => {
    const plan = planTfBackend(probe);
    const reasons = [...plan.reasons];
    for (const pkg of plan.order) {
      try {
        const mod = (await import(pkg)) as Tf & { default?: Tf };
        // tfjs-node is CommonJS: its namespace is the default export.
        const tf = (mod.default && typeof mod.default.tensor === "function" ? mod.default : mod) as Tf;
        if (pkg === "@tensorflow/tfjs") {
          await tf.setBackend("cpu");
          registerFastCpuKernels(tf);
        }
        await tf.ready();
        // No per-op NaN checks, and no "install the node backend" banner on stdout's neighbour.
        tf.enableProdMode();
        const backend = tf.getBackend();
        const gpu = pkg === "@tensorflow/tfjs-node-gpu";
        const info: TfInfo = { package: pkg, version: packageVersion(pkg), backend, gpu, deterministic: backend === "cpu", reasons };
        log(`tfjs: ${pkg}@${info.version} (backend ${backend}${gpu ? ", GPU" : ""})${reasons.length ? `; ${reasons.join("; ")}` : ""}`);
        return { tf, info };
      } catch (err) {
        if (plan.forced) throw err;
        reasons.push(`${pkg} failed to load: ${(err as Error).message.split("\n")[0]}`);
      }
    }
    throw new Error(`no TensorFlow.js backend could be loaded: ${reasons.join("; ")}`);
  })();
  return loaded;
}
