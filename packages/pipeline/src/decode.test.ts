import { describe, expect, it } from "vitest";
import { boxToMask, emptyMask, sha256, type Mask, type RgbImage, type Sample } from "@resagent/core";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "@resagent/decoder";
import type { ChatBackend, ChatCompletion, ChatRequest, QueryContext } from "@resagent/mllm";
import { ComponentPool, PIPELINE_DEFAULTS, Pipeline, parsePipelineConfig, type LoadedSample, type PipelineInput } from "./index.js";

/**
 * A decoder whose score is set per test from the prompt: `scoreOf(prompt)`; its mask is the box,
 * with the points' pixels marked so tests can tell which branch's mask was kept.
 */
let scoreOf: (p: Prompt) => number = () => 0.5;
const calls: Prompt[] = [];
class ScriptedDecoder implements Decoder {
  readonly name = "scripted-test";
  describe() {
    return "scripted test decoder";
  }
  async segment({ image }: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    calls.push(prompt);
    const mask: Mask = boxToMask(prompt.box, image.width, image.height);
    // The points branch's mask differs from the box-only one: it leaves out the box's first row.
    if (prompt.positives.length + prompt.negatives.length) for (let x = 0; x < image.width; x++) mask.data[Math.floor(prompt.box.y1) * image.width + x] = 0;
    return { mask, score: scoreOf(prompt) };
  }
}

/** Verifier answers from a fixed rule: yes everywhere (`yes`) or no everywhere. */
class Answers implements ChatBackend {
  readonly name = "answers";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "answers";
  constructor(readonly answer: "Yes" | "Sorry") {}
  describe() {
    return "fixed answers (test)";
  }
  async complete(_r: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    if (ctx.kind === "ground") return { text: JSON.stringify([{ bbox_2d: [20, 10, 60, 40] }]), cached: false, latencyMs: 0 };
    return { text: this.answer, firstTokenTopLogprobs: [{ token: this.answer, logprob: -0.01 }], cached: false, latencyMs: 0 };
  }
}

function sample(): LoadedSample {
  const W = 80;
  const H = 50;
  const goldMask = emptyMask(W, H);
  for (let y = 10; y < 40; y++) for (let x = 20; x < 60; x++) goldMask.data[y * W + x] = 1;
  const s: Sample = { id: "d0", source: "test/decode", imagePath: "d0.png", width: W, height: H, expression: "it", goldMask, goldBox: { x1: 20, y1: 10, x2: 60, y2: 40 } };
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  return { sample: s, image, imageHash: sha256("d0") };
}

async function run(over: PipelineInput, answer: "Yes" | "Sorry" = "Yes") {
  const G = { backend: "oracle", cache: "off", convention: "absolute", pick: "first" } as const;
  const V = { backend: "oracle", perturbation: "none", cache: "off" } as const;
  const pool = new ComponentPool();
  pool.provideBackend(G, 0, new Answers(answer));
  pool.provideBackend(V, 0, new Answers(answer));
  // The box decoder's place, taken by the scripted one.
  pool.provideDecoder({ name: "box" }, new ScriptedDecoder());
  calls.length = 0;
  const cfg = parsePipelineConfig({ ...PIPELINE_DEFAULTS, mllm: G, verifierMllm: V, decoder: { name: "box" }, k: 2, ...over, verifier: { tau: 0, ...over.verifier } });
  return new Pipeline(cfg, 0, pool).run(sample(), "c");
}

describe("decoding as the authors' sam2_decode + choose_decode_branch (final 1778–1895)", () => {
  it("sam-score (default): box + points and the box alone, the points kept only when their score is higher", async () => {
    scoreOf = (p) => (p.positives.length ? 0.9 : 0.6);
    const won = await run({});
    expect(calls.map((p) => p.positives.length + p.negatives.length > 0)).toEqual([true, false]);
    expect(won.decode).toEqual({ branch: "points", pointsScore: 0.9, boxScore: 0.6 });
    expect(won.score).toBe(0.9);
    scoreOf = (p) => (p.positives.length ? 0.5 : 0.6);
    const lost = await run({});
    expect(lost.decode).toEqual({ branch: "box", pointsScore: 0.5, boxScore: 0.6 });
    expect(lost.score).toBe(0.6);
    // The kept mask is the box-only one (its first row is set).
    expect(lost.iou).toBeGreaterThan(won.iou);
  });

  it("ties keep the box, and the margin is what the points must beat the box by", async () => {
    scoreOf = () => 0.7;
    expect((await run({})).decode?.branch).toBe("box");
    scoreOf = (p) => (p.positives.length ? 0.75 : 0.7);
    expect((await run({ decode: { margin: 0.1 } })).decode?.branch).toBe("box");
    expect((await run({ decode: { margin: 0.01 } })).decode?.branch).toBe("points");
    expect((await run({ decode: { margin: -0.1 } })).decode?.branch).toBe("points");
  });

  it("fallback: none decodes once, box + points", async () => {
    scoreOf = (p) => (p.positives.length ? 0.1 : 0.9);
    const r = await run({ decode: { fallback: "none" } });
    expect(calls).toHaveLength(1);
    expect(r.decode).toEqual({ branch: "points", pointsScore: 0.1 });
  });

  it("emptyPoints: centre puts the box centre in as a positive when no point survives; none leaves the box alone", async () => {
    scoreOf = (p) => (p.positives.length ? 0.8 : 0.4);
    const centre = await run({}, "Sorry");
    expect(centre.positives).toEqual([]);
    expect(calls[0]!.positives).toEqual([{ x: 40, y: 25 }]);
    expect(centre.decode).toEqual({ branch: "points", pointsScore: 0.8, boxScore: 0.4, centre: [40, 25] });
    const none = await run({ decode: { emptyPoints: "none" } }, "Sorry");
    // No point at all: the points branch is the box branch, decoded once.
    expect(calls).toHaveLength(1);
    expect(none.decode).toEqual({ branch: "box", pointsScore: 0.4 });
  });

  it("K = 0 (the baseline) decodes the box alone, with neither rule", async () => {
    scoreOf = () => 0.5;
    const r = await run({ k: 0 });
    expect(calls).toEqual([{ box: { x1: 20, y1: 10, x2: 60, y2: 40 }, positives: [], negatives: [] }]);
    expect(r.decode).toBeUndefined();
  });

  it("bad values are refused when the config is parsed", async () => {
    await expect(run({ decode: { fallback: "sam_score" as "none" } })).rejects.toThrow(/pipeline.decode.fallback/);
    await expect(run({ decode: { emptyPoints: "center" as "none" } })).rejects.toThrow(/pipeline.decode.emptyPoints/);
    await expect(run({ kExternal: -1 })).rejects.toThrow(/pipeline.kExternal/);
  });
});

describe("kExternal: a different candidate count for the external queue (the authors' release: 10 and 4)", () => {
  it("gives each queue what a sampler with its own K gives", async () => {
    scoreOf = () => 0.5;
    const both = await run({ k: 10, verifier: { earlyStop: false } });
    const split = await run({ k: 10, kExternal: 4, verifier: { earlyStop: false } });
    const q = (r: typeof both, queue: string) => r.candidates.filter((c) => c.queue === queue);
    expect(q(split, "internal")).toEqual(q(both, "internal"));
    expect(q(split, "external")).toEqual(q(both, "external").slice(0, 4));
    expect(q(split, "external")).toHaveLength(4);
    expect(split.queries).toHaveLength(14);
  });
});
