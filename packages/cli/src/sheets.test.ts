/** Which samples a synthref contact sheet shows. */
import { expect, it } from "vitest";
import type { Sample } from "@resagent/core";
import { sheetPicks } from "./commands/synthref.js";

const fake = (split: string, refs: number, perRef: number): Sample[] =>
  Array.from({ length: refs * perRef }, (_, i) => ({ id: `synthref:${split}:${Math.floor(i / perRef)}.${i % perRef}`, source: `synthref/${split}`, imagePath: "x.png", width: 4, height: 4, expression: "x", meta: { ref: Math.floor(i / perRef) } }));

it("synthref --count 16 --sheet shows 16 tiles: every scene once before any scene twice", () => {
  const picks = sheetPicks(fake("refcoco/val", 8, 2), ["refcoco/val"], 16);
  expect(picks).toHaveLength(16);
  expect(picks.slice(0, 8).map((s) => s.meta?.ref)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  expect(new Set(picks.map((s) => s.id)).size).toBe(16);
});

it("spreads the sheet over the splits in turn, and fills from the others when one runs short", () => {
  const picks = sheetPicks([...fake("a", 2, 1), ...fake("b", 10, 2)], ["a", "b"], 8);
  expect(picks.map((s) => s.source)).toEqual(["synthref/a", "synthref/b", "synthref/a", "synthref/b", "synthref/b", "synthref/b", "synthref/b", "synthref/b"]);
});
