import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeImage, randomStream, type Box, type Point, type RgbImage } from "@resagent/core";
import { markerLabel, type ChatBackend, type ChatCompletion, type ChatRequest, type QueryContext, type TokenLogprob } from "@resagent/mllm";
import type { Candidate } from "@resagent/sampler";
import {
  LETTERED_PALETTE,
  LETTERED_SHAPES,
  Verifier,
  letteredCrop,
  letteredFontSize,
  letteredMarkers,
  letteredTextBox,
  readLabelAnswer,
  readMultiAnswers,
  renderLetteredMarkers,
  toolsMarkerShift,
  vbrMultiPrompt,
  type LetteredShape,
  parseVerifierParams,
  type VerifierParamsInput,
} from "./index.js";

/**
 * Against values computed by the authors' own functions (xbdxwyh/Resagent; each fixture section
 * names the file, line range and function it came from).
 */
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../test/fixtures/authors/${name}`, import.meta.url), "utf8"));
const F = fixture("final-multi-marker.json");
const PX = fixture("final-marker-pixels.json");

const V = (backend: ChatBackend, params: VerifierParamsInput = {}) => new Verifier(backend, parseVerifierParams(params));
const box = (b: number[]): Box => ({ x1: b[0]!, y1: b[1]!, x2: b[2]!, y2: b[3]! });
const pt = (p: number[]): Point => ({ x: p[0]!, y: p[1]! });
const none: ChatBackend = {
  name: "none",
  simulated: true,
  needsImages: false,
  identity: "none",
  describe: () => "none",
  complete: () => Promise.reject(new Error("not asked")),
};

/** Records every request and its context; answers from `answer`. */
class Recorder implements ChatBackend {
  readonly name = "recorder";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "recorder";
  seen: { req: ChatRequest; ctx: QueryContext }[] = [];
  constructor(readonly answer: (ctx: QueryContext) => ChatCompletion = (ctx) => ({ text: (ctx.labels ?? ["x"]).map((l) => `${l}: yes`).join("\n") || "Yes", cached: false, latencyMs: 0 })) {}
  describe() {
    return "recorder (test)";
  }
  async complete(req: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    this.seen.push({ req, ctx });
    return this.answer(ctx);
  }
  texts(): string[] {
    return this.seen.map((s) => s.req.content.flatMap((c) => (c.type === "text" ? [c.text] : [])).join(""));
  }
}

describe("the final script's multi-marker question", () => {
  it("marker radius: resolve_effective_marker_size (final 1335-1354), adaptive and fixed", () => {
    for (const c of F.markerSize.cases) {
      const v = V(none, { size: c.base, sizeMin: c.min, sizeMax: c.max, sizeMode: c.adaptive ? "adaptive" : "fixed" });
      const got = v.markerSize(box(c.box), c.image[0], c.image[1]);
      // The script clamps the fixed size too; the harness's fixed mode is the plain size (tools.py).
      expect(c.adaptive ? got : Math.max(c.min, Math.min(c.max, got)), JSON.stringify(c)).toBe(c.size);
    }
  });

  it("labels (marker_token), the question (build_multi_marker_prompt) and the crop (render_multi_marker_query)", () => {
    expect(F.markerToken.tokens.map((_: string, i: number) => markerLabel(i))).toEqual(F.markerToken.tokens);
    for (const c of F.multiPrompt.cases) expect(vbrMultiPrompt(c.sentence, c.labels, "lettered")).toBe(c.prompt);
    for (const c of F.multiCrop.cases) {
      const size = V(none, { size: 12, sizeMin: 8, sizeMax: 16, sizeMode: c.adaptive ? "adaptive" : "fixed" }).markerSize(box(c.box), c.image[0], c.image[1]);
      expect(size).toBe(c.size);
      const crop = letteredCrop(box(c.box), c.points.map(pt), size, 1.2, c.image[0], c.image[1]);
      expect([crop.x1, crop.y1, crop.x2, crop.y2], JSON.stringify(c)).toEqual(c.crop);
      expect(c.points.map((_: unknown, i: number) => markerLabel(c.start + i))).toEqual(c.labels);
      // The script's colours and shapes come from Python's random; the structure is what carries over.
      const ours = letteredMarkers(c.points.map(pt), c.labels, size, randomStream(0, "test", String(c.start)));
      const sets: string[][][] = [ours.map((m) => [m.colour, m.shape]), c.colours.map((col: string, i: number) => [col, c.shapes[i]])];
      for (const ms of sets) {
        expect(new Set(ms.map((m) => m[0])).size).toBe(ms.length);
        ms.forEach((m, i) => {
          expect(LETTERED_PALETTE.map((p) => p.name)).toContain(m[0]);
          if (i >= 4) expect(m[1]).toBe(ms[i - 4]![1]);
          else expect(LETTERED_SHAPES).toContain(m[1]);
        });
      }
    }
  });

  it("draws each marker as draw_single_marker does: shape, white outline, the letter inside (PIL's pixels, class by class)", async () => {
    for (const c of PX.cases) {
      const img: RgbImage = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 3).fill(128) };
      const m = { point: pt(c.point), colour: c.colour, rgb: c.rgb, shape: c.shape as LetteredShape, size: c.size, label: c.label };
      const got = await decodeImage(await renderLetteredMarkers(img, [m], undefined, "png"));
      const refs: Record<string, number[]> = { ".": [128, 128, 128], w: [255, 255, 255], k: [0, 0, 0], f: c.rgb };
      let agree = 0;
      const centroid = [0, 0, 0, 0, 0, 0];
      for (let y = 0; y < 40; y++) {
        for (let x = 0; x < 40; x++) {
          const p = got.data.subarray(3 * (y * 40 + x), 3 * (y * 40 + x) + 3);
          let best = ".";
          let bd = Infinity;
          for (const [k, v] of Object.entries(refs)) {
            const d = v.reduce((a, b, i) => a + (b - p[i]!) ** 2, 0);
            if (d < bd) [bd, best] = [d, k];
          }
          const want = c.classes[y][x] as string;
          if (want === best) agree++;
          if (want !== ".") centroid.splice(0, 3, centroid[0]! + x, centroid[1]! + y, centroid[2]! + 1);
          if (best !== ".") centroid.splice(3, 3, centroid[3]! + x, centroid[4]! + y, centroid[5]! + 1);
        }
      }
      const label = `${c.shape} ${c.size} ${c.label}`;
      expect(agree / 1600, label).toBeGreaterThan(0.93);
      expect(Math.abs(centroid[3]! / centroid[5]! - centroid[0]! / centroid[2]!), label).toBeLessThan(0.35);
      expect(Math.abs(centroid[4]! / centroid[5]! - centroid[1]! / centroid[2]!), label).toBeLessThan(0.35);
      expect(Math.abs(centroid[5]! / centroid[2]! - 1), label).toBeLessThan(0.1);
    }
    // PIL's text boxes (textbbox, getmetrics) within a pixel, at every font size the markers use.
    expect([8, 9, 10, 11, 12, 13, 14, 15, 16].map(letteredFontSize)).toEqual([8, 9, 10, 10, 11, 12, 13, 14, 15]);
    for (const [size, v] of Object.entries(PX.textBoxes) as [string, { ascent: number; letters: Record<string, number[]> }][]) {
      for (const [text, want] of Object.entries(v.letters)) {
        const got = letteredTextBox(text, Number(size));
        expect(got.ascent).toBe(v.ascent);
        got.box.forEach((g, i) => expect(Math.abs(g - want[i]!), `${size} ${text}`).toBeLessThanOrEqual(1));
      }
    }
  });

  it("reads each label's answer and confidence as parse_multi_marker_predictions + attach_token_confidence", () => {
    for (const c of F.answers.cases) {
      const tokens: TokenLogprob[] = c.tokens.map((t: { token: string; top: [string, number][] }) => ({ token: t.token, logprob: 0, top: t.top.map(([token, p]) => ({ token, logprob: Math.log(p) })) }));
      const labels: string[] = c.labels;
      const read = readMultiAnswers(c.text, labels, tokens);
      labels.forEach((l, i) => {
        const want = c.expected[l.toUpperCase()] ?? c.expected[l];
        const got = readLabelAnswer(read[i]!, tokens, "absolute");
        expect(read[i]!.answer, `${c.name}: ${l}`).toBe(want.answer);
        expect(read[i]!.token, `${c.name}: ${l} token`).toBe(want.step);
        if (want.confidence === null) expect(got.confidence, `${c.name}: ${l}`).toBeNull();
        else expect(got.confidence!, `${c.name}: ${l}`).toBeCloseTo(want.confidence, 9);
      });
    }
  });

  it("asks every candidate of both queues in questions of up to 8, lettered from the chunk's start, each a fresh shuffle", async () => {
    const cands: Candidate[] = [];
    for (let r = 0; r < 10; r++) cands.push({ point: { x: 50 + 3 * r, y: 60 }, queue: "internal", rank: r, entropy: 0 });
    for (let r = 0; r < 4; r++) cands.push({ point: { x: 5 + 3 * r, y: 10 }, queue: "external", rank: r, entropy: 0 });
    const image: RgbImage = { width: 160, height: 120, data: new Uint8Array(160 * 120 * 3).fill(90) };
    const rec = new Recorder();
    const params: VerifierParamsInput = { format: "vbr-multi", multiBatch: 8, earlyStop: false, crop: false, size: 12, sizeMode: "adaptive", positives: 4, negatives: 0, selectionMode: "confidence" };
    const v = V(rec, params);
    const input = { sampleId: "s", expression: "cup", image, imageHash: "h", width: 160, height: 120, box: { x1: 40, y1: 40, x2: 100, y2: 90 }, candidates: cands, rng: randomStream(0, "verifier", "s") };
    const r = await v.verify(input);
    expect(rec.seen.map((s) => s.ctx.labels)).toEqual([[..."ABCDEFGH"], ["I", "J"], [..."ABCD"]]);
    expect(rec.texts()[1]).toBe(F.multiPrompt.cases[1].prompt.replace("'the \"red\" cup'", "'cup'"));
    expect(r.queries).toHaveLength(14);
    expect(r.positives).toHaveLength(4);
    // Uncropped: the whole image is sent; hashes differ per question and from the harness's old drawing.
    const jpeg = await (rec.seen[0]!.req.content[0] as { render(): Promise<Uint8Array> }).render();
    expect([(await decodeImage(jpeg)).width, (await decodeImage(jpeg)).height]).toEqual([160, 120]);
    const hashes = rec.seen.map((s) => (s.req.content[0] as { hash: string }).hash);
    expect(new Set(hashes).size).toBe(3);
    const old = new Recorder();
    await V(old, { ...params, multiMarkers: "uniform" }).verify(input);
    expect((old.seen[0]!.req.content[0] as { hash: string }).hash).not.toBe(hashes[0]);
    // With crop: the question's crop (render_multi_marker_query's crop box).
    const cropped = new Recorder();
    await V(cropped, { ...params, crop: true }).verify(input);
    const size = v.markerSize(input.box, 160, 120);
    const c = letteredCrop(input.box, cands.slice(0, 8).map((x) => x.point), size, 1.2, 160, 120);
    const img = await decodeImage(await (cropped.seen[0]!.req.content[0] as { render(): Promise<Uint8Array> }).render());
    expect([img.width, img.height]).toEqual([c.x2 - c.x1, c.y2 - c.y1]);
  });
});

describe("the textual script's coordinates", () => {
  const FORMATS = { paren_xy: "textual:(x,y)", x_is_y_is: "textual:x is, y is", x_eq_y_eq: "textual:x=, y=" } as const;
  const ask = async (c: { box: number[]; image: number[]; point: number[] }, params: VerifierParamsInput) => {
    const rec = new Recorder(() => ({ text: "Yes", cached: false, latencyMs: 0 }));
    const v = V(rec, { size: 12, sizeMode: "adaptive", sizeMin: 8, sizeMax: 16, earlyStop: false, ...params });
    const cand: Candidate = { point: pt(c.point), queue: "internal", rank: 0, entropy: 0 };
    await v.verify({ sampleId: "s", expression: "the `cat' on the left", image: undefined, imageHash: "h", width: c.image[0]!, height: c.image[1]!, box: box(c.box), candidates: [cand], rng: randomStream(0, "v", "s") });
    return { text: rec.texts()[0]!, hash: (rec.seen[0]!.req.content[0] as { hash: string }).hash };
  };

  it("crop space: compute_context_crop_bbox, resolve_textual_point_coordinates and format_textual_point_prompt", async () => {
    for (const c of F.textual.cases) {
      const r = V(none, { size: 12, sizeMode: "adaptive", sizeMin: 8, sizeMax: 16 }).markerSize(box(c.box), c.image[0], c.image[1]);
      expect(r).toBe(c.radius);
      const crop = letteredCrop(box(c.box), [pt(c.point)], r, 1.2, c.image[0], c.image[1], true);
      expect([crop.x1, crop.y1, crop.x2, crop.y2]).toEqual(c.crop);
      for (const [name, format] of Object.entries(FORMATS)) {
        expect((await ask(c, { format, textualSpace: "crop" })).text, `${name} ${JSON.stringify(c.point)}`).toBe(c.prompts[name]);
      }
      for (const [convention, key] of [["absolute", "absolute"], ["normalized", "normalized01"], ["qwen3", "qwen1000"]] as const) {
        const [x, y] = c.coords[`crop/${key}`];
        expect((await ask(c, { format: "textual:x=, y=", textualSpace: "crop", textualConvention: convention })).text).toContain(`x = ${x}, y = ${y} on`);
      }
    }
  });

  it("image space in 0-1000 gives the script's image/qwen1000 coordinates except at exact halves; the uncropped image goes with crop coordinates", async () => {
    let same = 0;
    for (const c of F.textual.cases) {
      const [x, y] = c.coords["image/qwen1000"];
      if ((await ask(c, { format: "textual:x=, y=" })).text.includes(`x = ${x}, y = ${y} on`)) same++;
    }
    expect(same).toBeGreaterThanOrEqual(F.textual.cases.length - 2);
    const c = F.textual.cases[0];
    // The released baseline (crop coordinates, no crop) sends the image itself; with crop: true the crop.
    expect((await ask(c, { format: "textual:x=, y=", textualSpace: "crop", crop: false })).hash).toBe("h");
    expect((await ask(c, { format: "textual:x=, y=", textualSpace: "crop", crop: true })).hash).not.toBe("h");
    expect(() => V(none, { textualSpace: "crop", textualConvention: "qwen2.5" })).toThrow(/verifier.textualConvention/);
  });
});

describe("tools.py's marker shift (draw_marker_on_image), an option", () => {
  it("moves the marker and its crop exactly as the authors' helper, on boxes from the router files", () => {
    let moved = 0;
    for (const c of F.markerShift.cases) {
      const got = toolsMarkerShift(pt(c.point), c.size, box(c.box), c.image[0], c.image[1]);
      expect(got.point.x).toBeCloseTo(c.shifted[0], 9);
      expect(got.point.y).toBeCloseTo(c.shifted[1], 9);
      const round = (v: number) => (Math.abs(v % 1) === 0.5 && Math.round(v) % 2 !== 0 ? Math.round(v) - 1 : Math.round(v));
      expect([got.crop.x1, got.crop.y1, got.crop.x2, got.crop.y2]).toEqual(c.crop.map(round));
      if (Math.hypot(got.point.x - c.point[0], got.point.y - c.point[1]) > 0) moved++;
    }
    // Most markers near COCO-sized boxes move.
    expect(moved / F.markerShift.cases.length).toBeGreaterThan(0.5);
  });

  it("asks about the moved marker but hands the decoder the candidate point", async () => {
    const rec = new Recorder(() => ({ text: "Yes", cached: false, latencyMs: 0 }));
    const c = F.markerShift.cases[0];
    const cand: Candidate = { point: pt(c.point), queue: "internal", rank: 0, entropy: 0 };
    const base = { sampleId: "s", expression: "x", image: undefined, imageHash: "h", width: c.image[0], height: c.image[1], box: box(c.box), candidates: [cand], rng: randomStream(0, "v", "s") };
    const r = await V(rec, { size: c.size, markerShift: "tools", positives: 1, negatives: 0 }).verify(base);
    expect(rec.seen[0]!.ctx.points).toEqual([{ x: c.shifted[0], y: c.shifted[1] }]);
    expect(r.positives).toEqual([cand.point]);
    const plain = new Recorder(() => ({ text: "Yes", cached: false, latencyMs: 0 }));
    await V(plain, { size: c.size }).verify(base);
    expect(plain.seen[0]!.ctx.points).toEqual([cand.point]);
  });
});
