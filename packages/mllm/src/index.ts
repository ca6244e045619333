export * from "./types.js";
export { Semaphore } from "./semaphore.js";
export { OpenAiCompatibleBackend, HttpError, HTTP_DEFAULTS, parseChatResponse, type HttpBackendOptions } from "./http.js";
export { ResponseCache, CachedBackend, requestKey } from "./cache.js";
export * from "./grounding.js";
export * from "./simulated.js";
export { simulateGrounding, phraseCues, phraseDifficulty, CUE_DIFFICULTY, type GroundingModel, type GroundingMode, type GroundingOutcome, type GroundingQuery, type PhraseCues } from "./simulated-grounding.js";
export { createBackend, BACKEND_NAMES, type BackendConfig } from "./registry.js";
