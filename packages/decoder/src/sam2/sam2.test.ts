import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { maskIoU, readImage, type Mask, type RgbImage } from "@resagent/core";
import { InputError } from "@resagent/core";
import { Sam2OnnxDecoder, locateSam2Files } from "./decoder.js";
import { parseSam2Params } from "../params.js";
import { encodePrompt, modelScale, selectMask } from "./processing.js";
import { STYLES } from "./styles.js";
import { tinyDecoder, tinyEncoder, type TinyStyle } from "./tiny-models.js";

/** A black image with a red rectangle; returns it and the rectangle's mask. */
function redRect(W: number, H: number, r: { x0: number; y0: number; x1: number; y1: number }, red = 255): { image: RgbImage; rect: Mask } {
  const data = new Uint8Array(W * H * 3);
  const m = new Uint8Array(W * H);
  for (let y = r.y0; y < r.y1; y++)
    for (let x = r.x0; x < r.x1; x++) {
      data[3 * (y * W + x)] = red;
      m[y * W + x] = 1;
    }
  return { image: { width: W, height: H, data }, rect: { width: W, height: H, data: m } };
}

const invert = (m: Mask): Mask => ({ ...m, data: m.data.map((v) => 1 - v) });

describe.each(["samexporter", "ort"] as TinyStyle[])("sam2-onnx with a tiny %s-style export", (style) => {
  const { image, rect } = redRect(320, 240, { x0: 100, y0: 60, x1: 220, y1: 180 });
  const box = { x1: 90, y1: 50, x2: 230, y2: 190 };

  it("maps coordinates, lays out labels, upsamples, and picks the multimask output by predicted IoU", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({ multimask: "best" }), { encoder: tinyEncoder(style), decoder: tinyDecoder(style, 3) });
    // iou = model-space x of (box x1, box x2, first click): a click right of the box wins -> mask 2 (+red).
    const right = await dec.segment({ image }, { box, positives: [{ x: 300, y: 100 }], negatives: [] });
    expect(maskIoU(right.mask, rect)).toBeGreaterThan(0.97);
    expect(right.score).toBeCloseTo((300 * 1024) / 320 / 1024, 5);
    // a click inside the box: box x2 wins -> mask 1 (the inverse).
    const inside = await dec.segment({ image }, { box, positives: [{ x: 150, y: 100 }], negatives: [{ x: 95, y: 55 }] });
    expect(maskIoU(inside.mask, invert(rect))).toBeGreaterThan(0.97);
    expect(inside.score).toBeCloseTo((230 * 1024) / 320 / 1024, 5);
  });

  it("says in its description which export and mask rule it used, once it has run", async () => {
    const multi = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder(style), decoder: tinyDecoder(style, 3) });
    expect(multi.describe()).not.toMatch(/export/);
    await multi.segment({ image }, { box, positives: [], negatives: [] });
    expect(multi.describe()).toMatch(new RegExp(`${style} export, 3 mask outputs, the highest predicted IoU taken`));
    const four = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder(style), decoder: tinyDecoder(style, 4) });
    await four.segment({ image }, { box, positives: [], negatives: [] });
    expect(four.describe()).toMatch(/4 mask outputs, SAM2's stability rule/);
  });

  it("encodes each image once for many prompts", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder(style), decoder: tinyDecoder(style, 1) });
    for (let i = 0; i < 5; i++) await dec.segment({ image }, { box, positives: [{ x: 120 + i, y: 100 }], negatives: [] });
    expect(dec.stats()).toMatchObject({ encoderCalls: 1, decoderCalls: 5, cacheHits: 4 });
    const other = redRect(320, 240, { x0: 10, y0: 10, x1: 50, y1: 50 }).image;
    await dec.segment({ image: other }, { box, positives: [], negatives: [] });
    expect(dec.stats().encoderCalls).toBe(2);
  });

  it("falls back from an unstable single-mask output to the best multimask one (SAM2 rule)", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({ multimask: "stability" }), { encoder: tinyEncoder(style), decoder: tinyDecoder(style, 4) });
    // Stable: logits far from 0 everywhere -> mask 0 (+red) is kept.
    const stable = await dec.segment({ image }, { box, positives: [{ x: 150, y: 100 }], negatives: [] });
    expect(maskIoU(stable.mask, rect)).toBeGreaterThan(0.97);
    // Unstable: red at its ImageNet mean gives logits ≈ 0 inside the rectangle -> best of 1–3 by IoU:
    // with the click inside, box x2 (index 2 of 0..3) wins, which is the inverse mask.
    const flat = redRect(320, 240, { x0: 0, y0: 0, x1: 320, y1: 240 }, 124).image;
    const unstable = await dec.segment({ image: flat }, { box, positives: [{ x: 150, y: 100 }], negatives: [] });
    expect(unstable.score).toBeCloseTo(230 / 320, 5);
  });
});

/**
 * SAM2's MaskDecoder._dynamic_multimask_via_stability (sam2/modeling/sam/mask_decoder.py), as the
 * predictor runs it with multimask_output=False: the best of tokens 1–3 by predicted IoU
 * (torch.argmax: the first of equal maxima), replaced by token 0 when token 0's stability score
 * area(logits > δ) / area(logits > −δ) (1 when both are empty) is ≥ the threshold. Config values
 * of every sam2 / sam2.1 YAML: δ = 0.05, threshold 0.98. Written from that code, independently of
 * selectMask, to check that `multimask: stability` on an export with all four masks is this rule.
 */
function sam2SingleMask(logits: Float32Array, iou: ArrayLike<number>): number {
  const size = logits.length / 4;
  let best = 1;
  for (let m = 2; m < 4; m++) if (iou[m]! > iou[best]!) best = m;
  let i = 0;
  let u = 0;
  for (let k = 0; k < size; k++) {
    if (logits[k]! > 0.05) i++;
    if (logits[k]! > -0.05) u++;
  }
  return (u > 0 ? i / u : 1) >= 0.98 ? 0 : best;
}

describe("the resagent export (tools/export_sam2_onnx.py): all four masks", () => {
  const { image, rect } = redRect(320, 240, { x0: 100, y0: 60, x1: 220, y1: 180 });
  const box = { x1: 90, y1: 50, x2: 230, y2: 190 };

  it("is recognised by its output names and reads all four masks", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder("resagent"), decoder: tinyDecoder("resagent") });
    await dec.segment({ image }, { box, positives: [{ x: 150, y: 100 }], negatives: [] });
    expect(dec.describe()).toMatch(/resagent export, 4 mask outputs, SAM2's stability rule/);
    expect(await dec.inspect()).toMatch(/resagent export .*all_low_res_masks, all_iou_predictions.*4 mask outputs \(single-mask token \+ 3 multimask\): multimask stability reproduces SAM2's multimask_output=False$/);
    expect(await dec.inspect()).not.toMatch(/warning/);
  });

  it("multimask: stability picks what SAM2's multimask_output=False picks, stable or not", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({ multimask: "stability" }), { encoder: tinyEncoder("resagent"), decoder: tinyDecoder("resagent") });
    const flat = redRect(320, 240, { x0: 0, y0: 0, x1: 320, y1: 240 }, 124).image;
    const prompts = [
      { box, positives: [{ x: 150, y: 100 }], negatives: [] },
      { box, positives: [{ x: 300, y: 100 }], negatives: [{ x: 20, y: 20 }] },
      { box: { x1: 250, y1: 10, x2: 310, y2: 60 }, positives: [], negatives: [] },
    ];
    const picked = new Set<number>();
    for (const img of [image, flat]) {
      for (const prompt of prompts) {
        // The reference rule on the raw outputs of the same export, run directly.
        const ort = await import("onnxruntime-node");
        const enc = await ort.InferenceSession.create(tinyEncoder("resagent"));
        const raw = await ort.InferenceSession.create(tinyDecoder("resagent"));
        const { preprocessImage } = await import("./processing.js");
        const feats = await enc.run({ image: new ort.Tensor("float32", preprocessImage(img, "stretch"), [1, 3, 1024, 1024]) });
        const { coords, labels } = encodePrompt(prompt, img.width, img.height, "stretch", false);
        const out = await raw.run({
          image_embed: feats.image_embed!,
          high_res_feats_0: feats.high_res_feats_0!,
          high_res_feats_1: feats.high_res_feats_1!,
          point_coords: new ort.Tensor("float32", coords, [1, labels.length, 2]),
          point_labels: new ort.Tensor("float32", Float32Array.from(labels), [1, labels.length]),
          mask_input: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
          has_mask_input: new ort.Tensor("float32", Float32Array.from([0]), [1]),
        });
        const logits = out.all_low_res_masks!.data as Float32Array;
        const iou = out.all_iou_predictions!.data as Float32Array;
        const want = sam2SingleMask(logits, iou);
        picked.add(want);
        expect(selectMask(logits, iou, 4, "stability", 0.98, 0.05)).toBe(want);
        const got = await dec.segment({ image: img }, prompt);
        expect(got.score).toBeCloseTo(iou[want]!, 6);
      }
    }
    // Both branches of the rule are exercised: the red image is stable (mask 0), the flat one is not.
    expect(picked.has(0)).toBe(true);
    expect([...picked].some((m) => m > 0)).toBe(true);
  });

  it("validate warns when an export has no single-mask output", async () => {
    const multi = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder("samexporter"), decoder: tinyDecoder("samexporter", 3) });
    expect(await multi.inspect()).toMatch(/samexporter export .*; 3 mask outputs; warning: no single-mask output, so SAM2's multimask_output=False \(the authors' setting\) cannot be reproduced .* tools\/export_sam2_onnx\.py/);
    const one = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder("ort"), decoder: tinyDecoder("ort", 1) });
    expect(await one.inspect()).toMatch(/1 mask output \(the export chose inside the graph/);
    const best = new Sam2OnnxDecoder(parseSam2Params({ multimask: "best" }), { encoder: tinyEncoder("resagent"), decoder: tinyDecoder("resagent") });
    expect(await best.inspect()).toMatch(/4 mask outputs; warning: multimask best is not SAM2's multimask_output=False/);
    void rect;
  });
});

describe("sam2-onnx pre/post-processing", () => {
  it("puts the box first (labels 2, 3), then positives, negatives and the padding point", () => {
    const { coords, labels } = encodePrompt({ box: { x1: 10, y1: 20, x2: 110, y2: 220 }, positives: [{ x: 50, y: 60 }], negatives: [{ x: 70, y: 80 }] }, 640, 480, "stretch", true);
    expect(labels).toEqual([2, 3, 1, 0, -1]);
    const s = modelScale(640, 480, "stretch");
    expect(Array.from(coords)).toEqual([10 * s.sx, 20 * s.sy, 110 * s.sx, 220 * s.sy, 50 * s.sx, 60 * s.sy, 70 * s.sx, 80 * s.sy, 0, 0].map((v) => Math.fround(v)));
    expect(modelScale(640, 480, "letterbox")).toEqual({ sx: 1.6, sy: 1.6 });
  });

  it("adds no client padding point for either export: both append SAM2's one inside the graph", () => {
    expect(STYLES.map((st) => [st.name, st.padPoint])).toEqual([
      ["samexporter", false],
      ["ort", false],
      ["resagent", false],
    ]);
    expect(encodePrompt({ box: { x1: 1, y1: 2, x2: 3, y2: 4 }, positives: [], negatives: [] }, 640, 480, "stretch", false).labels).toEqual([2, 3]);
  });

  it("selects masks as documented for 1, 3 and 4 outputs", () => {
    const flat = new Float32Array(4 * 4).fill(5);
    expect(selectMask(flat.subarray(0, 4), [0.9], 1, "best", 0.98, 0.05)).toBe(0);
    expect(selectMask(flat.subarray(0, 12), [0.2, 0.9, 0.5], 3, "best", 0.98, 0.05)).toBe(1);
    expect(selectMask(flat.subarray(0, 12), [0.2, 0.9, 0.5], 3, "single", 0.98, 0.05)).toBe(0);
    expect(selectMask(flat, [0.1, 0.2, 0.9, 0.5], 4, "stability", 0.98, 0.05)).toBe(0);
    const shaky = Float32Array.from([0.01, 0.02, -0.01, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]);
    expect(selectMask(shaky, [0.1, 0.2, 0.9, 0.5], 4, "stability", 0.98, 0.05)).toBe(2);
    expect(selectMask(flat, [0.1, 0.2, 0.9, 0.5], 4, "best", 0.98, 0.05)).toBe(2);
  });
});

describe("sam2-onnx bad input", () => {
  const { image } = redRect(64, 48, { x0: 10, y0: 10, x1: 30, y1: 30 });
  const box = { x1: 5, y1: 5, x2: 40, y2: 40 };

  it("names what a mismatched model pair has and what was expected", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder("samexporter"), decoder: tinyDecoder("ort") });
    const err = await dec.segment({ image }, { box, positives: [], negatives: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(String(err)).toMatch(/match no known SAM2 export/);
    expect(String(err)).toMatch(/decoder has inputs \[image_features_0/);
    expect(String(err)).toMatch(/samexporter: missing decoder input high_res_feats_0/);
  });

  it("says which files are missing, before loading anything", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-sam2-"));
    expect(() => locateSam2Files({ dir: join(dir, "nope") })).toThrow(/SAM2 model folder does not exist/);
    expect(() => locateSam2Files({ dir })).toThrow(/no \*encoder\*\.onnx file in the folder/);
    const saved = process.env.RESAGENT_SAM2_DIR;
    delete process.env.RESAGENT_SAM2_DIR;
    expect(() => locateSam2Files({})).toThrow(/set decoder.params.dir or RESAGENT_SAM2_DIR/);
    if (saved !== undefined) process.env.RESAGENT_SAM2_DIR = saved;
    await writeFile(join(dir, "sam2.encoder.onnx"), tinyEncoder("ort"));
    await writeFile(join(dir, "sam2.decoder.onnx"), Buffer.from("not an onnx file"));
    const dec = new Sam2OnnxDecoder(parseSam2Params({ dir }));
    await expect(dec.segment({ image }, { box, positives: [], negatives: [] })).rejects.toThrow(/sam2.decoder.onnx: onnxruntime cannot load the SAM2 decoder/);
  });

  it("rejects empty boxes and outside points before onnxruntime sees them", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({}), { encoder: tinyEncoder("ort"), decoder: tinyDecoder("ort") });
    await expect(dec.segment({ image }, { box: { x1: 5, y1: 5, x2: 5, y2: 9 }, positives: [], negatives: [] })).rejects.toThrow(/is empty/);
    await expect(dec.segment({ image }, { box, positives: [], negatives: [{ x: -4, y: 2 }] })).rejects.toThrow(/outside the 64x48 image/);
    expect(dec.stats().encoderCalls).toBe(0);
  });
});

const realDir = process.env.RESAGENT_SAM2_DIR;
describe.skipIf(!realDir)("real SAM2 ONNX files (skipped: set RESAGENT_SAM2_DIR to a folder with exported encoder/decoder .onnx files)", () => {
  it("loads, encodes once and segments a synthetic object from its box", async () => {
    const dec = new Sam2OnnxDecoder(parseSam2Params({ dir: realDir! }));
    const { image, rect } = redRect(640, 480, { x0: 200, y0: 150, x1: 420, y1: 330 });
    const out = await dec.segment({ image }, { box: { x1: 190, y1: 140, x2: 430, y2: 340 }, positives: [{ x: 300, y: 240 }], negatives: [] });
    expect(maskIoU(out.mask, rect)).toBeGreaterThan(0.8);
    expect(dec.stats().encoderCalls).toBe(1);
    void readImage;
  }, 600_000);
});
