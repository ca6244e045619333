export * from "./markers.js";
export * from "./prompts.js";
export * from "./probability.js";
export { Verifier, VERIFIER_DEFAULTS, checkVerifierParams, roleSelectionViolations, type Selection, type SelectionMode, type SelectionRule, type VerifierParams, type QueryRecord, type VerifyInput, type VerifyResult } from "./verify.js";
