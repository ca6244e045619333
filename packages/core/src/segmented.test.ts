import { appendFile, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openSealed, readSegmented, sealLine, segmentDir, SegmentWriter } from "./segmented.js";

const isKv = (v: unknown): v is { k: string; n: number } => typeof (v as { k?: unknown } | null)?.k === "string";

describe("sealed lines", () => {
  it("round-trip, and any change to the text fails the checksum", () => {
    const line = sealLine({ k: "a", v: { text: "Yes", top: [{ token: "Yes", logprob: -0.1 }] } });
    expect(line).toMatch(/^\{"_sum":"[0-9a-f]{16}","k":"a",/);
    expect(JSON.parse(line)).toMatchObject({ k: "a" }); // still plain JSON for jq and friends
    expect(openSealed(line)).toEqual({ value: { k: "a", v: { text: "Yes", top: [{ token: "Yes", logprob: -0.1 }] } }, torn: false });
    // A splice that still parses: one changed character, a swapped number, a cut-and-joined tail.
    expect(openSealed(line.replace('"text":"Yes"', '"text":"Yea"')).value).toBeUndefined();
    expect(openSealed(line.replace("-0.1", "-0.2")).value).toBeUndefined();
    const other = sealLine({ k: "b", v: { text: "No" } });
    expect(openSealed(line.slice(0, 40) + other.slice(40)).value).toBeUndefined();
    // A torn write that the next line ran into: the whole line after it is kept, marked torn.
    expect(openSealed(line.slice(0, 30) + other)).toEqual({ value: { k: "b", v: { text: "No" } }, torn: true });
    expect(openSealed('{"k":"a"}')).toEqual({ torn: true }); // unsealed
    expect(() => sealLine({})).toThrow(TypeError);
  });
});

describe("segmented store", () => {
  it("each writer appends to its own segment; the reader loads the legacy file, then segments in creation order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-seg-"));
    const file = join(dir, "store.jsonl");
    await writeFile(file, '{"k":"legacy","n":0}\n{"k":"torn","n');
    const a = new SegmentWriter(file);
    const b = new SegmentWriter(file, { keepOpen: false });
    expect(a.path).toBeUndefined(); // nothing is created before the first append
    await Promise.all([a.append({ k: "x", n: 1 }), a.append({ k: "y", n: 2 })]);
    await new Promise((r) => setTimeout(r, 5)); // a later creation time, so b's segment sorts after a's
    await b.append({ k: "x", n: 3 });
    await a.append({ k: "z", n: 4 });
    await a.close();
    expect(a.path).not.toBe(b.path);
    expect((await readdir(segmentDir(file))).length).toBe(2);
    const { values, skipped, files } = readSegmented(file, isKv);
    expect(values).toEqual([
      { k: "legacy", n: 0 },
      { k: "x", n: 1 },
      { k: "y", n: 2 },
      { k: "z", n: 4 },
      { k: "x", n: 3 },
    ]);
    expect({ skipped, files }).toEqual({ skipped: 1, files: 3 });
    // A kill mid-line in a segment, and a line damaged in place: skipped, the rest read.
    await appendFile(a.path!, sealLine({ k: "w", n: 5 }).slice(0, 20));
    const text = await readFile(b.path!, "utf8");
    await writeFile(b.path!, text.replace('"n":3', '"n":8'));
    expect(readSegmented(file, isKv)).toMatchObject({ skipped: 3, files: 3 });
    expect(readSegmented(file, isKv).values.map((v) => v.n)).toEqual([0, 1, 2, 4]);
    // A missing store is empty.
    expect(readSegmented(join(dir, "none.jsonl"), isKv)).toEqual({ values: [], skipped: 0, files: 0 });
  });

  it("a long line (several MB) is written whole", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-seg-"));
    const file = join(dir, "big.jsonl");
    const w = new SegmentWriter(file);
    const big = "x".repeat(5_000_000);
    await Promise.all([w.append({ k: "big", s: big }), w.append({ k: "small", s: "y" })]);
    await w.close();
    const { values, skipped } = readSegmented(file, (v): v is { k: string; s: string } => typeof (v as { s?: unknown }).s === "string");
    expect(skipped).toBe(0);
    expect(values.map((v) => [v.k, v.s.length])).toEqual([
      ["big", 5_000_000],
      ["small", 1],
    ]);
  });
});
