import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { maskArea, maskBox, randomStream, readImage, type Sample } from "@resagent/core";
import { SHAPES, SYNTHREF_DEFAULTS, datasetNames, openDataset } from "./index.js";
import { describeTarget } from "./synthref/language.js";
import { testCacheDir } from "./testing.js";
import { COLOURS, generateScene, visibleMasks } from "./synthref/scene.js";

const tmp = () => mkdtemp(join(tmpdir(), "resagent-synthref-"));
/** A cache folder on the test run's shared scenes: for tests of what the scenes hold, not of how they are cached. */
const shared = () => testCacheDir("resagent-synthref-");

async function load(split: string, count: number, cacheDir: string, extra: Record<string, unknown> = {}): Promise<Sample[]> {
  const ds = await openDataset("synthref", { split, count, cacheDir, ...extra });
  const out: Sample[] = [];
  for await (const s of ds) out.push(s);
  return out;
}

describe("synthref", () => {
  it("is registered, and bad names and splits fail with suggestions", async () => {
    expect(datasetNames()).toContain("synthref");
    await expect(openDataset("synthrf", { split: "refcoco/val" })).rejects.toThrow(/unknown dataset "synthrf"; did you mean "synthref"/);
    await expect(openDataset("synthref", { split: "refcoco/tesA" })).rejects.toThrow(/dataset.split: .*did you mean "refcoco\/testA"/);
    await expect(openDataset("synthref", { split: "refcoco/val", count: -3 })).rejects.toThrow(/dataset.count: expected an integer/);
  });

  it("same seed gives byte-identical images, masks and phrases; another seed differs", async () => {
    const [a, b, c] = await Promise.all([tmp(), tmp(), tmp()]);
    const x = await load("refcocog/val", 6, a);
    const y = await load("refcocog/val", 6, b);
    const z = await load("refcocog/val", 6, c, { seed: 1 });
    for (let i = 0; i < x.length; i++) {
      expect(y[i]!.id).toBe(x[i]!.id);
      expect(y[i]!.expression).toBe(x[i]!.expression);
      expect(Buffer.compare(await readFile(x[i]!.imagePath), await readFile(y[i]!.imagePath))).toBe(0);
      expect(y[i]!.goldMask!.data).toEqual(x[i]!.goldMask!.data);
    }
    expect(z.map((s) => s.expression)).not.toEqual(x.map((s) => s.expression));
  });

  it("serves from its cache and rebuilds nothing it already has", async () => {
    const dir = await tmp();
    const first = await load("refcoco/testB", 4, dir);
    const mtimes = await Promise.all(first.map(async (s) => (await stat(s.imagePath)).mtimeMs));
    const again = await load("refcoco/testB", 4, dir);
    expect(again).toEqual(first);
    expect(await Promise.all(again.map(async (s) => (await stat(s.imagePath)).mtimeMs))).toEqual(mtimes);
  });

  it("regenerates a corrupt cache file (truncated record, non-PNG or truncated image) with a one-line warning", async () => {
    const dir = await tmp();
    const small = { width: 160, height: 120 };
    const first = await load("refcoco/testA", 6, dir, small); // refs 0, 1, 2 (two sentences each)
    const json = (s: Sample) => s.imagePath.replace(/\.png$/, ".json");
    const record = await readFile(json(first[0]!), "utf8");
    const png = await readFile(first[4]!.imagePath);
    await writeFile(json(first[0]!), record.slice(0, record.length >> 1)); // a kill mid-write, by hand
    await writeFile(first[2]!.imagePath, "<html>not an image</html>");
    await writeFile(first[4]!.imagePath, png.subarray(0, png.length - 100));
    const warnings: string[] = [];
    const warn = vi.spyOn(console, "warn").mockImplementation((...a: unknown[]) => void warnings.push(a.join(" ")));
    try {
      const again = await load("refcoco/testA", 6, dir, small);
      expect(again).toEqual(first);
      expect(await readFile(json(first[0]!), "utf8")).toBe(record);
      expect(Buffer.compare(await readFile(first[4]!.imagePath), png)).toBe(0);
      await readImage(first[2]!.imagePath);
    } finally {
      warn.mockRestore();
    }
    expect(warnings).toHaveLength(3);
    expect(warnings.every((w) => !w.includes("\n"))).toBe(true);
    expect(warnings[0]).toMatch(/^synthref cache: .*r0\.json is not valid JSON .*; regenerating ref 0$/);
    expect(warnings[1]).toMatch(/r1\.png is not a PNG; regenerating ref 1$/);
    expect(warnings[2]).toMatch(/r2\.png is a truncated PNG/);
  });

  it("gold box is the tight box of the gold mask, the image matches the stated size", async () => {
    const samples = await load("refcoco/val", 10, await shared());
    for (const s of samples) {
      expect(maskArea(s.goldMask!)).toBeGreaterThanOrEqual(120);
      expect(maskBox(s.goldMask!)).toEqual(s.goldBox);
      const img = await readImage(s.imagePath);
      expect([img.width, img.height]).toEqual([s.width, s.height]);
    }
  });

  it("mirrors RefCOCO's testA (people) / testB (objects) and refcoco+'s ban on location words", async () => {
    const dir = await shared();
    const a = await load("refcoco/testA", 16, dir);
    const b = await load("refcoco/testB", 16, dir);
    expect(a.every((s) => s.meta?.category === "person")).toBe(true);
    expect(b.every((s) => s.meta?.category !== "person")).toBe(true);
    const plus = await load("refcoco+/val", 40, dir);
    for (const s of plus) expect(s.expression).not.toMatch(/\b(left|right|top|bottom|middle|above|below)\b/);
    const reason = await load("reasonseg/val", 20, dir);
    const nouns = Object.values(SHAPES).flatMap((sh) => sh.nouns as readonly string[]);
    // Implicit phrasing: the category's own name is (almost) never said.
    const named = reason.filter((s) => nouns.some((n) => new RegExp(`\\b${n}\\b`).test(s.expression)));
    expect(named.length).toBeLessThanOrEqual(2);
  });

  it("makes the hard cases appear at the documented rates", async () => {
    const s = await load("refcocog/test", 120, await shared());
    const rate = (k: string) => s.filter((x) => x.meta?.[k] === true).length / s.length;
    expect(rate("occluded")).toBeGreaterThan(0.15);
    expect(rate("touching")).toBeGreaterThan(0.3);
    expect(rate("sameColour")).toBeGreaterThan(0.15);
    expect(rate("sameColour")).toBeLessThanOrEqual(rate("touching"));
    expect(rate("twoTone")).toBeGreaterThan(0.2);
    expect(rate("clutter")).toBeGreaterThan(0.2);
    expect(rate("camouflaged")).toBeGreaterThan(0.05);
    expect(rate("thin")).toBeGreaterThan(0.2);
    expect(rate("hole")).toBeGreaterThan(0.1);
    // RefCOCO/+/g chose images with several instances of the target's category.
    expect(s.filter((x) => (x.distractorBoxes?.length ?? 0) > 0).length / s.length).toBeGreaterThan(0.8);
    // RefCOCO's val mixes testA's people with testB's objects.
    const val = await load("refcoco/val", 80, await shared());
    const people = val.filter((x) => x.meta?.category === "person").length / val.length;
    expect(people).toBeGreaterThan(0.3);
    expect(people).toBeLessThan(0.7);
  });

  it("every appearance-only phrase singles out the target among its category", () => {
    // RefCOCO+ phrases name colour, size and pattern only: no same-category object may fit all of them.
    const colours = Object.keys(COLOURS);
    for (let i = 0; i < 120; i++) {
      const r = randomStream(7, "synthref-unique", String(i));
      const scene = generateScene({ ...SYNTHREF_DEFAULTS, targetKind: "any" }, r.fork("layout"));
      const visible = visibleMasks(scene);
      const { text } = describeTarget(scene, visible, "refcoco+", r.fork("s"));
      const words = new Set(text.split(/\s+/));
      const t = scene.objects[scene.target]!;
      const fits = (o: (typeof scene.objects)[number]) =>
        o.category === t.category &&
        colours.every((c) => !words.has(c) || o.colour === c) &&
        (["small", "big"] as const).every((z) => !words.has(z) || o.size === z) &&
        (["striped", "dotted", "plain"] as const).every((p) => !words.has(p) || o.pattern === p);
      expect(fits(t)).toBe(true);
      const rivals = scene.objects.filter((o, j) => j !== scene.target && fits(o));
      expect(rivals, `"${text}" also fits another ${t.category}`).toEqual([]);
    }
  });

  it("shards partition the dataset and limit keeps the order", async () => {
    const ds = await openDataset("synthref", { split: "reasonseg/test", count: 10, cacheDir: await tmp() });
    const parts = [0, 1, 2].map((i) => ds.shard(i, 3).ids());
    expect(parts.flat().sort()).toEqual([...ds.ids()].sort());
    expect(new Set(parts.flat()).size).toBe(10);
    expect(ds.limit(3).ids()).toEqual(ds.ids().slice(0, 3));
    expect(() => ds.shard(3, 3)).toThrow(/shard 3\/3 is invalid/);
  });
});
