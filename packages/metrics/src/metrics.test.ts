import { describe, expect, it } from "vitest";
import type { Mask } from "@resagent/core";
import { IGNORE, PointAccumulator, SegmentationAccumulator, TimingAccumulator, quantile, sampleIoU } from "./index.js";

const m = (rows: string[]): Mask => {
  const width = rows[0]!.length;
  const data = new Uint8Array(rows.length * width);
  rows.forEach((r, y) => [...r].forEach((ch, x) => (data[y * width + x] = ch === "1" ? 1 : ch === "i" ? IGNORE : 0)));
  return { width, height: rows.length, data };
};

describe("segmentation metrics", () => {
  it("drops ignore pixels from both I and U, as LISA's intersectionAndUnion does", () => {
    const pred = m(["1100", "1100"]);
    const gold = m(["1ii0", "1000"]);
    // Pixels (1,0),(2,0) are ignored; pred has 3 counted fg pixels, gold 2, overlap 2.
    expect(sampleIoU(pred, gold)).toEqual({ intersection: 2, union: 3, iou: 2 / 3 });
  });

  it("computes gIoU, cIoU and mIoU exactly as LISA, with the empty-union rule", () => {
    const acc = new SegmentationAccumulator();
    acc.add(m(["11", "00"]), m(["10", "00"])); // I=1 U=2
    acc.add(m(["00", "00"]), m(["00", "00"])); // I=0 U=0: counts 1
    acc.add(m(["11", "11"]), m(["00", "01"])); // I=1 U=4
    const s = acc.summary();
    expect(s.n).toBe(3);
    expect(s.gIoU).toBeCloseTo((1 / (2 + 1e-5) + 1 + 1 / (4 + 1e-5)) / 3, 12);
    expect(s.mIoU).toBeCloseTo((0.5 + 1 + 0.25) / 3, 12);
    expect(s.cIoU).toBeCloseTo(2 / (6 + 1e-10), 12);
  });

  it("merged shards equal one pass", () => {
    const all = new SegmentationAccumulator();
    const a = new SegmentationAccumulator();
    const b = new SegmentationAccumulator();
    const samples = [
      { intersection: 3, union: 7 },
      { intersection: 0, union: 0 },
      { intersection: 5, union: 5 },
      { intersection: 1, union: 9 },
    ];
    samples.forEach((s, i) => {
      all.add(s);
      (i % 2 ? a : b).add(s);
    });
    const merged = SegmentationAccumulator.fromState(a.state()).merge(b).summary();
    const one = all.summary();
    // Same sums in another order: equal up to floating-point rounding.
    for (const k of ["n", "mIoU", "gIoU", "cIoU", "sumI", "sumU"] as const) expect(merged[k]).toBeCloseTo(one[k], 12);
  });

  it("rejects a prediction of the wrong size", () => {
    expect(() => sampleIoU(m(["11"]), m(["1", "1"]))).toThrow(/gold mask: mask is 1x2 but 2x1 was expected/);
  });
});

describe("point classification", () => {
  it("accuracy, precision, recall, F1 and abstentions", () => {
    const acc = new PointAccumulator();
    acc.add(true, true).add(true, false).add(false, true).add(false, false).add(true, true).add(null, true);
    const s = acc.summary();
    expect(s).toMatchObject({ tp: 2, fp: 1, fn: 1, tn: 1, abstained: 1, n: 5 });
    expect(s.accuracy).toBeCloseTo(3 / 5);
    expect(s.precision).toBeCloseTo(2 / 3);
    expect(s.recall).toBeCloseTo(2 / 3);
    expect(s.f1).toBeCloseTo(2 / 3);
    const merged = PointAccumulator.fromState(acc.state()).merge(acc).summary();
    expect(merged.tp).toBe(4);
    expect(merged.accuracy).toBeCloseTo(3 / 5);
  });
});

describe("timing", () => {
  it("median and p90 per stage, numpy-style interpolation", () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.9)).toBeCloseTo(9);
    const t = new TimingAccumulator();
    for (let i = 1; i <= 10; i++) t.addAll({ decode: i, verify: 2 * i });
    const s = t.summary();
    expect(s.decode).toMatchObject({ n: 10, median: 5.5, total: 55 });
    expect(s.verify!.p90).toBeCloseTo(18.2, 10); // values 2..20: position 8.1 -> 18 + 0.1 * 2
    const twice = TimingAccumulator.fromState(t.state()).merge(t).summary();
    expect(twice.decode!.n).toBe(20);
  });
});
