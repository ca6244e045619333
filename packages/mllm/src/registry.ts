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
}

export const BACKEND_NAMES = ["simulated", "oracle", "openai"] as const;

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
    default:
      throw new InputError(`unknown MLLM backend "${cfg.backend}"; ${suggest(cfg.backend, BACKEND_NAMES)}`, { field: "mllm.backend" });
  }
  const mode = cfg.cache ?? "memory";
  if (mode === "off") return inner;
  const file = mode === "disk" ? join(cfg.cacheDir ?? join(process.env.RESAGENT_CACHE_DIR ?? join(process.cwd(), ".cache"), "mllm"), `${sha256(inner.identity).slice(0, 16)}.jsonl`) : undefined;
  return new CachedBackend(inner, new ResponseCache(file));
}
