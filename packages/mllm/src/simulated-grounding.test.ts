import { describe, expect, it } from "vitest";
import { boxIoU, type Box } from "@resagent/core";
import { boxPrompt, parseGrounding } from "./grounding.js";
import { SIMULATED_GROUNDERS, SimulatedBackend } from "./simulated.js";
import { SHARED_ERRORS, phraseCues, phraseDifficulty, simulateGrounding, type GroundingMode, type GroundingModel, type GroundingOutcome } from "./simulated-grounding.js";

const W = 480;
const H = 360;
const gold: Box = { x1: 100, y1: 100, x2: 180, y2: 220 };
/** Two same-category instances: one touching the target, one far away. */
const peers: Box[] = [
  { x1: 178, y1: 110, x2: 250, y2: 215 },
  { x1: 330, y1: 60, x2: 400, y2: 170 },
];
const N = 3000;

function modes(m: GroundingModel, phrase: string, opts: { model?: string; peers?: Box[] } = {}) {
  const count: Record<GroundingMode, number> = { tight: 0, loose: 0, partial: 0, merged: 0, wrong: 0, failure: 0 };
  const ious: number[] = [];
  for (let i = 0; i < N; i++) {
    const out = simulateGrounding(m, { model: opts.model ?? "test", seed: 0, sampleId: `s${i}`, phrase, gold, peers: opts.peers ?? peers, width: W, height: H });
    count[out.mode]++;
    ious.push(out.mode === "failure" ? 0 : boxIoU(out.box, gold));
  }
  const share = Object.fromEntries(Object.entries(count).map(([k, v]) => [k, v / N])) as Record<GroundingMode, number>;
  return { share, ious };
}

describe("phrase difficulty", () => {
  it("reads location words, relations and appearance cues from plain English", () => {
    expect(phraseCues("left man")).toMatchObject({ location: true, relation: false, person: true });
    // "to the left of the box" places the anchor, not the target.
    expect(phraseCues("the red ball to the left of the blue box")).toMatchObject({ location: false, relation: true, colour: true });
    expect(phraseCues("small striped cup")).toMatchObject({ location: false, size: true, pattern: true, colour: false, person: false });
    // A phrase is as easy as its strongest cue; relations and long sentences cost more.
    expect(phraseDifficulty(phraseCues("left cup"))).toBe(1);
    expect(phraseDifficulty(phraseCues("red cup"))).toBe(1.5);
    expect(phraseDifficulty(phraseCues("small cup"))).toBe(3);
    expect(phraseDifficulty(phraseCues("red cup left"))).toBe(1);
    expect(phraseDifficulty(phraseCues("a red cup that is to the left of the box"))).toBeGreaterThan(1.5 * 1.25);
  });
});

describe("simulated grounders", () => {
  const qwen = SIMULATED_GROUNDERS["qwen3-vl-8b"]!.grounding;

  it("answer with a mixture: mostly tight boxes, some loose, partial or merged, some another object", () => {
    const { share, ious } = modes(qwen, "red cup");
    // Mostly (0.749 of 3000 with the shared-error copula); the rates themselves are fitted in grounding.yaml.
    expect(share.tight).toBeGreaterThan(0.7);
    expect(share.wrong).toBeGreaterThan(0.03);
    expect(share.wrong).toBeLessThan(0.2);
    expect(share.loose + share.partial + share.merged).toBeGreaterThan(0.03);
    // Bimodal box IoU: mostly very good, sometimes the wrong object.
    const good = ious.filter((v) => v >= 0.9).length / N;
    const bad = ious.filter((v) => v < 0.3).length / N;
    expect(good).toBeGreaterThan(0.45);
    expect(bad).toBeGreaterThan(0.03);
    expect(ious.filter((v) => v >= 0.3 && v < 0.5).length / N).toBeLessThan(bad);
  });

  it("err more on harder phrases and with more instances of the category; rarely without any", () => {
    const wrong = (phrase: string, p = peers) => modes(qwen, phrase, { peers: p }).share.wrong;
    expect(wrong("small cup")).toBeGreaterThan(wrong("red cup") * 1.5);
    expect(wrong("red cup")).toBeGreaterThan(wrong("cup on the left") * 1.2);
    expect(wrong("red cup", [peers[1]!])).toBeLessThan(wrong("red cup"));
    expect(wrong("red cup", [])).toBeLessThan(wrong("red cup", [peers[1]!]) / 2);
    // People are what grounding data covers best.
    expect(wrong("red man")).toBeLessThan(wrong("red cup"));
    // Merged boxes need a touching instance.
    expect(modes(qwen, "red cup", { peers: [peers[1]!] }).share.merged).toBe(0);
  });

  it("draw from their own streams: two models' errors are correlated but not copies", () => {
    const a: GroundingOutcome[] = [];
    const b: GroundingOutcome[] = [];
    for (let i = 0; i < N; i++) {
      const q = { seed: 0, sampleId: `s${i}`, phrase: "small cup", gold, peers, width: W, height: H };
      a.push(simulateGrounding(qwen, { ...q, model: "qwen3-vl-8b" }));
      b.push(simulateGrounding(qwen, { ...q, model: "qwen3-vl-4b" }));
    }
    const wa = a.map((o) => o.mode === "wrong");
    const wb = b.map((o) => o.mode === "wrong");
    const pa = wa.filter(Boolean).length / N;
    const pb = wb.filter(Boolean).length / N;
    const both = wa.filter((v, i) => v && wb[i]).length / N;
    // A hard sample is hard for both (shared hardness)...
    expect(both).toBeGreaterThan(1.2 * pa * pb);
    // ...but the second model is not a copy of the first.
    expect(both).toBeLessThan(0.8 * Math.min(pa, pb));
    const sameBox = a.filter((o, i) => o.mode === "tight" && b[i]!.mode === "tight" && JSON.stringify(o) === JSON.stringify(b[i])).length;
    expect(sameBox).toBe(0);
    // Same model, same sample: the same answer (deterministic).
    expect(simulateGrounding(qwen, { model: "m", seed: 3, sampleId: "x", phrase: "red cup", gold, peers, width: W, height: H })).toEqual(
      simulateGrounding(qwen, { model: "m", seed: 3, sampleId: "x", phrase: "red cup", gold, peers, width: W, height: H }),
    );
  });

  it("line their errors up across models by the shared correlation, each model's own rates unchanged", () => {
    const pair = (modeCorrelation: number, noiseCorrelation: number) => {
      const m = { ...qwen, modeCorrelation, noiseCorrelation };
      let wa = 0;
      let both = 0;
      let tightIoU = 0;
      let tight = 0;
      for (let i = 0; i < N; i++) {
        const q = { seed: 0, sampleId: `c${i}`, phrase: "small cup", gold, peers, width: W, height: H };
        const a = simulateGrounding(m, { ...q, model: "a" });
        const b = simulateGrounding(m, { ...q, model: "b" });
        if (a.mode === "wrong") wa++;
        if (a.mode === "wrong" && b.mode === "wrong") both++;
        if (a.mode === "tight" && b.mode === "tight") {
          tight++;
          tightIoU += boxIoU(a.box, b.box);
        }
      }
      return { wrong: wa / N, both: both / N, agree: tightIoU / tight };
    };
    const independent = pair(0, 0);
    const shared = pair(SHARED_ERRORS.modes, SHARED_ERRORS.noise);
    // The same marginal error rate (a copula moves only how draws line up)...
    expect(Math.abs(shared.wrong - independent.wrong)).toBeLessThan(0.025);
    // ...but wrong together far more often, and tight boxes closer to each other than to gold.
    expect(shared.both).toBeGreaterThan(2 * independent.both);
    expect(shared.both).toBeLessThan(shared.wrong);
    expect(shared.agree).toBeGreaterThan(independent.agree + 0.03);
  });

  it("keep the coordinate trap: Qwen2.5-VL's absolute pixels read as 0-1000 land far off, read as Qwen2.5 they fit", async () => {
    const b = new SimulatedBackend("qwen2.5-vl-7b", 0);
    expect(b.describe()).toMatch(/writes qwen2\.5 coordinates/);
    let trap = 0;
    let right = 0;
    for (let i = 0; i < 200; i++) {
      const ctx = { kind: "ground" as const, sampleId: `t${i}`, imageWidth: W, imageHeight: H, gold: { box: gold, distractorBoxes: peers } };
      const req = { content: [{ type: "text" as const, text: boxPrompt("red cup") }], maxTokens: 128, topLogprobs: 0 };
      const asQwen3 = parseGrounding((await b.complete(req, { ...ctx, boxConvention: "qwen3" })).text, "qwen3", W, H);
      const asQwen25 = parseGrounding((await b.complete(req, { ...ctx, boxConvention: "qwen2.5" })).text, "qwen2.5", W, H);
      trap += asQwen3.ok ? boxIoU(asQwen3.box, gold) : 0;
      right += asQwen25.ok ? boxIoU(asQwen25.box, gold) : 0;
    }
    expect(trap / 200).toBeLessThan(0.1);
    expect(right / 200).toBeGreaterThan(0.7);
  });

  it("take overrides field by field and read the phrase from the paper's prompt", async () => {
    const perfect = new SimulatedBackend("qwen3-vl-8b", 0, { grounding: { wrongRate: 0, looseRate: 0, failureRate: 0, tightNoise: 0, pixelNoise: 0 } });
    expect(perfect.preset.grounding.personFactor).toBe(qwen.personFactor);
    expect(perfect.preset.vbr).toEqual(new SimulatedBackend("qwen3-vl-8b", 0).preset.vbr);
    const ans = await perfect.complete(
      { content: [{ type: "text", text: boxPrompt("small cup") }], maxTokens: 128, topLogprobs: 0 },
      { kind: "ground", sampleId: "p", imageWidth: W, imageHeight: H, gold: { box: gold, distractorBoxes: peers }, boxConvention: "absolute" },
    );
    const g = parseGrounding(ans.text, "absolute", W, H);
    expect(g.ok && g.box).toEqual(gold);
    expect(() => new SimulatedBackend("qwen3-vl-9b", 0)).toThrow(/unknown simulated preset "qwen3-vl-9b"; known: .*qwen3-vl-8b/);
  });

  it("read the phrase from a request that carries the image, as the pipeline sends it", async () => {
    // The template's own words must not count as the phrase's cues: with the image part in front,
    // every answer is the one the phrase alone gets.
    const b = new SimulatedBackend("qwen3-vl-8b", 0);
    const image = { type: "image" as const, hash: "h", mime: "image/png", render: async () => new Uint8Array(0) };
    let differ = 0;
    for (let i = 0; i < 400; i++) {
      const ctx = { kind: "ground" as const, sampleId: `img${i}`, imageWidth: W, imageHeight: H, gold: { box: gold, distractorBoxes: peers }, boxConvention: "qwen3" as const };
      const text = { type: "text" as const, text: boxPrompt("left cup") };
      const withImage = await b.complete({ content: [image, text], maxTokens: 128, topLogprobs: 0 }, ctx);
      const textOnly = await b.complete({ content: [text], maxTokens: 128, topLogprobs: 0 }, ctx);
      if (withImage.text !== textOnly.text) differ++;
    }
    expect(differ).toBe(0);
  });
});
