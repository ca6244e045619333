import { InputError, boxIoU, type Box } from "@resagent/core";

/**
 * How an ensemble of grounders turns its experts' boxes into one box. Definitions follow the
 * authors' router evaluation (xbdxwyh/Resagent `merged_router_clip_vlm_single_style.py`:
 * `medoid_box`, `trimmed_mean_box`, `vote_mean_box`, `box_mean`, oracle_best; defaults
 * `--trim-num 2`, `--cluster-iou-thresh 0.60`), plus `first-valid`.
 */
export const ROUTER_NAMES = ["medoid", "trimmed-mean", "vote-mean", "mean", "first-valid", "oracle-best"] as const;
export type RouterName = (typeof ROUTER_NAMES)[number];

/** What each router does, for run descriptions and docs. */
export const ROUTER_DESCRIPTIONS: Record<RouterName, string> = {
  medoid: "the expert box with the highest summed IoU to the others",
  "trimmed-mean": "coordinate mean of the boxes left after dropping the `trim` boxes of lowest mean IoU to the others",
  "vote-mean": "coordinate mean of the largest set of boxes agreeing (IoU >= voteIoU) with one box",
  mean: "coordinate mean of every box (one wild expert ruins it)",
  "first-valid": "the first expert (in config order) with a usable box",
  "oracle-best": "UPPER BOUND, uses the gold box: the expert box with the highest IoU to gold; not a method",
};

/** The authors' defaults: drop 2 boxes (`--trim-num 2`), agree at IoU 0.6 (`--cluster-iou-thresh 0.60`). */
export const ROUTER_DEFAULTS = { trim: 2, voteIoU: 0.6 } as const;

export interface RouterOptions {
  trim?: number;
  voteIoU?: number;
  /** oracle-best only: the gold box. */
  gold?: Box;
}

/** A routed box and the experts (indices into the boxes given) it was made from. */
export interface Routed {
  box: Box;
  from: number[];
}

function meanBox(boxes: readonly Box[]): Box {
  const n = boxes.length;
  const s = boxes.reduce((a, b) => ({ x1: a.x1 + b.x1, y1: a.y1 + b.y1, x2: a.x2 + b.x2, y2: a.y2 + b.y2 }), { x1: 0, y1: 0, x2: 0, y2: 0 });
  return { x1: s.x1 / n, y1: s.y1 / n, x2: s.x2 / n, y2: s.y2 / n };
}

function iouMatrix(boxes: readonly Box[]): number[][] {
  const n = boxes.length;
  const m = boxes.map(() => new Array<number>(n).fill(1));
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i]![j] = m[j]![i] = boxIoU(boxes[i]!, boxes[j]!);
  return m;
}

/** Summed IoU of each box to the others. */
function consensus(m: number[][]): number[] {
  return m.map((row, i) => row.reduce((s, v, j) => (i === j ? s : s + v), 0));
}

/** Index of the largest value; ties go to the earliest (numpy argmax). */
function argmax(xs: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i]! > xs[best]!) best = i;
  return best;
}

/**
 * Combine the valid experts' boxes (failed experts already dropped; `boxes[i]` is expert
 * `experts[i]`). One box is that box. Returns null only for no box at all.
 */
export function routeBoxes(router: RouterName, boxes: readonly Box[], opts: RouterOptions = {}): Routed | null {
  const n = boxes.length;
  if (router === "oracle-best" && !opts.gold) throw new InputError("the oracle-best router needs the sample's gold box (it is an upper bound that looks at ground truth)", { field: "pipeline.grounding.router" });
  if (n === 0) return null;
  const all = boxes.map((_, i) => i);
  switch (router) {
    case "first-valid":
      return { box: boxes[0]!, from: [0] };
    case "mean":
      return { box: meanBox(boxes), from: all };
    case "oracle-best": {
      const i = argmax(boxes.map((b) => boxIoU(b, opts.gold!)));
      return { box: boxes[i]!, from: [i] };
    }
    case "medoid": {
      if (n === 1) return { box: boxes[0]!, from: [0] };
      const i = argmax(consensus(iouMatrix(boxes)));
      return { box: boxes[i]!, from: [i] };
    }
    case "trimmed-mean": {
      const trim = opts.trim ?? ROUTER_DEFAULTS.trim;
      // As the authors: with two boxes or fewer (or nothing to trim) the plain mean.
      if (n <= 2 || trim <= 0) return { box: meanBox(boxes), from: all };
      const keep = Math.max(1, n - trim);
      const score = consensus(iouMatrix(boxes)).map((s) => s / (n - 1));
      // Highest mean IoU first; a stable sort keeps config order among equals.
      const kept = all.sort((a, b) => score[b]! - score[a]!).slice(0, keep).sort((a, b) => a - b);
      return { box: meanBox(kept.map((i) => boxes[i]!)), from: kept };
    }
    case "vote-mean": {
      if (n === 1) return { box: boxes[0]!, from: [0] };
      const t = opts.voteIoU ?? ROUTER_DEFAULTS.voteIoU;
      const m = iouMatrix(boxes);
      let best: number[] = [];
      let bestDense = -1;
      for (let i = 0; i < n; i++) {
        const support = all.filter((j) => m[i]![j]! >= t);
        // Density: mean IoU within the support (diagonal included), the authors' tie-break.
        let s = 0;
        for (const a of support) for (const b of support) s += m[a]![b]!;
        const dense = support.length ? s / (support.length * support.length) : -1;
        if (support.length > best.length || (support.length === best.length && dense > bestDense)) {
          best = support;
          bestDense = dense;
        }
      }
      return { box: meanBox(best.map((i) => boxes[i]!)), from: best };
    }
    default: {
      const never: never = router;
      throw new InputError(`unknown router ${JSON.stringify(never)}; known: ${ROUTER_NAMES.join(", ")}`, { field: "pipeline.grounding.router" });
    }
  }
}
