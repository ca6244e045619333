/**
 * The graph cut's stages one by one: working crop → colour models → unary terms → point
 * constraints → cut → refine (the decoder as a whole: decoder.test.ts).
 */
import { describe, expect, it } from "vitest";
import { maskIoU, randomStream, type Box, type Mask, type RgbImage } from "@resagent/core";
import { parseGraphcutParams } from "../params.js";
import { colourSeparation, fitColourModels } from "./colour.js";
import { cellOf, discOf, openSides, paintSeeds, pixelOf, sidesOf, workingCrop } from "./crop.js";
import { cutSides, grabCut, minCut } from "./cut.js";
import { pointConstraints } from "./points.js";
import { fullResolutionMask } from "./refine.js";
import { HARD, unaryTerms } from "./unary.js";

const W = 200;
const H = 160;
const RED: [number, number, number] = [200, 40, 40];
const GREEN: [number, number, number] = [60, 140, 70];
/** A red rectangle [60, 140) × [40, 120) on noisy green. */
function scene(): { image: RgbImage; gold: Mask } {
  const r = randomStream(1, "graphcut-stages");
  const data = new Uint8Array(W * H * 3);
  const gold = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = x >= 60 && x < 140 && y >= 40 && y < 120;
      gold[y * W + x] = inside ? 1 : 0;
      const rgb = inside ? RED : GREEN;
      for (let c = 0; c < 3; c++) data[3 * (y * W + x) + c] = Math.max(0, Math.min(255, Math.round(rgb[c]! + r.normal(0, 8))));
    }
  }
  return { image: { width: W, height: H, data }, gold: { width: W, height: H, data: gold } };
}
const { image, gold } = scene();
const BOX: Box = { x1: 50, y1: 30, x2: 150, y2: 130 };
const P = parseGraphcutParams();
const prompt = (positives: { x: number; y: number }[] = [], negatives: { x: number; y: number }[] = [], box = BOX) => ({ box, positives, negatives });
/** The ROI nodes' labels of the gold mask. */
const goldLabels = (c: ReturnType<typeof workingCrop>) => {
  const l = new Uint8Array(c.n);
  for (let y = c.roi.y0; y < c.roi.y1; y++) for (let x = c.roi.x0; x < c.roi.x1; x++) if (gold.data[y * W + x]) l[cellOf(c, x, y)] = 1;
  return l;
};

describe("working crop", () => {
  it("is the box plus a background ring, downsampled to maxSide, with the outside of the box fixed background", () => {
    const c = workingCrop(image, prompt(), P);
    expect(c.roi).toEqual({ x0: 50, y0: 30, x1: 150, y1: 130 });
    // ring = max(ringMin, 0.25 × 100) = 25 on each side, clipped to the image
    expect(c.crop).toEqual({ x0: 25, y0: 5, x1: 175, y1: 155 });
    expect(c.s).toBe(1);
    expect([c.rw, c.rh, c.n]).toEqual([100, 100, 10_000]);
    expect(c.ringIdx.length).toBe(150 * 150 - 100 * 100);
    expect(c.hard.every((h) => h === 0)).toBe(true);
    const small = workingCrop(image, prompt(), parseGraphcutParams({ maxSide: 50 }));
    expect(small.s).toBeCloseTo(50 / 150);
    expect(Math.max(small.cw, small.ch)).toBe(50);
  });

  it("grows the region only to hold positives outside the box, and marks slack nodes", () => {
    expect(workingCrop(image, prompt([{ x: 160.5, y: 60 }]), P).roi.x1).toBe(161);
    // A positive on the box's edge does not move the crop (agreeing points change nothing).
    expect(workingCrop(image, prompt([{ x: 150, y: 60 }]), P).roi).toEqual(workingCrop(image, prompt(), P).roi);
    const slack = workingCrop(image, prompt(), parseGraphcutParams({ boxSlack: 0.1 }));
    expect(slack.roi).toEqual({ x0: 40, y0: 20, x1: 160, y1: 140 });
    expect(new Set(slack.hard)).toEqual(new Set([0, 2]));
    expect(new Set(workingCrop(image, prompt(), parseGraphcutParams({ boxSlack: 0.1, slack: "always" })).hard)).toEqual(new Set([0, 3]));
    // Opening the left side frees only the nodes beyond it alone, in a new crop.
    const left = openSides(slack, sidesOf(BOX, [{ x: 45, y: 80 }]));
    expect(sidesOf(BOX, [{ x: 45, y: 80 }])).toBe(1);
    expect(left.hard.filter((h) => h === 3).length).toBe(10 * 100);
    expect(slack.hard.includes(3)).toBe(false);
  });

  it("paints seed discs (a positive wins an overlap); a negative outside the region has none", () => {
    const c = workingCrop(image, prompt(), P);
    expect(discOf(c, { x: 100, y: 80 }).length).toBe(52);
    const seed = paintSeeds(c, [{ x: 100, y: 80 }], [{ x: 102, y: 80 }]);
    expect(seed[pixelOf(c, { x: 100, y: 80 })]).toBe(1);
    expect(seed[pixelOf(c, { x: 104, y: 80 })]).toBe(2);
    expect(pixelOf(c, { x: 10, y: 10 })).toBe(-1);
    expect(discOf(c, { x: 10, y: 10 })).toEqual([]);
  });
});

describe("colour models", () => {
  const c = workingCrop(image, prompt(), P);
  it("fit foreground to the labelled nodes and background to the rest and the ring", () => {
    const m = fitColourModels(c, goldLabels(c), {}, P.components, undefined)!;
    expect(m.fg.logLikelihood(...RED)).toBeGreaterThan(m.bg.logLikelihood(...RED) + 10);
    expect(m.bg.logLikelihood(...GREEN)).toBeGreaterThan(m.fg.logLikelihood(...GREEN) + 10);
    // A later fit starts from the previous models' components: still the same separation.
    const again = fitColourModels(c, goldLabels(c), {}, P.components, m)!;
    expect(again.fg.logLikelihood(...RED)).toBeCloseTo(m.fg.logLikelihood(...RED), 2);
  });

  it("are not fitted when a side has nothing to learn from", () => {
    expect(fitColourModels(c, new Uint8Array(c.n), {}, P.components, undefined)).toBeUndefined();
    const whole = workingCrop(image, prompt([], [], { x1: 0, y1: 0, x2: W, y2: H }), parseGraphcutParams({ maxSide: 64 }));
    expect(fitColourModels(whole, new Uint8Array(whole.n).fill(1), {}, P.components, undefined)).toBeUndefined();
  });

  it("score a mask by how well colour separates it: the object near 1, a random split near 0, nothing 0", () => {
    expect(colourSeparation(c, goldLabels(c), P.components)).toBeGreaterThan(0.9);
    const r = randomStream(0, "split");
    expect(colourSeparation(c, Uint8Array.from(goldLabels(c), () => (r.uniform(0, 1) < 0.5 ? 1 : 0)), P.components)).toBeLessThan(0.2);
    expect(colourSeparation(c, new Uint8Array(c.n), P.components)).toBe(0);
  });
});

describe("unary terms", () => {
  it("price each label by colour, fix hard seeds and the outside of the box, and add the soft pulls", () => {
    const c = workingCrop(image, prompt(), parseGraphcutParams({ boxSlack: 0.1 }));
    const models = fitColourModels(c, goldLabels(c), {}, P.components, undefined)!;
    const inRed = pixelOf(c, { x: 100, y: 80 });
    const inGreen = pixelOf(c, { x: 55, y: 35 });
    const outside = pixelOf(c, { x: 45, y: 80 });
    const seed = new Uint8Array(c.n);
    seed[pixelOf(c, { x: 70, y: 50 })] = 1;
    const u = unaryTerms(c, models, seed, undefined, P);
    // Source = foreground: labelling a red node background costs much more than foreground.
    expect(u.source[inRed]!).toBeGreaterThan(u.sink[inRed]! + 10);
    expect(u.sink[inGreen]!).toBeGreaterThan(u.source[inGreen]! + 10);
    expect([u.source[outside], u.sink[outside]]).toEqual([0, HARD]);
    expect(u.source[pixelOf(c, { x: 70, y: 50 })]).toBe(HARD);
    const softly = unaryTerms(c, models, seed, undefined, parseGraphcutParams({ seeds: "soft", seedStrength: 5 }));
    const k = pixelOf(c, { x: 70, y: 50 });
    expect(softly.source[k]! - u.sink[k]!).not.toBe(HARD);
    expect(softly.source[k]).toBeCloseTo(unaryTerms(c, models, new Uint8Array(c.n), undefined, P).source[k]! + 5, 9);
    const slack = openSides(c, 1);
    expect(unaryTerms(slack, models, new Uint8Array(c.n), undefined, P).sink[outside]).toBeCloseTo(-models.fg.logLikelihood(...slackColour(slack, outside)) + P.outsideBias, 9);
  });
});

/** The working crop's colour at ROI node k. */
function slackColour(c: ReturnType<typeof workingCrop>, k: number): [number, number, number] {
  const i = 3 * c.cropIdx[k]!;
  return [c.px[i]!, c.px[i + 1]!, c.px[i + 2]!];
}

describe("point constraints", () => {
  const c = workingCrop(image, prompt(), P);
  it("lean a negative's coloured-alike zone to background and pull around a missed positive, fading with distance", () => {
    const neg = { x: 56, y: 80 };
    const pos = { x: 100, y: 80 };
    const t = pointConstraints(c, { positives: [pos], negatives: [neg] }, { pos: [pos], neg: [neg] }, undefined, P);
    const near = pixelOf(c, { x: 54, y: 82 });
    expect(t.fgCost[near]).toBeGreaterThan(0);
    expect(t.negZone[near]).toBeGreaterThan(0);
    expect(t.fgCost[pixelOf(c, { x: 120, y: 80 })]).toBe(0);
    expect(t.bgCost[pixelOf(c, { x: 102, y: 80 })]!).toBeGreaterThan(t.bgCost[pixelOf(c, { x: 130, y: 110 })]!);
    expect(t.bgCost[near]).toBe(0);
  });

  it("give each label's votes at most its seed weight, all of it when nothing contradicts the point", () => {
    const pos = { x: 100, y: 80 };
    const t = pointConstraints(c, { positives: [pos], negatives: [] }, { pos: [pos], neg: [] }, undefined, P);
    expect(t.posVotes.share.reduce((a, b) => a + b, 0)).toBeCloseTo(P.seedWeight, 9);
    expect(t.negVotes.idx).toEqual([]);
    // A negative on the object's colour, next to a positive of that colour: its votes shrink.
    const neg = { x: 104, y: 84 };
    const both = pointConstraints(c, { positives: [pos], negatives: [neg] }, { pos: [pos], neg: [neg] }, undefined, P);
    expect(both.negVotes.share.reduce((a, b) => a + b, 0)).toBeLessThan(0.25 * P.negativeSeedWeight);
  });
});

describe("cut", () => {
  const c = workingCrop(image, prompt(), P);
  it("one min-cut follows the unary terms where they are hard", () => {
    const all = { source: new Float64Array(c.n).fill(HARD), sink: new Float64Array(c.n) };
    expect(minCut(c, all, () => false, false).every((l) => l === 1)).toBe(true);
    expect(minCut(c, all, (k) => k === 0, false)[0]).toBe(0);
  });

  it("GrabCut from the box finds the object, with its colour models", () => {
    const init = Uint8Array.from(c.hard, (h) => (h ? 0 : 1));
    const cut = grabCut(c, new Uint8Array(c.n), init, undefined, false, P);
    expect(cut.models).toBeDefined();
    const want = goldLabels(c);
    const agree = cut.labels.reduce((a, l, k) => a + (l === want[k] ? 1 : 0), 0);
    expect(agree / c.n).toBeGreaterThan(0.98);
  });

  it("with a free border, cuts an object the box runs through; says which sides cut it (looking into the slack), none for a box around it", () => {
    const slack = parseGraphcutParams({ boxSlack: 0.1 });
    const cutOf = (box: Box, freeBorder: boolean) => {
      const w = workingCrop(image, prompt([], [], box), slack);
      const cut = grabCut(w, new Uint8Array(w.n), Uint8Array.from(w.hard, (h) => (h ? 0 : 1)), undefined, freeBorder, slack);
      return { area: cut.labels.reduce((a, l) => a + l, 0), sides: cutSides(w, cut) };
    };
    // The box's edge costs smoothness where it cuts a uniform object: without a free border the cut is empty.
    expect(cutOf({ x1: 90, y1: 30, x2: 150, y2: 130 }, false).area).toBe(0);
    expect(cutOf({ x1: 90, y1: 30, x2: 150, y2: 130 }, true)).toEqual({ area: 50 * 80, sides: 1 });
    expect(cutOf({ x1: 90, y1: 50, x2: 130, y2: 110 }, true).sides).toBe(15);
    expect(cutOf(BOX, false)).toEqual({ area: 80 * 80, sides: 0 });
  });
});

describe("refine", () => {
  it("maps a downsampled cut to full resolution, and re-cuts its blocky boundary there", () => {
    const coarse = parseGraphcutParams({ maxSide: 24 });
    const c = workingCrop(image, prompt(), coarse);
    expect(c.s).toBeLessThan(1);
    const cut = grabCut(c, new Uint8Array(c.n), Uint8Array.from(c.hard, (h) => (h ? 0 : 1)), undefined, false, coarse);
    const blocky = fullResolutionMask(c, cut, { ...coarse, refine: false });
    for (const [x, y] of [[52, 33], [100, 80], [147, 128]] as const) expect(blocky.data[y * W + x]).toBe(cut.labels[cellOf(c, x, y)]);
    const refined = fullResolutionMask(c, cut, coarse);
    expect(maskIoU(refined, gold)).toBeGreaterThan(maskIoU(blocky, gold));
    expect(maskIoU(refined, gold)).toBeGreaterThan(0.95);
  });
});
