import { describe, expect, it } from "vitest";
import { maskArea, maskIoU, randomStream, type Mask, type RgbImage } from "@resagent/core";
import { BoxDecoder, GraphCutDecoder, createDecoder, decoderNames } from "./index.js";

/** Background noise with rectangles of a given colour; returns the image and the first rect's mask. */
function scene(rects: { x0: number; y0: number; x1: number; y1: number; rgb: [number, number, number] }[], W = 240, H = 200): { image: RgbImage; gold: Mask } {
  const r = randomStream(0, "decoder-test");
  const data = new Uint8Array(W * H * 3);
  const gold = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const k = y * W + x;
      let rgb: [number, number, number] = [90, 130, 90];
      rects.forEach((q, i) => {
        if (x >= q.x0 && x < q.x1 && y >= q.y0 && y < q.y1) {
          rgb = q.rgb;
          if (i === 0) gold[k] = 1;
        }
      });
      for (let c = 0; c < 3; c++) data[3 * k + c] = Math.max(0, Math.min(255, Math.round(rgb[c]! + r.normal(0, 10))));
    }
  }
  return { image: { width: W, height: H, data }, gold: { width: W, height: H, data: gold } };
}

describe("box decoder", () => {
  it("returns the clipped box", async () => {
    const { image } = scene([]);
    const { mask, score } = await new BoxDecoder().segment({ image }, { box: { x1: -10, y1: 10, x2: 20, y2: 30 }, positives: [], negatives: [] });
    expect(maskArea(mask)).toBe(20 * 20);
    expect(score).toBe(1);
  });
});

describe("graphcut decoder", () => {
  const red: [number, number, number] = [200, 40, 40];

  it("segments an object from its box far better than the box itself", async () => {
    const { image, gold } = scene([{ x0: 70, y0: 50, x1: 150, y1: 130, rgb: red }]);
    // A loose box around a non-rectangular object is where the box decoder falls short.
    const box = { x1: 50, y1: 35, x2: 170, y2: 150 };
    const gc = await new GraphCutDecoder().segment({ image }, { box, positives: [], negatives: [] });
    const bx = await new BoxDecoder().segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(gc.mask, gold)).toBeGreaterThan(0.95);
    expect(maskIoU(bx.mask, gold)).toBeLessThan(0.5);
    expect(gc.score).toBeGreaterThan(0.5);
  });

  it("cuts away a touching same-coloured distractor when given a negative point on it", async () => {
    const { image, gold } = scene([
      { x0: 60, y0: 60, x1: 120, y1: 140, rgb: red },
      { x0: 120, y0: 70, x1: 180, y1: 130, rgb: red },
    ]);
    const box = { x1: 55, y1: 55, x2: 185, y2: 145 };
    const dec = new GraphCutDecoder();
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    const withPoints = await dec.segment({ image }, { box, positives: [{ x: 80, y: 100 }, { x: 100, y: 100 }], negatives: [{ x: 160, y: 100 }] });
    const a = maskIoU(boxOnly.mask, gold);
    const b = maskIoU(withPoints.mask, gold);
    expect(a).toBeLessThan(0.65); // both objects
    expect(b).toBeGreaterThan(a + 0.2);
    // and the negative point itself is background
    expect(withPoints.mask.data[100 * 240 + 160]).toBe(0);
  });

  it("a positive point recovers a camouflaged part that colour alone gives to the background", async () => {
    // Object: red body + a part coloured like the background.
    const { image } = scene([
      { x0: 70, y0: 60, x1: 130, y1: 140, rgb: red },
      { x0: 130, y0: 60, x1: 160, y1: 140, rgb: [95, 128, 92] },
    ]);
    const box = { x1: 65, y1: 55, x2: 165, y2: 145 };
    const dec = new GraphCutDecoder();
    const plain = await dec.segment({ image }, { box, positives: [], negatives: [] });
    const seeded = await dec.segment({ image }, { box, positives: [{ x: 145, y: 100 }, { x: 100, y: 100 }], negatives: [] });
    expect(seeded.mask.data[100 * 240 + 145]).toBe(1);
    expect(plain.mask.data[100 * 240 + 145]).toBe(0);
  });

  it("points that agree with the box-only mask leave it exactly as it was (corrective mode)", async () => {
    const { image, gold } = scene([{ x0: 70, y0: 50, x1: 150, y1: 130, rgb: red }]);
    const box = { x1: 60, y1: 40, x2: 160, y2: 140 };
    const dec = new GraphCutDecoder();
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(boxOnly.mask, gold)).toBeGreaterThan(0.95);
    // Two positives on the object, a negative on background inside the box: all already right.
    const agreeing = { box, positives: [{ x: 100, y: 90 }, { x: 130, y: 70 }], negatives: [{ x: 64, y: 136 }] };
    const withPoints = await dec.segment({ image }, agreeing);
    expect(withPoints.mask.data).toEqual(boxOnly.mask.data);
  });

  it("direct mode also cuts a touching same-coloured distractor", async () => {
    const { image, gold } = scene([
      { x0: 60, y0: 60, x1: 120, y1: 140, rgb: red },
      { x0: 120, y0: 70, x1: 180, y1: 130, rgb: red },
    ]);
    const box = { x1: 55, y1: 55, x2: 185, y2: 145 };
    const dec = new GraphCutDecoder({ points: "direct" });
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    const out = await dec.segment({ image }, { box, positives: [{ x: 80, y: 100 }, { x: 100, y: 100 }], negatives: [{ x: 160, y: 100 }] });
    expect(maskIoU(out.mask, gold)).toBeGreaterThan(maskIoU(boxOnly.mask, gold) + 0.15);
    expect(out.mask.data[100 * 240 + 160]).toBe(0);
  });

  it("is deterministic and downsamples large crops", async () => {
    const { image, gold } = scene([{ x0: 40, y0: 30, x1: 200, y1: 170, rgb: red }]);
    const dec = new GraphCutDecoder({ maxSide: 64 });
    const p = { box: { x1: 30, y1: 20, x2: 210, y2: 180 }, positives: [{ x: 120, y: 100 }], negatives: [] };
    const a = await dec.segment({ image }, p);
    const b = await dec.segment({ image }, p);
    expect(a.mask.data).toEqual(b.mask.data);
    expect(maskIoU(a.mask, gold)).toBeGreaterThan(0.9);
  });
});

describe("prompt validation and registry", () => {
  const { image } = scene([]);
  const dec = createDecoder("graphcut");
  it.each([
    [{ box: { x1: 10, y1: 10, x2: 10, y2: 50 }, positives: [], negatives: [] }, /prompt.box: box \[10, 10, 10, 50\] is empty/],
    [{ box: { x1: 300, y1: 10, x2: 400, y2: 50 }, positives: [], negatives: [] }, /lies outside the 240x200 image/],
    [{ box: { x1: 0, y1: 0, x2: Number.NaN, y2: 5 }, positives: [], negatives: [] }, /prompt.box.x2: NaN is not a finite number/],
    [{ box: { x1: 10, y1: 10, x2: 50, y2: 50 }, positives: [{ x: 500, y: 3 }], negatives: [] }, /prompt.positives\[0\]: point \(500, 3\) is outside/],
  ])("rejects %j", async (prompt, msg) => {
    await expect(dec.segment({ image }, prompt)).rejects.toThrow(msg);
  });

  it("knows its decoders and suggests names", () => {
    expect(decoderNames()).toEqual(expect.arrayContaining(["box", "graphcut"]));
    expect(() => createDecoder("grapcut")).toThrow(/did you mean "graphcut"/);
    expect(() => createDecoder("graphcut", { maxside: 3 })).toThrow(/no parameter "maxside"; did you mean "maxSide"/);
    expect(() => createDecoder("graphcut", { points: "always" })).toThrow(/decoder.params.points: expected corrective or direct/);
  });
});
