import { appendFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError, suggest } from "./errors.js";
import { stableStringify } from "./hash.js";
import { decodeImage, encodePng, maskFromPng, maskToPng, readImage } from "./image.js";
import { assertMask, boxToMask, intersectionUnion, maskArea, maskBox, maskIoU, resizeMask } from "./mask.js";
import { Lru } from "./lru.js";
import { readJsonLinesTolerant, repairJsonLines } from "./fs.js";
import { randomStream } from "./random.js";

describe("random streams", () => {
  it("depend only on (seed, component, sample id)", () => {
    const a = randomStream(7, "sampler", "s1");
    const draws = [a.next(), a.normal(), a.int(10)];
    const b = randomStream(7, "sampler", "s1");
    expect([b.next(), b.normal(), b.int(10)]).toEqual(draws);
    expect(randomStream(7, "sampler", "s2").next()).not.toBe(draws[0]);
    expect(randomStream(8, "sampler", "s1").next()).not.toBe(draws[0]);
    expect(randomStream(7, "verifier", "s1").next()).not.toBe(draws[0]);
  });

  it("fork is independent of how much the parent has drawn", () => {
    const a = randomStream(1, "x");
    const fa = a.fork("child").next();
    const b = randomStream(1, "x");
    b.next();
    b.next();
    expect(b.fork("child").next()).toBe(fa);
  });

  it("shuffle is a permutation and choice stays in range", () => {
    const r = randomStream(3, "t");
    const s = r.shuffle([1, 2, 3, 4, 5, 6]);
    expect([...s].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    for (let i = 0; i < 100; i++) expect(["a", "b"]).toContain(r.choice(["a", "b"]));
    expect(() => r.int(0)).toThrow(RangeError);
  });
});

describe("masks", () => {
  const a = boxToMask({ x1: 1, y1: 1, x2: 5, y2: 4 }, 8, 6);
  const b = boxToMask({ x1: 3, y1: 2, x2: 7, y2: 6 }, 8, 6);

  it("area, box, intersection, union, IoU", () => {
    expect(maskArea(a)).toBe(12);
    expect(maskBox(a)).toEqual({ x1: 1, y1: 1, x2: 5, y2: 4 });
    const { intersection, union } = intersectionUnion(a, b);
    expect(intersection).toBe(4);
    expect(union).toBe(12 + 16 - 4);
    expect(maskIoU(a, b)).toBeCloseTo(4 / 24);
    expect(maskIoU(boxToMask({ x1: 0, y1: 0, x2: 0, y2: 0 }, 4, 4), boxToMask({ x1: 0, y1: 0, x2: 0, y2: 0 }, 4, 4))).toBe(1);
    expect(maskBox(boxToMask({ x1: 0, y1: 0, x2: 0, y2: 0 }, 4, 4))).toBeUndefined();
  });

  it("resize keeps masks binary and maps back exactly on integer factors", () => {
    const up = resizeMask(a, 16, 12);
    expect(maskArea(up)).toBe(48);
    expect(resizeMask(up, 8, 6).data).toEqual(a.data);
  });

  it("a mask of the wrong size is one clear error", () => {
    const small = boxToMask({ x1: 0, y1: 0, x2: 2, y2: 2 }, 4, 4);
    expect(() => intersectionUnion(a, small)).toThrow(/mask b: mask is 4x4 but 8x6 was expected/);
    expect(() => assertMask({ width: 2, height: 2, data: new Uint8Array(3) })).toThrow(/3 values but 2x2 needs 4/);
  });
});

describe("image I/O", () => {
  it("PNG round-trips RGB exactly and masks keep ignore pixels", async () => {
    const img = { width: 5, height: 3, data: new Uint8Array(45).map((_, i) => (i * 37) % 256) };
    const back = await decodeImage(await encodePng(img));
    expect(back.width).toBe(5);
    expect(Array.from(back.data)).toEqual(Array.from(img.data));
    const m = { width: 3, height: 2, data: Uint8Array.from([0, 1, 255, 1, 0, 0]) };
    expect(Array.from((await maskFromPng(await maskToPng(m))).data)).toEqual(Array.from(m.data));
  });

  it("a corrupt or missing image names the file", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-core-"));
    const bad = join(dir, "corrupt.jpg");
    await writeFile(bad, Buffer.from([0xff, 0xd8, 0xff, 0x00, 1, 2, 3]));
    await expect(readImage(bad)).rejects.toThrow(InputError);
    await expect(readImage(bad)).rejects.toThrow(/corrupt\.jpg: cannot decode image/);
    await expect(readImage(join(dir, "missing.png"))).rejects.toThrow(/missing\.png: cannot read image: ENOENT/);
  });
});

describe("helpers", () => {
  it("suggest proposes the closest name", () => {
    expect(suggest("ebd-spirl", ["ebd-spiral", "random", "grid"])).toMatch(/did you mean "ebd-spiral"/);
    expect(suggest("zzzzzzzz", ["random", "grid"])).toBe("known: random, grid");
  });
  it("stableStringify ignores key order", () => {
    expect(stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe(stableStringify({ a: [1, { c: 3, d: 2 }], b: 1 }));
  });
});

describe("Lru", () => {
  it("drops the least recently used entry past its size; a get counts as a use", () => {
    const lru = new Lru<number>(2);
    lru.set("a", 1);
    lru.set("b", 2);
    expect(lru.get("a")).toBe(1);
    lru.set("c", 3);
    expect([lru.get("a"), lru.get("b"), lru.get("c"), lru.size]).toEqual([1, undefined, 3, 2]);
    lru.delete("a");
    expect(lru.size).toBe(1);
  });
});

describe("JSON-lines files with torn lines", () => {
  const rec = (i: number) => JSON.stringify({ id: `s${i}`, cell: "K=4", box: [i, i, i + 1, i + 1], nested: { a: [{ b: i }] } });
  const tmpFile = async (text: string) => {
    const f = join(await mkdtemp(join(tmpdir(), "resagent-jsonl-")), "x.jsonl");
    await writeFile(f, text);
    return f;
  };

  it("cut a torn tail off, as a kill leaves it, and keep every line before it", async () => {
    const f = await tmpFile(`${rec(0)}\n${rec(1)}\n{"id":"s2","ce`);
    const { values, dropped } = await repairJsonLines<{ id: string }>(f);
    expect(values.map((v) => v.id)).toEqual(["s0", "s1"]);
    expect(dropped).toBe(1);
    expect(await readFile(f, "utf8")).toBe(`${rec(0)}\n${rec(1)}\n`);
  });

  it("keep the valid lines after a torn line in the middle, and rewrite the file without it", async () => {
    const text = `${rec(0)}\n{"id":"s1","cell":"K=4","bo\n${rec(2)}\n\n${rec(3)}\n`;
    const f = await tmpFile(text);
    expect(readJsonLinesTolerant(f)).toMatchObject({ skipped: 1, values: [{ id: "s0" }, { id: "s2" }, { id: "s3" }] });
    const { values, dropped } = await repairJsonLines<{ id: string }>(f);
    expect(values.map((v) => v.id)).toEqual(["s0", "s2", "s3"]);
    expect(dropped).toBe(1);
    expect(await readFile(f, "utf8")).toBe(`${rec(0)}\n${rec(2)}\n${rec(3)}\n`);
    // Repaired: nothing more to drop, and appends start on a line of their own.
    expect((await repairJsonLines(f)).dropped).toBe(0);
  });

  it("salvage a complete line that was appended onto a torn one", async () => {
    const f = await tmpFile(`${rec(0)}\n{"id":"s1","cell":"K=4","box":[1,${rec(2)}\n${rec(3)}\n`);
    expect(readJsonLinesTolerant<{ id: string }>(f).values.map((v) => v.id)).toEqual(["s0", "s2", "s3"]);
    const { values, dropped } = await repairJsonLines<{ id: string }>(f);
    expect(values.map((v) => v.id)).toEqual(["s0", "s2", "s3"]);
    expect(dropped).toBe(1);
    expect((await readFile(f, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as unknown)).toEqual([rec(0), rec(2), rec(3)].map((l) => JSON.parse(l) as unknown));
  });

  it("give a complete last line its newline before appending, and drop lines the caller rejects", async () => {
    const f = await tmpFile(rec(0));
    expect((await repairJsonLines(f)).dropped).toBe(0);
    await appendFile(f, `${rec(1)}\n`);
    expect((await repairJsonLines<{ id: string }>(f)).values.map((v) => v.id)).toEqual(["s0", "s1"]);
    const g = await tmpFile(`${rec(0)}\n[1,2]\n${rec(1)}\n`);
    const isRec = (v: unknown): v is { id: string } => typeof (v as { id?: unknown } | null)?.id === "string";
    expect(readJsonLinesTolerant(g, isRec)).toMatchObject({ skipped: 1, values: [{ id: "s0" }, { id: "s1" }] });
    expect(await repairJsonLines(g, isRec)).toMatchObject({ dropped: 1, values: [{ id: "s0" }, { id: "s1" }] });
  });
});
