import { mkdtemp, mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeImage, encodePng, maskToCounts, polygonsToMask, rleDecode, rleEncode, segmentationToMask } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { testCacheDir } from "@resagent/data/testing";
import { cocoToSa1b, generateVbr, histogramSvg, streamTopLevelArrays, vbrStamp, type VbrRecord } from "./index.js";

const tmp = (p: string) => mkdtemp(join(tmpdir(), `resagent-${p}-`));
process.env.RESAGENT_CACHE_DIR ??= await testCacheDir("resagent-datagen-cache-");

const options = (out: string) => ({
  sources: [{ name: "synthref", split: "refcoco/val", options: { count: 24 } }],
  out,
  fraction: 0.5,
  candidates: 4,
  sizeMin: 12,
  sizeMax: 32,
  cropShare: 0.5,
  maxSamples: 1000,
  seed: 3,
  datasetName: "resagent_vbr",
});

const records = async (dir: string) => (await readFile(join(dir, "records.jsonl"), "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as VbrRecord);

describe("gen-vbr", () => {
  it("writes LLaMA-Factory data whose answers agree with the gold masks, deterministically", async () => {
    const a = await tmp("vbr");
    const s = await generateVbr(options(a));
    expect(s.samples).toBeGreaterThan(40);
    expect(s.yes + s.no).toBe(s.samples);
    const data = JSON.parse(await readFile(join(a, "data.json"), "utf8")) as { messages: { role: string; content: string }[]; images: string[] }[];
    const recs = await records(a);
    expect(data).toEqual(recs.map((r) => r.entry));
    // The authors' question, byte for byte: a backtick opens the expression, an apostrophe closes it.
    expect(data[0]!.messages[0]!.content).toMatch(/^<image>Answer strictly yes or no: Is the \w+-colored (star|circle|hexagon) on the object referred to by `.+' in the picture\?$/);
    const info = JSON.parse(await readFile(join(a, "dataset_info.json"), "utf8")) as Record<string, { formatting: string }>;
    expect(info.resagent_vbr!.formatting).toBe("sharegpt");
    // reload the source and check every label against the gold mask
    const ds = await openDataset("synthref", { split: "refcoco/val", count: 24 });
    const byId = new Map<string, Awaited<ReturnType<typeof ds.get>>>();
    for await (const x of ds) byId.set(x.id, x);
    for (const r of recs) {
      const g = byId.get(r.sampleId)!.goldMask!;
      expect(r.answer).toBe(g.data[Math.floor(r.point.y) * g.width + Math.floor(r.point.x)] === 1 ? "yes" : "no");
      expect(r.size).toBeGreaterThanOrEqual(12);
      expect(r.size).toBeLessThanOrEqual(32);
    }
    expect(new Set(recs.map((r) => r.shape))).toEqual(new Set(["star", "circle", "hexagon"]));
    const b = await tmp("vbr");
    await generateVbr(options(b));
    expect(await readFile(join(b, "data.json"), "utf8")).toBe(await readFile(join(a, "data.json"), "utf8"));
    expect(Buffer.compare(await readFile(join(b, recs[5]!.entry.images[0]!)), await readFile(join(a, recs[5]!.entry.images[0]!)))).toBe(0);
  });

  it("resumes after a kill without losing or repeating anything", async () => {
    const full = await tmp("vbr");
    await generateVbr(options(full));
    const want = await readFile(join(full, "data.json"), "utf8");
    const cut = await tmp("vbr");
    await generateVbr(options(cut));
    const lines = (await readFile(join(cut, "records.jsonl"), "utf8")).split("\n").filter(Boolean);
    const firstId = (JSON.parse(lines[0]!) as VbrRecord).sampleId;
    const keep = lines.filter((l) => (JSON.parse(l) as VbrRecord).sampleId === firstId);
    await writeFile(join(cut, "records.jsonl"), `${keep.join("\n")}\n{"sampleId":"torn`);
    await generateVbr(options(cut));
    expect(await readFile(join(cut, "data.json"), "utf8")).toBe(want);
  });
});

describe("gen-vbr --max", () => {
  const two = (out: string, maxSamples: number) => ({
    ...options(out),
    sources: [
      { name: "synthref", split: "refcoco/val", options: { count: 24 } },
      { name: "synthref", split: "refcocog/val", options: { count: 24 } },
    ],
    maxSamples,
  });

  it("draws across instances and sources first: a small cap takes one candidate from each of many scenes", async () => {
    const dir = await tmp("vbr-max");
    let planned = 0;
    const s = await generateVbr({ ...two(dir, 10), onStart: (i) => void (planned = i.instances) });
    expect(s.samples).toBe(10);
    expect(s.instances).toBe(10);
    expect(planned).toBe(10);
    expect(new Set(s.records.map((r) => r.sampleId.split(":")[1])).size).toBe(2);
    // Not only the first (centre-proximal) candidate of each: both answers, as in the whole set.
    expect(new Set(s.records.map((r) => r.candidate)).size).toBeGreaterThan(5);
    expect(s.yes).toBeGreaterThan(0);
    expect(s.no).toBeGreaterThan(0);
    // A larger cap: every selected instance's first sample before any instance's second.
    let selected = 0;
    await expect(generateVbr({ ...two(await tmp("vbr-max"), 100_000), onStart: (i) => { selected = i.instances; throw new Error("planned"); } })).rejects.toThrow("planned");
    expect(selected).toBeGreaterThan(10);
    const mid = await generateVbr(two(await tmp("vbr-max"), selected + 3));
    const per = new Map<string, number>();
    for (const r of mid.records) per.set(r.sampleId, (per.get(r.sampleId) ?? 0) + 1);
    expect(per.size).toBe(selected);
    expect([...per.values()].sort().join("")).toBe(`${"1".repeat(selected - 3)}222`);
    // The small cap's samples are a prefix of the same seeded order.
    const key = (r: VbrRecord) => `${r.sampleId}/${r.candidate}`;
    const midKeys = new Set(mid.records.map(key));
    expect(s.records.every((r) => midKeys.has(key(r)))).toBe(true);
  });

  it("raising the cap extends a folder to exactly what a fresh run at that cap writes; lowering it gives the fresh run's prefix", async () => {
    const fresh = await tmp("vbr-max");
    await generateVbr(two(fresh, 30));
    const grown = await tmp("vbr-max");
    await generateVbr(two(grown, 7));
    let resumed = -1;
    await generateVbr({ ...two(grown, 30), onStart: (i) => void (resumed = i.resumedSamples) });
    expect(resumed).toBe(7);
    expect(await readFile(join(grown, "data.json"), "utf8")).toBe(await readFile(join(fresh, "data.json"), "utf8"));
    const small = await tmp("vbr-max");
    await generateVbr(two(small, 12));
    await generateVbr(two(grown, 12));
    expect(await readFile(join(grown, "data.json"), "utf8")).toBe(await readFile(join(small, "data.json"), "utf8"));
  });
});

describe("gen-vbr sizes.png", () => {
  it("has a labelled y axis with round ticks up to the tallest bar, and says SIMULATED for synthetic sources only", () => {
    const svg = histogramSvg({ "12": 3, "13": 7, "20": 11 }, 12, 32, vbrStamp([{ name: "synthref", split: "refcoco/val" }]));
    expect(svg).toContain(">samples</text>");
    expect(svg).toContain(">marker radius (px)</text>");
    for (const t of [0, 2, 4, 6, 8, 10, 12]) expect(svg).toContain(`text-anchor="end" font-family="DejaVu Sans, sans-serif">${t}</text>`);
    expect(svg).toContain("SIMULATED data: synthetic synthref scenes");
    expect(vbrStamp([{ name: "refcoco", split: "train" }])).toBeUndefined();
    expect(vbrStamp([{ name: "refcoco", split: "train" }, { name: "synthref", split: "refcoco/val" }])).toMatch(/^SIMULATED in part: 1 of 2 sources/);
  });
});

describe("gen-vbr records for learners", () => {
  it("name every picture uniquely across splits and say where the box and crop lie", async () => {
    const dir = await tmp("vbr");
    await generateVbr({ ...options(dir), sources: ["refcoco/val", "refcoco+/val"].map((split) => ({ name: "synthref", split, options: { count: 4 } })), fraction: 1, candidates: 2 });
    const recs = await records(dir);
    // "refcoco/val" and "refcoco+/val" ids used to map to one file name: one split's pictures overwrote the other's
    expect(new Set(recs.map((r) => r.entry.images[0])).size).toBe(recs.length);
    for (const r of recs) {
      const g = r.image!;
      // the expression is stored beside the prompt that quotes it
      expect(r.expression).toBeTruthy();
      expect(r.entry.messages[0]!.content).toContain(r.expression!);
      const [x1, y1, x2, y2] = g.box;
      expect(r.point.x >= x1 && r.point.x <= x2 && r.point.y >= y1 && r.point.y <= y2).toBe(true);
      expect(g.crop !== null).toBe(r.cropped);
      const pic = await decodeImage(await readFile(join(dir, r.entry.images[0]!)));
      const [w, h] = g.crop ? [g.crop[2] - g.crop[0], g.crop[3] - g.crop[1]] : [g.width, g.height];
      expect([pic.width, pic.height]).toEqual([w, h]);
    }
    // two sentences of one referred object share its image
    const byRef = new Map<string, Set<string>>();
    for (const r of recs) {
      const ref = r.sampleId.replace(/\.\d+$/, "");
      byRef.set(ref, (byRef.get(ref) ?? new Set()).add(r.image!.hash));
    }
    for (const hashes of byRef.values()) expect(hashes.size).toBe(1);
    expect(new Set(recs.map((r) => r.image!.hash)).size).toBe(4);
  });
});

describe("to-sa1b", () => {
  it("converts polygons and RLE to compressed RLE that decodes to pycocotools' masks, with a point inside each", async () => {
    const vectors = JSON.parse(await readFile(new URL("../../core/test/fixtures/coco-mask-vectors.json", import.meta.url), "utf8")) as { polygons: { h: number; w: number; polygon: number[]; counts: string }[] };
    const dir = await tmp("sa1b");
    const images = join(dir, "images");
    await mkdir(images);
    const polys = vectors.polygons.slice(0, 6);
    const imgs = polys.map((p, i) => ({ id: i + 1, file_name: `img{${i}}.png`, width: p.w, height: p.h }));
    for (const im of imgs) await writeFile(join(images, im.file_name), await encodePng({ width: im.width, height: im.height, data: new Uint8Array(im.width * im.height * 3) }));
    const anns: unknown[] = polys.map((p, i) => ({ id: 10 + i, image_id: i + 1, category_id: 1, bbox: [0, 0, 1, 1], segmentation: [p.polygon], note: "brace } and quote \" inside a string" }));
    const m = polygonsToMask([polys[0]!.polygon, [1, 1, 3, 1, 3, 3]], polys[0]!.h, polys[0]!.w);
    anns.push({ id: 50, image_id: 1, category_id: 2, iscrowd: 1, bbox: [0, 0, 1, 1], segmentation: { size: [m.height, m.width], counts: maskToCounts(m) } });
    anns.push({ id: 51, image_id: 2, category_id: 2, iscrowd: 1, bbox: [0, 0, 1, 1], segmentation: rleEncode(polygonsToMask([polys[1]!.polygon], polys[1]!.h, polys[1]!.w)) });
    anns.push({ id: 52, image_id: 2, category_id: 2, bbox: [0, 0, 1, 1], segmentation: [[1, 1, 2, 2, 3]] });
    anns.push({ id: 53, image_id: 99, category_id: 2, bbox: [0, 0, 1, 1], segmentation: [[1, 1, 2, 2, 3, 1]] });
    await writeFile(join(dir, "instances.json"), JSON.stringify({ info: { note: "[not an array] {" }, annotations: anns, images: imgs, categories: [{ id: 1 }] }));
    const out = join(dir, "sa1b");
    const s = await cocoToSa1b({ instances: join(dir, "instances.json"), images, out, imageMode: "copy", seed: 0 });
    expect(s.imagesWritten).toBe(6);
    expect(s.annotationsWritten).toBe(8);
    expect(Object.keys(s.skipped).sort()).toEqual(["annotation of an image not in the file", "bad segmentation (polygon has an odd number of coordinates (5); expected x, y pairs)"]);
    for (const [i, p] of polys.entries()) {
      const j = JSON.parse(await readFile(join(out, `img{${i}}.json`), "utf8")) as { image: { file_name: string }; annotations: { id: number; segmentation: { size: [number, number]; counts: string }; area: number; point_coords: number[][]; crop_box: number[]; stability_score: number }[] };
      const a = j.annotations.find((x) => x.id === 10 + i)!;
      expect(a.segmentation.counts).toBe(p.counts); // pycocotools' own string from the shared vectors
      const dec = rleDecode(a.segmentation);
      const [px, py] = a.point_coords[0]!;
      expect(dec.data[Math.floor(py!) * dec.width + Math.floor(px!)]).toBe(1);
      expect(a.crop_box).toEqual([0, 0, p.w, p.h]);
      expect(a.stability_score).toBe(1);
    }
    const j1 = JSON.parse(await readFile(join(out, "img{0}.json"), "utf8")) as { annotations: { id: number; segmentation: { size: [number, number]; counts: string } }[] };
    expect(rleDecode(j1.annotations.find((x) => x.id === 50)!.segmentation).data).toEqual(segmentationToMask({ size: [m.height, m.width], counts: maskToCounts(m) }, m.height, m.width).data);
  });

  it("streams arrays out of a JSON object and reports truncation", async () => {
    const dir = await tmp("json");
    const f = join(dir, "x.json");
    await writeFile(f, '{"a": {"annotations": [1]}, "annotations": [{"s": "}]\\"{"}, {"n": [1, {"x": 2}]}], "images": []}');
    const got: unknown[] = [];
    await streamTopLevelArrays(f, ["annotations"], (_, item) => void got.push(item));
    expect(got).toEqual([{ s: '}]"{' }, { n: [1, { x: 2 }] }]);
    await writeFile(f, '{"annotations": [{"a": 1}, {"b": ');
    await expect(streamTopLevelArrays(f, ["annotations"], () => undefined)).rejects.toThrow(/x\.json: file ends inside an object or array/);
  });
});
