import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  countsToString,
  maskToCounts,
  polygonsToMask,
  rleArea,
  rleDecode,
  rleEncode,
  rleToBbox,
  segmentationToMask,
  stringToCounts,
} from "./coco.js";
import { InputError } from "./errors.js";
import type { Mask } from "./types.js";

const fixtures = new URL("../test/fixtures/", import.meta.url);
interface MaskVector { h: number; w: number; rows: string[]; counts: string; uncompressed: number[] }
interface PolygonVector { h: number; w: number; polygon: number[]; counts: string; area: number; rows: string[] }
const shared = JSON.parse(readFileSync(new URL("coco-mask-vectors.json", fixtures), "utf8")) as {
  masks: MaskVector[];
  polygons: PolygonVector[];
};
const unions = JSON.parse(readFileSync(new URL("coco-polygon-unions.json", fixtures), "utf8")) as {
  cases: { h: number; w: number; polygons: number[][]; counts: string; kind: string }[];
};

function maskFromRows(rows: string[]): Mask {
  const height = rows.length;
  const width = rows[0]?.length ?? 0;
  const data = new Uint8Array(width * height);
  rows.forEach((r, y) => {
    for (let x = 0; x < width; x++) data[y * width + x] = r[x] === "1" ? 1 : 0;
  });
  return { width, height, data };
}

function rowsOf(m: Mask): string[] {
  const rows: string[] = [];
  for (let y = 0; y < m.height; y++) rows.push(Array.from(m.data.subarray(y * m.width, (y + 1) * m.width)).join(""));
  return rows;
}

describe("COCO RLE against pycocotools vectors", () => {
  it.each(shared.masks.map((v, i) => [i, v] as const))("mask vector %i encodes and decodes exactly", (_, v) => {
    const mask = maskFromRows(v.rows);
    expect(mask.height).toBe(v.h);
    expect(maskToCounts(mask)).toEqual(v.uncompressed);
    const rle = rleEncode(mask);
    expect(rle).toEqual({ size: [v.h, v.w], counts: v.counts });
    expect(stringToCounts(v.counts)).toEqual(v.uncompressed);
    expect(rowsOf(rleDecode(rle))).toEqual(v.rows);
    expect(rowsOf(rleDecode({ size: [v.h, v.w], counts: v.uncompressed }))).toEqual(v.rows);
  });

  it.each(shared.polygons.map((v, i) => [i, v] as const))("polygon vector %i rasterises exactly", (_, v) => {
    const mask = polygonsToMask([v.polygon], v.h, v.w);
    expect(rowsOf(mask)).toEqual(v.rows);
    const rle = rleEncode(mask);
    expect(rle.counts).toBe(v.counts);
    expect(rleArea(rle)).toBe(v.area);
  });

  it("matches maskApi.c on 300 polygon unions it was not developed against", () => {
    let bad = 0;
    for (const c of unions.cases) {
      if (rleEncode(polygonsToMask(c.polygons, c.h, c.w)).counts !== c.counts) bad++;
    }
    expect(bad).toBe(0);
    expect(unions.cases.length).toBe(300);
  });
});

describe("COCO RLE details", () => {
  it("round-trips large counts and negative deltas through the string form", () => {
    const counts = [0, 5_000_000, 3, 1, 40_000, 2, 17, 123_456];
    expect(stringToCounts(countsToString(counts))).toEqual(counts);
  });

  it("toBbox follows pycocotools on runs that cross columns", () => {
    // 4x3 mask: column 0 rows 2-3 and column 1 rows 0-1 form one run in column-major order.
    const rle = { size: [4, 3] as [number, number], counts: [2, 4, 6] };
    expect(rleToBbox(rle)).toEqual([0, 0, 2, 4]);
    expect(rleToBbox({ size: [4, 3], counts: [12] })).toEqual([0, 0, 0, 0]);
  });

  it("reads segmentation in the three COCO shapes", () => {
    const poly = [[1, 1, 6, 1, 6, 4, 1, 4]];
    const a = segmentationToMask(poly, 8, 8);
    const b = segmentationToMask(rleEncode(a), 8, 8);
    expect(b.data).toEqual(a.data);
    const c = segmentationToMask([1, 1, 5, 3], 8, 8); // bbox [x, y, w, h]
    expect(c.data).toEqual(a.data);
  });

  it("rejects bad input with errors that say what is wrong", () => {
    expect(() => polygonsToMask([[0, 0, 5, 5]], 10, 10)).toThrow(/2 point\(s\); at least 3/);
    expect(() => polygonsToMask([[0, 0, 5, 5, 1]], 10, 10)).toThrow(/odd number/);
    expect(() => polygonsToMask([[0, 0, 5, Number.NaN, 1, 1]], 10, 10)).toThrow(/finite/);
    expect(() => rleDecode({ size: [3, 3], counts: [4, 4] })).toThrow(/sum to 8 pixels but size 3x3 has 9/);
    expect(() => rleDecode({ size: [3, 3], counts: "!!" })).toThrow(InputError);
    expect(() => rleEncode({ width: 3, height: 3, data: new Uint8Array(8) })).toThrow(/8 values but 3x3 needs 9/);
    expect(() => segmentationToMask({ size: [4, 4], counts: [16] }, 5, 5)).toThrow(/does not match the image/);
  });
});
