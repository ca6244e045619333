import type { BackendConfig, BoxConvention } from "@resagent/mllm";
import type { VerifierParams } from "@resagent/verifier";

/** One pipeline variant: every ablation of the paper is a different value of this. */
export interface PipelineConfig {
  /** Stage 1, box grounding (simulated | oracle | openai), and how its answers are read. */
  mllm: BackendConfig & { convention: BoxConvention; pick?: "first" | "highest-score"; boxPrompt?: string };
  /** Stage 3 backend; absent = the grounding backend. `oracle` here gives gold point labels. */
  verifierMllm?: BackendConfig;
  /** Stage 2. */
  sampler: { name: string; params?: Record<string, unknown> };
  /** Candidate budget per queue (paper K); 0 = box only (the baseline). */
  k: number;
  verifier: Partial<VerifierParams>;
  /** Stage 4. */
  decoder: { name: string; params?: Record<string, unknown> };
  /** What to predict when grounding fails: an empty mask (scored as IoU 0) or the whole image as the box. */
  onGroundingFailure: "empty" | "full-image";
}

export const PIPELINE_DEFAULTS: PipelineConfig = {
  mllm: { backend: "simulated", preset: "zero-shot", convention: "qwen3", pick: "first", cache: "memory" },
  sampler: { name: "ebd-spiral" },
  k: 4,
  verifier: {},
  decoder: { name: "graphcut" },
  onGroundingFailure: "empty",
};
