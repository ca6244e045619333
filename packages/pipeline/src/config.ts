import type { BackendConfig, BoxConvention, SmartResizeOptions } from "@resagent/mllm";
import type { VerifierParams } from "@resagent/verifier";

/**
 * How the pipeline calls the decoder once the points are known (the authors' final eval script,
 * `sam2_decode` and `choose_decode_branch`, final 1778–1895; `--decode_fallback_mode sam_score`,
 * `--decode_score_margin 0`). Pipeline-level, not a decoder parameter: it is a procedure around any
 * decoder (two calls and a choice), the same whichever decoder a preset names, and decoder presets
 * replace the decoder component whole.
 */
export interface DecodeConfig {
  /**
   * "sam-score": decode box + points and the box alone, keep the points branch only when its
   * decoder score beats the box-only one by more than `margin` (ties keep the box). "none": box +
   * points only.
   */
  fallback: "none" | "sam-score";
  margin: number;
  /**
   * "centre": when verification leaves no point, the box centre is a positive in the points branch
   * (authors, final 1793–1796); "none": the box alone. The box-only branch stays the box alone:
   * the authors' `sam2_decode` adds the centre there too but then drops every point because that
   * branch runs with `result_type="box"` (final 1803–1808, 2281–2290).
   */
  emptyPoints: "none" | "centre";
}

export const DECODE_DEFAULTS: DecodeConfig = { fallback: "sam-score", margin: 0, emptyPoints: "centre" };

/** One pipeline variant: every ablation of the paper is a different value of this. */
export interface PipelineConfig {
  /** Stage 1, box grounding (simulated | oracle | openai), and how its answers are read. */
  mllm: BackendConfig & {
    convention: BoxConvention;
    pick?: "first" | "highest-score";
    boxPrompt?: string;
    /** Qwen2.5-VL smart-resize limits the server's processor uses (convention qwen2.5); default factor 28, 56²–12,845,056 pixels. */
    smartResize?: Partial<SmartResizeOptions>;
  };
  /** Stage 3 backend; absent = the grounding backend. `oracle` here gives gold point labels. */
  verifierMllm?: BackendConfig;
  /** Stage 2. */
  sampler: { name: string; params?: Record<string, unknown> };
  /** Candidate budget per queue (paper K); 0 = box only (the baseline). */
  k: number;
  /** External-queue candidates when they differ from `k` (the authors' release: 10 internal, 4 external); null = k. */
  kExternal?: number | null;
  verifier: Partial<VerifierParams>;
  /** Stage 4. */
  decoder: { name: string; params?: Record<string, unknown> };
  /** How the decoder is called: fallback to the box alone, and the empty-prompt rule (see DecodeConfig). */
  decode?: Partial<DecodeConfig>;
  /** What to predict when grounding fails: an empty mask (scored as IoU 0) or the whole image as the box. */
  onGroundingFailure: "empty" | "full-image";
}

export const PIPELINE_DEFAULTS: PipelineConfig = {
  mllm: { backend: "simulated", preset: "zero-shot", convention: "qwen3", pick: "first", cache: "memory" },
  sampler: { name: "ebd-spiral" },
  k: 4,
  verifier: {},
  decoder: { name: "graphcut" },
  decode: DECODE_DEFAULTS,
  onGroundingFailure: "empty",
};
