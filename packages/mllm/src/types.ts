import type { Box, Mask, Point } from "@resagent/core";

/** An image in a request: identified by a content hash; encoded (JPEG) only when a server needs it. */
export interface ImagePart {
  type: "image";
  /** Hash of what the model would see (source image + markers + crop): the cache key uses it. */
  hash: string;
  render(): Promise<Uint8Array>;
  /** MIME type of what render() returns; default image/jpeg. */
  mime?: string;
}

export interface TextPart {
  type: "text";
  text: string;
}

export interface ChatRequest {
  /** One user turn: images first, then the text, as Qwen-VL chat templates expect. */
  content: (ImagePart | TextPart)[];
  maxTokens: number;
  /** Top-k first-token logprobs to ask for (0 = none). */
  topLogprobs: number;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

export interface ChatCompletion {
  text: string;
  /** Top-k alternatives of the first generated token, when asked for. */
  firstTokenTopLogprobs?: TopLogprob[];
  /** Whether the answer came from the response cache. */
  cached: boolean;
  /** Time the backend spent (0 for cache hits). */
  latencyMs: number;
}

/**
 * What the query is about, for backends that answer from ground truth instead of pixels
 * (simulated, oracle). Real backends ignore it. JSON-serialisable apart from the masks.
 */
export interface QueryContext {
  kind: "ground" | "verify";
  sampleId: string;
  imageWidth: number;
  imageHeight: number;
  gold?: { mask?: Mask; box?: Box; distractorBoxes?: Box[] };
  /** The box the point was sampled in (verify) — for simulated grounding noise models. */
  box?: Box;
  /** Marker positions in image pixels, in answer order (one per point for VBR, up to 8 for VBR-multi). */
  points?: Point[];
  /** "vbr", "vbr-multi" or "textual:<format>". */
  format?: string;
  /** Coordinate convention the simulated grounder should answer in. */
  boxConvention?: string;
}

export interface ChatBackend {
  readonly name: string;
  /** True when answers come from a simulation, not a model: every output says so. */
  readonly simulated: boolean;
  /** Whether requests need real image bytes (simulated/oracle answers never look at pixels). */
  readonly needsImages: boolean;
  /** Identity for cache keys and summaries (model name, preset, seed...). */
  readonly identity: string;
  describe(): string;
  complete(request: ChatRequest, context: QueryContext): Promise<ChatCompletion>;
  stats?(): Record<string, number>;
}

/** VBR-multi (the authors' batched variant): markers are lettered A–H, one answer line per letter. */
export const MULTI_LETTERS = "ABCDEFGH";

/** The answer lines a model gives to a VBR-multi question ("A: yes", "B: no", ...). */
export function multiAnswerText(yes: readonly boolean[]): string {
  return yes.map((v, i) => `${MULTI_LETTERS[i]}: ${v ? "yes" : "no"}`).join("\n");
}
