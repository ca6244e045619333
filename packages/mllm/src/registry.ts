import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { InputError, Registry, parseParams, sha256, zEnum, zInt } from "@resagent/core";
import { z } from "zod";
import { BoxFileBackend, BoxFileOptionsSchema } from "./box-file.js";
import { CachedBackend, ResponseCache } from "./cache.js";
import { BOX_CONVENTIONS, BoxPromptSchema, SmartResizeSchema } from "./grounding.js";
import { HttpOptionsSchema, OpenAiCompatibleBackend } from "./http.js";
import { OracleBackend, PERTURBATIONS, SIMULATED_PRESETS, SimulatedBackend, SimulatedOverridesSchema } from "./simulated.js";
import type { ChatBackend } from "./types.js";

const backendCommon = {
  seed: zInt(0).optional().describe("backend seed (default: the experiment's)"),
  cache: zEnum(["disk", "memory", "off"] as const).default("memory").describe("response cache: disk (append-only JSONL, survives kills), memory, off"),
  /** Default `$RESAGENT_CACHE_DIR/mllm`, else `./.cache/mllm`. */
  cacheDir: z.string().min(1).optional(),
};

/**
 * The config of each backend a config can name (`mllm`, `verifierMllm`, an ensemble's experts), on
 * top of `extra` keys (a grounder's). `learned` is listed here although @resagent/learned builds
 * it, so configs naming it are checked without loading tfjs.
 */
export function backendVariants<E extends z.ZodRawShape>(extra: E) {
  return [
    z.strictObject({
      backend: z.literal("simulated"),
      preset: zEnum(Object.keys(SIMULATED_PRESETS)).default("zero-shot").describe("simulated model preset"),
      overrides: SimulatedOverridesSchema.optional().describe("fields of the preset to change (each model's fields merge into the preset's)"),
      ...backendCommon,
      ...extra,
    }),
    z.strictObject({ backend: z.literal("oracle"), perturbation: zEnum(PERTURBATIONS).default("none").describe("gold-box perturbation (paper Table 7)"), ...backendCommon, ...extra }),
    z.strictObject({ backend: z.literal("openai"), http: HttpOptionsSchema, ...backendCommon, ...extra }),
    z.strictObject({
      backend: z.literal("learned"),
      modelDir: z.string().min(1).optional().describe("folder of a model trained by `pnpm train-verifier` (default $RESAGENT_LEARNED_MODEL, else results/train-verifier)"),
      ...backendCommon,
      ...extra,
    }),
  ] as const;
}

/** An MLLM backend as configs name it (a verifier's: `verifierMllm`); a grounder adds GrounderConfigSchema's keys. */
export const BackendConfigSchema = z.discriminatedUnion("backend", backendVariants({}));
export type BackendConfig = z.output<typeof BackendConfigSchema>;
export type BackendInput = z.input<typeof BackendConfigSchema>;

/** How a grounder's answers are read, beyond its backend. */
export const grounderKeys = {
  convention: zEnum(BOX_CONVENTIONS).describe("how box coordinates in answers are read: qwen2.5 = pixels of the smart-resized image, qwen3 = 0–1000, absolute = image pixels"),
  pick: zEnum(["first", "highest-score"] as const).default("first"),
  boxPrompt: BoxPromptSchema.default("authors").describe('grounding prompt: "authors" (default), "paper", or a template with {expr}'),
  smartResize: SmartResizeSchema.prefault({}).describe(
    "the smart-resize limits of the server's Qwen2.5-VL processor: boxes in convention qwen2.5 are pixels of the image resized this way (also in the cache key)",
  ),
};

/**
 * Precomputed boxes (the authors' router output): a grounder only, answering in image pixels, so
 * it is read with `convention: absolute` (the pipeline checks).
 */
const BoxFileBackendSchema = z.strictObject({ backend: z.literal("box-file"), boxes: BoxFileOptionsSchema, ...backendCommon });

/** A grounder: a backend and how its answers are read (`mllm`, an ensemble's experts). */
export const GrounderConfigSchema = z.discriminatedUnion("backend", [...backendVariants(grounderKeys), BoxFileBackendSchema.extend(grounderKeys)]);
export type GrounderConfig = z.output<typeof GrounderConfigSchema>;
export type GrounderInput = z.input<typeof GrounderConfigSchema>;

/**
 * How to build a backend from its parsed config. Built in: simulated, oracle, openai; another
 * package provides one by registering it (`learned`, in @resagent/learned, registers itself when
 * imported), so configs can name it while this package stays free of its dependencies.
 */
export interface BackendFactory {
  name: string;
  description: string;
  create(cfg: AnyBackendConfig): ChatBackend;
  /**
   * Answers depend on the query context (box, marker position), not on the request alone, so the
   * request-keyed response cache must not serve them (cheap local models need no cache anyway).
   */
  uncached?: boolean;
}

/** A backend registered by another package that BackendConfigSchema does not list: the common keys only. */
const CustomBackendSchema = z.strictObject({ backend: z.string(), ...backendCommon });
export type AnyBackendConfig = BackendConfig | z.output<typeof BoxFileBackendSchema> | z.output<typeof CustomBackendSchema>;

const backends = new Registry<BackendFactory>("MLLM backend", "mllm.backend")
  .register("simulated", {
    name: "simulated",
    description: "simulated MLLM: grounding and yes/no judges drawn from calibrated error models (preset)",
    create: (cfg) => {
      const c = cfg as Extract<BackendConfig, { backend: "simulated" }>;
      return new SimulatedBackend(c.preset, c.seed ?? 0, c.overrides);
    },
  })
  .register("oracle", {
    name: "oracle",
    description: "oracle: the gold box (optionally perturbed) and gold point labels",
    create: (cfg) => new OracleBackend((cfg as Extract<BackendConfig, { backend: "oracle" }>).perturbation, cfg.seed ?? 0),
  })
  .register("openai", {
    name: "openai",
    description: "an OpenAI-compatible server (vLLM, SGLang, llama.cpp, Ollama) over HTTP",
    create: (cfg) => new OpenAiCompatibleBackend((cfg as Extract<BackendConfig, { backend: "openai" }>).http),
  })
  .register("box-file", {
    name: "box-file",
    description: "boxes read from files keyed by dataset, split, ref and sentence (the authors' router output); grounding only",
    create: (cfg) => new BoxFileBackend((cfg as z.output<typeof BoxFileBackendSchema>).boxes),
    // A file lookup: nothing to cache.
    uncached: true,
  });

const LEARNED_HINT = " (the learned verifier registers itself when @resagent/learned is imported; the resagent command does)";

export function registerBackend(factory: BackendFactory): void {
  backends.register(factory.name, factory);
}

/** Every backend name a config can use now: the built-in ones and those registered. */
export function backendNames(): string[] {
  return backends.names();
}

/** A backend from a config as written: checked and completed by its schema (the one parse), then built. */
export function createBackend(input: BackendInput | ({ backend: string } & Record<string, unknown>)): ChatBackend {
  const name = String((input as { backend?: unknown }).backend);
  backends.get(name, name === "learned" ? LEARNED_HINT : "");
  const known = (BackendConfigSchema.options as readonly { shape: { backend: { value: string } } }[]).some((o) => o.shape.backend.value === name);
  const schema = name === "box-file" ? BoxFileBackendSchema : known ? BackendConfigSchema : CustomBackendSchema;
  return buildBackend(parseParams(schema, input, "mllm") as AnyBackendConfig);
}

/** A backend from a parsed config (a loaded pipeline's), wrapped in the response cache as configured. */
export function buildBackend(cfg: AnyBackendConfig): ChatBackend {
  const factory = backends.get(cfg.backend, cfg.backend === "learned" ? LEARNED_HINT : "");
  const inner = factory.create(cfg);
  if (factory.uncached || cfg.cache === "off") return inner;
  const dir = cfg.cacheDir ?? join(process.env.RESAGENT_CACHE_DIR ?? join(process.cwd(), ".cache"), "mllm");
  const file = cfg.cache === "disk" ? join(dir, `${sha256(inner.identity).slice(0, 16)}.jsonl`) : undefined;
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
