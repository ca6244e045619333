import { afterAll, describe, expect, it } from "vitest";
import { InputError, emptyMask, sha256, type Mask, type Point, type RgbImage, type Sample } from "@resagent/core";
import { type DecodeResult, type Decoder, type DecoderImage, type Prompt } from "@resagent/decoder";
import type { ChatBackend, ChatCompletion, ChatRequest, QueryContext } from "@resagent/mllm";
import { registerValueScorer, type PointValueScorer, type ValueContext } from "@resagent/sampler";
import { ComponentPool, PIPELINE_DEFAULTS, Pipeline, parsePipelineConfig, type LoadedSample, type PipelineInput } from "./index.js";

const W = 80;
const H = 60;
/** Gold: x in [20, 60). The decoder's box-only mask stops at x = 50; a positive right of it restores the rest. */
const cols = (to: number): Mask => {
  const m = emptyMask(W, H);
  for (let y = 10; y < 50; y++) for (let x = 20; x < to; x++) m.data[y * W + x] = 1;
  return m;
};
const calls: Prompt[] = [];
class ColumnDecoder implements Decoder {
  readonly name = "column-test";
  describe() {
    return "column test decoder";
  }
  async segment(_i: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    calls.push(prompt);
    return { mask: cols(prompt.positives.some((p) => p.x >= 50) ? 60 : 50), score: 0.5 };
  }
}

class Answers implements ChatBackend {
  readonly name = "answers";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "answers";
  describe() {
    return "fixed answers (test)";
  }
  async complete(_r: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    if (ctx.kind === "ground") return { text: JSON.stringify([{ bbox_2d: [20, 10, 60, 50] }]), cached: false, latencyMs: 0 };
    return { text: "Yes", firstTokenTopLogprobs: [{ token: "Yes", logprob: -0.01 }], cached: false, latencyMs: 0 };
  }
}

/** A stand-in for the learned ranking: prefers points on the left; remembers what it was given. */
const seen: ValueContext[] = [];
class LeftFirst implements PointValueScorer {
  readonly name = "learned-value";
  readonly upperBound = false;
  describe() {
    return "left-first (test)";
  }
  async score(points: readonly Point[], ctx: ValueContext): Promise<number[]> {
    seen.push(ctx);
    await ctx.boxOnlyMask();
    return points.map((p) => -p.x);
  }
}
afterAll(registerValueScorer("learned-value", { description: "test", create: () => new LeftFirst() }));

function sample(): LoadedSample {
  const s: Sample = { id: "r0", source: "test/rank", imagePath: "r0.png", width: W, height: H, expression: "it", goldMask: cols(60), goldBox: { x1: 20, y1: 10, x2: 60, y2: 50 } };
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  return { sample: s, image, imageHash: sha256("r0") };
}

function pipeline(sampler: PipelineInput["sampler"], k = 2): Pipeline {
  const G = { backend: "oracle", cache: "off", convention: "absolute", pick: "first" } as const;
  const pool = new ComponentPool();
  pool.provideBackend(G, 0, new Answers());
  // The box decoder's place, taken by the column one.
  pool.provideDecoder({ name: "box" }, new ColumnDecoder());
  return new Pipeline(parsePipelineConfig({ ...PIPELINE_DEFAULTS, mllm: G, decoder: { name: "box" }, sampler, k, verifier: { tau: 0 } }), 0, pool);
}

describe("sampler.rank", () => {
  it("oracle-value: each queue keeps its K best of the pool by measured value, says UPPER BOUND, and decodes the box alone once", async () => {
    const p = pipeline({ name: "random", rank: "oracle-value", pool: 3 });
    expect(p.describe().ranking).toMatch(/^UPPER BOUND \(the ranking reads gold\): oracle-value: UPPER BOUND .* a pool of 3 x K/);
    calls.length = 0;
    const r = await p.run(sample(), "c");
    expect(r.ranking!.by).toBe("oracle-value");
    expect(r.ranking!.upperBound).toBe(true);
    expect(r.ranking!.pool).toHaveLength(2 * 3 * 2);
    // The kept candidates are each queue's highest-scoring pool points, best first.
    for (const queue of ["external", "internal"]) {
      const pool = r.ranking!.pool.filter((c) => c.queue === queue);
      const kept = r.candidates.filter((c) => c.queue === queue);
      const best = [...pool].sort((a, b) => b.score - a.score).slice(0, 2);
      expect(kept.map((c) => [c.x, c.y])).toEqual(best.map((c) => [c.x, c.y]));
      // a point right of x = 50 restores a fifth of gold: value 1 - 30/40
      for (const c of pool) expect(c.score).toBeCloseTo(c.x >= 50 ? 1 - 30 / 40 : 0, 6);
    }
    expect(calls.filter((c) => c.positives.length + c.negatives.length === 0)).toHaveLength(1);
  });

  it("learned-value ranks without gold, reads the shared box-only decode, and leaves the queue roles to the verifier", async () => {
    seen.length = 0;
    calls.length = 0;
    const p = pipeline({ name: "ebd-spiral", rank: "learned-value" }, 3);
    expect(p.describe().ranking).toMatch(/^left-first \(test\); each queue keeps its K best of a pool of 4 x K \(ebd-spiral pool\)$/);
    const r = await p.run(sample(), "c");
    expect(seen).toHaveLength(1);
    expect(seen[0]!.gold).toBeUndefined();
    expect(r.ranking!.upperBound).toBeUndefined();
    for (const queue of ["external", "internal"]) {
      const kept = r.candidates.filter((c) => c.queue === queue).map((c) => c.x);
      expect(kept).toEqual([...kept].sort((a, b) => a - b));
      expect(kept).toHaveLength(3);
    }
    expect(calls.filter((c) => c.positives.length + c.negatives.length === 0)).toHaveLength(1);
    // the verifier still asks the internal queue for positives first (queue roles)
    expect(r.queries[0]!.queue).toBe("internal");
  });

  it("refuses a pool that is not a positive integer, and a pool without a ranking", () => {
    expect(() => pipeline({ name: "random", rank: "oracle-value", pool: 0 })).toThrow(InputError);
    expect(() => pipeline({ name: "random", rank: "oracle-value", pool: 0 })).toThrow(/pipeline\.sampler\.pool: expected a number >= 1, got 0/);
    expect(() => pipeline({ name: "random", pool: 2 })).toThrow(/pipeline\.sampler\.pool: applies to a ranking/);
  });
});
