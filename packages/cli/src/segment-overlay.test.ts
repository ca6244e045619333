/** `segment`'s file names and overlay drawing. */
import { describe, expect, it } from "vitest";
import { paintMasks, placeLabels, segmentStem, slug } from "./segment-overlay.js";

describe("segment file names", () => {
  it("are named after what was asked", () => {
    expect(segmentStem({ sample: "synthref:refcoco/val:3" })).toBe("synthref_refcoco-val_3");
    expect(segmentStem({ sample: "refcoco+:val:17" })).toBe("refcoco+_val_17");
    expect(segmentStem({ image: "/data/photos/kitchen.jpg", text: "The red mug, on the LEFT!" })).toBe("kitchen_the-red-mug-on-the-left");
    expect(segmentStem({ sample: "synthref:refcoco/val:3", text: "gray ball", exp: "table2", cell: "+VBR" })).toBe("synthref_refcoco-val_3_gray-ball_table2_+VBR");
    // the default experiment is not repeated in every name
    expect(segmentStem({ sample: "synthref:refcoco/val:3", exp: "table4" })).toBe("synthref_refcoco-val_3");
  });

  it("slugs long phrases at a word boundary", () => {
    expect(slug("the man standing on the far left of the picture wearing a very tall hat")).toBe("the-man-standing-on-the-far-left-of-the");
    expect(slug("!!!")).toBe("phrase");
  });
});

describe("segment overlay", () => {
  it("places labels clear of every marker and of each other when there is room", () => {
    const pts = [
      { x: 100, y: 100, text: "0.93" },
      { x: 112, y: 104, text: "0.02" },
      { x: 106, y: 120, text: "1.00" },
      { x: 90, y: 110, text: "0.50" },
    ];
    const font = 12;
    const r = 11;
    const spots = placeLabels(pts, 400, 300, font, r);
    const rects = spots.map((s, i) => ({ x: s.x - 2, y: s.y - font + 1, w: pts[i]!.text.length * 0.58 * font + 4, h: font + 2 }));
    const hit = (a: { x: number; y: number; w: number; h: number }, b: { x: number; y: number; w: number; h: number }) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    for (const [i, a] of rects.entries()) {
      for (const p of pts) expect(hit(a, { x: p.x - r - 2, y: p.y - r - 2, w: 2 * r + 4, h: 2 * r + 4 }), `label ${i} over a marker`).toBe(false);
      for (const [j, b] of rects.entries()) if (j !== i) expect(hit(a, b), `labels ${i} and ${j}`).toBe(false);
      expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= 400 && a.y + a.h <= 300).toBe(true);
    }
  });

  it("draws the mask as an outline over a light fill, keeping the object's colour, and the gold mask dashed outside it", () => {
    const w = 40;
    const h = 40;
    const img = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(128) }; // grey
    const mask = { width: w, height: h, data: new Uint8Array(w * h) };
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) mask.data[y * w + x] = 1;
    const out = paintMasks(img, mask, mask);
    const px = (x: number, y: number) => [...out.subarray(3 * (y * w + x), 3 * (y * w + x) + 3)];
    // Inside: still grey, nearly (the fill is light).
    const inner = px(20, 20);
    for (const c of inner) expect(Math.abs(c - 128)).toBeLessThan(20);
    // On the edge: the outline colour, fully.
    expect(px(10, 20)).toEqual([0, 229, 255]);
    // Outside the gold mask, some pixels of the ring are dashed yellow, some left as they were.
    const ring = Array.from({ length: 20 }, (_, i) => px(8, 10 + i).join(","));
    expect(ring).toContain("255,214,0");
    expect(ring).toContain("128,128,128");
    // Far away: untouched.
    expect(px(2, 2)).toEqual([128, 128, 128]);
  });
});
