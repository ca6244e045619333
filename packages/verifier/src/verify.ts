import { InputError, maskValueAt, type Box, type Mask, type Point, type RandomStream, type RgbImage } from "@resagent/core";
import { MULTI_LETTERS, fromPixelBox, type BoxConvention, type ChatBackend, type ChatRequest } from "@resagent/mllm";
import type { Candidate } from "@resagent/sampler";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES, markedImageHash, markerCrop, renderMarkers, type Marker, type MarkerColour, type MarkerShape } from "./markers.js";
import { aggregateYesProbability, type Aggregation } from "./probability.js";
import { PROMPT_STYLES, TEXTUAL_FORMATS, parseMultiAnswer, textualPrompt, vbrMultiPrompt, vbrPrompt, type PromptStyle, type TextualFormat } from "./prompts.js";

/**
 * How verified answers become the decoder's points.
 * "roles" (the paper §3.3 and the authors' `select_points_from_queues`): positives from the internal
 * (boundary) queue, negatives from the external (centre) queue; only when a queue is exhausted
 * without enough of its role are the other queue's answers used (positives found in the external
 * queue, negatives found in the internal queue). "interleaved" (this harness before issue 19): the
 * first confident yes and no answers in the sampler's merged order, from either queue.
 */
export type Selection = "roles" | "interleaved";
/** "order": main picks in queue order, fallbacks in reverse queue order (external positives nearest the boundary first); "confidence": highest confidence first. */
export type SelectionMode = "order" | "confidence";
/** Which rule chose a used point (roles selection). */
export type SelectionRule = "internal-positive" | "external-negative" | "fallback-positive" | "fallback-negative";

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
  /** How answers become points (see Selection); "roles" is the authors' rule. */
  select: Selection;
  /** Ranking within the roles lists (authors' `--point_selection_mode`, default order). */
  selectionMode: SelectionMode;
  /** Whose wording the questions use: the authors' code (default) or the paper's text. */
  prompts: PromptStyle;
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
  select: "roles",
  selectionMode: "order",
  prompts: "authors",
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
  /** For a used point under `select: roles`: the rule that chose it. */
  rule?: SelectionRule;
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
  if (!["roles", "interleaved"].includes(p.select)) throw bad("select", "roles or interleaved");
  if (!["order", "confidence"].includes(p.selectionMode)) throw bad("selectionMode", "order or confidence");
  if (!PROMPT_STYLES.includes(p.prompts)) throw bad("prompts", PROMPT_STYLES.join(" or "));
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
    const select = p.select === "roles" ? `positives from the internal queue, negatives from the external (${p.selectionMode})` : "first confident answers in merged order";
    return `${p.format} (${p.format.startsWith("textual") ? `${p.textualConvention} coordinates` : `${p.colour} ${p.shape}, ${p.size}px${p.crop ? ", cropped" : ""}`}; prompts: ${p.prompts}; ${p.aggregation === "pa" ? `top-${p.topK} probability aggregation` : "decoded token only"}; τ=${p.tau}; ${select}; stop at ${p.positives}+/${p.negatives}−${p.earlyStop ? "" : " (no early stop)"})`;
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

  /** Ask the backend about a batch of candidates (one for VBR / textual, up to 8 for VBR-multi). */
  private async ask(input: VerifyInput, batch: readonly Candidate[], multiKey: string): Promise<QueryRecord[]> {
    const p = this.params;
    const gold = input.gold?.mask;
    const goldLabel = (pt: Point) => (gold ? maskValueAt(gold, pt) === 1 : undefined);
    const ctxBase = { kind: "verify" as const, sampleId: input.sampleId, imageWidth: input.width, imageHeight: input.height, box: input.box, format: p.format, ...(input.gold ? { gold: input.gold } : {}) };
    if (p.format === "vbr-multi") {
      const labels = batch.map((_, i) => MULTI_LETTERS[i]!);
      // One colour for the batch: the letters tell markers apart.
      const colourRng = input.rng.fork(multiKey);
      const colour = p.colour === "random" ? colourRng.choice(MARKER_COLOUR_NAMES) : p.colour;
      const markers = batch.map((c, i) => ({ point: c.point, colour, shape: p.shape, size: p.size, label: labels[i]! }));
      const t0 = performance.now();
      const res = await this.backend.complete(this.request(input, markers, vbrMultiPrompt(input.expression, labels, p.shape, p.prompts), false), { ...ctxBase, points: batch.map((c) => c.point) });
      const answers = parseMultiAnswer(res.text, labels);
      const latency = (performance.now() - t0) / batch.length;
      return batch.map((c, i) => {
        const a = answers[i];
        const pYes = a === null || a === undefined ? null : a ? 1 : 0;
        const g = goldLabel(c.point);
        return { point: c.point, queue: c.queue, rank: c.rank, pYes, decision: this.decide(pYes), used: false, cached: res.cached, latencyMs: latency, ...(g !== undefined ? { gold: g } : {}) };
      });
    }
    const c = batch[0]!;
    const textual = p.format.startsWith("textual:") ? (p.format.slice("textual:".length) as TextualFormat) : undefined;
    let text: string;
    let markers: Marker[] = [];
    if (textual) {
      const [x = 0, y = 0] = fromPixelBox({ x1: c.point.x, y1: c.point.y, x2: c.point.x, y2: c.point.y }, p.textualConvention, input.width, input.height);
      text = textualPrompt(input.expression, textual, x, y, p.prompts);
    } else {
      const m = this.marker(c.point, input.rng.fork(`marker/${c.queue}/${c.rank}`));
      markers = [m];
      text = vbrPrompt(input.expression, m.colour, m.shape, p.prompts);
    }
    const t0 = performance.now();
    const res = await this.backend.complete(this.request(input, markers, text, textual !== undefined), { ...ctxBase, points: [c.point] });
    const pYes = aggregateYesProbability(res.firstTokenTopLogprobs, res.text, p.aggregation);
    const g = goldLabel(c.point);
    return [{ point: c.point, queue: c.queue, rank: c.rank, pYes, decision: this.decide(pYes), used: false, cached: res.cached, latencyMs: performance.now() - t0, ...(g !== undefined ? { gold: g } : {}) }];
  }

  async verify(input: VerifyInput): Promise<VerifyResult> {
    return this.params.select === "roles" ? this.verifyRoles(input) : this.verifyInterleaved(input);
  }

  /** The harness before issue 19: walk the merged order, keep the first confident answers of each kind. */
  private async verifyInterleaved(input: VerifyInput): Promise<VerifyResult> {
    const p = this.params;
    const positives: Point[] = [];
    const negatives: Point[] = [];
    const queries: QueryRecord[] = [];
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
    const step = p.format === "vbr-multi" ? p.multiBatch : 1;
    for (let start = 0; start < input.candidates.length && !done(); start += step) {
      const batch = input.candidates.slice(start, start + step);
      for (const rec of await this.ask(input, batch, `multi${start}`)) take(rec);
    }
    return { positives, negatives, queries };
  }

  /**
   * The authors' selection (`select_points_from_queues`): positives from the internal queue,
   * negatives from the external queue, each answer decided against τ; a queue exhausted without
   * enough of its role is topped up from the other queue's answers (in "order" mode in reverse
   * queue order: external positives nearest the boundary first, internal negatives nearest the
   * centre first). With early stopping the questions follow the same roles: the internal queue
   * until it yields the positives, the external queue until it yields the negatives, and only then
   * the fallbacks, walked from the far end and stopped as soon as the points the full rule would
   * pick are known. Without early stopping every candidate is asked (internal queue first).
   */
  private async verifyRoles(input: VerifyInput): Promise<VerifyResult> {
    const p = this.params;
    const queue = (q: string) => input.candidates.filter((c) => c.queue === q).sort((a, b) => a.rank - b.rank);
    const internal = queue("internal");
    const external = queue("external");
    const answers = new Map<Candidate, QueryRecord>();
    const queries: QueryRecord[] = [];
    const step = p.format === "vbr-multi" ? p.multiBatch : 1;
    /** Answers of `decision` in `list` before its first unasked candidate. */
    const leading = (list: readonly Candidate[], decision: QueryRecord["decision"]) => {
      let n = 0;
      for (const c of list) {
        const a = answers.get(c);
        if (!a) break;
        if (a.decision === decision) n++;
      }
      return n;
    };
    /** Ask the unasked candidates of `list` in order until `enough` (only with early stopping). */
    const walk = async (list: readonly Candidate[], enough: () => boolean) => {
      let i = 0;
      while (i < list.length) {
        if (p.earlyStop && enough()) return;
        // The next unasked candidates: one, or up to multiBatch for VBR-multi (one query per batch).
        const batch: Candidate[] = [];
        while (i < list.length && batch.length < step) {
          const c = list[i++]!;
          if (!answers.has(c)) batch.push(c);
        }
        if (!batch.length) continue;
        const recs = await this.ask(input, batch, `multi/${batch[0]!.queue}/${batch.map((c) => c.rank).join(",")}`);
        recs.forEach((r, j) => {
          answers.set(batch[j]!, r);
          queries.push(r);
        });
      }
    };
    const count = (list: readonly Candidate[], decision: QueryRecord["decision"]) => list.filter((c) => answers.get(c)?.decision === decision).length;

    await walk(internal, () => leading(internal, "positive") >= p.positives);
    await walk(external, () => leading(external, "negative") >= p.negatives);
    // Fallbacks: only once a queue is exhausted short of its role (with early stopping the walks
    // above stop early only when the role is filled, so a shortfall means the queue was asked out).
    const needPos = p.positives - count(internal, "positive");
    if (needPos > 0) {
      const reversed = [...external].reverse();
      await walk(reversed, () => leading(reversed, "positive") >= needPos);
    }
    const needNeg = p.negatives - count(external, "negative");
    if (needNeg > 0) {
      const reversed = [...internal].reverse();
      await walk(reversed, () => leading(reversed, "negative") >= needNeg);
    }

    const answered = (list: readonly Candidate[], decision: QueryRecord["decision"]) => list.map((c) => answers.get(c)).filter((a): a is QueryRecord => a?.decision === decision);
    const byConfidence = (recs: QueryRecord[], positive: boolean) =>
      p.selectionMode === "confidence" ? recs.map((r, i) => [r, positive ? r.pYes! : 1 - r.pYes!, i] as const).sort((a, b) => b[1] - a[1] || a[2] - b[2]).map(([r]) => r) : recs;
    const intMain = byConfidence(answered(internal, "positive"), true);
    const extMain = byConfidence(answered(external, "negative"), false);
    const posFallback = byConfidence(answered([...external].reverse(), "positive"), true);
    const negFallback = byConfidence(answered([...internal].reverse(), "negative"), false);
    const choose = (main: QueryRecord[], fallback: QueryRecord[], n: number, rules: [SelectionRule, SelectionRule]): Point[] =>
      [...main.map((r) => [r, rules[0]] as const), ...fallback.map((r) => [r, rules[1]] as const)].slice(0, n).map(([r, rule]) => {
        r.used = true;
        r.rule = rule;
        return r.point;
      });
    const positives = choose(intMain, posFallback, p.positives, ["internal-positive", "fallback-positive"]);
    const negatives = choose(extMain, negFallback, p.negatives, ["external-negative", "fallback-negative"]);
    return { positives, negatives, queries };
  }
}

/**
 * What `select: roles` guarantees, checked on a sample's queries (samples.jsonl `queries` and
 * `candidates`): a point used as a positive from the external queue only after the internal queue
 * was asked out with fewer positives than wanted, and the mirror for negatives. Returns the
 * violations (empty when the rule held).
 */
export function roleSelectionViolations(
  queries: readonly { queue: string; decision: string; used: boolean }[],
  candidates: readonly { queue: string }[],
  want: { positives: number; negatives: number },
): string[] {
  const out: string[] = [];
  const asked = (q: string) => queries.filter((x) => x.queue === q).length;
  const total = (q: string) => candidates.filter((c) => c.queue === q).length;
  const used = (q: string, d: string) => queries.filter((x) => x.queue === q && x.used && x.decision === d).length;
  const rules = [
    ["external", "internal", "positive", want.positives],
    ["internal", "external", "negative", want.negatives],
  ] as const;
  for (const [from, own, decision, n] of rules) {
    if (used(from, decision) === 0) continue;
    if (asked(own) < total(own)) out.push(`a ${decision} from the ${from} queue before the ${own} queue was asked out`);
    if (used(own, decision) >= n) out.push(`a ${decision} from the ${from} queue although the ${own} queue gave enough`);
  }
  return out;
}
