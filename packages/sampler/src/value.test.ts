import { describe, expect, it } from "vitest";
import { InputError, emptyMask, randomStream, type Box, type Mask, type Point } from "@resagent/core";
import { OracleValueScorer, RandomSampler, SpiralSampler, parseRandomParams, parseSpiralParams, createValueScorer, measureTeacher, normalise, pointValue, rankPool, teacherValues, type ValueContext } from "./index.js";

const radius = (p: Point, b: Box) => {
  const q = normalise(p, b);
  return Math.max(Math.abs(q.x), Math.abs(q.y));
};
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const inBox = (p: Point, b: Box) => p.x >= b.x1 && p.x < b.x2 && p.y >= b.y1 && p.y < b.y2;

describe("candidate pools for a ranking", () => {
  const box = { x1: 40, y1: 30, x2: 360, y2: 250 };

  it("spiral: n per queue from further draws, the centre half external, starting with the spiral's own queues", () => {
    const s = new SpiralSampler(parseSpiralParams());
    for (let i = 0; i < 20; i++) {
      const rng = () => randomStream(7, "sampler", String(i));
      const pool = s.pool(box, 16, rng(), { width: 400, height: 300 });
      expect(pool.external).toHaveLength(16);
      expect(pool.internal).toHaveLength(16);
      for (const p of [...pool.external, ...pool.internal]) expect(inBox(p, box)).toBe(true);
      expect(mean(pool.external.map((p) => radius(p, box)))).toBeLessThan(mean(pool.internal.map((p) => radius(p, box))));
      // The first draw is the one `sample` makes: at K = 2 the pool's first points are its queues.
      const own = s.sample(box, 2, rng(), { width: 400, height: 300 });
      expect(pool.external.slice(0, 2)).toEqual(own.external);
      expect(pool.internal.slice(0, 2)).toEqual(own.internal);
      expect(s.pool(box, 16, rng(), { width: 400, height: 300 })).toEqual(pool);
    }
  });

  it("spiral with one draw split in two: the queues stay disjoint", () => {
    const s = new SpiralSampler(parseSpiralParams({ queues: "split" }));
    const pool = s.pool(box, 12, randomStream(1, "sampler", "a"));
    const key = (p: Point) => `${p.x},${p.y}`;
    const ext = new Set(pool.external.map(key));
    expect(pool.internal.some((p) => ext.has(key(p)))).toBe(false);
    expect(pool.external.length + pool.internal.length).toBe(24);
  });

  it("random: 2n uniform points, the nearer half external, each half in draw order", () => {
    const pool = new RandomSampler(parseRandomParams()).pool(box, 8, randomStream(3, "sampler", "x"));
    expect(pool.external).toHaveLength(8);
    expect(pool.internal).toHaveLength(8);
    expect(Math.max(...pool.external.map((p) => radius(p, box)))).toBeLessThanOrEqual(Math.min(...pool.internal.map((p) => radius(p, box))));
    expect(new RandomSampler(parseRandomParams()).pool(box, 8, randomStream(3, "sampler", "x"))).toEqual(pool);
    expect(new RandomSampler(parseRandomParams()).pool(box, 0, randomStream(3, "sampler", "x")).ordered).toEqual([]);
  });
});

describe("point value (the teacher)", () => {
  it("is the larger IoU gain of the two answers, never below 0", () => {
    expect(pointValue(0.5, 0.7, 0.4)).toBeCloseTo(0.2, 12);
    expect(pointValue(0.5, 0.45, 0.6)).toBeCloseTo(0.1, 12);
    expect(pointValue(0.5, 0.3, 0.5)).toBe(0);
  });

  it("measures the box alone once and each point twice", async () => {
    const asked: string[] = [];
    const m = await measureTeacher([{ x: 1, y: 1 }, { x: 2, y: 2 }], async (pos, neg) => {
      asked.push(`${pos.length}+${neg.length}`);
      return pos.length ? 0.9 : neg.length ? 0.2 : 0.6;
    });
    expect(asked).toEqual(["0+0", "1+0", "0+1", "1+0", "0+1"]);
    expect(teacherValues(m).map((v) => Math.round(v * 100) / 100)).toEqual([0.3, 0.3]);
  });
});

/** A 10x10 image whose gold is the left half; the decoder's box-only mask misses column 4, which a positive there restores. */
function context(gold?: Mask): { ctx: ValueContext; decodes: () => number } {
  let n = 0;
  const half = (cols: number) => {
    const m = emptyMask(10, 10);
    for (let y = 0; y < 10; y++) for (let x = 0; x < cols; x++) m.data[y * 10 + x] = 1;
    return m;
  };
  const ctx: ValueContext = {
    sampleId: "s",
    image: { width: 10, height: 10, data: new Uint8Array(300) },
    imageKey: "img",
    box: { x1: 0, y1: 0, x2: 10, y2: 10 },
    expression: "the left half",
    boxOnlyMask: async () => (n++, half(4)),
    decode: async ({ positives }) => (n++, half(positives.some((p) => p.x >= 4 && p.x < 5) ? 5 : 4)),
    ...(gold ? { gold } : {}),
  };
  return { ctx, decodes: () => n };
}

describe("oracle-value ranking (UPPER BOUND)", () => {
  const goldLeft = (() => {
    const m = emptyMask(10, 10);
    for (let y = 0; y < 10; y++) for (let x = 0; x < 5; x++) m.data[y * 10 + x] = 1;
    return m;
  })();

  it("scores by the decoder's gain with gold, says UPPER BOUND, and decodes each prompt once", async () => {
    const s = createValueScorer("oracle-value");
    expect(s.upperBound).toBe(true);
    expect(s.describe()).toMatch(/UPPER BOUND/);
    const { ctx, decodes } = context(goldLeft);
    const pts = [{ x: 1.5, y: 5 }, { x: 4.5, y: 5 }, { x: 8, y: 2 }];
    const v = await s.score(pts, ctx);
    expect(v[1]).toBeCloseTo(1 - 0.8, 12);
    expect(v[0]).toBe(0);
    expect(v[2]).toBe(0);
    expect(decodes()).toBe(1 + 2 * 3);
    expect(await s.score(pts.slice(1), ctx)).toEqual(v.slice(1));
    expect(decodes()).toBe(7);
    expect((s as OracleValueScorer).stats().oracleValueMemoHits).toBe(1 + 2 * 2);
  });

  it("refuses a sample without a gold mask", async () => {
    await expect(new OracleValueScorer().score([{ x: 1, y: 1 }], context().ctx)).rejects.toThrow(InputError);
  });

  it("an unknown ranking names the known ones", () => {
    expect(() => createValueScorer("oracle-valu")).toThrow(/sampler\.rank: unknown point ranking "oracle-valu"; did you mean "oracle-value"/);
  });
});

describe("rankPool", () => {
  it("keeps each queue's k best (ties in pool order), best first, and merges them", () => {
    const p = (x: number) => ({ x, y: 0 });
    const box = { x1: 0, y1: -1, x2: 10, y2: 1 };
    const pool = { external: [p(1), p(2), p(3)], internal: [p(7), p(8), p(9)], ordered: [], info: {} };
    const r = rankPool(pool, [0.1, 0.5, 0.5, 0.9, 0, 0.2], { external: 2, internal: 1 }, "interleave", box);
    expect(r.external).toEqual([p(2), p(3)]);
    expect(r.internal).toEqual([p(7)]);
    expect(r.ordered.map((c) => [c.queue, c.point.x, c.rank])).toEqual([
      ["external", 2, 0],
      ["internal", 7, 0],
      ["external", 3, 1],
    ]);
    expect(() => rankPool(pool, [1], { external: 1, internal: 1 }, "interleave", box)).toThrow(RangeError);
  });
});
