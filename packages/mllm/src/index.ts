export * from "./types.js";
export { Semaphore } from "./semaphore.js";
export { OpenAiCompatibleBackend, HttpError, HTTP_DEFAULTS, parseChatResponse, type HttpBackendOptions } from "./http.js";
export { ResponseCache, CachedBackend, requestKey } from "./cache.js";
export * from "./grounding.js";
export * from "./simulated.js";
export { createBackend, registerBackend, backendNames, BACKEND_NAMES, type BackendConfig, type BackendFactory } from "./registry.js";
export { probeEndpoint, type ProbeResult } from "./probe.js";
export { addAccounting, backendAccounting, emptyAccounting, failedAttempts, formatAccounting, type AccountedBackend, type FailureKind, type ModelCallAccounting } from "./accounting.js";
