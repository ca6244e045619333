import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { emptyMask, maskValueAt, randomStream, sha256, type Box, type Mask, type RgbImage, type Sample } from "@resagent/core";
import { multiAnswerText, type ChatBackend, type ChatCompletion, type ChatRequest, type QueryContext } from "@resagent/mllm";
import { ComponentPool, PIPELINE_DEFAULTS, Pipeline, parsePipelineConfig, type LoadedSample, type PipelineInput } from "./index.js";

/**
 * `select: interleaved` (with a shared spiral draw and the paper's wording) must reproduce the
 * records the harness wrote before issue 19. The fixture was written by the code of commit
 * be50e94 with RESAGENT_WRITE_LEGACY_FIXTURE=1; everything here is test-local (fake backends whose
 * answers hash the prompt text, drawn masks, the `box` decoder), so other components changing
 * cannot move it.
 */
const FIXTURE = fileURLToPath(new URL("./fixtures/legacy-records.jsonl", import.meta.url));
const WRITE = process.env.RESAGENT_WRITE_LEGACY_FIXTURE === "1";

const u01 = (s: string) => parseInt(sha256(s).slice(0, 12), 16) / 2 ** 48;

/** A grounder whose box is the gold box moved by amounts hashed from the prompt text. */
class FakeGrounder implements ChatBackend {
  readonly name = "fake-grounder";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "fake-grounder";
  describe() {
    return "fake grounder (test)";
  }
  async complete(req: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    const text = req.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    const g = ctx.gold!.box!;
    const w = g.x2 - g.x1;
    const h = g.y2 - g.y1;
    const j = (k: string) => (u01(`${text}/${k}`) - 0.5) * 0.2;
    const b = [g.x1 + j("x1") * w, g.y1 + j("y1") * h, g.x2 + j("x2") * w, g.y2 + j("y2") * h].map((v) => Math.round(v * 100) / 100);
    return { text: JSON.stringify([{ bbox_2d: b, label: "t" }]), cached: false, latencyMs: 0 };
  }
}

/** A verifier: P(yes) from the gold mask plus noise hashed from the prompt text and the point. */
class FakeVerifier implements ChatBackend {
  readonly name = "fake-verifier";
  readonly simulated = true;
  readonly needsImages = false;
  readonly identity = "fake-verifier";
  describe() {
    return "fake verifier (test)";
  }
  async complete(req: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    const text = req.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    const pYes = ctx.points!.map((p) => {
      const inside = maskValueAt(ctx.gold!.mask!, p) === 1;
      const u = u01(`${text}/${p.x.toFixed(3)},${p.y.toFixed(3)}`);
      return inside ? 0.3 + 0.69 * u : 0.01 + 0.69 * u;
    });
    if (ctx.format === "vbr-multi") return { text: multiAnswerText(pYes.map((p) => p >= 0.5)), cached: false, latencyMs: 0 };
    const p = pYes[0]!;
    const top = [
      { token: "Yes", logprob: Math.log(0.8 * p) },
      { token: "No", logprob: Math.log(0.8 * (1 - p)) },
      { token: "yes", logprob: Math.log(0.15 * p) },
      { token: "no", logprob: Math.log(0.15 * (1 - p)) },
    ].sort((a, b) => b.logprob - a.logprob);
    return { text: top[0]!.token, firstTokenTopLogprobs: req.topLogprobs > 0 ? top.slice(0, req.topLogprobs) : undefined, cached: false, latencyMs: 0 };
  }
}

/** An ellipse-ish object with a notch, so some points near the box centre are outside it. */
function drawnSample(i: number, W: number, H: number, box: Box): LoadedSample {
  const mask: Mask = emptyMask(W, H);
  const cx = (box.x1 + box.x2) / 2;
  const cy = (box.y1 + box.y2) / 2;
  const a = (box.x2 - box.x1) / 2;
  const b = (box.y2 - box.y1) / 2;
  for (let y = Math.floor(box.y1); y < box.y2; y++) {
    for (let x = Math.floor(box.x1); x < box.x2; x++) {
      const u = (x + 0.5 - cx) / a;
      const v = (y + 0.5 - cy) / b;
      const notch = i % 2 === 0 && u > -0.15 && u < 0.15 && v < 0.2;
      if (u * u + v * v <= 1 && !notch) mask.data[y * W + x] = 1;
    }
  }
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  const sample: Sample = { id: `s${i}`, source: "test/legacy", imagePath: `s${i}.png`, width: W, height: H, expression: `the object number ${i} on the left`, goldMask: mask, goldBox: box };
  return { sample, image, imageHash: sha256(`image${i}`) };
}

function samples(): LoadedSample[] {
  const out: LoadedSample[] = [];
  for (let i = 0; i < 8; i++) {
    const r = randomStream(7, "legacy-samples", String(i));
    const W = 480;
    const H = 360;
    // Elongated, tall, square and small boxes.
    const shapes: [number, number][] = [[400, 80], [80, 300], [200, 200], [40, 30], [300, 120], [150, 260], [60, 60], [420, 200]];
    const [w, h] = shapes[i]!;
    const x1 = r.uniform(0, W - w);
    const y1 = r.uniform(0, H - h);
    out.push(drawnSample(i, W, H, { x1, y1, x2: x1 + w, y2: y1 + h }));
  }
  return out;
}

const GROUNDER = { backend: "oracle", cache: "memory", convention: "absolute", pick: "first" } as const;
// Another seed than the grounder's: the same backend config would be one shared backend.
const VERIFIER = { backend: "oracle", perturbation: "none", cache: "memory", seed: 1 } as const;

const CELLS: Record<string, PipelineInput> = {
  default: {},
  decoded: { verifier: { aggregation: "decoded" } },
  textualXY: { verifier: { format: "textual:(x,y)", aggregation: "decoded" } },
  textualEq: { k: 3, verifier: { format: "textual:x=, y=", tau: 0.7 } },
  multi: { k: 5, verifier: { format: "vbr-multi", multiBatch: 3 } },
  all: { verifier: { earlyStop: false, tau: 0 } },
  random: { sampler: { name: "random" } },
  entropy: { k: 2, sampler: { name: "ebd-spiral", params: { rank: "entropy", merge: "internal-first" } }, verifier: { positives: 1, negatives: 2 } },
  grid: { k: 3, sampler: { name: "grid" }, verifier: { tau: 0.8 } },
  code: { k: 5, sampler: { name: "ebd-spiral", params: { densify: "code" } }, verifier: { positives: 3, negatives: 2 } },
};

/**
 * The keys that select pre-issue-19 behaviour (absent from the code that wrote the fixture), and
 * since issue 20 the old confidence rule (normalised) and decoding (box + points only), since
 * issue 29 the old VBR-multi drawing (one colour and shape per question).
 */
function legacy(cfg: PipelineInput): PipelineInput {
  if (WRITE) return cfg;
  const sampler: NonNullable<PipelineInput["sampler"]> = cfg.sampler ?? PIPELINE_DEFAULTS.sampler;
  return {
    ...cfg,
    mllm: { ...GROUNDER, boxPrompt: "paper" },
    sampler: sampler.name === "ebd-spiral" ? { ...sampler, params: { ...sampler.params, queues: "split" } } : sampler,
    verifier: { ...cfg.verifier, select: "interleaved", prompts: "paper", multiMarkers: "uniform", aggregation: cfg.verifier?.aggregation ?? "normalised" },
    decode: { fallback: "none", margin: 0, emptyPoints: "none" },
  };
}

/** Record fields added since the fixture was written (issue 20: each answer's decoded answer and confidence, how the mask was decoded). */
function withoutNewFields(line: string): string {
  const r = JSON.parse(line) as { decode?: unknown; queries: { answer?: unknown; confidence?: unknown }[] };
  delete r.decode;
  for (const q of r.queries) {
    delete q.answer;
    delete q.confidence;
  }
  return JSON.stringify(r);
}

async function records(): Promise<string[]> {
  const pool = new ComponentPool();
  pool.provideBackend(GROUNDER, 0, new FakeGrounder());
  pool.provideBackend(VERIFIER, 0, new FakeVerifier());
  const lines: string[] = [];
  const data = samples();
  for (const [name, over] of Object.entries(CELLS)) {
    const cfg: PipelineInput = {
      ...PIPELINE_DEFAULTS,
      mllm: GROUNDER,
      verifierMllm: VERIFIER,
      decoder: { name: "box" },
      ...over,
      verifier: { ...over.verifier },
    };
    const p = new Pipeline(parsePipelineConfig(legacy(cfg)), 0, pool);
    for (const s of data) {
      const { timing: _t, ...rec } = await p.run(s, name);
      lines.push(JSON.stringify(rec));
    }
  }
  return lines;
}

describe("select: interleaved reproduces the pre-issue-19 records", () => {
  it.runIf(WRITE || existsSync(FIXTURE))("matches the fixture written by the old code, line for line", async () => {
    const got = await records();
    if (WRITE) {
      writeFileSync(FIXTURE, `${got.join("\n")}\n`);
      return;
    }
    const want = readFileSync(FIXTURE, "utf8").split("\n").filter(Boolean);
    expect(got.length).toBe(want.length);
    got.forEach((line, i) => expect(withoutNewFields(line), `record ${i}`).toBe(want[i]));
  });
});

describe("grounding prompt", () => {
  it("is the authors' by default, the paper's on request, and a bad template fails when the config is parsed", async () => {
    const seen: string[] = [];
    class Recording extends FakeGrounder {
      override async complete(req: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
        seen.push(req.content.map((c) => (c.type === "text" ? c.text : "")).join(""));
        return super.complete(req, ctx);
      }
    }
    const pool = new ComponentPool();
    pool.provideBackend(GROUNDER, 0, new Recording());
    pool.provideBackend(VERIFIER, 0, new FakeVerifier());
    const s = samples()[0]!;
    const base: PipelineInput = { ...PIPELINE_DEFAULTS, mllm: GROUNDER, verifierMllm: VERIFIER, decoder: { name: "box" }, k: 0 };
    await new Pipeline(parsePipelineConfig(base), 0, pool).run(s, "a");
    await new Pipeline(parsePipelineConfig({ ...base, mllm: { ...GROUNDER, boxPrompt: "paper" } }), 0, pool).run(s, "b");
    expect(seen).toEqual([
      // tools.py inference_bbox
      "Identify the target referred to by 'the object number 0 on the left' in the image and return its bounding box in JSON format.",
      "Identify the object referred to by 'the object number 0 on the left' in the image and return its bounding box in JSON format.",
    ]);
    expect(() => parsePipelineConfig({ ...base, mllm: { ...GROUNDER, boxPrompt: "papr" } })).toThrow(/^pipeline\.mllm\.boxPrompt: expected "authors", "paper" or a template with an \{expr\} slot, got "papr"$/);
  });
});
