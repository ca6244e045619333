import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError, sha256, suggest } from "@resagent/core";
import { CachedBackend, ResponseCache } from "./cache.js";
import { OpenAiCompatibleBackend, type HttpBackendOptions } from "./http.js";
import { OracleBackend, SimulatedBackend, type Perturbation, type SimulatedOverrides } from "./simulated.js";
import type { ChatBackend } from "./types.js";

export interface BackendConfig {
  /** "simulated", "oracle" or "openai". */
  backend: string;
  /** simulated: preset name. */
  preset?: string;
  seed?: number;
  /** simulated: preset overrides, merged field by field ({grounding: {wrongRate: 0.1}}). */
  overrides?: SimulatedOverrides;
  /** oracle: gold-box perturbation. */
  perturbation?: Perturbation;
  /** openai: server settings. */
  http?: Partial<HttpBackendOptions>;
  /** Response cache: "disk" (JSONL under cacheDir), "memory", or "off". */
  cache?: "disk" | "memory" | "off";
  /** Default `$RESAGENT_CACHE_DIR/mllm`, else `./.cache/mllm`. */
  cacheDir?: string;
  /** learned: folder of a trained model (`pnpm train-verifier --out`); default `$RESAGENT_LEARNED_MODEL`, else `results/train-verifier`. */
  modelDir?: string;
}

export const BACKEND_NAMES = ["simulated", "oracle", "openai"] as const;

/**
 * A backend that another package provides (`learned`, in @resagent/learned, registers itself
 * when imported), so configs can name it while this package stays free of its dependencies.
 */
export interface BackendFactory {
  name: string;
  description: string;
  create(cfg: BackendConfig): ChatBackend;
  /**
   * Answers depend on the query context (box, marker position), not on the request alone, so the
   * request-keyed response cache must not serve them (cheap local models need no cache anyway).
   */
  uncached?: boolean;
}

const registered = new Map<string, BackendFactory>();

export function registerBackend(factory: BackendFactory): void {
  if ((BACKEND_NAMES as readonly string[]).includes(factory.name)) throw new Error(`MLLM backend "${factory.name}" is built in`);
  registered.set(factory.name, factory);
}

/** Every backend name a config can use now: the built-in ones and those registered. */
export function backendNames(): string[] {
  return [...BACKEND_NAMES, ...registered.keys()];
}

/** A backend by name, wrapped in the response cache as configured. */
export function createBackend(cfg: BackendConfig): ChatBackend {
  let inner: ChatBackend;
  switch (cfg.backend) {
    case "simulated":
      inner = new SimulatedBackend(cfg.preset ?? "zero-shot", cfg.seed ?? 0, cfg.overrides);
      break;
    case "oracle":
      inner = new OracleBackend(cfg.perturbation ?? "none", cfg.seed ?? 0);
      break;
    case "openai": {
      const h = cfg.http ?? {};
      if (!h.baseUrls || !h.model) throw new InputError("the openai backend needs http.baseUrls and http.model", { field: "mllm.http" });
      inner = new OpenAiCompatibleBackend({ ...h, baseUrls: h.baseUrls, model: h.model });
      break;
    }
    default: {
      const factory = registered.get(cfg.backend);
      if (!factory) {
        const hint = cfg.backend === "learned" ? " (the learned verifier registers itself when @resagent/learned is imported; the resagent command does)" : "";
        throw new InputError(`unknown MLLM backend "${cfg.backend}"; ${suggest(cfg.backend, backendNames())}${hint}`, { field: "mllm.backend" });
      }
      inner = factory.create(cfg);
      if (factory.uncached) return inner;
    }
  }
  const mode = cfg.cache ?? "memory";
  if (mode === "off") return inner;
  const dir = cfg.cacheDir ?? join(process.env.RESAGENT_CACHE_DIR ?? join(process.cwd(), ".cache"), "mllm");
  const file = mode === "disk" ? join(dir, `${sha256(inner.identity).slice(0, 16)}.jsonl`) : undefined;
  if (file) checkCachePath(dir, file);
  return new CachedBackend(inner, new ResponseCache(file));
}

/** The disk cache must be writable where it lives: say so now, not after the first answers. */
function checkCachePath(dir: string, file: string): void {
  const field = "mllm.cacheDir (or RESAGENT_CACHE_DIR)";
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new InputError(`cannot create the response cache folder: ${(err as NodeJS.ErrnoException).code === "ENOTDIR" || (err as NodeJS.ErrnoException).code === "EEXIST" ? "a file is in the way" : (err as Error).message}`, { file: dir, field });
  }
  if (!statSync(dir).isDirectory()) throw new InputError("the response cache folder is a file, not a folder", { file: dir, field });
  if (existsSync(file) && !statSync(file).isFile()) throw new InputError("the response cache file is a folder, not a file", { file, field });
}
