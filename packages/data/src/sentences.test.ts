import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { randomStream } from "@resagent/core";
import { chooseSentence, datasetSource, describeUnit, openDataset, synthrefCacheDir, resolveSynthrefOptions } from "./index.js";
import { makeReferFixture, pythonAvailable } from "./testing.js";

/** Values of the authors' choose_sentence_entry / resolve_sentence (the fixture names file and lines). */
const AUTHORS = JSON.parse(readFileSync(new URL("../test/fixtures/authors-sentences.json", import.meta.url), "utf8")) as {
  cases: { sentences: { sent_id: number; sent: string }[]; entry: Record<string, number | null>; sentence: Record<string, string> }[];
};

describe("sentence modes (the final script's --sentence_mode)", () => {
  it("first, longest, shortest pick the sentence the authors' code picks (empty sentences skipped, stripped lengths, the first of equals)", () => {
    for (const c of AUTHORS.cases) {
      const texts = c.sentences.map((s) => s.sent);
      for (const mode of ["first", "longest", "shortest"] as const) {
        const got = chooseSentence(texts, mode);
        expect(c.sentences[got.index!]!.sent_id, `${mode} of ${JSON.stringify(texts)}`).toBe(c.entry[mode]);
        expect(got.expression).toBe(c.sentence[mode]);
      }
      // The script's join falls through to the first sentence (choose_sentence_entry has no join
      // branch); here join joins, and the docs say to use first to replay the script's join.
      expect(c.sentence.join).toBe(c.sentence.first);
      expect(chooseSentence(texts, "join").expression).toBe(texts.filter(Boolean).map((t) => t.trim()).join(" | "));
    }
    const r = chooseSentence(["a", "b", "c"], "random", randomStream(0, "t", "x"));
    expect(r).toEqual(chooseSentence(["a", "b", "c"], "random", randomStream(0, "t", "x")));
    expect(() => chooseSentence(["a"], "random")).toThrow(/random stream/);
    expect(chooseSentence(["", ""], "first")).toEqual({ index: null, expression: "" });
  });

  it("names the unit in the source and in words", () => {
    expect(datasetSource({ name: "refcoco", split: "val" })).toBe("refcoco/val");
    expect(datasetSource({ name: "refcoco", split: "val", unit: "ref" })).toBe("refcoco/val (refs, first)");
    expect(datasetSource({ name: "refcoco", split: "val", unit: "ref", sentence: "longest" })).toBe("refcoco/val (refs, longest)");
    expect([describeUnit({}), describeUnit({ unit: "ref" }), describeUnit({ unit: "ref", sentence: "join" })]).toEqual(["sentences", "refs (first sentence)", "refs (all sentences joined)"]);
  });
});

describe("synthref sample units", () => {
  const opts = { split: "refcoco/val", count: 6, width: 96, height: 72 };
  it("unit ref: one sample per ref with the chosen sentence; unit sentence unchanged; the cache is shared", async () => {
    const sentences = await openDataset("synthref", opts);
    const refs = await openDataset("synthref", { ...opts, unit: "ref" });
    const longest = await openDataset("synthref", { ...opts, unit: "ref", sentence: "longest" });
    expect(sentences.ids()).toEqual(["synthref:refcoco/val:0.0", "synthref:refcoco/val:0.1", "synthref:refcoco/val:1.0", "synthref:refcoco/val:1.1", "synthref:refcoco/val:2.0", "synthref:refcoco/val:2.1"]);
    expect(refs.ids()).toEqual(["synthref:refcoco/val:0.0", "synthref:refcoco/val:1.0", "synthref:refcoco/val:2.0"]);
    expect(longest.ids()).toEqual(["synthref:refcoco/val:0.longest", "synthref:refcoco/val:1.longest", "synthref:refcoco/val:2.longest"]);
    expect((await refs.get(1)).expression).toBe((await sentences.get(2)).expression);
    expect((await refs.get(1)).source).toBe("synthref/refcoco/val (refs, first)");
    for (let r = 0; r < 3; r++) {
      const both = [(await sentences.get(2 * r)).expression, (await sentences.get(2 * r + 1)).expression];
      expect((await longest.get(r)).expression).toBe(both[1]!.trim().length > both[0]!.trim().length ? both[1] : both[0]);
    }
    expect(synthrefCacheDir(resolveSynthrefOptions({ ...opts, unit: "ref", sentence: "longest" }))).toBe(synthrefCacheDir(resolveSynthrefOptions(opts)));
    await expect(openDataset("synthref", { ...opts, unit: "refs" })).rejects.toThrow(/dataset.unit: expected sentence or ref/);
    await expect(openDataset("synthref", { ...opts, sentence: "first" })).rejects.toThrow(/dataset.sentence: a sentence mode needs unit: ref/);
  }, 60_000);
});

describe.skipIf(!pythonAvailable())("REFER sample units (needs python3)", () => {
  it("unit ref with each sentence mode; ids carry the chosen sentence", async () => {
    const root = await makeReferFixture();
    const all = await openDataset("refcoco", { split: "testA", root });
    expect(all.ids()).toEqual(["refcoco:unc:2.20", "refcoco:unc:2.21", "refcoco:unc:4.40", "refcoco:unc:4.41"]);
    const first = await openDataset("refcoco", { split: "testA", root, unit: "ref" });
    expect(first.ids()).toEqual(["refcoco:unc:2.20", "refcoco:unc:4.40"]);
    expect(first.name).toBe("refcoco/testA (refs, first)");
    const shortest = await openDataset("refcoco", { split: "testA", root, unit: "ref", sentence: "shortest" });
    expect(shortest.ids()).toEqual(["refcoco:unc:2.21", "refcoco:unc:4.41"]);
    expect((await shortest.get(0)).expression).toBe("second 2");
    const joined = await openDataset("refcoco", { split: "testA", root, unit: "ref", sentence: "join" });
    expect(joined.ids()).toEqual(["refcoco:unc:2.join", "refcoco:unc:4.join"]);
    const j = await joined.get(1);
    expect(j.expression).toBe("refcoco ref 4 left | second 4");
    expect(j.source).toBe("refcoco/testA (refs, join)");
    expect((j.meta as { sentence: number }).sentence).toBe(40);
    await expect(openDataset("refcoco", { split: "testA", root, unit: "ref", sentence: "last" })).rejects.toThrow(/dataset.sentence: expected one of first, longest, shortest, random, join/);
  });
});
