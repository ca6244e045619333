/**
 * Each stage of the pipeline alone: ground → sample → verify → decode → record, with explicit
 * inputs and outputs (the whole workflow is covered by decode.test, ensemble.test and legacy.test).
 */
import { describe, expect, it } from "vitest";
import { SampleRecordSchema } from "@resagent/records";
import { InputError, boxIoU, boxToMask, emptyMask, randomStream, rleDecode, sha256, type Box, type RgbImage, type Sample } from "@resagent/core";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "@resagent/decoder";
import { createBackend, parseGrounding, type ChatBackend, type ChatCompletion, type ChatRequest, type GrounderConfig, type QueryContext } from "@resagent/mllm";
import { createSampler, type Candidates } from "@resagent/sampler";
import { Verifier, parseVerifierParams, type QueryRecord } from "@resagent/verifier";
import { DECODE_DEFAULTS, decodeStage, groundStage, parsePipelineConfig, recordStage, sampleStage, verifyStage, type GroundingExpert, type LoadedSample } from "./index.js";

const W = 100;
const H = 80;
const GOLD: Box = { x1: 20, y1: 10, x2: 60, y2: 50 };

function loaded(id = "s0", withImage = true): LoadedSample {
  const goldMask = boxToMask(GOLD, W, H);
  const sample: Sample = { id, source: "test/stages", imagePath: `${id}.png`, width: W, height: H, expression: "the thing", goldMask, goldBox: GOLD };
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  return { sample, image: withImage ? image : undefined, imageHash: sha256(id) };
}

/** A grounder that answers one text, and says whether it came from a cache. */
class Fixed implements ChatBackend {
  readonly name = "fixed";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "fixed";
  constructor(
    readonly text: string,
    readonly cached = false,
  ) {}
  describe() {
    return "fixed answer (test)";
  }
  async complete(_r: ChatRequest, _c: QueryContext): Promise<ChatCompletion> {
    return { text: this.text, cached: this.cached, latencyMs: 0 };
  }
}

const grounderConfig = parsePipelineConfig({ mllm: { backend: "oracle", convention: "absolute" } }).mllm as GrounderConfig;
const expert = (name: string, text: string, cached = false): GroundingExpert => ({ name, config: grounderConfig, backend: new Fixed(text, cached), smartResize: grounderConfig.smartResize });
const answer = (b: number[]) => JSON.stringify([{ bbox_2d: b }]);

describe("groundStage", () => {
  it("reads one grounder's box, counting its query and cache hit", async () => {
    const g = await groundStage({ loaded: loaded(), grounders: [expert("a", answer([20.004, 10, 60, 50.126]), true)], onGroundingFailure: "empty" });
    expect(g).toEqual({ box: { x1: 20.004, y1: 10, x2: 60, y2: 50.126 }, queries: 1, cacheHits: 1 });
  });

  it("keeps the failure, and the whole image (its last pixel, as final.py) as the box only with onGroundingFailure full-image", async () => {
    const none = await groundStage({ loaded: loaded(), grounders: [expert("a", "no idea")], onGroundingFailure: "empty" });
    expect(none.box).toBeUndefined();
    expect(none.failure).toMatch(/no box in answer/);
    const full = await groundStage({ loaded: loaded(), grounders: [expert("a", "no idea")], onGroundingFailure: "full-image" });
    expect(full.box).toEqual({ x1: 0, y1: 0, x2: W - 1, y2: H - 1 });
    expect(full.failure).toBe(none.failure);
  });

  it("routes an ensemble's usable boxes; `from` indexes the experts, failed ones included", async () => {
    const g = await groundStage({
      loaded: loaded(),
      grounders: [expert("a", "nothing"), expert("b", answer([20, 10, 60, 50])), expert("c", answer([22, 10, 62, 50]))],
      ensemble: { router: "first-valid", trim: 2, voteIoU: 0.6 },
      onGroundingFailure: "empty",
    });
    expect(g.box).toEqual({ x1: 20, y1: 10, x2: 60, y2: 50 });
    expect(g.ensemble!.experts.map((e) => [e.name, e.box && e.box.x1, e.failure !== undefined])).toEqual([["a", null, true], ["b", 20, false], ["c", 22, false]]);
    expect(g.ensemble!.from).toEqual([1]);
    expect(g.queries).toBe(3);
    const all = await groundStage({ loaded: loaded(), grounders: [expert("a", "x"), expert("b", "y")], ensemble: { router: "mean", trim: 2, voteIoU: 0.6 }, onGroundingFailure: "empty" });
    expect(all.failure).toMatch(/^every expert failed \(2 of 2\); the first: no box in answer/);
  });
});

describe("sampleStage", () => {
  const sampler = createSampler("ebd-spiral");
  const at = { sampler, box: GOLD, seed: 3, sampleId: "s0", width: W, height: H };

  it("is the sampler's draw from the sample's stream: the same for every caller", () => {
    const c = sampleStage({ ...at, k: 4, kExternal: null });
    expect(c).toEqual(sampler.sample(GOLD, 4, randomStream(3, "sampler", "s0"), { width: W, height: H }));
    expect(sampleStage({ ...at, k: 4, kExternal: undefined })).toEqual(c);
    expect(sampleStage({ ...at, sampleId: "s1", k: 4, kExternal: null }).ordered).not.toEqual(c.ordered);
  });

  it("with kExternal, gives each queue what a sampler with that K gives", () => {
    const both = sampleStage({ ...at, k: 6, kExternal: null });
    const split = sampleStage({ ...at, k: 6, kExternal: 2 });
    expect(split.internal).toEqual(both.internal);
    expect(split.external).toEqual(sampleStage({ ...at, k: 2, kExternal: null }).external);
    expect(split.ordered.filter((c) => c.queue === "external")).toHaveLength(2);
  });
});

describe("verifyStage", () => {
  const candidates = sampleStage({ sampler: createSampler("ebd-spiral"), box: GOLD, k: 3, kExternal: null, seed: 0, sampleId: "s0", width: W, height: H });
  const oracle = () => createBackend({ backend: "oracle", cache: "off" });

  it("asks the verifier about the candidates with the sample's own stream", async () => {
    const verifier = new Verifier(oracle(), parseVerifierParams({ earlyStop: false, tau: 0 }));
    const v = await verifyStage({ verifier, loaded: loaded(), needPixels: false, box: GOLD, candidates, seed: 0 });
    const key = (q: { queue: string; rank: number }) => `${q.queue}/${q.rank}`;
    // Every candidate once (without early stopping), in the roles order: the internal queue first.
    const queue = (q: string) => candidates.ordered.filter((c) => c.queue === q).map(key);
    expect(v.queries.map(key)).toEqual([...queue("internal"), ...queue("external")]);
    // Gold labels come from the sample's mask: the oracle's answers agree with them.
    expect(v.queries.every((q) => (q.decision === "positive") === q.gold)).toBe(true);
    const again = await verifyStage({ verifier, loaded: loaded(), needPixels: false, box: GOLD, candidates, seed: 0 });
    expect(again.queries.map(({ latencyMs: _l, ...q }) => q)).toEqual(v.queries.map(({ latencyMs: _l, ...q }) => q));
  });

  it("refuses to go on without pixels when a backend needs them", async () => {
    const verifier = new Verifier(oracle(), parseVerifierParams());
    expect(() => verifyStage({ verifier, loaded: loaded("s0", false), needPixels: true, box: GOLD, candidates, seed: 0 })).toThrow(InputError);
    await expect(verifyStage({ verifier, loaded: loaded("s0", false), needPixels: false, box: GOLD, candidates, seed: 0 })).resolves.toBeDefined();
  });
});

describe("decodeStage", () => {
  /** The box as the mask, with a score per prompt kind; records every prompt. */
  class Scripted implements Decoder {
    readonly name = "scripted";
    readonly prompts: Prompt[] = [];
    constructor(readonly score: (p: Prompt) => number) {}
    describe() {
      return "scripted (test)";
    }
    async segment({ image }: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
      this.prompts.push(prompt);
      return { mask: boxToMask(prompt.box, image.width, image.height), score: this.score(prompt) };
    }
  }
  const image = { image: loaded().image!, key: "k" };
  const points = (n: number) => ({ positives: Array.from({ length: n }, (_, i) => ({ x: 30 + i, y: 20 })), negatives: [] });

  it("without points (K = 0) decodes the box once, with no branch record", async () => {
    const d = new Scripted(() => 0.5);
    expect(await decodeStage({ decoder: d, image, box: GOLD, decode: DECODE_DEFAULTS })).toEqual({ result: { mask: boxToMask(GOLD, W, H), score: 0.5 } });
    expect(d.prompts).toEqual([{ box: GOLD, positives: [], negatives: [] }]);
  });

  it("keeps the points branch only when it beats the box alone by more than the margin", async () => {
    const win = new Scripted((p) => (p.positives.length ? 0.9 : 0.6));
    expect((await decodeStage({ decoder: win, image, box: GOLD, points: points(2), decode: DECODE_DEFAULTS })).decode).toEqual({ branch: "points", pointsScore: 0.9, boxScore: 0.6 });
    const tie = new Scripted(() => 0.6);
    expect((await decodeStage({ decoder: tie, image, box: GOLD, points: points(2), decode: DECODE_DEFAULTS })).decode!.branch).toBe("box");
    const margin = new Scripted((p) => (p.positives.length ? 0.65 : 0.6));
    expect((await decodeStage({ decoder: margin, image, box: GOLD, points: points(1), decode: { ...DECODE_DEFAULTS, margin: 0.1 } })).decode!.branch).toBe("box");
    const none = new Scripted((p) => (p.positives.length ? 0.1 : 0.9));
    const d = await decodeStage({ decoder: none, image, box: GOLD, points: points(1), decode: { ...DECODE_DEFAULTS, fallback: "none" } });
    expect(d.decode).toEqual({ branch: "points", pointsScore: 0.1 });
    expect(none.prompts).toHaveLength(1);
  });

  it("puts the box centre in as the positive when no point survived (emptyPoints centre), else decodes the box once", async () => {
    const c = new Scripted((p) => (p.positives.length ? 0.8 : 0.4));
    const centre = await decodeStage({ decoder: c, image, box: GOLD, points: points(0), decode: DECODE_DEFAULTS });
    expect(c.prompts[0]!.positives).toEqual([{ x: 40, y: 30 }]);
    expect(centre.decode).toEqual({ branch: "points", pointsScore: 0.8, boxScore: 0.4, centre: { x: 40, y: 30 } });
    const plain = new Scripted(() => 0.4);
    const box = await decodeStage({ decoder: plain, image, box: GOLD, points: points(0), decode: { ...DECODE_DEFAULTS, emptyPoints: "none" } });
    expect(box.decode).toEqual({ branch: "box", pointsScore: 0.4 });
    expect(plain.prompts).toHaveLength(1);
  });
});

describe("recordStage", () => {
  const { sample } = loaded();
  const query = (pYes: number | null, confidence?: number): QueryRecord => ({
    point: { x: 30.123, y: 20.987 },
    queue: "internal",
    rank: 0,
    pYes,
    ...(pYes === null ? {} : { answer: "yes" as const, confidence: confidence ?? null }),
    decision: pYes === null ? "abstain" : "positive",
    used: pYes !== null,
    cached: true,
    latencyMs: 12.5,
  });

  it("rounds once, here: pixels to 0.01, probabilities to 1e-6, scores to 1e-4; latency and cache flags stay out", () => {
    const box = { x1: 20.004, y1: 10.555, x2: 60.001, y2: 50.126 };
    const candidates: Candidates = { external: [], internal: [], ordered: [{ point: { x: 30.123, y: 20.987 }, queue: "internal", rank: 0, entropy: 0.5 }], info: {} };
    const r = recordStage({
      sample,
      cell: "c",
      grounded: { box, queries: 1, cacheHits: 0 },
      candidates,
      verified: { positives: [{ x: 30.123, y: 20.987 }], negatives: [], queries: [query(0.12345678, 0.87654321), query(null)] },
      decoded: { result: { mask: boxToMask(GOLD, W, H), score: 0.123456 }, decode: { branch: "points", pointsScore: 0.123456, boxScore: 0.0987654, centre: { x: 40.005, y: 30.004 } } },
      timing: { ground: 1 },
    });
    expect(r.box).toEqual([20, 10.56, 60, 50.13]);
    expect(r.boxIoU).toBe(Math.round(boxIoU(box, GOLD) * 100 * 100) / 100 / 100);
    expect(r.boxIoU).toBeLessThan(1);
    expect(r.candidates).toEqual([{ x: 30.12, y: 20.99, queue: "internal", rank: 0 }]);
    expect(r.queries[0]).toEqual({ point: { x: 30.12, y: 20.99 }, queue: "internal", rank: 0, pYes: 0.123457, answer: "yes", confidence: 0.876543, decision: "positive", used: true });
    expect(r.queries[1]).toEqual({ point: { x: 30.12, y: 20.99 }, queue: "internal", rank: 0, pYes: null, decision: "abstain", used: false });
    expect(r.positives).toEqual([[30.12, 20.99]]);
    expect(r.score).toBe(0.1235);
    expect(r.decode).toEqual({ branch: "points", pointsScore: 0.1235, boxScore: 0.0988, centre: [40.01, 30] });
    expect([r.iou, r.intersection, r.union]).toEqual([1, 1600, 1600]);
    // The line's key order: the decode record last, after timing.
    expect(Object.keys(r)).toEqual(["id", "cell", "dataset", "expression", "box", "boxIoU", "candidates", "queries", "positives", "negatives", "mask", "score", "iou", "intersection", "union", "timing", "decode"]);
    // The line is what @resagent/records says a record is; reading it back changes nothing.
    expect(SampleRecordSchema.parse(JSON.parse(JSON.stringify(r)))).toEqual(r);
  });

  it("without a box: no candidates or points, the empty mask scored against gold", () => {
    const r = recordStage({ sample, cell: "c", grounded: { failure: "no box in answer", queries: 1, cacheHits: 0 }, timing: {} });
    expect(r).toMatchObject({ box: null, groundingFailure: "no box in answer", candidates: [], queries: [], positives: [], negatives: [], score: 0, iou: 0, intersection: 0, union: 1600 });
    expect(r).not.toHaveProperty("boxIoU");
    expect(rleDecode(r.mask).data.every((v) => v === 0)).toBe(true);
    expect(SampleRecordSchema.safeParse(JSON.parse(JSON.stringify(r))).success).toBe(true);
  });

  // Box IoUs are percentages rounded to 0.01 and divided by 100, as records have always held them.
  it("an ensemble's experts: boxes rounded with their IoU to gold, failures kept, oracle-best marked as an upper bound", () => {
    const grounded = { box: GOLD, queries: 2, cacheHits: 0, ensemble: { router: "oracle-best" as const, experts: [{ name: "a", box: { x1: 20.004, y1: 10, x2: 60, y2: 50 } }, { name: "b", box: null, failure: "no box" }], from: [0] } };
    const r = recordStage({ sample, cell: "c", grounded, decoded: { result: { mask: emptyMask(W, H), score: 0 } }, timing: {} });
    expect(r.ensemble).toEqual({ router: "oracle-best", upperBound: true, experts: [{ name: "a", box: [20, 10, 60, 50], boxIoU: 99.99 / 100 }, { name: "b", box: null, failure: "no box" }], from: [0] });
    expect(SampleRecordSchema.safeParse(JSON.parse(JSON.stringify(r))).success).toBe(true);
  });
});

// parseGrounding is what groundStage reads answers with; a sanity check that the fixture's answers parse as assumed.
it("fixture answers parse as absolute boxes", () => {
  expect(parseGrounding(answer([20, 10, 60, 50]), "absolute", W, H, "first")).toMatchObject({ ok: true, box: GOLD });
});
