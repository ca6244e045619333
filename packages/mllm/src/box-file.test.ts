import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BoxFileBackend, BoxFileOptionsSchema, createBackend, firstBoxInText, parseGrounding, type QueryContext } from "./index.js";

/**
 * A cut of the authors' router_eval_medoid files (their first refs, as released) and the boxes
 * the final script resolves from them (expected.json names the functions and lines).
 */
const DIR = fileURLToPath(new URL("../test/fixtures/router-medoid/", import.meta.url));
const EXPECTED = JSON.parse(readFileSync(new URL("expected.json", `file://${DIR}`), "utf8")) as {
  cases: { file: string; ref: number; sent: number; coordMode: "absolute" | "qwen1000"; field: "raw_text" | "pred_box_xyxy"; image: [number, number]; sentence: string; box: number[] }[];
  fullImageFallback: { image: [number, number]; box: number[] };
};

const ctx = (file: string, ref: number, sent: number, image: [number, number], expression?: string): QueryContext => {
  const [, dataset, split] = /^(refcocog|refcoco\+?)_(?:unc|umd)_(\w+)_medoid/.exec(file)!;
  return { kind: "ground", sampleId: `${dataset}:x:${ref}.${sent}`, imageWidth: image[0], imageHeight: image[1], sample: { source: `${dataset}/${split} (refs, first)`, meta: { ref, sentence: sent } }, ...(expression ? { expression } : {}) };
};
const request = { content: [], maxTokens: 128, topLogprobs: 0 };
const files = (o: { dir: string; field?: "raw_text" | "pred_box_xyxy"; coords?: "absolute" | "qwen1000" }) => new BoxFileBackend(BoxFileOptionsSchema.parse(o));

describe("boxes from a file (the authors' router output)", () => {
  it("resolves every sentence's box as the final script (fixed field, absolute or qwen1000 coordinates, clipped to the last pixel)", async () => {
    expect(EXPECTED.cases.length).toBeGreaterThan(100);
    for (const c of EXPECTED.cases) {
      const b = files({ dir: DIR, field: c.field, coords: c.coordMode });
      const ans = await b.complete(request, ctx(c.file, c.ref, c.sent, c.image));
      const g = parseGrounding(ans.text, "absolute", c.image[0], c.image[1]);
      expect(g.ok, JSON.stringify(c)).toBe(true);
      if (!g.ok) continue;
      const got = [g.box.x1, g.box.y1, g.box.x2, g.box.y2];
      got.forEach((v, i) => expect(v, `${c.file} ${c.ref}/${c.sent} ${c.field} ${c.coordMode}`).toBeCloseTo(c.box[i]!, 9));
    }
  });

  it("a sample without a line is an error naming the key and the file; so are a wrong image size and a verify question", async () => {
    const b = createBackend({ backend: "box-file", boxes: { dir: DIR } });
    const c = EXPECTED.cases[0]!;
    await expect(b.complete(request, ctx(c.file, 999999, 1, c.image))).rejects.toThrow(/refcoco_unc_val_medoid_choices\.jsonl: mllm\.boxes: no box for refcoco:val:999999:1 \(dataset:split:ref:sentence\)$/);
    await expect(b.complete(request, ctx(c.file, c.ref, 1, c.image))).rejects.toThrow(/no box for refcoco:val:77:1 .*the ref is there, its sentence is not/);
    await expect(b.complete(request, ctx(c.file, c.ref, c.sent, [100, 100]))).rejects.toThrow(/line 1: the line for refcoco:val:77:222 is for a 640x428 image, the sample's is 100x100/);
    await expect(b.complete(request, { ...ctx(c.file, c.ref, c.sent, c.image), kind: "verify" })).rejects.toThrow(/only grounds/);
    await expect(b.complete(request, ctx("refcoco_unc_testB_medoid", 1, 1, c.image))).rejects.toThrow(/refcoco_unc_testB_medoid_choices\.jsonl: mllm\.boxes: box file not found/);
    await expect(b.complete(request, { kind: "ground", sampleId: "synthref:refcoco/val:0.0", imageWidth: 9, imageHeight: 9, sample: { source: "synthref/refcoco/val", meta: { ref: 0 } } })).rejects.toThrow(/has no REFER ref\/sentence/);
    expect(() => createBackend({ backend: "box-file" })).toThrow(/mllm\.boxes/);
    expect(() => createBackend({ backend: "box-file", boxes: { dir: DIR, coords: "qwen" } })).toThrow(/mllm\.boxes\.coords/);
    expect(() => createBackend({ backend: "box-file", boxes: { dir: DIR, pattern: "boxes.jsonl" } })).toThrow(/mllm\.boxes\.pattern/);
  });

  it("falls back to the sentence's text when its id is not there (resolve_predict_info), and reads raw_text as parse_boxes_from_text", async () => {
    const c = EXPECTED.cases.find((x) => x.field === "raw_text" && x.coordMode === "absolute")!;
    const b = files({ dir: DIR });
    const ans = await b.complete(request, ctx(c.file, c.ref, -1, c.image, `  ${c.sentence} `));
    expect(JSON.parse(ans.text)).toEqual([c.box]);
    expect(firstBoxInText("[[455,0,639,111]]")).toEqual([455, 0, 639, 111]);
    expect(firstBoxInText('{"bbox_2d": [1, 2, 3, 4], "label": "x"}')).toEqual([1, 2, 3, 4]);
    expect(firstBoxInText("the box is 10, 20, 30, 40.5 here")).toEqual([10, 20, 30, 40.5]);
    expect(firstBoxInText("no box")).toBeNull();
    // A box under 2 pixels is no box: an empty answer, a grounding failure for the pipeline.
    expect(b.describe()).toMatch(/medoid_choices\.jsonl \(field raw_text, image pixels/);
  });
});
