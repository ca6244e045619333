import { describe, expect, it } from "vitest";
import { InputError, type Box } from "@resagent/core";
import { ROUTER_DESCRIPTIONS, routeBoxes } from "./routers.js";

const B = (x1: number, y1: number, x2: number, y2: number): Box => ({ x1, y1, x2, y2 });

// Three experts on the object (0,0)-(10,10), slightly apart, and one wild box far away.
const A = B(0, 0, 10, 10);
const A2 = B(1, 0, 11, 10); // IoU with A: 90/110
const A3 = B(0, 1, 10, 11); // IoU with A: 90/110, with A2: 81/119
const WILD = B(100, 100, 200, 200);

describe("routers on hand-made boxes", () => {
  it("medoid: the box with the highest summed IoU to the others (the one between the other two), never the wild one", () => {
    const r = routeBoxes("medoid", [WILD, A2, A, A3])!;
    expect(r.from).toEqual([2]);
    expect(r.box).toEqual(A);
  });

  it("medoid: ties go to the first expert; one box is that box", () => {
    expect(routeBoxes("medoid", [A, A])!.from).toEqual([0]);
    expect(routeBoxes("medoid", [A2])).toEqual({ box: A2, from: [0] });
  });

  it("mean: the plain coordinate mean, ruined by one wild box", () => {
    const r = routeBoxes("mean", [A, A2, A3, WILD])!;
    expect(r.box).toEqual({ x1: (0 + 1 + 0 + 100) / 4, y1: (0 + 0 + 1 + 100) / 4, x2: (10 + 11 + 10 + 200) / 4, y2: (10 + 10 + 11 + 200) / 4 });
    expect(r.from).toEqual([0, 1, 2, 3]);
  });

  it("trimmed-mean: drops the `trim` boxes of lowest mean IoU to the others (authors' default 2), then the mean", () => {
    // Mean IoU to the others: A highest, then A2 / A3 (equal), WILD 0. Trim 2 drops WILD and A3
    // (the later of the tied pair: config order among equals).
    const r = routeBoxes("trimmed-mean", [A, A2, A3, WILD])!;
    expect(r.from).toEqual([0, 1]);
    expect(r.box).toEqual({ x1: 0.5, y1: 0, x2: 10.5, y2: 10 });
    // Trim 1 drops only the wild box.
    const t1 = routeBoxes("trimmed-mean", [A, A2, A3, WILD], { trim: 1 })!;
    expect(t1.from).toEqual([0, 1, 2]);
    expect(t1.box.x1).toBeCloseTo(1 / 3, 12);
    expect(t1.box.y2).toBeCloseTo(31 / 3, 12);
  });

  it("trimmed-mean: two boxes or fewer, or trim 0, is the plain mean (as the authors)", () => {
    expect(routeBoxes("trimmed-mean", [A, WILD])!.box).toEqual(routeBoxes("mean", [A, WILD])!.box);
    expect(routeBoxes("trimmed-mean", [A, A2, WILD], { trim: 0 })!.box).toEqual(routeBoxes("mean", [A, A2, WILD])!.box);
  });

  it("vote-mean: mean of the largest set agreeing (IoU >= 0.6 by default) with one box", () => {
    const r = routeBoxes("vote-mean", [WILD, A, A2, A3])!;
    expect(r.from).toEqual([1, 2, 3]);
    expect(r.box.x1).toBeCloseTo(1 / 3, 12);
    expect(r.box.x2).toBeCloseTo(31 / 3, 12);
    // A2 and A3 agree only at IoU 81/119 = 0.68: at 0.7 each of them agrees with A alone, but A
    // agrees with both (0.82), so A's set {A2, A3, A} wins.
    expect(routeBoxes("vote-mean", [A2, A3, A], { voteIoU: 0.7 })!.from).toEqual([0, 1, 2]);
    // At 0.85 A2 / A3 agree with A no more either.
    expect(routeBoxes("vote-mean", [A2, A3, A], { voteIoU: 0.85 })!.from).toHaveLength(1);
    // At 0.95 nobody agrees: the support of a box is itself; ties by density go to the first.
    expect(routeBoxes("vote-mean", [A2, A3, A], { voteIoU: 0.95 })).toEqual({ box: A2, from: [0] });
  });

  it("vote-mean: of two equal-sized clusters the denser one wins", () => {
    const loose = [B(50, 50, 60, 60), B(52, 50, 62, 60)]; // IoU 80/120
    const tight = [B(0, 0, 10, 10), B(0.5, 0, 10.5, 10)]; // IoU 95/105
    expect(routeBoxes("vote-mean", [...loose, ...tight])!.from).toEqual([2, 3]);
  });

  it("first-valid: the first box given (failed experts are dropped before routing)", () => {
    expect(routeBoxes("first-valid", [WILD, A])).toEqual({ box: WILD, from: [0] });
  });

  it("oracle-best: the box closest to gold, and it refuses to run without gold", () => {
    expect(routeBoxes("oracle-best", [WILD, A2, A3], { gold: A })!.from).toEqual([1]);
    expect(() => routeBoxes("oracle-best", [A], {})).toThrow(InputError);
    expect(() => routeBoxes("oracle-best", [A], {})).toThrow(/pipeline\.grounding\.router.*gold/);
    expect(ROUTER_DESCRIPTIONS["oracle-best"]).toMatch(/UPPER BOUND/);
  });

  it("no boxes: null for every router", () => {
    for (const r of ["medoid", "trimmed-mean", "vote-mean", "mean", "first-valid"] as const) expect(routeBoxes(r, [])).toBeNull();
    expect(routeBoxes("oracle-best", [], { gold: A })).toBeNull();
  });
});
