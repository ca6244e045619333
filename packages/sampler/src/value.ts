import { InputError, Lru, maskIoU, suggest, type Box, type Mask, type Point, type RgbImage } from "@resagent/core";
import { mergeQueues } from "./merge.js";
import type { MembershipParams } from "./entropy.js";
import type { Candidates, MergeOrder } from "./types.js";

/**
 * The value of asking about a point (the authors' teacher, `train_point_useful_value_*`: v =
 * max(G_pos, G_neg) clamped at 0): how much the decoder's IoU with gold rises, over the box alone,
 * when the point is added as a positive or as a negative, whichever helps more. A point whose
 * either answer leaves the mask as it was is worth nothing.
 */
export function pointValue(iouBoxOnly: number, iouPositive: number, iouNegative: number): number {
  return Math.max(0, Math.max(iouPositive, iouNegative) - iouBoxOnly);
}

/** What a point-value scorer may look at for one sample. Upper bounds alone read `gold`. */
export interface ValueContext {
  sampleId: string;
  image: RgbImage;
  /** Identifies the image's content (cache keys). */
  imageKey: string;
  box: Box;
  expression: string;
  /** The decoder's mask from the box alone (what the pipeline has before any point is asked about). */
  boxOnlyMask(): Promise<Mask>;
  /** The decoder's mask for the box plus these points. */
  decode(points: { positives: Point[]; negatives: Point[] }): Promise<Mask>;
  /** The gold mask: read only by scorers that are upper bounds (they say so). */
  gold?: Mask;
}

export interface PointValueScorer {
  readonly name: string;
  /** True when the scorer reads gold: every table and description says UPPER BOUND. */
  readonly upperBound: boolean;
  /** What ranked the points, in words, with what it was trained on (provenance). */
  describe(): string;
  /** A value per point (higher: ask first); the scale is the scorer's own. */
  score(points: readonly Point[], ctx: ValueContext): Promise<number[]>;
  stats?(): Record<string, number>;
}

/** The teacher's measurements for points in one sample: IoU with gold of the box alone, and of the box plus each point as a positive and as a negative. */
export interface TeacherMeasurement {
  iouBoxOnly: number;
  iouPositive: number[];
  iouNegative: number[];
}

/** IoU with gold of the decoder's mask for the box plus these points (the box alone when both are empty). */
export type IoUOf = (positives: Point[], negatives: Point[]) => Promise<number>;

/**
 * Measure the teacher: the box alone, and each point added as a positive and as a negative (two
 * decodes per point). What the prompts hold besides the box (points already chosen) is `iouOf`'s.
 */
export async function measureTeacher(points: readonly Point[], iouOf: IoUOf): Promise<TeacherMeasurement> {
  const iouBoxOnly = await iouOf([], []);
  const iouPositive: number[] = [];
  const iouNegative: number[] = [];
  for (const p of points) {
    iouPositive.push(await iouOf([p], []));
    iouNegative.push(await iouOf([], [p]));
  }
  return { iouBoxOnly, iouPositive, iouNegative };
}

/** The values of a measurement's points (see pointValue). */
export function teacherValues(m: TeacherMeasurement): number[] {
  return m.iouPositive.map((pos, i) => pointValue(m.iouBoxOnly, pos, m.iouNegative[i]!));
}

/**
 * The teacher itself as the ranking: each point's value measured with the decoder and gold at
 * ranking time. An UPPER BOUND (it reads the gold mask), and costly: two decodes per pool point,
 * each remembered per (image, box, prompt), so sweeps over K and over verifiers pay once.
 */
export class OracleValueScorer implements PointValueScorer {
  readonly name = "oracle-value";
  readonly upperBound = true;
  private readonly memo = new Lru<number>(200_000);
  private decodes = 0;
  private hits = 0;

  describe(): string {
    return "oracle-value: UPPER BOUND (ranks by the teacher: the decoder's IoU gain with gold for each point as a positive or a negative, measured at ranking time)";
  }

  stats(): Record<string, number> {
    return { oracleValueDecodes: this.decodes, oracleValueMemoHits: this.hits };
  }

  async score(points: readonly Point[], ctx: ValueContext): Promise<number[]> {
    const gold = ctx.gold;
    if (!gold) throw new InputError("sampler.rank oracle-value ranks by the gold mask, and this sample has none (use a dataset with gold masks, or learned-value)", { field: `sample ${ctx.sampleId}` });
    const b = ctx.box;
    const base = `${ctx.imageKey}|${b.x1},${b.y1},${b.x2},${b.y2}`;
    const iouOf: IoUOf = async (positives, negatives) => {
      const key = `${base}|${positives.map((p) => `+${p.x},${p.y}`).join("")}${negatives.map((p) => `-${p.x},${p.y}`).join("")}`;
      const known = this.memo.get(key);
      if (known !== undefined) {
        this.hits++;
        return known;
      }
      this.decodes++;
      const v = maskIoU(positives.length + negatives.length ? await ctx.decode({ positives, negatives }) : await ctx.boxOnlyMask(), gold);
      this.memo.set(key, v);
      return v;
    };
    return teacherValues(await measureTeacher(points, iouOf));
  }
}

/** A registered scorer: what it is and how to make one from sampler.* options. */
export interface ValueScorerEntry {
  description: string;
  create(options: { modelDir?: string }): PointValueScorer;
}

const scorers = new Map<string, ValueScorerEntry>([["oracle-value", { description: "UPPER BOUND: the teacher itself (decoder IoU gain with gold, measured at ranking time)", create: () => new OracleValueScorer() }]]);

/**
 * Register a scorer by name (`learned-value` registers itself when @resagent/learned is imported).
 * Returns what puts the previous entry back (a test's stand-in must not outlive its file).
 */
export function registerValueScorer(name: string, entry: ValueScorerEntry): () => void {
  const previous = scorers.get(name);
  scorers.set(name, entry);
  return () => {
    if (previous) scorers.set(name, previous);
    else scorers.delete(name);
  };
}

export function valueScorerNames(): string[] {
  return [...scorers.keys()];
}

export function describeValueScorers(): { name: string; description: string }[] {
  return [...scorers].map(([name, e]) => ({ name, description: e.description }));
}

/** A scorer by name (sampler.rank); unknown names fail with the known ones. */
export function createValueScorer(name: string, options: { modelDir?: string } = {}): PointValueScorer {
  const entry = scorers.get(name);
  if (!entry) {
    const hint = name === "learned-value" ? " (learned-value registers itself when @resagent/learned is imported; the resagent command does)" : "";
    throw new InputError(`unknown point ranking "${name}"${hint}; ${suggest(name, valueScorerNames())}`, { field: "sampler.rank" });
  }
  return entry.create(options);
}

/**
 * Keep the k highest-scoring points of each queue of a pool (ties: pool order), in score order,
 * and merge the queues as the sampler would. `scores` holds the external queue's scores, then the
 * internal queue's.
 */
export function rankPool(pool: Candidates, scores: readonly number[], k: { external: number; internal: number }, merge: MergeOrder, box: Box, membership?: MembershipParams): Candidates {
  if (scores.length !== pool.external.length + pool.internal.length) throw new RangeError(`rankPool: ${scores.length} scores for ${pool.external.length + pool.internal.length} points`);
  const top = (pts: Point[], offset: number, n: number) =>
    pts
      .map((p, i) => ({ p, i, s: scores[offset + i]! }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .slice(0, n)
      .map((x) => x.p);
  const external = top(pool.external, 0, k.external);
  const internal = top(pool.internal, pool.external.length, k.internal);
  return { external, internal, ordered: mergeQueues(external, internal, merge, box, membership), info: { ...pool.info, pool: pool.external.length + pool.internal.length } };
}
