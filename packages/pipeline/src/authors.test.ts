import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256, type RgbImage, type Sample } from "@resagent/core";
import type { ChatBackend, ChatCompletion, QueryContext } from "@resagent/mllm";
import { dedupePixels } from "@resagent/sampler";
import { ComponentPool, Pipeline, parsePipelineConfig, pipelineStandIns, type LoadedSample, type PipelineInput } from "./index.js";

/**
 * Two lines of the authors' router_eval_medoid/refcocog_umd_test_medoid_choices.jsonl, as released
 * (the box file's resolution is tested against the final script in @resagent/mllm).
 */
const BOXES = mkdtempSync(join(tmpdir(), "resagent-router-"));
writeFileSync(
  join(BOXES, "refcocog_umd_test_medoid_choices.jsonl"),
  [
    '{"key": "refcocog:test:380440:0:8", "dataset": "refcocog", "splitBy": "umd", "split": "test", "image_id": 380440, "ref_id": 0, "sent_id": 8, "expr": "the man in yellow coat", "img_file": "COCO_train2014_000000380440.jpg", "w": 640, "h": 376, "model": "medoid", "pred_box_xyxy": [375.68, 68.808, 510.72, 263.2], "raw_text": "[[376,69,511,263]]", "error": null}',
    '{"key": "refcocog:test:380440:0:9", "dataset": "refcocog", "splitBy": "umd", "split": "test", "image_id": 380440, "ref_id": 0, "sent_id": 9, "expr": "skiier in red pants", "img_file": "COCO_train2014_000000380440.jpg", "w": 640, "h": 376, "model": "medoid", "pred_box_xyxy": [375.68, 68.808, 510.72, 263.952], "raw_text": "[[376,69,511,264]]", "error": null}',
  ].join("\n"),
);

function loaded(W: number, H: number, source: string, meta: Record<string, number>): LoadedSample {
  const s: Sample = { id: `${source}:${meta.ref}.${meta.sentence}`, source, imagePath: "x.png", width: W, height: H, expression: "it", meta };
  const image: RgbImage = { width: W, height: H, data: new Uint8Array(W * H * 3) };
  return { sample: s, image, imageHash: sha256(`${W}x${H}`) };
}

const boxFile = { backend: "box-file", boxes: { dir: BOXES }, convention: "absolute" } as const;
const base: PipelineInput = { mllm: boxFile, decoder: { name: "box" }, k: 0 };
const pipeline = (over: PipelineInput = {}, pool?: ComponentPool) => new Pipeline(parsePipelineConfig({ ...base, ...over }), 0, pool);

describe("the authors' release settings through the pipeline", () => {
  it("grounds from the router file: the sample's ref and sentence, the box the final script uses", async () => {
    for (const [sentence, box] of [[8, [376, 69, 511, 263]], [9, [376, 69, 511, 264]]] as const) {
      const rec = await pipeline().run(loaded(640, 376, "refcocog/test (refs, first)", { ref: 0, sentence }), "router");
      expect(rec.box).toEqual(box);
    }
    await expect(pipeline().run(loaded(640, 376, "refcocog/test", { ref: 123456, sentence: 7 }), "router")).rejects.toThrow(/no box for refcocog:test:123456:7/);
    expect(() => pipeline({ mllm: { ...boxFile, convention: "qwen3" } })).toThrow(/pipeline\.mllm\.convention: expected absolute with the box-file backend/);
  });

  it("onGroundingFailure full-image is the final script's fallback box [0, 0, W − 1, H − 1]", async () => {
    const failing: ChatBackend = { name: "f", simulated: true, needsImages: false, identity: "f", describe: () => "f", complete: async (): Promise<ChatCompletion> => ({ text: "no idea", cached: false, latencyMs: 0 }) };
    const G = { backend: "oracle", cache: "off", convention: "absolute", pick: "first" } as const;
    const pool = new ComponentPool();
    pool.provideBackend(G, 0, failing);
    const rec = await pipeline({ mllm: G, onGroundingFailure: "full-image" }, pool).run(loaded(640, 427, "t/x", { ref: 1, sentence: 1 }), "c");
    // resolve_box_prior's fallback for a 640x427 image, clipped by main() (final 515-618, 102-112).
    expect(rec.box).toEqual([0, 0, 639, 426]);
    expect(rec.groundingFailure).toMatch(/no box in answer/);
  });

  it("dedupe: pixel gives each queue as the final script's dedupe_points leaves it", async () => {
    const seen: QueryContext[] = [];
    // Two backends apart (a grounder's reading keys are not part of a backend's identity).
    const G = { backend: "oracle", cache: "off", convention: "absolute", pick: "first", seed: 1 } as const;
    const V = { backend: "oracle", perturbation: "none", cache: "off" } as const;
    const grounder: ChatBackend = { name: "g", simulated: true, needsImages: false, identity: "g", describe: () => "g", complete: async () => ({ text: "[[10, 10, 13, 12]]", cached: false, latencyMs: 0 }) };
    const verifier: ChatBackend = { name: "v", simulated: true, needsImages: false, identity: "v", describe: () => "v", complete: async (_r, ctx) => (seen.push(ctx), { text: "Yes", cached: false, latencyMs: 0 }) };
    const cfg = (dedupe: "none" | "pixel"): PipelineInput => ({ mllm: G, verifierMllm: V, k: 6, dedupe, sampler: { name: "random" }, verifier: { earlyStop: false } });
    const pool = new ComponentPool();
    pool.provideBackend(G, 0, grounder);
    pool.provideBackend(V, 0, verifier);
    const s = loaded(40, 30, "t/x", { ref: 1, sentence: 1 });
    const raw = await pipeline(cfg("none"), pool).run(s, "raw");
    const dd = await pipeline(cfg("pixel"), pool).run(s, "dedupe");
    for (const q of ["internal", "external"]) {
      const before = raw.candidates.filter((c) => c.queue === q).map((c) => ({ x: c.x, y: c.y }));
      const after = dd.candidates.filter((c) => c.queue === q).map((c) => ({ x: c.x, y: c.y }));
      expect(after).toEqual(dedupePixels(before, 40, 30));
    }
    // A 3x2-pixel box cannot hold 6 distinct pixels per queue.
    expect(dd.candidates.length).toBeLessThan(raw.candidates.length);
    expect(dd.queries.length).toBe(dd.candidates.length);
  });

  it("a stand-in component is named (the authors' learned scorer)", () => {
    expect(pipelineStandIns(parsePipelineConfig({ ...base, sampler: { name: "authors-learned", params: { standIn: "unscored-pool" } } }))).toEqual([{ component: "sampler authors-learned", note: expect.stringMatching(/in place of the authors' learned point scorer/) }]);
    expect(pipelineStandIns(parsePipelineConfig(base))).toEqual([]);
  });
});
