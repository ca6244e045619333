import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { encodePng } from "@resagent/core";
import { openDataset, reasonSegMask } from "./index.js";

describe("ReasonSeg", () => {
  it("builds LISA masks: flags skipped, largest first, ignore = 255", () => {
    const m = reasonSegMask(
      [
        { label: "target", points: [[2, 2], [17, 2], [17, 12], [2, 12]] },
        { label: "ignore", points: [[5, 5], [9.9, 5], [9.9, 9.9], [5, 9.9]] },
        { label: "flag", points: [[0, 0], [19, 0], [19, 14], [0, 14]] },
      ],
      20,
      15,
    );
    expect(m.data[0]).toBe(0); // flag not drawn
    expect(m.data[3 * 20 + 3]).toBe(1);
    expect(m.data[7 * 20 + 7]).toBe(255); // smaller ignore drawn after the larger target
    expect(m.data[2 * 20 + 17]).toBe(1); // outline pixels included
    let ones = 0;
    for (const v of m.data) if (v === 1) ones++;
    expect(ones).toBe(16 * 11 - 25);
  });

  it("loads a split with text[0], a cp1252 fallback, and clear errors", async () => {
    const root = await mkdtemp(join(tmpdir(), "resagent-reasonseg-"));
    const dir = join(root, "reason_seg", "ReasonSeg", "val");
    await mkdir(dir, { recursive: true });
    const img = await encodePng({ width: 20, height: 15, data: new Uint8Array(900).fill(90) });
    await writeFile(join(dir, "a.jpg"), img);
    await writeFile(join(dir, "a.json"), JSON.stringify({ text: ["the thing you sit on", "alt"], is_sentence: false, shapes: [{ label: "target", points: [[2, 2], [10, 2], [10, 8], [2, 8]], shape_type: "polygon" }] }));
    await writeFile(join(dir, "b.jpg"), img);
    await writeFile(join(dir, "b.json"), Buffer.concat([Buffer.from('{"text": ["what\'s the user\x92s cup"], "is_sentence": true, "shapes": [{"label": "target", "points": [[1,1],[5,1],[5,5]]}]}', "latin1")]));
    await writeFile(join(dir, "c.jpg"), img);
    const ds = await openDataset("reasonseg", { split: "val", root });
    expect(ds.ids()).toEqual(["reasonseg:val:a", "reasonseg:val:b", "reasonseg:val:c"]);
    const a = await ds.get(0);
    expect(a.expression).toBe("the thing you sit on");
    expect(a.goldBox).toEqual({ x1: 2, y1: 2, x2: 11, y2: 9 });
    expect((await ds.get(1)).expression).toBe("what's the user\u2019s cup");
    await expect(ds.get(2)).rejects.toThrow(/c\.json: annotation of c\.jpg is missing/);
    await expect(openDataset("reasonseg", { split: "test", root })).rejects.toThrow(/ReasonSeg split folder not found/);
  });
});

const realReason = process.env.RESAGENT_REASONSEG_ROOT;
describe.skipIf(!realReason)("real ReasonSeg (skipped: set RESAGENT_REASONSEG_ROOT to the folder holding reason_seg/ReasonSeg/)", () => {
  it("val has 200 images and every sample loads", async () => {
    const ds = await openDataset("reasonseg", { split: "val", root: realReason! });
    expect(ds.size).toBe(200);
    for (let i = 0; i < ds.size; i++) expect((await ds.get(i)).goldMask).toBeDefined();
  }, 600_000);
});
