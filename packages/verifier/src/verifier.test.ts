import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { decodeImage, encodePng, randomStream, type Mask, type RgbImage } from "@resagent/core";
import { createBackend, type ChatBackend } from "@resagent/mllm";
import type { Candidate } from "@resagent/sampler";
import { MARKER_COLOURS, Verifier, parseVerifierParams, aggregateYesProbability, authorsToken, decodedAnswer, markerCrop, normaliseToken, parseMultiAnswer, readAnswer, readLabelAnswer, readMultiAnswers, renderMarkers, renderMarkersSvg, textualPrompt, vbrMultiPrompt, vbrPrompt, type Marker } from "./index.js";

describe("probability aggregation (Eq. 6)", () => {
  const e = Math.exp;
  const lp = (entries: [string, number][]) => entries.map(([token, p]) => ({ token, logprob: Math.log(p) }));

  it("normalised: sums every yes surface form over yes + no, after a softmax over the top-k (this harness before issue 20)", () => {
    const top = [
      { token: "ĠYes", logprob: -0.2 },
      { token: "Yes", logprob: -2.0 },
      { token: "No", logprob: -2.5 },
      { token: "▁no", logprob: -3.0 },
      { token: "The", logprob: -4.0 },
    ];
    expect(aggregateYesProbability(top, "Yes", "normalised")).toBeCloseTo((e(-0.2) + e(-2)) / (e(-0.2) + e(-2) + e(-2.5) + e(-3)), 12);
    expect(aggregateYesProbability(top, " Yes", "decoded")).toBe(1);
    expect(aggregateYesProbability(top, "No.", "decoded")).toBe(0);
    expect(aggregateYesProbability([{ token: "The", logprob: -0.1 }], "The", "normalised")).toBeNull();
    expect(aggregateYesProbability(undefined, "maybe", "normalised")).toBeNull();
    expect(["ĠYes", " yes", "▁YES", "Yes."].map(normaliseToken)).toEqual(["yes", "yes", "yes", "yes"]);
  });

  it("issue 20's example: p(Yes) = 0.45, p(No) = 0.40 → normalised 0.53 (kept at τ = 0.5), absolute 0.45 (rejected)", () => {
    const top = lp([["Yes", 0.45], ["No", 0.4], ["The", 0.05], ["I", 0.04], ["A", 0.03]]);
    const n = readAnswer(top, "Yes", "normalised");
    expect(n.pYes).toBeCloseTo(0.45 / 0.85, 12);
    expect(n.confidence).toBeCloseTo(0.5294117647, 9);
    expect(n.answer).toBe("yes");
    const a = readAnswer(top, "Yes", "absolute");
    expect(a).toMatchObject({ answer: "yes" });
    expect(a.confidence).toBeCloseTo(0.45, 12);
    expect(a.yesMass).toBeCloseTo(0.45, 12);
    expect(a.noMass).toBeCloseTo(0.4, 12);
    // "pa" is the paper's name for the same rule.
    expect(readAnswer(top, "Yes", "pa")).toEqual(a);
  });

  it("absolute: the decoded answer's forms are summed (strip().lower(), as _summarize_yes_no_probs), the other answer's mass never enters", () => {
    // The decoded token is "No" although the yes forms together weigh more: absolute keeps the
    // decision of the decoded answer and gives it its own mass, 0.30 + 0.05.
    const top = lp([["No", 0.3], ["Yes", 0.25], [" yes", 0.2], ["ĠNo", 0.05], ["no.", 0.04]]);
    const a = readAnswer(top, "No", "absolute");
    expect(a.answer).toBe("no");
    expect(a.confidence).toBeCloseTo(0.35, 12);
    expect(a.yesMass).toBeCloseTo(0.45, 12);
    // "no." is no "no" form for the authors (their strip() keeps the full stop); normalised counts it.
    expect(authorsToken("no.")).toBe("no.");
    expect(readAnswer(top, "No", "normalised").pYes).toBeCloseTo(0.45 / (0.45 + 0.39), 12);
    // The decision follows the decoded answer at τ = 0; "true"/"1" decode as yes, as parse_binary_yes_no.
    expect(decodedAnswer("Yes")).toBe("yes");
    expect(decodedAnswer(" 1")).toBe("yes");
    expect(decodedAnswer("False.")).toBe("no");
    expect(decodedAnswer("The point")).toBeNull();
  });

  it("absolute: an answer whose forms are not in the top-k has no confidence and is kept without the τ test (final 1743–1750)", async () => {
    const top = lp([["Maybe", 0.5], ["No", 0.3], ["The", 0.1], ["I", 0.05], ["It", 0.02]]);
    const r = readAnswer(top, "yes", "absolute");
    expect(r).toMatchObject({ answer: "yes", confidence: null });
    expect(readAnswer(undefined, "Yes", "absolute")).toEqual({ answer: "yes", pYes: 1, confidence: null });
    expect(readAnswer(top, "Sorry", "absolute")).toEqual({ answer: null, pYes: null, confidence: null });
    // In the verifier: kept at τ = 0.99.
    const s = setup();
    const backend: ChatBackend = {
      name: "fixed",
      simulated: true,
      needsImages: false,
      identity: "fixed",
      describe: () => "fixed",
      complete: async () => ({ text: "yes", firstTokenTopLogprobs: top, cached: false, latencyMs: 0 }),
    };
    const v = await new Verifier(backend, parseVerifierParams({ tau: 0.99, earlyStop: false })).verify(input(undefined, s));
    expect(v.queries.every((q) => q.decision === "positive" && q.confidence === null)).toBe(true);
  });

  it("absolute vs normalised in the verifier: the same answers, kept or rejected by the rule", async () => {
    const s = setup();
    const top = lp([["Yes", 0.45], ["No", 0.4], ["The", 0.05], ["I", 0.04], ["A", 0.03]]);
    const backend: ChatBackend = {
      name: "fixed",
      simulated: true,
      needsImages: false,
      identity: "fixed",
      describe: () => "fixed",
      complete: async () => ({ text: "Yes", firstTokenTopLogprobs: top, cached: false, latencyMs: 0 }),
    };
    const run = (aggregation: "absolute" | "normalised") => new Verifier(backend, parseVerifierParams({ aggregation, tau: 0.5, earlyStop: false })).verify(input(undefined, s));
    const norm = await run("normalised");
    const abs = await run("absolute");
    expect(norm.queries.map((q) => q.decision)).toEqual(Array(8).fill("positive"));
    expect(abs.queries.map((q) => q.decision)).toEqual(Array(8).fill("unsure"));
    expect(abs.queries[0]).toMatchObject({ answer: "yes" });
    expect(abs.queries[0]!.confidence).toBeCloseTo(0.45, 12);
    expect(norm.positives.length).toBe(2);
    expect(abs.positives.length).toBe(0);
    // The default is absolute.
    expect(new Verifier(backend, parseVerifierParams()).params.aggregation).toBe("absolute");
  });
});

describe("VBR-multi answers and their tokens (attach_token_confidence)", () => {
  /** A generated token with its top-k, probabilities given directly. */
  const tok = (token: string, top: [string, number][] = [[token, 1]]) => ({ token, logprob: Math.log(top.find(([t]) => t === token)?.[1] ?? 1), top: top.map(([t, p]) => ({ token: t, logprob: Math.log(p) })) });

  it("maps each letter's answer to the token where it starts and reads that token's top-k", () => {
    const tokens = [
      tok("A"),
      tok(":"),
      tok(" yes", [[" yes", 0.7], [" no", 0.2], [" Yes", 0.05]]),
      tok("\n"),
      tok("B"),
      tok(":"),
      tok(" no", [[" no", 0.55], [" yes", 0.4]]),
      tok("\n"),
      tok("C"),
      tok(":"),
      tok(" yes", [[" no", 0.6], [" yes", 0.3]]),
    ];
    const text = tokens.map((t) => t.token).join("");
    const labels = readMultiAnswers(text, ["A", "B", "C", "D"], tokens);
    expect(labels).toEqual([
      { answer: "yes", token: 2 },
      { answer: "no", token: 6 },
      { answer: "yes", token: 10 },
      { answer: null, token: null },
    ]);
    const abs = labels.map((l) => readLabelAnswer(l, tokens, "absolute"));
    expect(abs[0]!.confidence).toBeCloseTo(0.75, 12);
    expect(abs[1]!.confidence).toBeCloseTo(0.55, 12);
    // C was decoded "yes" although "no" weighs more at its token: its confidence is the yes mass.
    expect(abs[2]).toMatchObject({ answer: "yes" });
    expect(abs[2]!.confidence).toBeCloseTo(0.3, 12);
    expect(abs[3]).toEqual({ answer: null, pYes: null, confidence: null });
    const norm = labels.map((l) => readLabelAnswer(l, tokens, "normalised"));
    expect(norm[0]!.pYes).toBeCloseTo(0.75 / 0.95, 12);
    expect(norm[2]!.pYes).toBeCloseTo(0.3 / 0.9, 12);
    expect(readLabelAnswer(labels[1]!, tokens, "decoded")).toEqual({ answer: "no", pYes: 0, confidence: 1 });
  });

  it("BPE markers count as the spaces and newlines they stand for; an answer found only in the text has no confidence", () => {
    const tokens = [tok("A"), tok(":"), tok("Ġyes", [["Ġyes", 0.9]]), tok("Ċ"), tok("B"), tok(":"), tok("Ġno", [["Ġno", 0.8]])];
    expect(readMultiAnswers("A: yes\nB: no", ["A", "B"], tokens)).toEqual([
      { answer: "yes", token: 2 },
      { answer: "no", token: 6 },
    ]);
    // As the final script reads text: once any line is an answer line, a label without one ("B)") has no answer.
    expect(readMultiAnswers("A: yes\nB) no", ["A", "B"])).toEqual([
      { answer: "yes", token: null },
      { answer: null, token: null },
    ]);
    expect(readMultiAnswers("A: yes\nB - no", ["A", "B"])).toEqual([
      { answer: "yes", token: null },
      { answer: "no", token: null },
    ]);
    expect(readLabelAnswer({ answer: "no", token: null }, undefined, "absolute")).toEqual({ answer: "no", pYes: 0, confidence: null });
  });
});

describe("prompts", () => {
  it("sends the authors' questions byte for byte (backtick opens the quote, apostrophe closes it)", () => {
    // tools.py get_points_check_messages: "...Is the {}-colored star on the object referred to by `{}' in the picture?"
    expect(vbrPrompt("the man on the left", "red", "star")).toBe("Answer strictly yes or no: Is the red-colored star on the object referred to by `the man on the left' in the picture?");
    // resagent_full_eval_point_strategies_textual_qwen25_fix1.py format_textual_point_prompt, the three formats.
    expect(textualPrompt("cup", "(x,y)", 120, 340)).toBe("Answer strictly yes or no: Is the Point (120,340) on the object referred to by `cup' in the picture?");
    expect(textualPrompt("cup", "x is, y is", 1, 2)).toBe("Answer strictly yes or no: Is the Point x is 1, y is 2 on the object referred to by `cup' in the picture?");
    expect(textualPrompt("cup", "x=, y=", 1, 2)).toBe("Answer strictly yes or no: Is the Point x = 1, y = 2 on the object referred to by `cup' in the picture?");
    // resagent_full_eval_point_strategies_final.py build_multi_marker_prompt.
    expect(vbrMultiPrompt("cup", ["A", "B"], "star")).toBe(
      "The image contains several marked points labeled A, B.\nFor each label, decide whether the CENTER of that marked point lies on the object referred to by: 'cup'.\nReturn only one line per label in exactly this format:\nA: yes\nB: yes\nReplace yes with no when needed. Use only yes or no. Do not output JSON. Do not explain.",
    );
    expect(parseMultiAnswer("A: yes\nB: No\nD = true", ["A", "B", "C", "D"])).toEqual([true, false, null, true]);
  });

  it("prompts: paper gives the paper's wording with ASCII quotes", () => {
    expect(vbrPrompt("the man on the left", "red", "star", "paper")).toBe("Answer strictly yes or no: Is the red-colored star on the object referred to by 'the man on the left' in the picture?");
    expect(vbrPrompt("cup", "cyan", "hexagon", "paper")).toBe("Answer strictly yes or no: Is the cyan-colored hexagon on the object referred to by 'cup' in the picture?");
    expect(textualPrompt("cup", "(x,y)", 120, 340, "paper")).toBe("Answer strictly yes or no: Is the Point (120,340) on the object referred to by 'cup' in the picture?");
    expect(vbrMultiPrompt("cup", ["A", "B"], "star", "paper")).toBe(
      "The picture shows 2 star markers labelled A, B. For each label, answer strictly yes or no: is that marker on the object referred to by 'cup'? Reply with one line per label, like 'A: yes'.",
    );
  });

  it("inserts the expression as written", () => {
    expect(vbrPrompt("a {marker} costing $' and $&", "red", "star")).toBe("Answer strictly yes or no: Is the red-colored star on the object referred to by `a {marker} costing $' and $&' in the picture?");
  });
});

/** A 40x40 image whose gold mask is the left half. */
function setup(): { image: RgbImage; mask: Mask; candidates: Candidate[] } {
  const mask: Mask = { width: 40, height: 40, data: new Uint8Array(1600).map((_, k) => (k % 40 < 20 ? 1 : 0)) };
  const xs = [5, 30, 10, 35, 15, 25, 8, 33];
  const candidates = xs.map((x, i): Candidate => ({ point: { x, y: 20 }, queue: i % 2 ? "internal" : "external", rank: Math.floor(i / 2), entropy: 0.5 }));
  return { image: { width: 40, height: 40, data: new Uint8Array(4800).fill(128) }, mask, candidates };
}

function input(backendImage: RgbImage | undefined, s: ReturnType<typeof setup>) {
  return {
    sampleId: "s",
    expression: "the left half",
    image: backendImage,
    imageHash: "h",
    width: 40,
    height: 40,
    box: { x1: 0, y1: 0, x2: 40, y2: 40 },
    candidates: s.candidates,
    gold: { mask: s.mask },
    rng: randomStream(0, "verifier", "s"),
  };
}

class Counting implements ChatBackend {
  calls = 0;
  constructor(readonly inner: ChatBackend) {}
  readonly name = "counting";
  get simulated() {
    return this.inner.simulated;
  }
  get needsImages() {
    return this.inner.needsImages;
  }
  get identity() {
    return this.inner.identity;
  }
  describe() {
    return this.inner.describe();
  }
  complete(...a: Parameters<ChatBackend["complete"]>) {
    this.calls++;
    return this.inner.complete(...a);
  }
}

describe("verifier", () => {
  it("select: interleaved stops once 2 positives and 1 negative pass τ, in the sampler's order", async () => {
    const s = setup();
    const b = new Counting(createBackend({ backend: "oracle", cache: "off" }));
    const r = await new Verifier(b, parseVerifierParams({ select: "interleaved" })).verify(input(undefined, s));
    expect(r.positives).toEqual([{ x: 5, y: 20 }, { x: 10, y: 20 }]);
    expect(r.negatives).toEqual([{ x: 30, y: 20 }]);
    expect(b.calls).toBe(3);
    expect(r.queries.map((q) => q.decision)).toEqual(["positive", "negative", "positive"]);
    expect(r.queries.every((q) => q.gold === (q.point.x < 20))).toBe(true);
  });

  it("verifies every candidate without early stopping, and one query per 8 with VBR-multi", async () => {
    const s = setup();
    const b = new Counting(createBackend({ backend: "oracle", cache: "off" }));
    const all = await new Verifier(b, parseVerifierParams({ earlyStop: false, select: "interleaved" })).verify(input(undefined, s));
    expect(all.queries.length).toBe(8);
    expect(all.positives.length).toBe(2);
    const m = new Counting(createBackend({ backend: "oracle", cache: "off" }));
    const multi = await new Verifier(m, parseVerifierParams({ format: "vbr-multi", earlyStop: false, select: "interleaved" })).verify(input(undefined, s));
    expect(m.calls).toBe(1);
    expect(multi.queries.map((q) => q.decision === "positive")).toEqual(s.candidates.map((c) => c.point.x < 20));
    // Each label's confidence comes from its own answer token (the oracle is certain).
    expect(multi.queries.map((q) => q.confidence)).toEqual(Array(8).fill(1));
    const sim = createBackend({ backend: "simulated", preset: "zero-shot", cache: "off" });
    const simMulti = await new Verifier(sim, parseVerifierParams({ format: "vbr-multi", earlyStop: false, tau: 0 })).verify(input(undefined, s));
    expect(simMulti.queries.every((q) => typeof q.confidence === "number" && q.confidence > 0 && q.confidence < 1)).toBe(true);
  });

  it("sizeMode adaptive is the authors' resolve_effective_marker_size (values computed with their Python)", () => {
    const v = new Verifier(createBackend({ backend: "oracle", cache: "off" }), parseVerifierParams({ sizeMode: "adaptive", size: 12, sizeMin: 8, sizeMax: 16 }));
    const box = (x1: number, y1: number, x2: number, y2: number) => ({ x1, y1, x2, y2 });
    expect(v.markerSize(box(10, 10, 110, 90), 640, 480)).toBe(10);
    // round(10.5) = 10: Python rounds halves to even.
    expect(v.markerSize(box(0, 0, 400, 300), 640, 480)).toBe(10);
    expect(v.markerSize(box(5, 5, 25, 15), 640, 480)).toBe(8);
    // A box so small that a tenth of it rounds to 0: the base size alone.
    expect(v.markerSize(box(1, 1, 4, 4), 640, 480)).toBe(12);
    expect(v.markerSize(box(0, 0, 600, 600), 2000, 1500)).toBe(16);
    expect(new Verifier(createBackend({ backend: "oracle", cache: "off" }), parseVerifierParams()).markerSize(box(0, 0, 600, 600), 2000, 1500)).toBe(24);
    expect(() => new Verifier(createBackend({ backend: "oracle", cache: "off" }), parseVerifierParams({ sizeMin: 20, sizeMax: 10 }))).toThrow(/verifier.sizeMax/);
  });

  it("a threshold above the model's confidence leaves points unused", async () => {
    const s = setup();
    const sim = createBackend({ backend: "simulated", preset: "zero-shot", cache: "off" });
    const r = await new Verifier(sim, parseVerifierParams({ tau: 0.999, earlyStop: false })).verify(input(undefined, s));
    expect(r.queries.filter((q) => q.decision === "unsure").length).toBeGreaterThan(0);
    expect(() => new Verifier(sim, parseVerifierParams({ format: "textual:(x y)" }))).toThrow(/verifier.format/);
  });
});

const FIXTURES = new URL("../test/fixtures/markers/", import.meta.url);

describe("marker rendering", () => {
  const W = 160;
  const H = 120;
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) image.data.set([60 + x, 90, 60 + y], 3 * (y * W + x));
  const cases: [string, Marker[], boolean][] = [
    ["star-red", [{ point: { x: 80, y: 60 }, colour: "red", shape: "star", size: 24 }], false],
    ["circle-cyan", [{ point: { x: 40, y: 30 }, colour: "cyan", shape: "circle", size: 16 }], false],
    ["hexagon-carmine", [{ point: { x: 120, y: 90 }, colour: "carmine", shape: "hexagon", size: 20 }], false],
    ["star-orange-cropped", [{ point: { x: 110, y: 40 }, colour: "orange", shape: "star", size: 14 }], true],
    [
      "multi-lettered",
      ["A", "B", "C", "D"].map((label, i): Marker => ({ point: { x: 30 + 33 * i, y: 60 }, colour: "yellow", shape: "star", size: 12, label })),
      false,
    ],
  ];
  it.each(cases)("%s matches the committed fixture PNG", async (name, markers, crop) => {
    const c = crop ? markerCrop(markers, { x1: 70, y1: 30, x2: 120, y2: 80 }, W, H) : undefined;
    const jpeg = await renderMarkers(image, markers, c);
    expect(Buffer.compare(jpeg, await renderMarkers(image, markers, c))).toBe(0);
    const got = await decodeImage(jpeg);
    const file = new URL(`${name}.png`, FIXTURES);
    if (process.env.UPDATE_FIXTURES || !existsSync(file)) {
      await mkdir(FIXTURES, { recursive: true });
      await writeFile(file, await encodePng(got));
    }
    const want = await decodeImage(await readFile(file));
    expect([got.width, got.height]).toEqual([want.width, want.height]);
    let diff = 0;
    for (let i = 0; i < got.data.length; i++) diff += Math.abs(got.data[i]! - want.data[i]!);
    expect(diff / got.data.length).toBeLessThan(2);
    // The TypeScript rasteriser draws what the SVG renderer draws (lettered markers take the SVG route).
    const ref = await decodeImage(await renderMarkersSvg(image, markers, c));
    let refDiff = 0;
    for (let i = 0; i < got.data.length; i++) refDiff += Math.abs(got.data[i]! - ref.data[i]!);
    expect(refDiff / got.data.length).toBeLessThan(0.6);
    // The marker's colour is really there.
    const m = markers[0]!;
    const px = c ? { x: Math.round(m.point.x - c.x1), y: Math.round(m.point.y - c.y1) } : { x: Math.round(m.point.x), y: Math.round(m.point.y) };
    const k = 3 * (px.y * got.width + px.x);
    const [r, g, b] = MARKER_COLOURS[m.colour];
    expect(Math.abs(got.data[k]! - r) + Math.abs(got.data[k + 1]! - g) + Math.abs(got.data[k + 2]! - b)).toBeLessThan(60);
  });
});
