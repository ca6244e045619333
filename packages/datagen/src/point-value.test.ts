import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { maskIoU, maskValueAt, readImage } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { GraphCutDecoder, parseGraphcutParams } from "@resagent/decoder";
import { pointValue } from "@resagent/sampler";
import { generatePointValue, paintValueMap, poolOf, valueColour, POINT_VALUE_DEFAULTS, type PointValueOptions, type PointValueRecord } from "./index.js";

const tmp = (p: string) => mkdtemp(join(tmpdir(), `resagent-${p}-`));
process.env.RESAGENT_CACHE_DIR ??= join(tmpdir(), "resagent-datagen-cache");

// Four objects (eight phrases: synthref has two per object), two spiral and one random candidate
// per queue, graphcut at a low working resolution (the measurement, not the decoder, is under test).
const DECODER = { name: "graphcut", params: { maxSide: 64, iterations: 1 } };
const options = (out: string, extra: Partial<PointValueOptions> = {}): PointValueOptions => ({
  ...POINT_VALUE_DEFAULTS,
  decoder: DECODER,
  sources: [{ name: "synthref", split: "refcoco/val", options: { count: 8 } }],
  out,
  samples: 2,
  spiral: 2,
  random: 1,
  seed: 5,
  ...extra,
});
const lines = async (dir: string) => (await readFile(join(dir, "records.jsonl"), "utf8")).split("\n").filter(Boolean);

describe("gen-point-value", () => {
  it("measures each candidate as a positive and as a negative with the decoder, once per object, deterministically", { timeout: 240_000 }, async () => {
    const a = await tmp("pv");
    const s = await generatePointValue(options(a));
    expect(s.samples).toBe(2);
    // Both objects, not two phrases of one.
    expect(new Set(s.records.map((r) => r.imagePath)).size).toBe(2);
    expect(s.records.every((r) => r.candidates.length === 2 * 2 + 2 * 1)).toBe(true);
    expect(s.decodes).toBe(2 * (1 + 2 * 6));
    const r = s.records[0]!;
    expect(poolOf(r, "spiral", "external").map((c) => c.rank)).toEqual([0, 1]);
    expect(poolOf(r, "random", "internal")).toHaveLength(1);
    // Check one record's numbers against the decoder and the gold mask directly.
    const ds = await openDataset("synthref", { split: "refcoco/val", count: 8 });
    const sample = (await Promise.all(ds.ids().map((_, i) => ds.get(i)))).find((x) => x.id === r.sampleId)!;
    const image = await readImage(r.imagePath);
    const dec = new GraphCutDecoder(parseGraphcutParams(DECODER.params));
    const [x1, y1, x2, y2] = r.box;
    const box = { x1, y1, x2, y2 };
    const iou0 = maskIoU((await dec.segment({ image }, { box, positives: [], negatives: [] })).mask, sample.goldMask!);
    expect(r.boxOnly.iou).toBeCloseTo(iou0, 6);
    for (const c of r.candidates.slice(0, 3)) {
      const pos = maskIoU((await dec.segment({ image }, { box, positives: [c], negatives: [] })).mask, sample.goldMask!);
      const neg = maskIoU((await dec.segment({ image }, { box, positives: [], negatives: [c] })).mask, sample.goldMask!);
      expect(c.iouPositive).toBeCloseTo(pos, 6);
      expect(c.iouNegative).toBeCloseTo(neg, 6);
      expect(c.value).toBeCloseTo(pointValue(iou0, pos, neg), 6);
      expect(c.inside).toBe(maskValueAt(sample.goldMask!, c) === 1);
    }
    // The box is the gold box perturbed as the oracle grounder's "severe": every side out by 5-15%.
    const [gx1, , gx2] = r.goldBox;
    expect(x1).toBeLessThanOrEqual(gx1);
    expect(x2).toBeGreaterThanOrEqual(gx2);
    const b = await tmp("pv");
    await generatePointValue(options(b));
    expect(await readFile(join(b, "records.jsonl"), "utf8")).toBe(await readFile(join(a, "records.jsonl"), "utf8"));
    const stats = JSON.parse(await readFile(join(a, "stats.json"), "utf8")) as { simulated: string; values: Record<string, { n: number }>; headroom: unknown[] };
    expect(stats.simulated).toMatch(/SIMULATED/);
    expect(stats.values.all!.n).toBe(12);
    expect(stats.headroom).toHaveLength(4);
  });

  it("resumes a killed run to the same file, extends with a larger --samples, and refuses other options", { timeout: 240_000 }, async () => {
    const full = await tmp("pv");
    await generatePointValue(options(full, { samples: 3 }));
    const cut = await tmp("pv");
    await generatePointValue(options(cut, { samples: 1 }));
    const first = await lines(cut);
    await writeFile(join(cut, "records.jsonl"), `${first[0]}\n{"sampleId":"torn`);
    let resumed = -1;
    const s = await generatePointValue({ ...options(cut, { samples: 3 }), onStart: (i) => void (resumed = i.done) });
    expect(resumed).toBe(1);
    expect(s.decodes).toBe(2 * (1 + 2 * 6));
    expect((await lines(cut)).filter((l) => !l.includes("torn"))).toEqual(await lines(full));
    await expect(generatePointValue(options(cut, { samples: 3, random: 2 }))).rejects.toThrow(/generated with other options \(random: 1 then, 2 now\)/);
    await expect(generatePointValue(options(await tmp("pv"), { spiral: 0, random: 0 }))).rejects.toThrow(/--spiral: expected a pool/);
  });

  it("with --context, measures each candidate again on top of the spiral's first points labelled from gold", { timeout: 240_000 }, async () => {
    const dir = await tmp("pv");
    const s = await generatePointValue(options(dir, { samples: 1, context: 1 }));
    const r = s.records[0]!;
    expect(s.decodes).toBe(2 * (1 + 2 * 6));
    const chosen = [poolOf(r, "spiral", "external")[0]!, poolOf(r, "spiral", "internal")[0]!];
    expect(r.context!.positives.length + r.context!.negatives.length).toBe(2);
    for (const c of chosen) expect(c.inside ? r.context!.positives : r.context!.negatives).toContainEqual([c.x, c.y]);
    expect(r.context!.candidates).toHaveLength(6);
    for (const c of r.context!.candidates) expect(c.value).toBeCloseTo(pointValue(r.context!.iou, c.iouPositive, c.iouNegative), 6);
  });

  it("paints a value map: grey for worthless points, yellow to red as the value grows, a white ring inside gold", () => {
    expect(valueColour(0, 0.2)).toEqual([150, 150, 150]);
    expect(valueColour(0.2, 0.2)).toEqual([255, 0, 0]);
    expect(valueColour(0.1, 0.2)).toEqual([255, 115, 0]);
    const image = { width: 40, height: 40, data: new Uint8Array(40 * 40 * 3) };
    const c = { origin: "spiral" as const, queue: "external" as const, rank: 0, iouNegative: 0.5 };
    const r = { boxOnly: { iou: 0.5 }, candidates: [{ ...c, x: 10, y: 10, inside: true, iouPositive: 0.7, value: 0.2 }, { ...c, x: 30, y: 30, inside: false, iouPositive: 0.5, value: 0 }] } as unknown as PointValueRecord;
    const m = paintValueMap(image, r);
    const at = (x: number, y: number) => Array.from(m.data.subarray((y * 40 + x) * 3, (y * 40 + x) * 3 + 3));
    expect(at(10, 10)).toEqual([255, 0, 0]);
    expect(at(30, 30)).toEqual([150, 150, 150]);
    expect(at(14, 10)).toEqual([255, 255, 255]);
    expect(at(34, 30)).toEqual([0, 0, 0]);
    expect(Array.from(image.data.subarray(0, 3))).toEqual([0, 0, 0]);
  });
});
