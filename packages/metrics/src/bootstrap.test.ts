import { describe, expect, it } from "vitest";
import { randomStream } from "@resagent/core";
import { PointAccumulator, SegmentationAccumulator, bootstrap, differenceReplicates, meanReplicates, pairedBootstrap, percentileInterval, pointEstimates, type ScoredSample } from "./index.js";

/** Samples with random I/U and yes/no queries, some abstaining, some without gold. */
function samples(n: number, seed: number, shift = 0): ScoredSample[] {
  const rng = randomStream(seed, "test-samples");
  return Array.from({ length: n }, (_, k) => {
    const union = k % 17 === 0 ? 0 : 200 + rng.int(800);
    const intersection = union === 0 ? 0 : Math.min(union, Math.round(union * Math.min(1, Math.max(0, 0.6 + shift + 0.3 * rng.normal()))));
    const queries = Array.from({ length: rng.int(6) }, () => {
      const r = rng.next();
      if (r < 0.1) return { pYes: null, decision: "abstain" };
      const pYes = rng.next();
      return { pYes, decision: pYes > 0.6 ? "positive" : pYes < 0.4 ? "negative" : "unsure", ...(rng.next() < 0.9 ? { gold: rng.next() < 0.5 } : {}) };
    });
    return { intersection, union, queries, timing: { mllmQueries: 1 + queries.length }, ...(k % 11 === 0 ? { groundingFailure: "no box" } : {}) };
  });
}

describe("bootstrap over samples", () => {
  const xs = samples(120, 1);

  it("point estimates equal what the accumulators report", () => {
    const seg = new SegmentationAccumulator();
    const pts = new PointAccumulator();
    for (const s of xs) {
      seg.add(s);
      for (const q of s.queries ?? []) {
        if (q.pYes === null || q.pYes === undefined) pts.add(null, q.gold ?? false);
        else if ((q.decision === "positive" || q.decision === "negative") && q.gold !== undefined) pts.add(q.decision === "positive", q.gold);
      }
    }
    const p = pointEstimates(xs);
    const want = seg.summary();
    const pw = pts.summary();
    expect(p.mIoU).toBeCloseTo(want.mIoU, 12);
    expect(p.gIoU).toBeCloseTo(want.gIoU, 12);
    expect(p.cIoU).toBeCloseTo(want.cIoU, 12);
    expect(p.acc).toBeCloseTo(pw.accuracy, 12);
    expect(p.precision).toBeCloseTo(pw.precision, 12);
    expect(p.recall).toBeCloseTo(pw.recall, 12);
    expect(p.f1).toBeCloseTo(pw.f1, 12);
    expect(p.groundingFailureRate).toBeCloseTo(xs.filter((s) => s.groundingFailure).length / xs.length, 12);
  });

  it("is seeded: the same seed and label give the same replicates, another seed different ones", () => {
    const a = bootstrap(xs, { seed: 3, label: "c|val", replicates: 200 });
    const b = bootstrap(xs, { seed: 3, label: "c|val", replicates: 200 });
    const c = bootstrap(xs, { seed: 4, label: "c|val", replicates: 200 });
    expect([...a.mIoU]).toEqual([...b.mIoU]);
    expect([...a.mIoU]).not.toEqual([...c.mIoU]);
  });

  it("gives a 95% interval of the mean about as wide as the normal approximation, around the estimate", () => {
    const iou = xs.map((s) => (s.union === 0 ? 1 : s.intersection / s.union));
    const mean = iou.reduce((x, y) => x + y, 0) / iou.length;
    const sd = Math.sqrt(iou.reduce((x, y) => x + (y - mean) ** 2, 0) / (iou.length - 1));
    const [lo, hi] = percentileInterval(bootstrap(xs, { seed: 0, label: "x", replicates: 2000 }).mIoU)!;
    expect(lo).toBeLessThan(mean);
    expect(hi).toBeGreaterThan(mean);
    const normalWidth = (2 * 1.96 * sd) / Math.sqrt(iou.length);
    expect((hi - lo) / normalWidth).toBeGreaterThan(0.85);
    expect((hi - lo) / normalWidth).toBeLessThan(1.15);
  });

  it("percentile intervals interpolate like numpy and drop undefined replicates", () => {
    const v = Float64Array.from({ length: 101 }, (_, k) => k);
    const near = (got: [number, number] | null, want: [number, number]) => {
      expect(got![0]).toBeCloseTo(want[0], 9);
      expect(got![1]).toBeCloseTo(want[1], 9);
    };
    near(percentileInterval(v), [2.5, 97.5]);
    near(percentileInterval(Float64Array.from([...v, Number.NaN, Number.NaN])), [2.5, 97.5]);
    near(percentileInterval(Float64Array.from([0, 10])), [0.25, 9.75]);
    expect(percentileInterval(Float64Array.from([1, Number.NaN, Number.NaN, Number.NaN]))).toBeNull();
  });

  it("averages of independently resampled groups have replicate-wise means", () => {
    expect([...meanReplicates([Float64Array.from([1, 2]), Float64Array.from([3, 6])])]).toEqual([2, 4]);
  });
});

describe("paired bootstrap", () => {
  it("a run against itself differs by exactly 0", () => {
    const xs = samples(50, 2);
    const r = pairedBootstrap(xs, xs, { seed: 0, label: "same", replicates: 300 });
    expect(percentileInterval(differenceReplicates(r.a.mIoU, r.b.mIoU))).toEqual([0, 0]);
  });

  it("pairing removes sample-to-sample spread: a small uniform gain is detected that unpaired intervals miss", () => {
    const base = samples(60, 5);
    // every sample gains 2 points of IoU
    const better = base.map((s) => ({ ...s, intersection: s.union === 0 ? 0 : Math.min(s.union, s.intersection + Math.round(0.02 * s.union)) }));
    const r = pairedBootstrap(better, base, { seed: 0, label: "gain", replicates: 1000 });
    const [lo, hi] = percentileInterval(differenceReplicates(r.a.mIoU, r.b.mIoU))!;
    expect(lo).toBeGreaterThan(0);
    expect(hi).toBeLessThan(0.03);
    // Unpaired intervals of the two runs overlap widely.
    const ia = percentileInterval(bootstrap(better, { seed: 0, label: "a" }).mIoU)!;
    const ib = percentileInterval(bootstrap(base, { seed: 0, label: "b" }).mIoU)!;
    expect(ia[0]).toBeLessThan(ib[1]);
  });

  it("refuses groups of different sizes", () => {
    expect(() => pairedBootstrap(samples(3, 1), samples(4, 1), { seed: 0, label: "x" })).toThrow(/3 samples in a, 4 in b/);
  });
});
