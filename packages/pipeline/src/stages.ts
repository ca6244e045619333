import { InputError, boxIoU, emptyMask, encodeJpeg, randomStream, rleEncode, type Box, type Mask, type Point, type RgbImage, type Sample } from "@resagent/core";
import type { DecodeResult, Decoder, DecoderImage } from "@resagent/decoder";
import { sampleIoU } from "@resagent/metrics";
import { boxPrompt, parseGrounding, type ChatBackend, type GrounderConfig, type GroundingResult, type QueryContext, type SmartResizeOptions } from "@resagent/mllm";
import { DEFAULT_POOL_SCALE, dedupePixels, mergeQueues, rankPool, type PointValueScorer, type Candidates, type MergeOrder, type Sampler } from "@resagent/sampler";
import type { SampleRecord } from "@resagent/records";
import type { Verifier, VerifyResult } from "@resagent/verifier";
import type { DecodeConfig, EnsembleGroundingConfig } from "./config.js";
import { routeBoxes, type RouterName } from "./routers.js";

/**
 * The ResAgent workflow for one sample as five named stages, each a function of its inputs:
 * ground (§3.2) → sample (§3.3) → verify (§3.4) → decode (§3.5) → record. The first four work in
 * full precision; `recordStage` alone rounds and serialises, so every number in samples.jsonl is
 * rounded once, in one place.
 */

/** A loaded sample: the image is decoded once and shared by every cell. */
export interface LoadedSample {
  sample: Sample;
  image: RgbImage | undefined;
  imageHash: string;
  /** The image file's bytes: sent as they are for grounding (no re-encoding) when present. */
  fileBytes?: Uint8Array;
}

/** One grounder of a pipeline: its backend, how its answers are read, and its name in records. */
export interface GroundingExpert {
  name: string;
  config: GrounderConfig;
  backend: ChatBackend;
  smartResize: SmartResizeOptions;
}

/** The gold annotations a simulated or oracle backend may look at, and the metrics score against. */
export type Gold = { mask?: Mask; box?: Box; distractorBoxes?: Box[] };

export function goldOf(sample: Sample): Gold {
  return { ...(sample.goldMask ? { mask: sample.goldMask } : {}), ...(sample.goldBox ? { box: sample.goldBox } : {}), ...(sample.distractorBoxes ? { distractorBoxes: sample.distractorBoxes } : {}) };
}

/** The image's pixels, or an error naming the file when they were not loaded. */
export function pixelsOf(loaded: LoadedSample): RgbImage {
  if (!loaded.image) throw new InputError("image not loaded", { file: loaded.sample.imagePath });
  return loaded.image;
}

const MIME: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp" };

export interface GroundInput {
  loaded: LoadedSample;
  /** The grounders asked: one, or an ensemble's experts (all at once). */
  grounders: readonly GroundingExpert[];
  /** An ensemble's router over the experts' boxes; absent: the one grounder's box is the box. */
  ensemble?: Pick<EnsembleGroundingConfig, "router" | "trim" | "voteIoU">;
  onGroundingFailure: "empty" | "full-image";
}

export interface Grounded {
  /** The box the later stages use: the grounder's (or router's), else the whole image with onGroundingFailure full-image; absent: none. */
  box?: Box;
  /** Why no box came back (the answer's parse failure, or every expert's). */
  failure?: string;
  /** An ensemble's experts' boxes (null: no usable box, with the failure), the router, and the experts the box was made from. */
  ensemble?: { router: RouterName; experts: { name: string; box: Box | null; failure?: string }[]; from: number[] };
  /** Model queries asked, and how many the response cache answered. */
  queries: number;
  cacheHits: number;
}

/** Stage 1, box grounding: every grounder is asked (the file is sent as it is when servers accept its format), an ensemble's boxes are routed. */
export async function groundStage({ loaded, grounders, ensemble, onGroundingFailure }: GroundInput): Promise<Grounded> {
  const { sample, imageHash } = loaded;
  const W = sample.width;
  const H = sample.height;
  const gold = goldOf(sample);
  const fileMime = MIME[sample.imagePath.split(".").pop()!.toLowerCase()];
  const ask = async (g: GroundingExpert): Promise<{ g: GroundingResult; cached: boolean }> => {
    const answer = await g.backend.complete(
      {
        content: [
          loaded.fileBytes && fileMime
            ? { type: "image", hash: imageHash, mime: fileMime, render: async () => loaded.fileBytes! }
            : { type: "image", hash: imageHash, render: () => encodeJpeg(pixelsOf(loaded), 95) },
          { type: "text", text: boxPrompt(sample.expression, g.config.boxPrompt) },
        ],
        maxTokens: 128,
        topLogprobs: 0,
        // The server's resize limits decide what it answers (Qwen2.5: pixels of the resized image).
        keyParams: { smartResize: g.smartResize },
      },
      { kind: "ground", sampleId: sample.id, imageWidth: W, imageHeight: H, gold, boxConvention: g.config.convention, smartResize: g.smartResize, expression: sample.expression, sample: { source: sample.source, ...(sample.meta ? { meta: sample.meta as Record<string, unknown> } : {}) } } satisfies QueryContext,
    );
    return { g: parseGrounding(answer.text, g.config.convention, W, H, g.config.pick, g.smartResize), cached: answer.cached };
  };
  let chosen: Box | undefined;
  let failure: string | undefined;
  let routed: Grounded["ensemble"];
  // Every grounder at once, each through its own response cache.
  const answers = await Promise.all(grounders.map(ask));
  if (ensemble) {
    const valid = answers.flatMap((a, i) => (a.g.ok ? [{ i, box: a.g.box }] : []));
    const r = routeBoxes(
      ensemble.router,
      valid.map((v) => v.box),
      { trim: ensemble.trim, voteIoU: ensemble.voteIoU, ...(sample.goldBox ? { gold: sample.goldBox } : {}) },
    );
    routed = {
      router: ensemble.router,
      experts: answers.map((a, i) => (a.g.ok ? { name: grounders[i]!.name, box: a.g.box } : { name: grounders[i]!.name, box: null, failure: a.g.failure })),
      from: r ? r.from.map((k) => valid[k]!.i) : [],
    };
    if (r) chosen = r.box;
    else failure = `every expert failed (${answers.length} of ${answers.length}); the first: ${(answers[0]!.g as { failure: string }).failure}`;
  } else {
    const a = answers[0]!.g;
    if (a.ok) chosen = a.box;
    else failure = a.failure;
  }
  // final 515-618 (resolve_box_prior's hard fallback): the last pixel, not the image's edge.
  const box = chosen ?? (onGroundingFailure === "full-image" ? { x1: 0, y1: 0, x2: W - 1, y2: H - 1 } : undefined);
  return {
    ...(box ? { box } : {}),
    ...(failure === undefined ? {} : { failure }),
    ...(routed ? { ensemble: routed } : {}),
    queries: answers.length,
    cacheHits: answers.filter((a) => a.cached).length,
  };
}

/** final 736-766: with dedupe pixel, every strategy's queues go through dedupe_points (one candidate per pixel). */
function dedupeQueues<Q extends { external: Point[]; internal: Point[] }>(q: Q, dedupe: SampleInput["dedupe"], width: number, height: number): { external: Point[]; internal: Point[] } {
  return dedupe === "pixel" ? { external: dedupePixels(q.external, width, height), internal: dedupePixels(q.internal, width, height) } : { external: q.external, internal: q.internal };
}

export interface SampleInput {
  sampler: Sampler;
  box: Box;
  /** Candidates per queue (the internal one's, when kExternal differs). */
  k: number;
  /** External-queue candidates (null: k). */
  kExternal: number | null | undefined;
  /** pixel: every queue through final.py's dedupe_points (one candidate per pixel). */
  dedupe?: "none" | "pixel";
  seed: number;
  sampleId: string;
  width: number;
  height: number;
}

/**
 * Stage 2, the candidates: K per queue, or K internal and `kExternal` external. The stream depends
 * on the sample only, so every cell sees the same points. Sampler draws do not depend on K (each
 * queue is the first or last samples of its own draw), so asking the sampler for each count from
 * the same stream gives each queue exactly as a sampler with that K would.
 */
export function sampleStage({ sampler, box, k, kExternal, dedupe, seed, sampleId, width, height }: SampleInput): Candidates {
  const kExt = kExternal ?? k;
  const draw = (n: number) => sampler.sample(box, n, randomStream(seed, "sampler", sampleId), { width, height });
  const a = draw(k);
  const b = kExt === k ? a : draw(kExt);
  if (kExt === k && dedupe !== "pixel") return a;
  const params = sampler.params as { merge?: MergeOrder; membership?: Parameters<typeof mergeQueues>[4] };
  const { external, internal } = dedupeQueues({ external: b.external, internal: a.internal }, dedupe, width, height);
  return { external, internal, ordered: mergeQueues(external, internal, params.merge ?? "interleave", box, params.membership), info: a.info };
}

/** What sampler.rank did: the scorer, and every pooled point with its queue and score (external queue first). */
export interface Ranking {
  by: string;
  upperBound: boolean;
  pool: { x: number; y: number; queue: "external" | "internal"; score: number }[];
}

export interface RankedSampleInput extends Omit<SampleInput, "sampleId"> {
  scorer: PointValueScorer;
  /** Pool size per queue as a multiple of the larger K (sampler.pool). */
  poolScale: number | undefined;
  loaded: LoadedSample;
  image: { image: RgbImage; key: string };
  decoder: Decoder;
  /** The box alone, decoded once per sample and shared with the decode stage's fallback. */
  boxOnly: () => Promise<DecodeResult>;
}

/**
 * Stage 2 with sampler.rank: a pool of `poolScale` x K per queue (the larger K when the queues
 * differ), scored by the ranking (which sees the image, the box, the phrase and the box-only mask;
 * gold only when it is an upper bound), each queue's K best kept, best first, merged as the
 * sampler merges.
 */
export async function rankedSampleStage({ sampler, scorer, box, k, kExternal, poolScale, dedupe, seed, loaded, image, decoder, boxOnly }: RankedSampleInput): Promise<{ candidates: Candidates; ranking: Ranking }> {
  const { sample } = loaded;
  const kExt = kExternal ?? k;
  const n = (poolScale ?? DEFAULT_POOL_SCALE) * Math.max(k, kExt);
  const rng = randomStream(seed, "sampler", sample.id);
  const size = { width: sample.width, height: sample.height };
  const drawn = sampler.pool ? sampler.pool(box, n, rng, size) : sampler.sample(box, n, rng, size);
  const pool = { ...drawn, ...dedupeQueues(drawn, dedupe, size.width, size.height) };
  const points = [...pool.external, ...pool.internal];
  const scores = await scorer.score(points, {
    sampleId: sample.id,
    image: image.image,
    imageKey: image.key,
    box,
    expression: sample.expression,
    boxOnlyMask: async () => (await boxOnly()).mask,
    decode: async ({ positives, negatives }) => (await decoder.segment(image, { box, positives, negatives })).mask,
    ...(scorer.upperBound && sample.goldMask ? { gold: sample.goldMask } : {}),
  });
  const ranking: Ranking = { by: scorer.name, upperBound: scorer.upperBound, pool: points.map((p, i) => ({ x: p.x, y: p.y, queue: i < pool.external.length ? "external" : "internal", score: scores[i]! })) };
  const params = sampler.params as { merge?: MergeOrder; membership?: Parameters<typeof mergeQueues>[4] };
  return { candidates: rankPool(pool, scores, { external: kExt, internal: k }, params.merge ?? "interleave", box, params.membership), ranking };
}

export interface VerifyStageInput {
  verifier: Verifier;
  loaded: LoadedSample;
  /** Whether a backend needs the pixels (a real model); the others get the image if it was loaded. */
  needPixels: boolean;
  box: Box;
  candidates: Candidates;
  seed: number;
}

/** Stage 3, visual verification with early stopping: the verifier's questions and the points it keeps. */
export function verifyStage({ verifier, loaded, needPixels, box, candidates, seed }: VerifyStageInput): Promise<VerifyResult> {
  const { sample } = loaded;
  return verifier.verify({
    sampleId: sample.id,
    expression: sample.expression,
    image: needPixels ? pixelsOf(loaded) : loaded.image,
    imageHash: loaded.imageHash,
    width: sample.width,
    height: sample.height,
    box,
    candidates: candidates.ordered,
    gold: goldOf(sample),
    rng: randomStream(seed, "verifier", sample.id),
  });
}

export interface DecodeStageInput {
  decoder: Decoder;
  image: DecoderImage;
  box: Box;
  /** The verified points; absent when verification did not run (K = 0): the box alone is decoded, with neither rule. */
  points?: { positives: Point[]; negatives: Point[] };
  decode: DecodeConfig;
  /** The box alone, decoded at most once per sample (a ranking may have decoded it already); default: decode it here. */
  boxOnly?: () => Promise<DecodeResult>;
}

export interface Decoded {
  result: DecodeResult;
  /** With points (K > 0): the branch kept, each branch's score, and the box centre when it stood in for the points. */
  decode?: { branch: "points" | "box"; pointsScore: number; boxScore?: number; centre?: Point };
}

/**
 * Stage 4, decoding, as the authors' `sam2_decode` + `choose_decode_branch` (final 1778–1895):
 * with points, the box centre is the positive when none survived (emptyPoints centre), and the
 * box + points branch is kept only when its decoder score beats the box alone by more than the
 * margin (fallback sam-score).
 */
export async function decodeStage({ decoder, image, box, points, decode, boxOnly: shared }: DecodeStageInput): Promise<Decoded> {
  const decodeBox = shared ?? (() => decoder.segment(image, { box, positives: [], negatives: [] }));
  if (!points) return { result: await decodeBox() };
  const { negatives } = points;
  let positives = points.positives;
  let centre: Point | undefined;
  if (decode.emptyPoints === "centre" && positives.length + negatives.length === 0) {
    centre = { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
    positives = [centre];
  }
  const withPoints = positives.length + negatives.length === 0 ? await decodeBox() : await decoder.segment(image, { box, positives, negatives });
  const pointsScore = withPoints.score;
  // Without any point the points branch is the box branch: one decode serves both.
  if (positives.length + negatives.length === 0) return { result: withPoints, decode: { branch: "box", pointsScore } };
  if (decode.fallback === "none") return { result: withPoints, decode: { branch: "points", pointsScore, ...(centre ? { centre } : {}) } };
  const boxOnly = await decodeBox();
  // final 1882: the points branch only when it beats the box by more than the margin.
  const kept = pointsScore > boxOnly.score + decode.margin;
  return { result: kept ? withPoints : boxOnly, decode: { branch: kept ? "points" : "box", pointsScore, boxScore: boxOnly.score, ...(centre ? { centre } : {}) } };
}

/** One line of samples.jsonl: everything but `timing` is deterministic for a given seed. */
/** One samples.jsonl line: its shape is @resagent/records' (the report, compare and merge read the same). */
export type { SampleRecord } from "@resagent/records";

export interface RecordInput {
  sample: Sample;
  cell: string;
  grounded: Grounded;
  /** Stages 2 and 3, when they ran (a box and K > 0); `ranking` when sampler.rank ordered the candidates. */
  candidates?: Candidates;
  ranking?: Ranking;
  verified?: VerifyResult;
  /** Stage 4; absent when there was no box (the prediction is then the empty mask). */
  decoded?: Decoded;
  timing: Record<string, number>;
}

const round = (digits: number) => {
  const f = 10 ** digits;
  return (v: number) => Math.round(v * f) / f;
};
const r2 = round(2);
const r4 = round(4);
const r6 = round(6);
const boxTuple = (b: Box): [number, number, number, number] => [r2(b.x1), r2(b.y1), r2(b.x2), r2(b.y2)];
/** Box IoU against gold as a fraction, to 4 decimals. */
const boxIoUOf = (b: Box, gold: Box) => r2(boxIoU(b, gold) * 100) / 100;

/**
 * Stage 5, the record: the mask scored against gold (IoU, I, U), and every stage's outcome
 * rounded and laid out as one samples.jsonl line (pixels to 0.01, probabilities to 1e-6,
 * decoder scores to 1e-4, the mask as COCO RLE).
 */
export function recordStage({ sample, cell, grounded, candidates, ranking, verified, decoded, timing }: RecordInput): SampleRecord {
  const { box, ensemble } = grounded;
  const mask = decoded ? decoded.result.mask : (emptyMask(sample.width, sample.height) as Mask);
  const scored = sample.goldMask ? sampleIoU(mask, sample.goldMask) : undefined;
  const record: SampleRecord = {
    id: sample.id,
    cell,
    dataset: sample.source,
    expression: sample.expression,
    box: box ? boxTuple(box) : null,
    ...(grounded.failure === undefined ? {} : { groundingFailure: grounded.failure }),
    ...(box && sample.goldBox ? { boxIoU: boxIoUOf(box, sample.goldBox) } : {}),
    ...(ensemble
      ? {
          ensemble: {
            router: ensemble.router,
            ...(ensemble.router === "oracle-best" ? { upperBound: true as const } : {}),
            experts: ensemble.experts.map((e) =>
              e.box ? { name: e.name, box: boxTuple(e.box), ...(sample.goldBox ? { boxIoU: boxIoUOf(e.box, sample.goldBox) } : {}) } : { name: e.name, box: null, failure: e.failure! },
            ),
            from: ensemble.from,
          },
        }
      : {}),
    candidates: candidates ? candidates.ordered.map((c) => ({ x: r2(c.point.x), y: r2(c.point.y), queue: c.queue, rank: c.rank })) : [],
    queries: verified
      ? verified.queries.map(({ latencyMs: _l, cached: _c, ...q }) => ({
          ...q,
          point: { x: r2(q.point.x), y: r2(q.point.y) },
          ...(q.pYes === null ? {} : { pYes: r6(q.pYes) }),
          ...(typeof q.confidence === "number" ? { confidence: r6(q.confidence) } : {}),
        }))
      : [],
    positives: verified ? verified.positives.map((p) => [r2(p.x), r2(p.y)]) : [],
    negatives: verified ? verified.negatives.map((p) => [r2(p.x), r2(p.y)]) : [],
    mask: rleEncode(mask),
    score: decoded ? r4(decoded.result.score) : 0,
    iou: scored ? r6(scored.iou) : 0,
    intersection: scored?.intersection ?? 0,
    union: scored?.union ?? 0,
    timing,
    ...(ranking
      ? {
          ranking: {
            by: ranking.by,
            ...(ranking.upperBound ? { upperBound: true as const } : {}),
            pool: ranking.pool.map((p) => ({ x: r2(p.x), y: r2(p.y), queue: p.queue, score: r6(p.score) })),
          },
        }
      : {}),
  };
  // Last in the line, after timing, where records have always had it.
  const d = decoded?.decode;
  if (d) record.decode = { branch: d.branch, pointsScore: r4(d.pointsScore), ...(d.boxScore !== undefined ? { boxScore: r4(d.boxScore) } : {}), ...(d.centre ? { centre: [r2(d.centre.x), r2(d.centre.y)] } : {}) };
  return record;
}
