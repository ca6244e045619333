import { describe, expect, it } from "vitest";
import { randomStream, sha256, type Mask, type Point } from "@resagent/core";
import { multiAnswerText, type ChatBackend, type ChatCompletion, type ChatRequest, type QueryContext } from "@resagent/mllm";
import type { Candidate } from "@resagent/sampler";
import { Verifier, parseVerifierParams, roleSelectionViolations as roleViolations, type VerifierParamsInput } from "./index.js";

/** Answers P(yes) from a table keyed by the point; counts calls. */
class Table implements ChatBackend {
  readonly name = "table";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "table";
  calls = 0;
  constructor(readonly pYes: (p: Point) => number) {}
  describe() {
    return "table (test)";
  }
  async complete(_req: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    this.calls++;
    const ps = ctx.points!.map(this.pYes);
    if (ctx.format === "vbr-multi") return { text: multiAnswerText(ps.map((p) => p >= 0.5), ctx.labels), cached: false, latencyMs: 0 };
    const p = ps[0]!;
    const top = [
      { token: "Yes", logprob: Math.log(p) },
      { token: "No", logprob: Math.log(1 - p) },
    ].sort((a, b) => b.logprob - a.logprob);
    return { text: top[0]!.token, firstTokenTopLogprobs: top, cached: false, latencyMs: 0 };
  }
}

const mask: Mask = { width: 100, height: 10, data: new Uint8Array(1000) };

/** Internal candidates at x = 50 + rank, external at x = rank (ids only; answers come from `pYes`). */
function candidates(k: number): Candidate[] {
  const out: Candidate[] = [];
  for (let r = 0; r < k; r++) {
    out.push({ point: { x: r, y: 1 }, queue: "external", rank: r, entropy: 0 });
    out.push({ point: { x: 50 + r, y: 1 }, queue: "internal", rank: r, entropy: 0 });
  }
  return out;
}

async function run(k: number, pYes: (p: Point) => number, params: VerifierParamsInput = {}) {
  const b = new Table(pYes);
  const r = await new Verifier(b, parseVerifierParams({ colour: "red", ...params })).verify({
    sampleId: "s",
    expression: "x",
    image: undefined,
    imageHash: "h",
    width: 100,
    height: 10,
    box: { x1: 0, y1: 0, x2: 100, y2: 10 },
    candidates: candidates(k),
    gold: { mask },
    rng: randomStream(0, "verifier", "s"),
  });
  return { ...r, calls: b.calls };
}

/** "i2" = internal rank 2, "e0" = external rank 0. */
const name = (p: Point) => (p.x >= 50 ? `i${p.x - 50}` : `e${p.x}`);
const answers = (table: Record<string, number>) => (p: Point) => table[name(p)] ?? 0.5;

describe("select: roles (the authors' select_points_from_queues)", () => {
  it("takes positives from the internal queue and negatives from the external queue, asking in role order", async () => {
    // Internal: i0 no, i1 yes, i2 yes (enough: i3 never asked). External: e0 yes, e1 no (enough).
    const r = await run(4, answers({ i0: 0.1, i1: 0.9, i2: 0.8, i3: 0.9, e0: 0.9, e1: 0.2, e2: 0.1 }));
    expect(r.queries.map((q) => name(q.point))).toEqual(["i0", "i1", "i2", "e0", "e1"]);
    expect(r.positives.map(name)).toEqual(["i1", "i2"]);
    expect(r.negatives.map(name)).toEqual(["e1"]);
    expect(r.queries.filter((q) => q.used).map((q) => q.rule)).toEqual(["internal-positive", "internal-positive", "external-negative"]);
    // i0 said no and e0 said yes, but neither is needed as a fallback.
    expect(r.calls).toBe(5);
  });

  it("falls back to external positives nearest the boundary first, only after the internal queue is exhausted", async () => {
    // Internal has one yes; external: e0 yes, e1 no, e2 yes, e3 yes.
    const r = await run(4, answers({ i0: 0.1, i1: 0.9, i2: 0.2, i3: 0.1, e0: 0.9, e1: 0.1, e2: 0.9, e3: 0.9 }));
    // Internal asked out (one positive), external until its negative (e0, e1), then the fallback
    // walk from the external queue's far end: e3 is a yes, enough.
    expect(r.queries.map((q) => name(q.point))).toEqual(["i0", "i1", "i2", "i3", "e0", "e1", "e3"]);
    expect(r.positives.map(name)).toEqual(["i1", "e3"]);
    expect(r.negatives.map(name)).toEqual(["e1"]);
    expect(r.queries.find((q) => name(q.point) === "e3")!.rule).toBe("fallback-positive");
    expect(roleViolations(r.queries, candidates(4), { positives: 2, negatives: 1 })).toEqual([]);
  });

  it("falls back to internal negatives nearest the centre first when the external queue has none", async () => {
    // External all yes: its negatives are missing. Internal: i0 yes, i1 yes (enough positives), i2 no, i3 no.
    const r = await run(4, answers({ i0: 0.9, i1: 0.9, i2: 0.1, i3: 0.2, e0: 0.9, e1: 0.9, e2: 0.9, e3: 0.9 }));
    expect(r.queries.map((q) => name(q.point))).toEqual(["i0", "i1", "e0", "e1", "e2", "e3", "i3"]);
    expect(r.negatives.map(name)).toEqual(["i3"]);
    expect(r.positives.map(name)).toEqual(["i0", "i1"]);
    expect(r.queries.find((q) => name(q.point) === "i3")!.rule).toBe("fallback-negative");
  });

  it("with early stopping picks exactly what verifying everything would pick, with no more questions", async () => {
    for (let t = 0; t < 120; t++) {
      const k = 1 + (t % 6);
      const pYes = (p: Point) => parseInt(sha256(`${t}/${name(p)}`).slice(0, 8), 16) / 2 ** 32;
      for (const format of ["vbr", "vbr-multi"]) {
        for (const [positives, negatives] of [[2, 1], [1, 2], [3, 2], [0, 1]] as const) {
          const params = { format, positives, negatives, tau: 0.6, multiBatch: 3 };
          const early = await run(k, pYes, params);
          const all = await run(k, pYes, { ...params, earlyStop: false });
          expect(early.positives.map(name), `t=${t} k=${k} ${format} ${positives}/${negatives}`).toEqual(all.positives.map(name));
          expect(early.negatives.map(name)).toEqual(all.negatives.map(name));
          expect(early.calls).toBeLessThanOrEqual(all.calls);
          expect(all.queries).toHaveLength(2 * k);
          for (const r of [early, all]) expect(roleViolations(r.queries, candidates(k), { positives, negatives })).toEqual([]);
        }
      }
    }
  });

  it("without early stopping asks the internal queue first, then the external, as the authors' script does", async () => {
    const r = await run(3, () => 0.9, { earlyStop: false });
    expect(r.queries.map((q) => name(q.point))).toEqual(["i0", "i1", "i2", "e0", "e1", "e2"]);
  });

  it("selectionMode confidence ranks each list by confidence", async () => {
    const table = { i0: 0.7, i1: 0.95, i2: 0.8, i3: 0.1, e0: 0.3, e1: 0.05, e2: 0.9, e3: 0.2 };
    const order = await run(4, answers(table), { earlyStop: false });
    expect(order.positives.map(name)).toEqual(["i0", "i1"]);
    expect(order.negatives.map(name)).toEqual(["e0"]);
    const conf = await run(4, answers(table), { earlyStop: false, selectionMode: "confidence" });
    expect(conf.positives.map(name)).toEqual(["i1", "i2"]);
    expect(conf.negatives.map(name)).toEqual(["e1"]);
    // Fallback lists too: no internal positives, external yes answers by confidence (e2 0.9 > e0 0.6).
    const fb = await run(4, answers({ i0: 0.1, i1: 0.1, i2: 0.1, i3: 0.1, e0: 0.6, e1: 0.1, e2: 0.9, e3: 0.7 }), { earlyStop: false, selectionMode: "confidence", positives: 2 });
    expect(fb.positives.map(name)).toEqual(["e2", "e3"]);
    const fbOrder = await run(4, answers({ i0: 0.1, i1: 0.1, i2: 0.1, i3: 0.1, e0: 0.6, e1: 0.1, e2: 0.9, e3: 0.7 }), { earlyStop: false, positives: 2 });
    expect(fbOrder.positives.map(name)).toEqual(["e3", "e2"]);
  });

  it("VBR-multi asks each queue in batches of its own", async () => {
    const r = await run(4, answers({ i0: 0.9, i1: 0.9, e0: 0.1 }), { format: "vbr-multi" });
    expect(r.calls).toBe(2);
    expect(r.queries.map((q) => q.queue)).toEqual(["internal", "internal", "internal", "internal", "external", "external", "external", "external"]);
    expect(r.positives.map(name)).toEqual(["i0", "i1"]);
  });

  it("checks its keys", () => {
    const b = new Table(() => 0.5);
    expect(() => new Verifier(b, parseVerifierParams({ select: "first" as never }))).toThrow(/verifier.select/);
    expect(() => new Verifier(b, parseVerifierParams({ selectionMode: "best" as never }))).toThrow(/verifier.selectionMode/);
    expect(() => new Verifier(b, parseVerifierParams({ prompts: "code" as never }))).toThrow(/verifier.prompts/);
  });
});
