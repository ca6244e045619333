import { readFile, writeFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { polygonsToMask } from "@resagent/core";
import { matchesSplit, openDataset, unpickle } from "./index.js";
import { makeReferFixture, pythonAvailable, referImageDir } from "./testing.js";

const python = pythonAvailable();
const fixture = () => makeReferFixture();

describe("pickle reader", () => {
  it("reads what it supports and names what it does not", () => {
    // protocol 2: {'a': [1, 2.5, 'x'], 'b': True}
    const p2 = Buffer.from([0x80, 2, 0x7d, 0x71, 0, 0x28, 0x55, 1, 0x61, 0x5d, 0x71, 1, 0x28, 0x4b, 1, 0x47, ...Buffer.from([64, 4, 0, 0, 0, 0, 0, 0]), 0x55, 1, 0x78, 0x65, 0x55, 1, 0x62, 0x88, 0x75, 0x2e]);
    expect(unpickle(p2)).toEqual({ a: [1, 2.5, "x"], b: true });
    expect(unpickle(Buffer.from("(lp0\nI1\naS'it\\'s'\np1\naV\\u00e9t\\u00e9\np2\nag1\na.", "latin1"))).toEqual([1, "it's", "été", "it's"]);
    expect(() => unpickle(Buffer.from("cos\nsystem\n(S'ls'\ntR.", "latin1"), "evil.p")).toThrow(/evil\.p: unsupported pickle opcode GLOBAL/);
    expect(() => unpickle(p2.subarray(0, 20), "cut.p")).toThrow(/cut\.p: pickle ends inside opcode/);
    expect(() => unpickle(Buffer.from([0x80, 4]), "p4.p")).toThrow(/protocol 4 is not supported/);
  });

  it("follows REFER's split matching", () => {
    expect(matchesSplit("testA", "testA")).toBe(true);
    expect(matchesSplit("testAB", "testB")).toBe(true);
    expect(matchesSplit("testB", "test")).toBe(true);
    expect(matchesSplit("val", "test")).toBe(false);
    expect(() => matchesSplit("val", "valid")).toThrow(/unknown REFER split "valid"/);
  });
});

describe.skipIf(!python)("REFER loader on generated Python-2-style pickles (needs python3)", () => {
  it("reads protocol 0 and 2 exactly as Python does", async () => {
    const root = await fixture();
    const expected = JSON.parse(await readFile(join(root, "expected.json"), "utf8")) as Record<string, unknown>;
    for (const name of ["refcoco", "refcoco+"]) {
      const got = unpickle(await readFile(join(root, "refer_seg", name, "refs(unc).p")));
      expect(JSON.parse(JSON.stringify(got, (_, v) => (typeof v === "bigint" ? Number(v) : v)))).toEqual(expected[name]);
    }
  });

  it("loads samples per split with masks, boxes and distractors; sentence and ref units", async () => {
    const root = await fixture();
    const testA = await openDataset("refcoco", { split: "testA", root });
    expect(testA.ids()).toEqual(["refcoco:unc:2.20", "refcoco:unc:2.21", "refcoco:unc:4.40", "refcoco:unc:4.41"]);
    const s = await testA.get(0);
    expect(s.expression).toBe("refcoco ref 2 left");
    expect(s.goldBox).toEqual({ x1: 6, y1: 5, x2: 26, y2: 23 });
    expect(s.goldMask!.data).toEqual(polygonsToMask([[6, 5, 26, 5, 26, 23, 6, 23]], 48, 64).data);
    const two = await openDataset("refcoco+", { split: "val", root, unit: "ref" });
    expect(two.size).toBe(2);
    const multi = await openDataset("refcoco", { split: "testB", root });
    const m = await multi.get(0);
    expect(m.goldMask!.data).toEqual(polygonsToMask([[7, 5, 17, 5, 17, 23], [17, 5, 27, 5, 27, 23]], 48, 64).data);
    // ref 4 (image 2, category 1) shares its image with ref 1 (category 2) only: no distractor
    expect((await testA.get(2)).distractorBoxes).toEqual([]);
  });

  it("bad input names the file and the item", async () => {
    const root = await fixture();
    // ref 5 points at annotation 105, which instances.json lacks
    const val = await openDataset("refcoco", { split: "val", root });
    await expect(val.get(val.size - 1)).rejects.toThrow(/instances\.json: ref 5\.ann_id: ref 5 points at annotation 105, which instances\.json lacks/);
    await unlink(join(referImageDir(root), "COCO_train2014_000000000001.jpg"));
    const train = await openDataset("refcoco", { split: "train", root });
    await expect(train.get(0)).rejects.toThrow(/COCO_train2014_000000000001\.jpg: image of ref 0 is missing/);
    const refs = join(root, "refer_seg", "refcoco", "refs(unc).p");
    await writeFile(refs, (await readFile(refs)).subarray(0, 100));
    await expect(openDataset("refcoco", { split: "val", root })).rejects.toThrow(/refs\(unc\)\.p: pickle ends inside opcode/);
    await expect(openDataset("refcoco", { split: "vall", root })).rejects.toThrow(/dataset.split: .*did you mean "val"/);
  });
});

const realRoot = process.env.RESAGENT_REFER_ROOT;
describe.skipIf(!realRoot)("real REFER files (skipped: set RESAGENT_REFER_ROOT to the data root holding refer_seg/)", () => {
  it("RefCOCO val has REFERENCE's counts (3811 refs, 10834 sentences), and 3811 samples with unit ref", async () => {
    const ds = (await openDataset("refcoco", { split: "val", root: realRoot! })) as unknown as { stats: { refs: number; sentences: number } };
    expect(ds.stats).toMatchObject({ refs: 3811, sentences: 10834 });
    // One sample per ref, as the authors' final script scores it.
    const refs = await openDataset("refcoco", { split: "val", root: realRoot!, unit: "ref" });
    expect(refs.size).toBe(3811);
  }, 600_000);
});
