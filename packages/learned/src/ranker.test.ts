import { existsSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError, readImage, rleDecode, type Mask } from "@resagent/core";
import { POINT_VALUE_DEFAULTS, generatePointValue } from "@resagent/datagen";
import { createValueScorer, type ValueContext } from "@resagent/sampler";
import {
  CHANNELS,
  LearnedValueScorer,
  RANKER_MODEL_DEFAULTS,
  RANKER_TRAIN_DEFAULTS,
  allocEncoded,
  channelsOf,
  clusterBootstrap,
  encodeCandidates,
  encodeView,
  loadModel,
  loadTf,
  ndcgAtK,
  predict,
  rankingReport,
  readModelMeta,
  readPointValueFolder,
  readRankerMeta,
  trainPointValue,
  transformEncoded,
  type RankerTrainOptions,
} from "./index.js";
import { writeUntrainedModel, writeUntrainedRanker } from "./testing.js";

process.env.RESAGENT_CACHE_DIR ??= join(tmpdir(), "resagent-learned-cache");
const tmp = (p: string) => mkdtemp(join(tmpdir(), `resagent-${p}-`));

describe("ranking metrics", () => {
  it("NDCG@k with the teacher's values as gains; undefined when nothing has value", () => {
    expect(ndcgAtK([0, 0.3, 0.1], [3, 2, 1], 2)).toBeCloseTo((0 + 0.3 / Math.log2(3)) / (0.3 + 0.1 / Math.log2(3)), 12);
    expect(ndcgAtK([0, 0.3, 0.1], [0, 5, 1], 3)).toBeCloseTo(1, 12);
    expect(ndcgAtK([0, 0, 0], [1, 2, 3], 2)).toBeUndefined();
  });

  it("top-k teacher value of the learned, spiral, oracle and random orders, and the share of the gap closed", () => {
    const lists = [
      // spiral pool: the spiral's order is the pool's; the learned order puts the 0.4 first
      { group: "a", values: [0, 0.1, 0.4], scores: [0.1, 0.2, 0.9], spiral: [0, 0.1, 0.4], spiralPool: true },
      // random pool: the spiral's own values come from its queue
      { group: "b", values: [0.2, 0, 0], scores: [0, 1, 2], spiral: [0.1, 0], spiralPool: false },
    ];
    const [k1, k2, k3] = rankingReport(lists, [1, 2, 3], 0);
    // a pool of k or fewer leaves no choice: such lists drop out
    expect(k3!.lists).toBe(0);
    expect(k3!.gapClosed).toBeNull();
    expect(k1!.learned).toBeCloseTo((0.4 + 0) / 2, 12);
    expect(k1!.spiral).toBeCloseTo((0 + 0.1) / 2, 12);
    expect(k1!.oracle).toBeCloseTo((0.4 + 0.2) / 2, 12);
    expect(k1!.random).toBeCloseTo((0.5 / 3 + 0.2 / 3) / 2, 12);
    expect(k1!.gapClosed).toBeCloseTo((0.2 - 0.05) / (0.3 - 0.05), 12);
    expect(k1!.gapClosedBootstrap95ByImage![0]).toBeLessThanOrEqual(k1!.gapClosedBootstrap95ByImage![1]);
    expect(k1!.ndcgLists).toBe(2);
    expect(k1!.ndcgSpiral).toBe(0);
    expect(k2!.learned).toBeCloseTo((0.25 + 0) / 2, 12);
    // a group bootstrap resamples whole groups, seeded
    const stat = (picked: readonly number[]) => picked.reduce((a, g) => a + [1, 3][g]!, 0) / picked.length;
    expect(clusterBootstrap(["a", "b"], stat, { seed: 2 })).toEqual(clusterBootstrap(["a", "b"], stat, { seed: 2 }));
    const [lo, hi] = clusterBootstrap(["a", "b"], stat, { seed: 2 });
    expect(lo).toBeGreaterThanOrEqual(1);
    expect(hi).toBeLessThanOrEqual(3);
  });
});

describe("box-only mask channel", () => {
  it("adds the mask's share per cell to the grid and the patch, and moves it with the symmetries", () => {
    const W = 40;
    const H = 40;
    const picture = { width: W, height: H, data: new Uint8Array(W * H * 3) };
    const mask: Mask = { width: W, height: H, data: new Uint8Array(W * H) };
    for (let y = 0; y < H; y++) for (let x = 0; x < 20; x++) mask.data[y * W + x] = 1; // left half
    const spec = { size: 8, margin: 0, markerSigma: 1, patchSize: 4, patchSpan: 8, phraseBins: 0, baseMask: true };
    expect(channelsOf(spec)).toBe(CHANNELS + 1);
    const buf = allocEncoded(spec, 1);
    encodeView({ picture, origin: { x: 0, y: 0 }, width: W, height: H, box: { x1: 0, y1: 0, x2: 40, y2: 40 }, point: { x: 20, y: 20 }, mask }, spec, buf);
    const C = channelsOf(spec);
    expect(buf.grid[(3 * 8 + 1) * C + 4]).toBe(1);
    expect(buf.grid[(3 * 8 + 6) * C + 4]).toBe(0);
    // the patch spans x 16-24: its left half lies in the mask
    expect(buf.patch[(0 * 4 + 0) * C + 4]).toBe(1);
    expect(buf.patch[(0 * 4 + 3) * C + 4]).toBe(0);
    transformEncoded(buf, spec, 1);
    expect(buf.grid[(3 * 8 + 1) * C + 4]).toBe(0);
    expect(buf.grid[(3 * 8 + 6) * C + 4]).toBe(1);
    expect(() => encodeView({ picture, origin: { x: 0, y: 0 }, width: W, height: H, box: { x1: 0, y1: 0, x2: 40, y2: 40 }, point: { x: 20, y: 20 } }, spec, allocEncoded(spec, 1))).toThrow(/box-only mask/);
  });
});

describe("the point-value ranker", () => {
  // A tiny teacher set and a tiny model: the plumbing is under test, not the ranker's skill.
  const teacher = async () => {
    const dir = await tmp("pv-teacher");
    // graphcut at a low working resolution: the values' source is not under test here.
    await generatePointValue({ ...POINT_VALUE_DEFAULTS, decoder: { name: "graphcut", params: { maxSide: 64, iterations: 1 } }, sources: [{ name: "synthref", split: "refcoco/val", options: { count: 10, seed: 1 } }], out: dir, samples: 5, spiral: 2, random: 1, seed: 1 });
    return dir;
  };
  const options = (data: string, out: string): RankerTrainOptions => ({
    data,
    out,
    seed: 3,
    heldOut: 0.4,
    model: { ...RANKER_MODEL_DEFAULTS, filters: [4], patchFilters: [4], dense: 8 },
    train: { ...RANKER_TRAIN_DEFAULTS, epochs: 2, batchSize: 8 },
    targetScale: 0.1,
    log: () => {},
  });

  it("trains on teacher data split by image, reports ranking quality, and scores at inference as the held-out metrics measured", { timeout: 300_000 }, async () => {
    const data = await teacher();
    const out = await tmp("pv-model");
    const r = await trainPointValue(options(data, out));
    for (const f of ["model.json", "weights.bin", "metrics.json", "provenance.json", "curves.png", "ranking-spiral.png", "ranking-random.png"]) expect(existsSync(join(out, f)), f).toBe(true);
    const metrics = JSON.parse(await readFile(join(out, "metrics.json"), "utf8")) as { heldOut: Record<string, { k: number; lists: number; oracle: number; spiral: number; learned: number }[]>; note: string };
    expect(Object.keys(metrics.heldOut)).toEqual(["spiral", "random"]);
    expect(metrics.heldOut.spiral!.map((x) => x.k)).toEqual([1, 2, 3, 4]);
    // Two spiral candidates per queue: a choice at k = 1 only.
    expect(metrics.heldOut.spiral!.map((x) => x.lists > 0)).toEqual([true, false, false, false]);
    for (const x of metrics.heldOut.spiral!) {
      expect(x.oracle).toBeGreaterThanOrEqual(x.learned - 1e-12);
      expect(x.oracle).toBeGreaterThanOrEqual(x.spiral - 1e-12);
    }
    expect(metrics.note).toMatch(/UPPER BOUND/);
    expect(r.epochs).toHaveLength(2);
    const prov = JSON.parse(await readFile(join(out, "provenance.json"), "utf8")) as { data: { decoder: string; images: number } };
    expect(prov.data.decoder).toMatch(/^graphcut .*maxSide 64, 1 iterations/);
    // Deterministic for a seed on the CPU backend.
    const again = await tmp("pv-model");
    await trainPointValue(options(data, again));
    expect(Buffer.compare(await readFile(join(again, "weights.bin")), await readFile(join(out, "weights.bin")))).toBe(0);

    // The scorer encodes a pool point exactly as training encoded the candidate, and gives the
    // score the held-out metrics ranked by (the mean over the symmetries of the square).
    const meta = readRankerMeta(out)!;
    expect(meta.meta.trainedOn).toMatch(/gen-point-value data/);
    const scorer = createValueScorer("learned-value", { modelDir: out });
    expect(scorer).toBeInstanceOf(LearnedValueScorer);
    expect(scorer.upperBound).toBe(false);
    expect(scorer.describe()).toMatch(new RegExp(`learned-value \\(tfjs point-value ranker, trained on gen-point-value data .* model ${meta.hash}`));
    const { records } = await readPointValueFolder(data);
    const rec = records[0]!;
    const image = await readImage(rec.imagePath);
    let maskReads = 0;
    const [x1, y1, x2, y2] = rec.box;
    const ctx: ValueContext = {
      sampleId: rec.sampleId,
      image,
      imageKey: rec.imageHash,
      box: { x1, y1, x2, y2 },
      expression: rec.expression,
      boxOnlyMask: async () => (maskReads++, rleDecode(rec.boxOnly.mask)),
      decode: async () => {
        throw new Error("a learned ranking never decodes with points");
      },
    };
    const got = await scorer.score(rec.candidates, ctx);
    expect(maskReads).toBe(1);
    const { tf } = await loadTf();
    const model = await loadModel(tf, out);
    const { set } = await encodeCandidates([rec], meta.meta.features, 0.1);
    const want = predict(tf, model, set, undefined, 256, meta.meta.symmetries);
    got.forEach((s, i) => expect(s).toBeCloseTo(want[i]!, 6));
    expect(scorer.stats?.().learnedValuePoints).toBe(rec.candidates.length);
  });

  it("refuses a folder without a model, a verifier's model, and a verifier's reader refuses a ranker", async () => {
    const empty = await tmp("pv-none");
    const s = new LearnedValueScorer(empty);
    expect(s.describe()).toMatch(/not trained yet/);
    await expect(s.score([{ x: 1, y: 1 }], {} as ValueContext)).rejects.toThrow(/no trained point-value ranker here; train it with `pnpm train-point-value --out /);
    const verifier = await tmp("pv-verifier");
    await writeUntrainedModel(verifier);
    expect(() => readRankerMeta(verifier)).toThrow(InputError);
    expect(() => readRankerMeta(verifier)).toThrow(/not a point-value ranker/);
    const ranker = await tmp("pv-ranker");
    await writeUntrainedRanker(ranker);
    expect(() => readModelMeta(ranker)).toThrow(/this is a point-value ranker/);
    expect(new LearnedValueScorer(ranker).describe()).toMatch(/untrained test fixture/);
  });
});
