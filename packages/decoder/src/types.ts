import type { Box, Mask, Point, RgbImage } from "@resagent/core";

/** What the pipeline hands a decoder: the box and the verified points (paper §3.5). */
export interface Prompt {
  box: Box;
  positives: Point[];
  negatives: Point[];
}

export interface DecodeResult {
  mask: Mask;
  /** Decoder confidence in [0, 1] (SAM: predicted IoU; graph-cut: colour-model confidence; box: 1). */
  score: number;
}

/** An image plus a key that identifies its content, so per-image work is done once. */
export interface DecoderImage {
  image: RgbImage;
  /** Content key (e.g. a hash of the pixels or the file path + mtime); computed when absent. */
  key?: string;
}

export interface Decoder {
  readonly name: string;
  /** One line for summaries: what ran (e.g. "graphcut (embedded, no weights)"). */
  describe(): string;
  /** Throw an InputError now if this decoder cannot run (model files missing), before any work. */
  check?(): void;
  /**
   * Open the model files and match them against what this decoder reads (no image is decoded);
   * returns one line saying what was found, or throws an InputError naming the file. For `validate`.
   */
  inspect?(): Promise<string>;
  /** Per-image work (SAM's image encoder). Optional; `segment` calls it when needed. */
  prepare?(input: DecoderImage): Promise<void>;
  segment(input: DecoderImage, prompt: Prompt): Promise<DecodeResult>;
  /** Counters for summaries (e.g. encoder calls, cache hits). */
  stats?(): Record<string, number>;
  dispose?(): Promise<void>;
}
