import type { Box, Mask, Point } from "@resagent/core";
import type { SmartResizeOptions } from "./grounding.js";

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
  /** Top-k logprobs to ask for at every generated token (0 = none). */
  topLogprobs: number;
  /**
   * Settings outside the messages that change the answer and belong in the cache key (the
   * server's smart-resize limits for grounding). Not sent.
   */
  keyParams?: Record<string, unknown>;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

/** A generated token, its logprob and its top-k alternatives (OpenAI `logprobs.content[i]`). */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top: TopLogprob[];
}

export interface ChatCompletion {
  text: string;
  /** Top-k alternatives of the first generated token, when asked for. */
  firstTokenTopLogprobs?: TopLogprob[];
  /** Every generated token with its top-k alternatives, when asked for (VBR-multi reads each label's answer token). */
  tokens?: TokenLogprob[];
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
  /** The referring expression (verify): also inside the prompt; here so a backend need not parse it. */
  expression?: string;
  /** The box the point was sampled in (verify) — for simulated grounding noise models. */
  box?: Box;
  /** Marker positions in image pixels, in answer order (one per point for VBR, up to 8 for VBR-multi). */
  points?: Point[];
  /** "vbr", "vbr-multi" or "textual:<format>". */
  format?: string;
  /** Coordinate convention the simulated grounder should answer in. */
  boxConvention?: string;
  /** Qwen2.5-VL smart-resize limits the grounder's answers are in (convention qwen2.5). */
  smartResize?: SmartResizeOptions;
  /** VBR-multi: the label of each point, in answer order (default A, B, C, ...). */
  labels?: string[];
  /** The sample's dataset source and loader facts (REFER: ref, sentence): what box files are keyed by. */
  sample?: { source: string; meta?: Record<string, unknown> };
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
  /** Request fields sent beside the model and messages (sampling, max tokens, logprobs): part of the cache key. */
  requestSettings?(request: ChatRequest): Record<string, unknown>;
  stats?(): Record<string, number>;
}

/** VBR-multi (the authors' batched variant): markers are lettered A–H, one answer line per letter. */
export const MULTI_LETTERS = "ABCDEFGH";

/**
 * A marker's label as the authors' `marker_token` writes it: A–Z, then P27, P28, ... Labels
 * continue across a queue's batches (the second batch of 10 candidates is I, J).
 */
export function markerLabel(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `P${i + 1}`;
}

/** The answer lines a model gives to a VBR-multi question ("A: yes", "B: no", ...). */
export function multiAnswerText(yes: readonly boolean[], labels?: readonly string[]): string {
  return yes.map((v, i) => `${labels?.[i] ?? markerLabel(i)}: ${v ? "yes" : "no"}`).join("\n");
}
