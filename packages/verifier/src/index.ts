export * from "./markers.js";
export * from "./prompts.js";
export * from "./probability.js";
export { Verifier, roleSelectionViolations, type SelectionRule, type QueryRecord, type VerifyInput, type VerifyResult } from "./verify.js";
export { VerifierParamsSchema, VERIFIER_DEFAULTS, parseVerifierParams, type VerifierParams, type VerifierParamsInput, type Selection, type SelectionMode } from "./params.js";
export * from "./lettered.js";
