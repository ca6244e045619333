import { InputError, maskValueAt, type Box, type Mask, type Point, type RandomStream, type RgbImage } from "@resagent/core";
import { fromPixelBox, markerLabel, type ChatBackend, type ChatRequest } from "@resagent/mllm";
import type { Candidate } from "@resagent/sampler";
import { letteredCrop, letteredImageHash, letteredMarkers, renderLetteredMarkers } from "./lettered.js";
import { MARKER_COLOUR_NAMES, markedImageHash, markerCrop, renderMarkers, toolsMarkerShift, type Marker } from "./markers.js";
import type { VerifierParams } from "./params.js";
import { readAnswer, readLabelAnswer, readMultiAnswers, type AnswerReading } from "./probability.js";
import { textualPrompt, vbrMultiPrompt, vbrPrompt, type TextualFormat } from "./prompts.js";

/** Which rule chose a used point (roles selection). */
export type SelectionRule = "internal-positive" | "external-negative" | "fallback-positive" | "fallback-negative";

export interface QueryRecord {
  point: Point;
  queue: string;
  rank: number;
  /** Null when the answer had neither yes nor no (abstention); else Σ yes / (Σ yes + Σ no) over the top-k, or 1 / 0. */
  pYes: number | null;
  /** The decoded answer (absent for an abstention). */
  answer?: "yes" | "no";
  /** The number compared with τ; null when it could not be computed (absolute aggregation: kept without the test). */
  confidence?: number | null;
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

/**
 * Verifies candidate points with an MLLM (or its simulation) and keeps the first `positives`
 * confident yes and `negatives` confident no answers, in the sampler's order (paper §3.4).
 */
export class Verifier {
  readonly params: VerifierParams;

  /** `params` as parsed by VerifierParamsSchema (parseVerifierParams, or a loaded config's `verifier`). */
  constructor(
    readonly backend: ChatBackend,
    params: VerifierParams,
  ) {
    this.params = params;
  }

  describe(): string {
    const p = this.params;
    const select = p.select === "roles" ? `positives from the internal queue, negatives from the external (${p.selectionMode})` : "first confident answers in merged order";
    const size = p.sizeMode === "adaptive" ? `${p.sizeMin}–${p.sizeMax}px adaptive` : `${p.size}px`;
    const agg = { absolute: `absolute top-${p.topK} probability of the decoded answer`, pa: `absolute top-${p.topK} probability of the decoded answer`, normalised: `top-${p.topK} P(yes) normalised over yes + no`, decoded: "decoded token only" }[p.aggregation];
    const shown = p.format.startsWith("textual")
      ? `${p.textualConvention} coordinates${p.textualSpace === "crop" ? ` of the point's context crop (${size} radius, pad ×${p.padScale}), ${p.crop ? "that crop sent" : "the whole image sent"}` : ""}`
      : p.format === "vbr-multi" && p.multiMarkers === "final"
        ? `final-script markers: shuffled 12 colours × 4 shapes, letter inside, ${size}${p.crop ? `, cropped (pad ×${p.padScale})` : ", uncropped"}`
        : `${p.colour} ${p.shape}, ${size}${p.crop ? ", cropped" : ""}${p.markerShift === "tools" && p.format === "vbr" ? ", moved off the image edge as tools.py draw_marker_on_image" : ""}`;
    return `${p.format} (${shown}; prompts: ${p.prompts}; ${agg}; τ=${p.tau}; ${select}; stop at ${p.positives}+/${p.negatives}−${p.earlyStop ? "" : " (no early stop)"})`;
  }

  /**
   * Decision from a reading: the answer is kept when its confidence reaches τ, or when the
   * confidence cannot be computed (the authors' `keep`: `conf is not None and conf < thresh`
   * rejects, a missing one does not).
   */
  private decide(r: AnswerReading): QueryRecord["decision"] {
    if (r.answer === null) return "abstain";
    if (r.confidence !== null && r.confidence < this.params.tau) return "unsure";
    return r.answer === "yes" ? "positive" : "negative";
  }

  private record(c: Candidate, r: AnswerReading, cached: boolean, latencyMs: number, gold: boolean | undefined): QueryRecord {
    return {
      point: c.point,
      queue: c.queue,
      rank: c.rank,
      pYes: r.pYes,
      ...(r.answer ? { answer: r.answer, confidence: r.confidence } : {}),
      decision: this.decide(r),
      used: false,
      cached,
      latencyMs,
      ...(gold !== undefined ? { gold } : {}),
    };
  }

  /** Marker radius for a box: `size`, or the authors' adaptive size (see VerifierParams.sizeMode). */
  markerSize(box: Box, width: number, height: number): number {
    const p = this.params;
    if (p.sizeMode === "fixed") return p.size;
    const ref = Math.min(Math.max(1, box.x2 - box.x1), Math.max(1, box.y2 - box.y1), width * 0.18, height * 0.18);
    let auto = roundHalfEven(ref * 0.1);
    if (auto <= 0) auto = Math.trunc(p.size);
    return Math.max(p.sizeMin, Math.min(p.sizeMax, roundHalfEven((p.size + auto) / 2)));
  }

  private marker(point: Point, rng: RandomStream, size: number, label?: string): Marker {
    const colour = this.params.colour === "random" ? rng.choice(MARKER_COLOUR_NAMES) : this.params.colour;
    return { point, colour, shape: this.params.shape, size, ...(label ? { label } : {}) };
  }

  /** A request showing `image` (its content hash and how to render it) with `text`. */
  private request(input: VerifyInput, image: { hash: string; render: (source: RgbImage) => Promise<Uint8Array> }, text: string, answers: number): ChatRequest {
    const p = this.params;
    return {
      content: [
        {
          type: "image",
          hash: image.hash,
          render: async () => {
            if (!input.image) throw new InputError("this backend needs the image but none was loaded", { field: `sample ${input.sampleId}` });
            return image.render(input.image);
          },
        },
        { type: "text", text },
      ],
      // VBR-multi: about four tokens per "A: yes" line.
      maxTokens: p.format === "vbr-multi" ? 8 * answers : 1,
      // Logprobs for every generated token; VBR-multi reads each label's answer token.
      topLogprobs: p.aggregation === "decoded" ? 0 : p.topK,
    };
  }

  /** Single-marker (tools.py) images: the markers, cropped around box ∪ markers when `crop`. */
  private markerImage(input: VerifyInput, markers: Marker[], crop: Box | undefined): { hash: string; render: (source: RgbImage) => Promise<Uint8Array> } {
    return { hash: markedImageHash(input.imageHash, markers, crop), render: (img) => renderMarkers(img, markers, crop) };
  }

  /**
   * Textual coordinates of a point and the image sent with them. "image" space: the point in the
   * whole image in `textualConvention`. "crop" space (the authors' `resolve_textual_point_coordinates`):
   * relative to the point's context crop, Python rounding, clipped to [0, 1000] for 0-1000.
   */
  private textualCoordinates(input: VerifyInput, pt: Point, size: number): { x: number; y: number; crop: Box | undefined } {
    const p = this.params;
    if (p.textualSpace === "image") {
      const [x = 0, y = 0] = fromPixelBox({ x1: pt.x, y1: pt.y, x2: pt.x, y2: pt.y }, p.textualConvention, input.width, input.height);
      return { x, y, crop: undefined };
    }
    const crop = letteredCrop(input.box, [pt], size, p.padScale, input.width, input.height, true);
    const rx = pt.x - crop.x1;
    const ry = pt.y - crop.y1;
    const w = Math.max(1, crop.x2 - crop.x1);
    const h = Math.max(1, crop.y2 - crop.y1);
    const shown = p.crop ? crop : undefined;
    if (p.textualConvention === "absolute") return { x: roundHalfEven(rx), y: roundHalfEven(ry), crop: shown };
    if (p.textualConvention === "normalized") {
      // Python's round(v, 4) rounds the double's exact decimal value, as toFixed does.
      const n = (v: number) => Number(Math.min(1, Math.max(0, v)).toFixed(4));
      return { x: n(rx / w), y: n(ry / h), crop: shown };
    }
    const k = (v: number) => Math.min(1000, Math.max(0, roundHalfEven(v * 1000)));
    return { x: k(rx / w), y: k(ry / h), crop: shown };
  }

  /**
   * Ask the backend about a batch of candidates (one for VBR / textual, up to 8 for VBR-multi).
   * VBR-multi labels start at `labelStart` (the authors letter a queue's candidates A, B, ... across
   * its batches: the second batch of 10 is I, J).
   */
  private async ask(input: VerifyInput, batch: readonly Candidate[], multiKey: string, labelStart = 0): Promise<QueryRecord[]> {
    const p = this.params;
    const gold = input.gold?.mask;
    const goldLabel = (pt: Point) => (gold ? maskValueAt(gold, pt) === 1 : undefined);
    const ctxBase = { kind: "verify" as const, sampleId: input.sampleId, expression: input.expression, imageWidth: input.width, imageHeight: input.height, box: input.box, format: p.format, ...(input.gold ? { gold: input.gold } : {}) };
    const size = this.markerSize(input.box, input.width, input.height);
    if (p.format === "vbr-multi") {
      const labels = batch.map((_, i) => markerLabel(labelStart + i));
      const points = batch.map((c) => c.point);
      const colourRng = input.rng.fork(multiKey);
      let image: { hash: string; render: (source: RgbImage) => Promise<Uint8Array> };
      let text: string;
      if (p.multiMarkers === "final") {
        const markers = letteredMarkers(points, labels, size, colourRng);
        const crop = p.crop ? letteredCrop(input.box, points, size, p.padScale, input.width, input.height) : undefined;
        image = { hash: letteredImageHash(input.imageHash, markers, crop), render: (img) => renderLetteredMarkers(img, markers, crop) };
        text = vbrMultiPrompt(input.expression, labels, "lettered", p.prompts);
      } else {
        // One colour for the batch: the letters tell markers apart.
        const colour = p.colour === "random" ? colourRng.choice(MARKER_COLOUR_NAMES) : p.colour;
        const markers = points.map((point, i) => ({ point, colour, shape: p.shape, size, label: labels[i]! }));
        image = this.markerImage(input, markers, p.crop ? markerCrop(markers, input.box, input.width, input.height) : undefined);
        text = vbrMultiPrompt(input.expression, labels, p.shape, p.prompts);
      }
      const t0 = performance.now();
      const res = await this.backend.complete(this.request(input, image, text, batch.length), { ...ctxBase, points, labels });
      const answers = readMultiAnswers(res.text, labels, res.tokens);
      const latency = (performance.now() - t0) / batch.length;
      return batch.map((c, i) => this.record(c, readLabelAnswer(answers[i]!, res.tokens, p.aggregation), res.cached, latency, goldLabel(c.point)));
    }
    const c = batch[0]!;
    const textual = p.format.startsWith("textual:") ? (p.format.slice("textual:".length) as TextualFormat) : undefined;
    let text: string;
    let image: { hash: string; render: (source: RgbImage) => Promise<Uint8Array> };
    // Where the model sees the point (a shifted marker is somewhere else).
    let shown = c.point;
    if (textual) {
      const t = this.textualCoordinates(input, c.point, size);
      text = textualPrompt(input.expression, textual, t.x, t.y, p.prompts);
      image = this.markerImage(input, [], t.crop);
      if (!t.crop) image.hash = input.imageHash;
    } else {
      let m = this.marker(c.point, input.rng.fork(`marker/${c.queue}/${c.rank}`), size);
      let crop = p.crop ? markerCrop([m], input.box, input.width, input.height) : undefined;
      if (p.markerShift === "tools") {
        const moved = toolsMarkerShift(c.point, size, input.box, input.width, input.height);
        m = { ...m, point: moved.point };
        shown = moved.point;
        if (p.crop) crop = moved.crop;
      }
      text = vbrPrompt(input.expression, m.colour, m.shape, p.prompts);
      image = this.markerImage(input, [m], crop);
    }
    const t0 = performance.now();
    const res = await this.backend.complete(this.request(input, image, text, 1), { ...ctxBase, points: [shown] });
    const reading = readAnswer(p.aggregation === "decoded" ? undefined : res.firstTokenTopLogprobs, res.text, p.aggregation);
    return [this.record(c, reading, res.cached, performance.now() - t0, goldLabel(c.point))];
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
    /**
     * Ask the unasked candidates of `list` in order until `enough` (only with early stopping).
     * `forward`: the list is a queue in its own order, so VBR-multi letters follow the queue ranks.
     */
    const walk = async (list: readonly Candidate[], enough: () => boolean, forward = false) => {
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
        const recs = await this.ask(input, batch, `multi/${batch[0]!.queue}/${batch.map((c) => c.rank).join(",")}`, forward ? batch[0]!.rank : 0);
        recs.forEach((r, j) => {
          answers.set(batch[j]!, r);
          queries.push(r);
        });
      }
    };
    const count = (list: readonly Candidate[], decision: QueryRecord["decision"]) => list.filter((c) => answers.get(c)?.decision === decision).length;

    await walk(internal, () => leading(internal, "positive") >= p.positives, true);
    await walk(external, () => leading(external, "negative") >= p.negatives, true);
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
    // The authors' "confidence" mode: highest first, answers without a confidence last (key_fn,
    // final 1757–1760), ties in the list's order.
    const byConfidence = (recs: QueryRecord[], _positive: boolean) =>
      p.selectionMode === "confidence" ? recs.map((r, i) => [r, r.confidence ?? -Infinity, i] as const).sort((a, b) => b[1] - a[1] || a[2] - b[2]).map(([r]) => r) : recs;
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

/** Python's round(): halves go to the even neighbour (the authors' `int(round(x))`). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
