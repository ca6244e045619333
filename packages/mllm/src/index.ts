export * from "./types.js";
export { Semaphore } from "./semaphore.js";
export { OpenAiCompatibleBackend, HttpError, HttpOptionsSchema, logprobsProblem, parseHttpOptions, parseChatResponse, type HttpBackendOptions } from "./http.js";
export { ResponseCache, CachedBackend, requestKey } from "./cache.js";
export * from "./grounding.js";
export * from "./simulated.js";
export {
  createBackend,
  buildBackend,
  registerBackend,
  backendNames,
  backendVariants,
  grounderKeys,
  BackendConfigSchema,
  GrounderConfigSchema,
  type BackendConfig,
  type BackendInput,
  type AnyBackendConfig,
  type GrounderConfig,
  type GrounderInput,
  type BackendFactory,
} from "./registry.js";
export { probeEndpoint, type ProbeResult } from "./probe.js";
export { addAccounting, backendAccounting, emptyAccounting, failedAttempts, formatAccounting, type AccountedBackend, type FailureKind, type ModelCallAccounting } from "./accounting.js";
export { simulateGrounding, GroundingModelSchema, SHARED_ERRORS, phraseCues, phraseDifficulty, CUE_DIFFICULTY, type GroundingModel, type GroundingMode, type GroundingOutcome, type GroundingQuery, type PhraseCues } from "./simulated-grounding.js";
export { BoxFileBackend, BoxFileOptionsSchema, boxFileName, firstBoxInText, resolveFileBox, type BoxFileOptions } from "./box-file.js";
