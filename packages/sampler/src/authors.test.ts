import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { randomStream, type RandomStream } from "@resagent/core";
import { createSampler, dedupePixels, finalRandomCandidates, samplerStandIn } from "./index.js";

/** Values of the final script's random strategy, its numpy draws replaced by a recorded list (see the fixture's `from`). */
const F = JSON.parse(readFileSync(new URL("../test/fixtures/authors-random.json", import.meta.url), "utf8")) as {
  random: { box: number[]; image: [number, number]; internal: number; external: number; draws: number[]; used: number; internalPoints: number[][]; externalPoints: number[][] }[];
  dedupe: { image: [number, number]; points: number[][]; kept: number[][] }[];
};

/** A stream that hands out the recorded uniforms in order: int(n) = floor(u n), uniform(a, b) = a + (b − a) u, as the fixture's generator. */
function recorded(us: readonly number[]): RandomStream & { used: () => number } {
  let i = 0;
  const next = () => {
    if (i >= us.length) throw new Error("more draws than the authors' code made");
    return us[i++]!;
  };
  const s = randomStream(0, "unused");
  return Object.assign(Object.create(s) as RandomStream, {
    next,
    uniform: (lo: number, hi: number) => lo + (hi - lo) * next(),
    int: (n: number) => Math.floor(next() * n),
    used: () => i,
  });
}

const pts = (ps: { x: number; y: number }[]) => ps.map((p) => [p.x, p.y]);

describe("the final script's random strategy and pixel de-duplication", () => {
  it("dedupe_points: clipped to the last pixel, one point per rounded pixel, first kept", () => {
    for (const c of F.dedupe) expect(pts(dedupePixels(c.points.map(([x, y]) => ({ x: x!, y: y! })), c.image[0], c.image[1]))).toEqual(c.kept);
  });

  it("replays build_candidates_by_strategy('random') draw for draw: integer pixels inside, points outside within 25% of the box, the grid fallback", () => {
    let fallbacks = 0;
    for (const c of F.random) {
      const rng = recorded(c.draws);
      const b = { x1: c.box[0]!, y1: c.box[1]!, x2: c.box[2]!, y2: c.box[3]! };
      const got = finalRandomCandidates(b, c.internal, c.external, { width: c.image[0], height: c.image[1] }, rng);
      expect(pts(got.internal), JSON.stringify(c.box)).toEqual(c.internalPoints);
      expect(pts(got.external).length).toBe(c.externalPoints.length);
      pts(got.external).forEach((p, i) => {
        expect(p[0]).toBeCloseTo(c.externalPoints[i]![0]!, 9);
        expect(p[1]).toBeCloseTo(c.externalPoints[i]![1]!, 9);
      });
      expect(rng.used()).toBe(c.used);
      if (b.x1 === 0 && b.y1 === 0 && b.x2 === c.image[0] - 1) fallbacks++;
      for (const p of got.external) expect(p.x >= b.x1 && p.x <= b.x2 && p.y >= b.y1 && p.y <= b.y2).toBe(false);
    }
    expect(fallbacks).toBeGreaterThan(0);
  });

  it("is the random sampler's placement final; the harness's default stays in the box", () => {
    const box = { x1: 100, y1: 80, x2: 180, y2: 140 };
    const image = { width: 320, height: 240 };
    const fin = createSampler("random", { placement: "final" }).sample(box, 4, randomStream(1, "s", "x"), image);
    expect(fin.external.every((p) => p.x < 100 || p.x > 180 || p.y < 80 || p.y > 140)).toBe(true);
    expect(fin.internal.every((p) => Number.isInteger(p.x) && Number.isInteger(p.y))).toBe(true);
    const box0 = createSampler("random").sample(box, 4, randomStream(1, "s", "x"), image);
    expect([...box0.external, ...box0.internal].every((p) => p.x >= 100 && p.x < 180 && p.y >= 80 && p.y < 140)).toBe(true);
    expect(() => createSampler("random", { placement: "final" }).sample(box, 4, randomStream(1, "s", "x"))).toThrow(/needs the image size/);
    expect(() => createSampler("random", { placement: "outside" })).toThrow(/sampler.params.placement/);
  });

  it("the authors' learned strategy: no scorer here, so it fails before any work; its stand-in is labelled and unscored", () => {
    const real = createSampler("authors-learned");
    expect(() => real.check!()).toThrow(/sampler: the authors' learned point-usefulness scorer .* was not released/);
    expect(samplerStandIn({ name: "authors-learned" })).toBeUndefined();
    const stand = createSampler("authors-learned", { standIn: "unscored-pool" });
    expect(() => stand.check!()).not.toThrow();
    expect(stand.describe!()).toMatch(/^STAND-IN/);
    expect(samplerStandIn({ name: "authors-learned", params: { standIn: "unscored-pool" } })).toMatch(/in place of the authors' learned point scorer/);
    const c = stand.sample({ x1: 100, y1: 80, x2: 180, y2: 140 }, 10, randomStream(0, "s", "x"), { width: 320, height: 240 });
    expect([c.internal.length, c.external.length]).toEqual([10, 10]);
  });
});
