import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError, emptyMask, sha256, type Box, type RgbImage, type Sample } from "@resagent/core";
import { CachedBackend, SimulatedBackend, type ChatBackend, type ChatCompletion, type ChatRequest, type QueryContext } from "@resagent/mllm";
import type { GrounderInput } from "@resagent/mllm";
import { ComponentPool, PIPELINE_DEFAULTS, Pipeline, parsePipelineConfig, type LoadedSample, type PipelineConfig, type PipelineInput } from "./index.js";

const W = 100;
const H = 80;
const GOLD: Box = { x1: 20, y1: 10, x2: 60, y2: 50 };

function sample(id: string, goldBox: Box | null = GOLD): LoadedSample {
  const goldMask = emptyMask(W, H);
  for (let y = 10; y < 50; y++) for (let x = 20; x < 60; x++) goldMask.data[y * W + x] = 1;
  const s: Sample = { id, source: "test/ensemble", imagePath: `${id}.png`, width: W, height: H, expression: `the thing ${id}`, goldMask, ...(goldBox ? { goldBox } : {}) };
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  return { sample: s, image, imageHash: sha256(id) };
}

/** A grounder that always answers the same text, counting its calls. */
class Fixed implements ChatBackend {
  readonly name = "fixed";
  readonly simulated = true;
  readonly needsImages = false;
  calls = 0;
  constructor(
    readonly identity: string,
    readonly text: string,
  ) {}
  describe() {
    return `fixed answer ${this.identity} (test)`;
  }
  async complete(_r: ChatRequest, _c: QueryContext): Promise<ChatCompletion> {
    this.calls++;
    return { text: this.text, cached: false, latencyMs: 0 };
  }
}

const box = (b: number[]) => JSON.stringify([{ bbox_2d: b }]);
/** Distinct configs (by seed) so the pool keeps one backend per expert. */
const cfg = (seed: number): GrounderInput => ({ backend: "oracle", seed, cache: "off", convention: "absolute", pick: "first" });
const base = (grounding: PipelineInput["grounding"]): PipelineConfig => parsePipelineConfig({ ...PIPELINE_DEFAULTS, k: 0, decoder: { name: "box" }, grounding });

function pipelineWith(answers: string[], router: NonNullable<PipelineConfig["grounding"]>["router"]) {
  const pool = new ComponentPool();
  const experts = answers.map((a, i) => {
    const b = new Fixed(`e${i}`, a);
    pool.provideBackend(cfg(i + 1), 0, b);
    return b;
  });
  return { p: new Pipeline(base({ experts: answers.map((_, i) => cfg(i + 1)), router }), 0, pool), experts };
}

describe("ensemble grounding", () => {
  it("records every expert's box and parse failure; failed experts drop out before routing", async () => {
    const { p } = pipelineWith([box([20, 10, 60, 50]), "I cannot see it", box([22, 10, 62, 50]), box([200, 200, 300, 300])], "first-valid");
    const r = await p.run(sample("a"), "c");
    expect(r.ensemble!.experts.map((e) => e.box)).toEqual([[20, 10, 60, 50], null, [22, 10, 62, 50], [100, 80, 100, 80]].map((b, i) => (i === 3 ? null : b)));
    expect(r.ensemble!.experts[1]!.failure).toMatch(/no box in answer/);
    // A box outside the image is empty once clamped: a failure too.
    expect(r.ensemble!.experts[3]!.failure).toMatch(/degenerate box/);
    expect(r.ensemble!.experts[0]!.boxIoU).toBe(1);
    expect(r.box).toEqual([20, 10, 60, 50]);
    expect(r.ensemble!.from).toEqual([0]);
    expect(r.groundingFailure).toBeUndefined();
    expect(r.timing.mllmQueries).toBe(4);

    // With the first expert failing, first-valid takes the next usable one, and `from` indexes the experts as configured.
    const second = await pipelineWith(["nothing", box([22, 10, 62, 50]), box([20, 10, 60, 50])], "first-valid").p.run(sample("b"), "c");
    expect(second.ensemble!.from).toEqual([1]);
    expect(second.box).toEqual([22, 10, 62, 50]);

    // The medoid of the usable three is the middle one; the unparseable answer plays no part.
    const med = await pipelineWith([box([24, 10, 64, 50]), "garbage", box([20, 10, 60, 50]), box([22, 10, 62, 50])], "medoid").p.run(sample("c"), "c");
    expect(med.ensemble!.from).toEqual([3]);
    expect(med.ensemble!.router).toBe("medoid");
  });

  it("fails grounding as a single grounder does when every expert fails", async () => {
    const { p } = pipelineWith(["no", "nope"], "medoid");
    const r = await p.run(sample("d"), "c");
    expect(r.box).toBeNull();
    expect(r.groundingFailure).toMatch(/^every expert failed \(2 of 2\); the first: no box in answer/);
    expect(r.iou).toBe(0);
    expect(r.ensemble!.from).toEqual([]);
  });

  it("labels oracle-best as an upper bound in the record and the description, and refuses samples without a gold box", async () => {
    const { p } = pipelineWith([box([0, 0, 30, 30]), box([21, 10, 60, 50])], "oracle-best");
    const r = await p.run(sample("e"), "c");
    expect(r.ensemble!.upperBound).toBe(true);
    expect(r.ensemble!.from).toEqual([1]);
    expect(p.describe().grounding).toMatch(/^UPPER BOUND \(the router looks at the gold box\): ensemble of 2 grounders via oracle-best/);
    await expect(p.run(sample("f", null), "c")).rejects.toThrow(/pipeline\.grounding\.router: the oracle-best router needs the sample's gold box/);
    const m = pipelineWith([box([0, 0, 30, 30]), box([21, 10, 60, 50])], "medoid").p;
    expect(m.describe().grounding).toMatch(/^ensemble of 2 grounders via medoid \(the expert box with the highest summed IoU to the others\): /);
    expect((await m.run(sample("g"), "c")).ensemble!.upperBound).toBeUndefined();
  });

  it("asks the experts concurrently", async () => {
    let inFlight = 0;
    let most = 0;
    class Slow extends Fixed {
      override async complete(r: ChatRequest, c: QueryContext): Promise<ChatCompletion> {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((res) => setTimeout(res, 20));
        inFlight--;
        return super.complete(r, c);
      }
    }
    const pool = new ComponentPool();
    for (let i = 0; i < 3; i++) pool.provideBackend(cfg(i + 1), 0, new Slow(`s${i}`, box([20, 10, 60, 50])));
    await new Pipeline(base({ experts: [cfg(1), cfg(2), cfg(3)], router: "medoid" }), 0, pool).run(sample("h"), "c");
    expect(most).toBe(3);
  });

  it("leaves the single-grounder path as it was: no ensemble field, one query", async () => {
    const pool = new ComponentPool();
    pool.provideBackend(cfg(9), 0, new Fixed("single", box([20, 10, 60, 50])));
    const r = await new Pipeline(parsePipelineConfig({ ...PIPELINE_DEFAULTS, k: 0, decoder: { name: "box" }, mllm: cfg(9) }), 0, pool).run(sample("i"), "c");
    expect(r.ensemble).toBeUndefined();
    expect(r.timing.mllmQueries).toBe(1);
    expect(r.box).toEqual([20, 10, 60, 50]);
  });

  it("checks its config before any work, naming the field", () => {
    const one = () => base({ experts: [cfg(1)], router: "medoid" });
    expect(one).toThrow(InputError);
    expect(one).toThrow(/^pipeline\.grounding\.experts: an ensemble needs at least 2 grounders \(one grounder alone: set pipeline\.mllm\), got \[/);
    expect(() => base({ experts: [cfg(1), cfg(2)], router: "median" as "medoid" })).toThrow(/^pipeline\.grounding\.router: unknown value "median"; did you mean "mean"\? \(known: medoid, trimmed-mean, vote-mean, mean, first-valid, oracle-best\)$/);
    expect(() => base({ experts: [cfg(1), { ...cfg(2), boxPrompt: "no slot" }], router: "mean" })).toThrow(/^pipeline\.grounding\.experts\[1\]\.boxPrompt: expected "authors", "paper" or a template/);
    expect(() => base({ experts: [cfg(1), cfg(2)], router: "vote-mean", voteIoU: 1.5 })).toThrow(/^pipeline\.grounding\.voteIoU: expected a number <= 1, got 1\.5$/);
  });
});

describe("ensemble grounding through the response cache", () => {
  /** The calls each simulated expert made on its own (not answered by the cache). */
  const innerCalls = (p: Pipeline) => p.experts.map((e) => ((e.backend as CachedBackend).inner as SimulatedBackend).stats().groundQueries);

  it("adding a router to a run that already asked the experts issues no new request", async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), "resagent-ensemble-cache-"));
    const expert = (preset: string): GrounderInput => ({ backend: "simulated", preset, convention: "qwen3", cache: "disk", cacheDir });
    const experts = [expert("qwen3-vl-8b"), expert("qwen3-vl-4b"), expert("glm-4.6v-flash")];
    const samples = ["s0", "s1", "s2", "s3", "s4"].map((id) => sample(id));

    // A single-grounder run of one expert first (another process: its own pool).
    const single = new ComponentPool();
    const one = new Pipeline(parsePipelineConfig({ ...PIPELINE_DEFAULTS, k: 0, decoder: { name: "box" }, mllm: experts[0]! }), 0, single);
    for (const s of samples) await one.run(s, "single");
    await single.dispose();

    // The medoid run asks only the two experts the cache has not seen.
    const first = new ComponentPool();
    const med = new Pipeline(base({ experts, router: "medoid" }), 0, first);
    const medoid = [];
    for (const s of samples) medoid.push(await med.run(s, "medoid"));
    expect(innerCalls(med)).toEqual([0, 5, 5]);
    await first.dispose();

    // Then vote-mean over the same experts: every answer from the cache, none asked again.
    const second = new ComponentPool();
    const vote = new Pipeline(base({ experts, router: "vote-mean" }), 0, second);
    const voted = [];
    for (const s of samples) voted.push(await vote.run(s, "vote"));
    expect(innerCalls(vote)).toEqual([0, 0, 0]);
    expect(voted.every((r) => r.timing.cacheHits === 3 && r.timing.mllmQueries === 3)).toBe(true);
    expect(second.allBackends().reduce((a, b) => a + ((b as CachedBackend).stats().cacheMisses ?? 0), 0)).toBe(0);
    // The same expert boxes, whichever router reads them.
    expect(voted.map((r) => r.ensemble!.experts)).toEqual(medoid.map((r) => r.ensemble!.experts));
    await second.dispose();
  });
});
