/** Polygons far outside their image are refused before rasterising (which walks every edge pixel). */
import { describe, expect, it } from "vitest";
import { InputError, polygonToCounts, segmentationToCounts } from "./index.js";

describe("polygon bounds", () => {
  it("refuses a vertex more than an image side beyond the border, naming the coordinate", () => {
    expect(() => polygonToCounts([0, 0, 1e6, 0, 1e6, 1e6], 10, 10, "annotation 7.segmentation[0]")).toThrow(InputError);
    expect(() => polygonToCounts([0, 0, 1e6, 0, 1e6, 1e6], 10, 10, "annotation 7.segmentation[0]")).toThrow(/^annotation 7\.segmentation\[0\]: coordinate 2 \(x\) is 1000000, far outside the 10x10 image/);
    expect(() => segmentationToCounts([[-1e9, 0, 5, 0, 5, 5]], 480, 640)).toThrow(/coordinate 0 \(x\) is -1000000000, far outside the 640x480 image/);
    expect(() => segmentationToCounts([0, 0, 1e9, 1e9], 480, 640)).toThrow(/far outside/);
  });
  it("still clips a polygon that strays a little past the border, as pycocotools does", () => {
    const counts = polygonToCounts([-3, -3, 12, -3, 12, 12, -3, 12], 10, 10);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(100);
    expect(counts).toEqual([0, 100]);
  });
});
