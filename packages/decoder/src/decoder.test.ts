import { describe, expect, it } from "vitest";
import { maskArea, maskIoU, randomStream, type Box, type Mask, type Point, type RgbImage } from "@resagent/core";
import { BoxDecoder, GraphCutDecoder, createDecoder, decoderNames, parseGraphcutParams } from "./index.js";

/**
 * Background noise with rectangles of a given colour; returns the image and the first rect's mask
 * (the whole rect, even where a later rect covers it).
 */
function scene(rects: { x0: number; y0: number; x1: number; y1: number; rgb: [number, number, number] }[], W = 240, H = 200): { image: RgbImage; gold: Mask } {
  const inRect = (q: (typeof rects)[number]) => (x: number, y: number) => x >= q.x0 && x < q.x1 && y >= q.y0 && y < q.y1;
  const { image } = shapes(rects.map((q) => ({ inside: inRect(q), rgb: q.rgb })), W, H);
  const gold = new Uint8Array(W * H);
  const first = rects[0];
  if (first) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (inRect(first)(x, y)) gold[y * W + x] = 1;
  return { image, gold: { width: W, height: H, data: gold } };
}

/** Noise around shapes drawn in order (later on top; pixel centres tested); `gold` marks the target's. */
function shapes(list: { inside: (x: number, y: number) => boolean; rgb: [number, number, number]; gold?: boolean }[], W = 240, H = 200): { image: RgbImage; gold: Mask } {
  const r = randomStream(0, "decoder-test");
  const data = new Uint8Array(W * H * 3);
  const gold = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const k = y * W + x;
      let rgb: [number, number, number] = [90, 130, 90];
      for (const q of list) {
        if (!q.inside(x + 0.5, y + 0.5)) continue;
        rgb = q.rgb;
        gold[k] = q.gold ? 1 : 0;
      }
      for (let c = 0; c < 3; c++) data[3 * k + c] = Math.max(0, Math.min(255, Math.round(rgb[c]! + r.normal(0, 10))));
    }
  }
  return { image: { width: W, height: H, data }, gold: { width: W, height: H, data: gold } };
}
/**
 * Each point, placed where the box-only mask already has its label (1: a positive on the mask, 0:
 * a negative off it), leaves the decoder's mask exactly as the box alone made it.
 */
async function expectAgreeingPointsChangeNothing(dec: GraphCutDecoder, image: RgbImage, box: Box, boxOnly: Mask, points: Point[], label: 0 | 1): Promise<void> {
  for (const q of points) {
    expect(boxOnly.data[Math.floor(q.y) * image.width + Math.floor(q.x)]).toBe(label);
    const withPoint = await dec.segment({ image }, { box, positives: label ? [q] : [], negatives: label ? [] : [q] });
    expect(withPoint.mask.data).toEqual(boxOnly.data);
  }
}
const disc = (cx: number, cy: number, r: number) => (x: number, y: number) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const annulus = (cx: number, cy: number, r0: number, r1: number) => (x: number, y: number) => disc(cx, cy, r1)(x, y) && !disc(cx, cy, r0)(x, y);

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
    const gc = await new GraphCutDecoder(parseGraphcutParams()).segment({ image }, { box, positives: [], negatives: [] });
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
    const dec = new GraphCutDecoder(parseGraphcutParams());
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
    const dec = new GraphCutDecoder(parseGraphcutParams());
    const plain = await dec.segment({ image }, { box, positives: [], negatives: [] });
    const seeded = await dec.segment({ image }, { box, positives: [{ x: 145, y: 100 }, { x: 100, y: 100 }], negatives: [] });
    expect(seeded.mask.data[100 * 240 + 145]).toBe(1);
    expect(plain.mask.data[100 * 240 + 145]).toBe(0);
  });

  it("points that agree with the box-only mask leave it exactly as it was (corrective mode)", async () => {
    const { image, gold } = scene([{ x0: 70, y0: 50, x1: 150, y1: 130, rgb: red }]);
    const box = { x1: 60, y1: 40, x2: 160, y2: 140 };
    const dec = new GraphCutDecoder(parseGraphcutParams());
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(boxOnly.mask, gold)).toBeGreaterThan(0.95);
    // Two positives on the object, a negative on background inside the box: all already right.
    const agreeing = { box, positives: [{ x: 100, y: 90 }, { x: 130, y: 70 }], negatives: [{ x: 64, y: 136 }] };
    const withPoints = await dec.segment({ image }, agreeing);
    expect(withPoints.mask.data).toEqual(boxOnly.mask.data);
  });

  it("an agreeing positive on the box's edge does not move the working crop, so it changes nothing either", async () => {
    // A tight box: the object runs to its walls and the pipeline's points can lie on them. A
    // downsampled crop (maxSide 64) grown around the point's seed disc would sample other pixels,
    // and the corrective pass's box-only cut would no longer be the box-only decoder's.
    const { image, gold } = scene([{ x0: 70, y0: 50, x1: 150, y1: 130, rgb: red }]);
    const box = { x1: 70, y1: 50, x2: 150, y2: 130 };
    const dec = new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 }));
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(boxOnly.mask, gold)).toBeGreaterThan(0.9);
    // Points within a seed radius (4 px) of a wall, where the box-only mask already is.
    await expectAgreeingPointsChangeNothing(dec, image, box, boxOnly.mask, [{ x: 72.5, y: 90.5 }, { x: 147.5, y: 60.5 }, { x: 110.5, y: 52.5 }], 1);
  });

  it("which points agree is read at full resolution: a negative just off a thin part changes nothing, though its grid cell is mask", async () => {
    // A coarse working grid (maxSide 32: cells of about 6 px) and a bar 5 px thick: a negative
    // just below the bar lies in a cell the grid's cut labels object, but off the mask the
    // box-only decoder returns (its boundary refined at full resolution). Read off the grid, it
    // disagreed and its correction changed 30–195 pixels.
    const { image, gold } = scene([
      { x0: 60, y0: 60, x1: 140, y1: 120, rgb: red },
      { x0: 60, y0: 120, x1: 180, y1: 125, rgb: red },
    ]);
    const box = { x1: 56, y1: 56, x2: 184, y2: 132 };
    const dec = new GraphCutDecoder(parseGraphcutParams({ maxSide: 32 }));
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(boxOnly.mask, gold)).toBeGreaterThan(0.8);
    await expectAgreeingPointsChangeNothing(dec, image, box, boxOnly.mask, [150.5, 156.5, 162.5, 168.5].map((x) => ({ x, y: 125.5 })), 0);
  });

  it("direct mode also cuts a touching same-coloured distractor", async () => {
    const { image, gold } = scene([
      { x0: 60, y0: 60, x1: 120, y1: 140, rgb: red },
      { x0: 120, y0: 70, x1: 180, y1: 130, rgb: red },
    ]);
    const box = { x1: 55, y1: 55, x2: 185, y2: 145 };
    const dec = new GraphCutDecoder(parseGraphcutParams({ points: "direct" }));
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    const out = await dec.segment({ image }, { box, positives: [{ x: 80, y: 100 }, { x: 100, y: 100 }], negatives: [{ x: 160, y: 100 }] });
    expect(maskIoU(out.mask, gold)).toBeGreaterThan(maskIoU(boxOnly.mask, gold) + 0.15);
    expect(out.mask.data[100 * 240 + 160]).toBe(0);
  });

  // Background stripes share the object's colour, so the box's colour models cannot tell the
  // object from them. A negative on a stripe inside the box, counted as a global colour vote (what
  // the decoder did before, and what agreementScale -> 0 still does: every seed pixel votes in
  // full), makes the object's colour background and wipes the mask out. As a local constraint,
  // with its seed pixels voting only as far as they are unlike the positives, it removes only
  // the stripe near it.
  const stripeScene = (period: number) => {
    const stripes = (x: number, y: number) => Math.floor((x + y * 0.3) / period) % 2 === 0;
    return shapes([
      { inside: stripes, rgb: [160, 55, 55] },
      { inside: disc(120, 100, 40), rgb: [160, 55, 55], gold: true },
    ]);
  };
  const stripeBox = { x1: 78, y1: 58, x2: 162, y2: 142 };
  const stripePositives = [{ x: 110, y: 90 }, { x: 135, y: 115 }];

  // With the box's walls opened (boxSlack) the thin-stripe box shows nothing that stands out:
  // the box-only cut is empty and the positives seed a second cut.
  const SLACK = { boxSlack: 0.15 };

  it("an empty box-only cut is retried from the seeds; a negative on an object-coloured stripe does not wipe the object out", async () => {
    // Thin stripes: nothing in the box stands out, the box-only cut is empty.
    const { image, gold } = stripeScene(6);
    const neg = { x: 91.5, y: 62.5 }; // on a stripe, inside the box, off the object
    const at = (m: Mask) => m.data[Math.floor(neg.y) * 240 + Math.floor(neg.x)];
    expect(at(gold)).toBe(0);
    expect(image.data[3 * (62 * 240 + 91)]).toBeGreaterThan(125); // the stripe's red
    const dec = new GraphCutDecoder(parseGraphcutParams(SLACK));
    const boxOnly = await dec.segment({ image }, { box: stripeBox, positives: [], negatives: [] });
    expect(maskArea(boxOnly.mask)).toBe(0);
    const out = await dec.segment({ image }, { box: stripeBox, positives: stripePositives, negatives: [neg] });
    expect(maskIoU(out.mask, gold)).toBeGreaterThan(0.9);
    expect(at(out.mask)).toBe(0);
    const global = await new GraphCutDecoder(parseGraphcutParams({ ...SLACK, agreementScale: 1e-3 })).segment({ image }, { box: stripeBox, positives: stripePositives, negatives: [neg] });
    expect(maskIoU(global.mask, gold)).toBeLessThan(0.1);
  });

  it("with the default hard box, a correction that collapses to the seeds keeps the box-only mask (points do no harm)", async () => {
    // Behind hard walls the thin-stripe box is all alike: the box-only mask is the whole box, and
    // the negative's correction leaves nothing but the positives' seed discs (IoU 0.02 before this
    // guard). The box-only mask is kept instead, without the negative's disc.
    const { image, gold } = stripeScene(6);
    const neg = { x: 91.5, y: 62.5 };
    // A weak positive pull (the defaults before issue 14's re-fit) makes the collapse happen;
    // with the default pull the positives hold more than their discs and the guard is not needed.
    const dec = new GraphCutDecoder(parseGraphcutParams({ positiveWeight: 4, positiveReach: 0.15 }));
    const boxOnly = await dec.segment({ image }, { box: stripeBox, positives: [], negatives: [] });
    const out = await dec.segment({ image }, { box: stripeBox, positives: stripePositives, negatives: [neg] });
    expect(maskIoU(out.mask, gold)).toBeGreaterThanOrEqual(maskIoU(boxOnly.mask, gold));
    expect(maskArea(out.mask)).toBeGreaterThan(0.9 * maskArea(boxOnly.mask));
    expect(out.mask.data[Math.floor(neg.y) * 240 + Math.floor(neg.x)]).toBe(0);
    const byDefault = await new GraphCutDecoder(parseGraphcutParams()).segment({ image }, { box: stripeBox, positives: stripePositives, negatives: [neg] });
    expect(maskIoU(byDefault.mask, gold)).toBeGreaterThanOrEqual(maskIoU(boxOnly.mask, gold));
    expect(byDefault.mask.data[Math.floor(neg.y) * 240 + Math.floor(neg.x)]).toBe(0);
  });

  it("a negative on an object-coloured stripe that the box-only mask took in cuts the stripe, not the object", async () => {
    // Wider stripes: the box-only cut finds the disc and the stripes that touch it.
    const { image, gold } = stripeScene(12);
    const neg = { x: 156.5, y: 70.5 };
    const at = (m: Mask) => m.data[70 * 240 + 156];
    for (const params of [{}, SLACK]) {
      const dec = new GraphCutDecoder(parseGraphcutParams(params));
      const boxOnly = await dec.segment({ image }, { box: stripeBox, positives: [], negatives: [] });
      expect(at(boxOnly.mask)).toBe(1);
      expect(at(gold)).toBe(0);
      const a = maskIoU(boxOnly.mask, gold);
      expect(a).toBeLessThan(0.85);
      const out = await dec.segment({ image }, { box: stripeBox, positives: stripePositives, negatives: [neg] });
      const b = maskIoU(out.mask, gold);
      expect(b).toBeGreaterThan(Math.max(0.9, a + 0.1));
      expect(at(out.mask)).toBe(0);
      // Counted as a global colour vote, the negative makes the object's colour background: the
      // cut loses the object (or, by the guard above, keeps the uncorrected box-only mask).
      const global = await new GraphCutDecoder(parseGraphcutParams({ ...params, agreementScale: 1e-3 })).segment({ image }, { box: stripeBox, positives: stripePositives, negatives: [neg] });
      expect(maskIoU(global.mask, gold)).toBeLessThan(b - 0.1);
    }
  });

  it("a negative in a ring's hole removes what shows through the hole and leaves the ring whole", async () => {
    // Something of nearly the ring's colour shows through the hole, so the box-only cut fills it.
    const { image, gold } = shapes([
      { inside: disc(120, 100, 30), rgb: [170, 50, 50] },
      { inside: annulus(120, 100, 28, 60), rgb: [200, 40, 40], gold: true },
    ]);
    const box = { x1: 60, y1: 40, x2: 180, y2: 160 };
    const dec = new GraphCutDecoder(parseGraphcutParams());
    const boxOnly = await dec.segment({ image }, { box, positives: [], negatives: [] });
    expect(boxOnly.mask.data[100 * 240 + 120]).toBe(1);
    const out = await dec.segment({ image }, { box, positives: [{ x: 120, y: 45 }, { x: 75, y: 100 }], negatives: [{ x: 120, y: 100 }] });
    expect(maskIoU(out.mask, gold)).toBeGreaterThan(0.95);
    // The ring's inner edge, nearest the negative, is still there.
    for (const [x, y] of [[120, 69], [151, 100], [120, 131], [89, 100]] as const) expect(out.mask.data[y * 240 + x]).toBe(1);
  });

  it("keeps a tight box's walls around a whole object; with boxSlack, opens the side a box cuts through", async () => {
    // Two same-coloured discs touching: nothing in colour separates them.
    const { image, gold } = shapes([
      { inside: disc(147, 100, 30), rgb: red },
      { inside: disc(90, 100, 30), rgb: red, gold: true },
    ]);
    const box = { x1: 60, y1: 70, x2: 120, y2: 130 };
    const partialBox = { x1: 60, y1: 70, x2: 96, y2: 130 };
    // Default: GrabCut's hard box. Tight on the target, the neighbour stays out; a partial box
    // keeps the mask inside it.
    const dec = new GraphCutDecoder(parseGraphcutParams());
    const tight = await dec.segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(tight.mask, gold)).toBeGreaterThan(0.95);
    const inside = await dec.segment({ image }, { box: partialBox, positives: [], negatives: [] });
    for (let y = 0; y < 200; y++) for (let x = 96; x < 240; x++) expect(inside.mask.data[y * 240 + x]).toBe(0);
    // With slack, a tight box's outline meets each side at a point, so the walls stay...
    const slack = new GraphCutDecoder(parseGraphcutParams(SLACK));
    const tightSlack = await slack.segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(tightSlack.mask, gold)).toBeGreaterThan(0.95);
    // ...and a partial box cutting the target at x = 96 lets the mask run on past the cut, into
    // the slack (15% of the box's width), where the hard box stops it.
    const partial = await slack.segment({ image }, { box: partialBox, positives: [], negatives: [] });
    expect(partial.mask.data[100 * 240 + 100]).toBe(1);
    expect(maskIoU(partial.mask, gold)).toBeGreaterThan(0.7);
  });

  it("sampling: nearest keeps a flat part coloured like a fine-textured background's average; area loses it", async () => {
    // A 1-pixel checkerboard of blue and red averages, on a downsampled crop, to the purple of the
    // target's left half; its right half is yellow. Nearest sampling keeps the checker's two colours
    // apart, so the purple half stands out from them as it does at full size.
    const checker = (x: number, y: number) => (Math.floor(x) + Math.floor(y)) % 2 === 0;
    const { image, gold } = shapes([
      { inside: checker, rgb: [60, 60, 180] },
      { inside: (x, y) => !checker(x, y), rgb: [180, 60, 60] },
      { inside: (x, y) => disc(120, 100, 50)(x, y) && x < 120, rgb: [120, 60, 120], gold: true },
      { inside: (x, y) => disc(120, 100, 50)(x, y) && x >= 120, rgb: [220, 210, 40], gold: true },
    ]);
    const box = { x1: 68, y1: 48, x2: 172, y2: 152 };
    const nearest = await new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 })).segment({ image }, { box, positives: [], negatives: [] });
    const area = await new GraphCutDecoder(parseGraphcutParams({ maxSide: 64, sampling: "area" })).segment({ image }, { box, positives: [], negatives: [] });
    expect(maskIoU(nearest.mask, gold)).toBeGreaterThan(0.85);
    expect(maskIoU(area.mask, gold)).toBeLessThan(maskIoU(nearest.mask, gold) - 0.2);
  });

  it("is deterministic and downsamples large crops", async () => {
    const { image, gold } = scene([{ x0: 40, y0: 30, x1: 200, y1: 170, rgb: red }]);
    const dec = new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 }));
    const p = { box: { x1: 30, y1: 20, x2: 210, y2: 180 }, positives: [{ x: 120, y: 100 }], negatives: [] };
    const a = await dec.segment({ image }, p);
    // A second decoder: the first keeps its recent results, and the computation itself is what must repeat.
    const b = await new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 })).segment({ image }, p);
    expect(a.mask.data).toEqual(b.mask.data);
    expect(maskIoU(a.mask, gold)).toBeGreaterThan(0.9);
  });

  it("a decoder that keeps recent crops and results returns what a fresh one does, in any order, and callers own their masks", async () => {
    const { image } = scene([
      { x0: 60, y0: 60, x1: 120, y1: 140, rgb: red },
      { x0: 120, y0: 70, x1: 180, y1: 130, rgb: red },
    ]);
    const box = { x1: 55, y1: 55, x2: 185, y2: 145 };
    const prompts = [
      { box, positives: [], negatives: [] },
      { box, positives: [{ x: 90, y: 100 }], negatives: [] },
      { box, positives: [{ x: 90, y: 100 }], negatives: [{ x: 150, y: 100 }] },
      { box, positives: [], negatives: [{ x: 150, y: 100 }] },
      // a positive beyond the box grows the region: another crop
      { box, positives: [{ x: 90, y: 100 }, { x: 190, y: 100 }], negatives: [] },
      { box: { x1: 50, y1: 50, x2: 130, y2: 150 }, positives: [], negatives: [] },
    ];
    const fresh = await Promise.all(prompts.map((q) => new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 })).segment({ image }, q)));
    const dec = new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 }));
    // Byte comparison: a deep equality over every mask pixel would cost more than the decodes.
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
    for (const order of [[0, 1, 2, 3, 4, 5], [5, 3, 2, 1, 0, 4], [2, 2, 0, 0]]) {
      for (const i of order) {
        const got = await dec.segment({ image, key: "img" }, prompts[i]!);
        expect(got.score).toBe(fresh[i]!.score);
        expect(same(got.mask.data, fresh[i]!.mask.data), `prompt ${i}`).toBe(true);
        got.mask.data.fill(1);
      }
    }
    // The same key for other pixels would be the caller's error; without a key the pixels are hashed.
    const other = scene([{ x0: 60, y0: 60, x1: 120, y1: 140, rgb: [40, 40, 200] }]).image;
    expect(same((await dec.segment({ image: other }, prompts[0]!)).mask.data, (await new GraphCutDecoder(parseGraphcutParams({ maxSide: 64 })).segment({ image: other }, prompts[0]!)).mask.data)).toBe(true);
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
    expect(() => createDecoder("graphcut", { maxside: 3 })).toThrow(/decoder.params.maxside: unknown key "maxside"; did you mean "maxSide"/);
    expect(() => createDecoder("graphcut", { points: "always" })).toThrow(/decoder.params.points: unknown value "always"; known: corrective, direct/);
  });
});
