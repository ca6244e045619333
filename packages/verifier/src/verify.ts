import { InputError, maskValueAt, type Box, type Mask, type Point, type RandomStream, type RgbImage } from "@resagent/core";
import { MULTI_LETTERS, fromPixelBox, type BoxConvention, type ChatBackend, type ChatRequest } from "@resagent/mllm";
import type { Candidate } from "@resagent/sampler";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES, markedImageHash, markerCrop, renderMarkers, type Marker, type MarkerColour, type MarkerShape } from "./markers.js";
import { aggregateYesProbability, type Aggregation } from "./probability.js";
import { TEXTUAL_FORMATS, parseMultiAnswer, textualPrompt, vbrMultiPrompt, vbrPrompt, type TextualFormat } from "./prompts.js";

export interface VerifierParams {
  /** "vbr", "vbr-multi", or "textual:(x,y)" / "textual:x is, y is" / "textual:x=, y=". */
  format: string;
  shape: MarkerShape;
  /** "random" draws one of the 8 per query from the sample's stream. */
  colour: MarkerColour | "random";
  size: number;
  /** Crop around box ∪ marker before asking (the authors' inference default). */
  crop: boolean;
  topK: number;
  aggregation: Aggregation;
  /** Confidence a point needs: P(yes) ≥ τ for a positive, P(no) ≥ τ for a negative. */
  tau: number;
  positives: number;
  negatives: number;
  /** false: verify every candidate (Tables 9–10); true: stop once the counts are met. */
  earlyStop: boolean;
  /** Coordinates written in textual prompts: 0–1000 (qwen3) by default, as the authors' code. */
  textualConvention: BoxConvention;
  /** Candidates per VBR-multi query (at most 8). */
  multiBatch: number;
}

export const VERIFIER_DEFAULTS: VerifierParams = {
  format: "vbr",
  shape: "star",
  colour: "random",
  size: 24,
  crop: true,
  topK: 5,
  aggregation: "pa",
  tau: 0.5,
  positives: 2,
  negatives: 1,
  earlyStop: true,
  textualConvention: "qwen3",
  multiBatch: 8,
};

export interface QueryRecord {
  point: Point;
  queue: string;
  rank: number;
  /** Null when the answer had neither yes nor no (abstention). */
  pYes: number | null;
  decision: "positive" | "negative" | "unsure" | "abstain";
  /** Whether the point was used in the prompt to the decoder. */
  used: boolean;
  cached: boolean;
  latencyMs: number;
  /** Gold label when known (for acc/P/R/F1). */
  gold?: boolean;
}

export interface VerifyInput {
  sampleId: string;
  expression: string;
  image: RgbImage | undefined;
  /** Content hash of the source image (cache keys, marker image hashes). */
  imageHash: string;
  width: number;
  height: number;
  /** The (predicted) box the candidates came from; markers are cropped around it. */
  box: Box;
  candidates: readonly Candidate[];
  gold?: { mask?: Mask; box?: Box; distractorBoxes?: Box[] };
  rng: RandomStream;
}

export interface VerifyResult {
  positives: Point[];
  negatives: Point[];
  queries: QueryRecord[];
}

export function checkVerifierParams(p: VerifierParams): void {
  const bad = (k: string, want: string) => new InputError(`expected ${want}, got ${JSON.stringify((p as unknown as Record<string, unknown>)[k])}`, { field: `verifier.${k}` });
  const textual = p.format.startsWith("textual:") ? p.format.slice("textual:".length) : undefined;
  if (!(p.format === "vbr" || p.format === "vbr-multi" || (textual !== undefined && textual in TEXTUAL_FORMATS))) {
    throw bad("format", `vbr, vbr-multi or textual:<${Object.keys(TEXTUAL_FORMATS).join(" | ")}>`);
  }
  if (!MARKER_SHAPES.includes(p.shape)) throw bad("shape", MARKER_SHAPES.join(", "));
  if (p.colour !== "random" && !MARKER_COLOUR_NAMES.includes(p.colour)) throw bad("colour", `random or one of ${MARKER_COLOUR_NAMES.join(", ")}`);
  if (!(p.size > 0)) throw bad("size", "a positive number of pixels");
  if (!(Number.isInteger(p.topK) && p.topK >= 0 && p.topK <= 20)) throw bad("topK", "an integer in [0, 20] (vLLM caps top_logprobs at --max-logprobs, default 20)");
  if (!["pa", "decoded"].includes(p.aggregation)) throw bad("aggregation", "pa or decoded");
  if (!(p.tau >= 0 && p.tau <= 1)) throw bad("tau", "a number in [0, 1]");
  if (!(Number.isInteger(p.positives) && p.positives >= 0)) throw bad("positives", "a non-negative integer");
  if (!(Number.isInteger(p.negatives) && p.negatives >= 0)) throw bad("negatives", "a non-negative integer");
  if (!(Number.isInteger(p.multiBatch) && p.multiBatch >= 1 && p.multiBatch <= 8)) throw bad("multiBatch", "an integer in [1, 8]");
}

/**
 * Verifies candidate points with an MLLM (or its simulation) and keeps the first `positives`
 * confident yes and `negatives` confident no answers, in the sampler's order (paper §3.4).
 */
export class Verifier {
  readonly params: VerifierParams;

  constructor(
    readonly backend: ChatBackend,
    params: Partial<VerifierParams> = {},
  ) {
    this.params = { ...VERIFIER_DEFAULTS, ...params };
    checkVerifierParams(this.params);
  }

  describe(): string {
    const p = this.params;
    return `${p.format} (${p.format.startsWith("textual") ? `${p.textualConvention} coordinates` : `${p.colour} ${p.shape}, ${p.size}px${p.crop ? ", cropped" : ""}`}; ${p.aggregation === "pa" ? `top-${p.topK} probability aggregation` : "decoded token only"}; τ=${p.tau}; stop at ${p.positives}+/${p.negatives}−${p.earlyStop ? "" : " (no early stop)"})`;
  }

  private decide(pYes: number | null): QueryRecord["decision"] {
    if (pYes === null) return "abstain";
    const tau = this.params.tau;
    const yes = pYes >= tau;
    const no = 1 - pYes >= tau;
    if (yes && no) return pYes >= 0.5 ? "positive" : "negative";
    return yes ? "positive" : no ? "negative" : "unsure";
  }

  private marker(point: Point, rng: RandomStream, label?: string): Marker {
    const colour = this.params.colour === "random" ? rng.choice(MARKER_COLOUR_NAMES) : this.params.colour;
    return { point, colour, shape: this.params.shape, size: this.params.size, ...(label ? { label } : {}) };
  }

  private request(input: VerifyInput, markers: Marker[], text: string, textual: boolean): ChatRequest {
    const p = this.params;
    const crop = p.crop && !textual ? markerCrop(markers, input.box, input.width, input.height) : undefined;
    const shown = textual ? [] : markers;
    const hash = textual ? input.imageHash : markedImageHash(input.imageHash, shown, crop);
    return {
      content: [
        {
          type: "image",
          hash,
          render: async () => {
            if (!input.image) throw new InputError("this backend needs the image but none was loaded", { field: `sample ${input.sampleId}` });
            return renderMarkers(input.image, shown, crop);
          },
        },
        { type: "text", text },
      ],
      maxTokens: p.format === "vbr-multi" ? 8 * markers.length : 1,
      topLogprobs: p.format === "vbr-multi" || p.aggregation === "decoded" ? 0 : p.topK,
    };
  }

  async verify(input: VerifyInput): Promise<VerifyResult> {
    const p = this.params;
    const positives: Point[] = [];
    const negatives: Point[] = [];
    const queries: QueryRecord[] = [];
    const gold = input.gold?.mask;
    const goldLabel = (pt: Point) => (gold ? maskValueAt(gold, pt) === 1 : undefined);
    const done = () => p.earlyStop && positives.length >= p.positives && negatives.length >= p.negatives;
    const take = (rec: QueryRecord) => {
      if (rec.decision === "positive" && positives.length < p.positives) {
        positives.push(rec.point);
        rec.used = true;
      } else if (rec.decision === "negative" && negatives.length < p.negatives) {
        negatives.push(rec.point);
        rec.used = true;
      }
      queries.push(rec);
    };
    const ctxBase = { kind: "verify" as const, sampleId: input.sampleId, imageWidth: input.width, imageHeight: input.height, box: input.box, format: p.format, ...(input.gold ? { gold: input.gold } : {}) };

    if (p.format === "vbr-multi") {
      for (let start = 0; start < input.candidates.length && !done(); start += p.multiBatch) {
        const batch = input.candidates.slice(start, start + p.multiBatch);
        const labels = batch.map((_, i) => MULTI_LETTERS[i]!);
        // One colour for the batch: the letters tell markers apart.
        const colourRng = input.rng.fork(`multi${start}`);
        const colour = p.colour === "random" ? colourRng.choice(MARKER_COLOUR_NAMES) : p.colour;
        const markers = batch.map((c, i) => ({ point: c.point, colour, shape: p.shape, size: p.size, label: labels[i]! }));
        const t0 = performance.now();
        const res = await this.backend.complete(this.request(input, markers, vbrMultiPrompt(input.expression, labels, p.shape), false), { ...ctxBase, points: batch.map((c) => c.point) });
        const answers = parseMultiAnswer(res.text, labels);
        const latency = (performance.now() - t0) / batch.length;
        batch.forEach((c, i) => {
          const a = answers[i];
          const pYes = a === null || a === undefined ? null : a ? 1 : 0;
          const g = goldLabel(c.point);
          take({ point: c.point, queue: c.queue, rank: c.rank, pYes, decision: this.decide(pYes), used: false, cached: res.cached, latencyMs: latency, ...(g !== undefined ? { gold: g } : {}) });
        });
      }
      return { positives, negatives, queries };
    }

    const textual = p.format.startsWith("textual:") ? (p.format.slice("textual:".length) as TextualFormat) : undefined;
    for (const c of input.candidates) {
      if (done()) break;
      let text: string;
      let markers: Marker[] = [];
      if (textual) {
        const [x = 0, y = 0] = fromPixelBox({ x1: c.point.x, y1: c.point.y, x2: c.point.x, y2: c.point.y }, p.textualConvention, input.width, input.height);
        text = textualPrompt(input.expression, textual, x, y);
      } else {
        const m = this.marker(c.point, input.rng.fork(`marker/${c.queue}/${c.rank}`));
        markers = [m];
        text = vbrPrompt(input.expression, m.colour, m.shape);
      }
      const t0 = performance.now();
      const res = await this.backend.complete(this.request(input, markers, text, textual !== undefined), { ...ctxBase, points: [c.point] });
      const pYes = aggregateYesProbability(res.firstTokenTopLogprobs, res.text, p.aggregation);
      const g = goldLabel(c.point);
      take({ point: c.point, queue: c.queue, rank: c.rank, pYes, decision: this.decide(pYes), used: false, cached: res.cached, latencyMs: performance.now() - t0, ...(g !== undefined ? { gold: g } : {}) });
    }
    return { positives, negatives, queries };
  }
}
