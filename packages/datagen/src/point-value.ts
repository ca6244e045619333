import { open } from "node:fs/promises";
import { join } from "node:path";
import { InputError, maskIoU, maskValueAt, randomStream, readImage, readJsonLinesRepairing, rleEncode, sha256, writeFileAtomic, type Box, type CompressedRle, type Point, type RgbImage } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { createDecoder } from "@resagent/decoder";
import { perturbBox, type Perturbation } from "@resagent/mllm";
import { RandomSampler, SpiralSampler, parseRandomParams, parseSpiralParams, measureTeacher, pointValue, type Candidates, type IoUOf, type Queue } from "@resagent/sampler";
import { vbrStamp, type VbrSource } from "./vbr.js";
import { claimGeneration } from "./generation.js";

export interface PointValueOptions {
  sources: VbrSource[];
  out: string;
  /** The decoder the values are measured with (graphcut on the embedded profile, sam2-onnx on the real one). */
  decoder: { name: string; params?: Record<string, unknown> };
  /** Referred objects to measure, spread over the sources (each object once, whatever its number of phrases). */
  samples: number;
  /** Spiral pool per queue (SpiralSampler.pool: each queue's half of its draws). */
  spiral: number;
  /** Random pool per queue (RandomSampler.pool: 2n uniform points split by distance from the centre). */
  random: number;
  /** The box the candidates are drawn in and the decoder is given: the gold box, or perturbed as the oracle grounder does (Table 7). */
  box: Perturbation;
  /**
   * Also measure each candidate on top of points already chosen: the first `context` spiral
   * candidates of each queue, labelled from gold (0: off). Two more decodes per candidate.
   */
  context: number;
  seed: number;
  onStart?: (info: { samples: number; done: number }) => void;
  progress?: (done: number, total: number) => void;
}

export const POINT_VALUE_DEFAULTS: Omit<PointValueOptions, "sources" | "out"> = {
  decoder: { name: "graphcut" },
  samples: 150,
  spiral: 4,
  random: 2,
  box: "severe",
  context: 0,
  seed: 0,
};

/** Bumped when the draw of samples or candidates changes: a folder of another draw is refused. */
export const POINT_VALUE_DRAW = "point-value-v1";

export type PointOrigin = "spiral" | "random";

/** One candidate with the decoder's IoU with gold when it is added as a positive and as a negative. */
export interface PointValueCandidate {
  x: number;
  y: number;
  origin: PointOrigin;
  queue: Queue;
  /** Place in its pool's queue (the sampler's own order). */
  rank: number;
  /** Inside the gold mask (the label a gold verifier gives). */
  inside: boolean;
  iouPositive: number;
  iouNegative: number;
  /** pointValue(boxOnly.iou, iouPositive, iouNegative), kept for readers of the file. */
  value: number;
}

/** One line of records.jsonl: one referred object, its box, and its candidates' measured values. */
export interface PointValueRecord {
  sampleId: string;
  /** Dataset/split, e.g. "synthref/refcoco/val". */
  source: string;
  expression: string;
  imagePath: string;
  /** sha256 of the decoded pixels (first 16 hex): the split by image groups by it, and readers check it. */
  imageHash: string;
  width: number;
  height: number;
  goldBox: [number, number, number, number];
  box: [number, number, number, number];
  /** The decoder's mask from the box alone and its IoU with gold. */
  boxOnly: { iou: number; mask: CompressedRle };
  candidates: PointValueCandidate[];
  /** With --context: the points already chosen (labelled from gold), their IoU, and each candidate measured on top of them. */
  context?: { positives: [number, number][]; negatives: [number, number][]; iou: number; candidates: { iouPositive: number; iouNegative: number; value: number }[] };
}

export interface PointValueSummary {
  samples: number;
  candidates: number;
  decodes: number;
  meanBoxOnlyIoU: number;
  /** Value distribution per pool (origin/queue) and over all candidates. */
  values: Record<string, { n: number; mean: number; positive: number; p50: number; p90: number; max: number }>;
  /**
   * What ranking could gain, per queue, at k = 1..4: mean teacher value of the spiral's own first
   * k, of the best k of each pool (the oracle), and of k random picks of the pool (its mean); each
   * over the pools with more than k candidates (a smaller pool leaves no choice), null without any.
   */
  headroom: { k: number; spiralFirst: number | null; spiralOracle: number | null; randomPoolOracle: number | null; randomPoolMean: number | null }[];
  seconds: { cpu: number; wall: number };
}

const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
const r2 = (v: number) => Math.round(v * 100) / 100;
const tuple = (b: Box): [number, number, number, number] => [r2(b.x1), r2(b.y1), r2(b.x2), r2(b.y2)];

/** The candidates of a record that came from one pool, by queue, in pool order. */
export function poolOf(r: PointValueRecord, origin: PointOrigin, queue: Queue): PointValueCandidate[] {
  return r.candidates.filter((c) => c.origin === origin && c.queue === queue).sort((a, b) => a.rank - b.rank);
}

/** A record's candidate values as the learner reads them (pointValue of the stored IoUs). */
export function candidateValues(r: PointValueRecord): number[] {
  return r.candidates.map((c) => pointValue(r.boxOnly.iou, c.iouPositive, c.iouNegative));
}

interface PlanItem {
  ds: Awaited<ReturnType<typeof openDataset>>;
  index: number;
  id: string;
}

/** Every source's ids in a seeded order (by id, so adding ids elsewhere does not move them), the sources interleaved. */
async function plan(o: PointValueOptions): Promise<PlanItem[]> {
  const perSource: PlanItem[][] = [];
  for (const src of o.sources) {
    const ds = await openDataset(src.name, { split: src.split, ...(src.options ?? {}) });
    const items = ds.ids().map((id, index) => ({ ds, index, id, order: randomStream(o.seed, "gen-point-value/order", id).next() }));
    items.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    perSource.push(items.map(({ order: _o, ...x }) => x));
  }
  const out: PlanItem[] = [];
  for (let i = 0; perSource.some((s) => i < s.length); i++) for (const s of perSource) if (i < s.length) out.push(s[i]!);
  return out;
}

/** Two phrases about one object share its image, box and mask: the values are measured once per object. */
const objectKey = (imagePath: string, gold: Box) => `${imagePath}\u0000${gold.x1},${gold.y1},${gold.x2},${gold.y2}`;

function candidatesOf(c: Candidates | undefined, origin: PointOrigin): Omit<PointValueCandidate, "inside" | "iouPositive" | "iouNegative" | "value">[] {
  if (!c) return [];
  return [
    ...c.external.map((p, rank) => ({ x: r2(p.x), y: r2(p.y), origin, queue: "external" as const, rank })),
    ...c.internal.map((p, rank) => ({ x: r2(p.x), y: r2(p.y), origin, queue: "internal" as const, rank })),
  ];
}

/**
 * Teacher data for a learned point ranking (the authors' `build_sam2_teacher_dataset_iou_spiral`,
 * for any decoder): for each referred object, its box (gold or perturbed), a pool of spiral and
 * random candidates, and for each candidate the decoder's IoU with gold when it is added to the box
 * as a positive and as a negative. Seeded; resumable (one line per object, appended after its
 * decodes); a folder resumes only the options that made it, and a larger --samples extends it.
 */
export async function generatePointValue(o: PointValueOptions): Promise<PointValueSummary & { records: PointValueRecord[] }> {
  const bad = (field: string, want: string, got: unknown) => new InputError(`expected ${want}, got ${JSON.stringify(got)}`, { field });
  if (!(Number.isInteger(o.samples) && o.samples >= 1)) throw bad("--samples", "an integer >= 1", o.samples);
  for (const k of ["spiral", "random", "context"] as const) if (!(Number.isInteger(o[k]) && o[k] >= 0 && o[k] <= 256)) throw bad(`--${k}`, "an integer in [0, 256]", o[k]);
  if (o.spiral + o.random === 0) throw bad("--spiral", "a pool: --spiral or --random above 0", 0);
  if (o.context > 0 && o.spiral === 0) throw bad("--context", "--spiral above 0 (the chosen points are the spiral's first)", o.context);
  if (!["none", "mild", "severe"].includes(o.box)) throw bad("--box", "none, mild or severe", o.box);
  if (!(Number.isInteger(o.seed) && o.seed >= 0)) throw bad("--seed", "an integer >= 0", o.seed);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const decoder = createDecoder(o.decoder.name, o.decoder.params ?? {});
  decoder.check?.();
  const identity = { sources: o.sources, decoder: o.decoder, spiral: o.spiral, random: o.random, box: o.box, context: o.context, seed: o.seed, draw: POINT_VALUE_DRAW };
  const recordsFile = await claimGeneration(o.out, identity, { decoderDescription: decoder.describe() });
  const written = new Map<string, PointValueRecord>();
  for (const r of await readJsonLinesRepairing<PointValueRecord>(recordsFile)) if (typeof r.sampleId === "string") written.set(r.sampleId, r);
  const items = await plan(o);
  const done = Math.min(o.samples, written.size);
  o.onStart?.({ samples: o.samples, done });
  const spiral = new SpiralSampler(parseSpiralParams());
  const random = new RandomSampler(parseRandomParams());
  const kept: PointValueRecord[] = [];
  const seen = new Set<string>();
  let decodes = 0;
  const handle = await open(recordsFile, "a");
  try {
    for (const item of items) {
      if (kept.length >= o.samples) break;
      const old = written.get(item.id);
      if (old) {
        const [x1, y1, x2, y2] = old.goldBox;
        seen.add(objectKey(old.imagePath, { x1, y1, x2, y2 }));
        kept.push(old);
        continue;
      }
      const s = await item.ds.get(item.index);
      if (!s.goldMask || !s.goldBox) throw new InputError("point-value teacher data needs gold masks and boxes", { field: `sample ${s.id}` });
      const key = objectKey(s.imagePath, s.goldBox);
      if (seen.has(key)) continue;
      seen.add(key);
      const gold = s.goldMask;
      const image = await readImage(s.imagePath);
      const imageHash = sha256(image.data).slice(0, 16);
      const box = perturbBox(s.goldBox, o.box, randomStream(o.seed, "gen-point-value/box", s.id), image.width, image.height);
      const sp = o.spiral > 0 ? spiral.pool(box, o.spiral, randomStream(o.seed, "gen-point-value/spiral", s.id), image) : undefined;
      const rp = o.random > 0 ? random.pool(box, o.random, randomStream(o.seed, "gen-point-value/random", s.id), image) : undefined;
      const cands = [...candidatesOf(sp, "spiral"), ...candidatesOf(rp, "random")];
      const points = cands.map((c) => ({ x: c.x, y: c.y }));
      const dimg = { image, key: imageHash };
      let boxOnlyMask: CompressedRle | undefined;
      const iouWith =
        (context: { positives: Point[]; negatives: Point[] }): IoUOf =>
        async (positives, negatives) => {
          decodes++;
          const out = await decoder.segment(dimg, { box, positives: [...context.positives, ...positives], negatives: [...context.negatives, ...negatives] });
          if (context.positives.length + context.negatives.length + positives.length + negatives.length === 0) boxOnlyMask = rleEncode(out.mask);
          return maskIoU(out.mask, gold);
        };
      const m = await measureTeacher(points, iouWith({ positives: [], negatives: [] }));
      const record: PointValueRecord = {
        sampleId: s.id,
        source: s.source,
        expression: s.expression,
        imagePath: s.imagePath,
        imageHash,
        width: image.width,
        height: image.height,
        goldBox: tuple(s.goldBox),
        box: tuple(box),
        boxOnly: { iou: r6(m.iouBoxOnly), mask: boxOnlyMask! },
        candidates: cands.map((c, i) => {
          const iouPositive = r6(m.iouPositive[i]!);
          const iouNegative = r6(m.iouNegative[i]!);
          return { ...c, inside: maskValueAt(gold, c) === 1, iouPositive, iouNegative, value: r6(pointValue(r6(m.iouBoxOnly), iouPositive, iouNegative)) };
        }),
      };
      if (o.context > 0) {
        const chosen = [...sp!.external.slice(0, o.context), ...sp!.internal.slice(0, o.context)].map((p) => ({ x: r2(p.x), y: r2(p.y) }));
        const ctx = { positives: chosen.filter((p) => maskValueAt(gold, p) === 1), negatives: chosen.filter((p) => maskValueAt(gold, p) !== 1) };
        const mc = await measureTeacher(points, iouWith(ctx));
        record.context = {
          positives: ctx.positives.map((p) => [p.x, p.y]),
          negatives: ctx.negatives.map((p) => [p.x, p.y]),
          iou: r6(mc.iouBoxOnly),
          candidates: points.map((_, i) => ({ iouPositive: r6(mc.iouPositive[i]!), iouNegative: r6(mc.iouNegative[i]!), value: r6(pointValue(r6(mc.iouBoxOnly), r6(mc.iouPositive[i]!), r6(mc.iouNegative[i]!))) })),
        };
      }
      await handle.write(`${JSON.stringify(record)}\n`);
      kept.push(record);
      o.progress?.(kept.length, o.samples);
    }
  } finally {
    await handle.close();
    await decoder.dispose?.();
  }
  const cpu = process.cpuUsage(cpu0);
  const summary = summarise(kept, decodes, { cpu: (cpu.user + cpu.system) / 1e6, wall: (performance.now() - wall0) / 1000 });
  await writeFileAtomic(
    join(o.out, "stats.json"),
    `${JSON.stringify({ ...summary, note: "seconds and decodes: this invocation only (a resumed run counts what it added)", value: "max(0, max(iouPositive, iouNegative) - boxOnly.iou): the IoU gain of the better answer", simulated: vbrStamp(o.sources) ?? false, decoder: decoder.describe(), options: { ...o, onStart: undefined, progress: undefined } }, null, 2)}\n`,
  );
  return { ...summary, records: kept };
}

function summarise(records: readonly PointValueRecord[], decodes: number, seconds: { cpu: number; wall: number }): PointValueSummary {
  const dist = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    const q = (f: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(f * s.length))]! : 0);
    return { n: s.length, mean: r6(s.reduce((a, b) => a + b, 0) / Math.max(1, s.length)), positive: r6(s.filter((x) => x > 0).length / Math.max(1, s.length)), p50: q(0.5), p90: q(0.9), max: s.length ? s[s.length - 1]! : 0 };
  };
  const values: PointValueSummary["values"] = { all: dist(records.flatMap(candidateValues)) };
  for (const origin of ["spiral", "random"] as const) {
    for (const queue of ["external", "internal"] as const) {
      const v = records.flatMap((r) => poolOf(r, origin, queue).map((c) => pointValue(r.boxOnly.iou, c.iouPositive, c.iouNegative)));
      if (v.length) values[`${origin}/${queue}`] = dist(v);
    }
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const headroom: PointValueSummary["headroom"] = [];
  for (let k = 1; k <= 4; k++) {
    const per = { spiralFirst: [] as number[], spiralOracle: [] as number[], randomPoolOracle: [] as number[], randomPoolMean: [] as number[] };
    for (const r of records) {
      for (const queue of ["external", "internal"] as const) {
        const v = (c: PointValueCandidate) => pointValue(r.boxOnly.iou, c.iouPositive, c.iouNegative);
        const sp = poolOf(r, "spiral", queue).map(v);
        const rp = poolOf(r, "random", queue).map(v);
        const best = (x: number[]) => mean([...x].sort((a, b) => b - a).slice(0, k));
        if (sp.length > k) {
          per.spiralFirst.push(mean(sp.slice(0, k)));
          per.spiralOracle.push(best(sp));
        }
        if (rp.length > k) {
          per.randomPoolOracle.push(best(rp));
          per.randomPoolMean.push(mean(rp));
        }
      }
    }
    const m = (v: number[]) => (v.length ? r6(mean(v)) : null);
    headroom.push({ k, spiralFirst: m(per.spiralFirst), spiralOracle: m(per.spiralOracle), randomPoolOracle: m(per.randomPoolOracle), randomPoolMean: m(per.randomPoolMean) });
  }
  return {
    samples: records.length,
    candidates: records.reduce((a, r) => a + r.candidates.length, 0),
    decodes,
    meanBoxOnlyIoU: r6(mean(records.map((r) => r.boxOnly.iou))),
    values,
    headroom,
    seconds: { cpu: Math.round(seconds.cpu * 10) / 10, wall: Math.round(seconds.wall * 10) / 10 },
  };
}

/** Colour of a value on the value map: grey at 0, then yellow to red as it grows towards `top`. */
export function valueColour(v: number, top: number): [number, number, number] {
  if (!(v > 0)) return [150, 150, 150];
  const t = Math.min(1, v / Math.max(1e-9, top));
  return [255, Math.round(230 * (1 - t)), 0];
}

/**
 * A record's value map on its image: each candidate a disc coloured by its value (valueColour,
 * scaled to the record's best), ringed white when it lies in the gold mask and black when not;
 * spiral candidates round, random ones square. The box and the box-only mask are the contact
 * sheet's to draw.
 */
export function paintValueMap(image: RgbImage, r: PointValueRecord): RgbImage {
  const out: RgbImage = { width: image.width, height: image.height, data: new Uint8Array(image.data) };
  const values = candidateValues(r);
  const top = Math.max(0, ...values);
  const radius = Math.max(3, Math.round(Math.min(image.width, image.height) / 60));
  const set = (x: number, y: number, c: readonly [number, number, number]) => {
    if (x < 0 || y < 0 || x >= out.width || y >= out.height) return;
    out.data.set(c, (y * out.width + x) * 3);
  };
  r.candidates.forEach((c, i) => {
    const fill = valueColour(values[i]!, top);
    const ring: [number, number, number] = c.inside ? [255, 255, 255] : [0, 0, 0];
    const cx = Math.floor(c.x);
    const cy = Math.floor(c.y);
    for (let dy = -radius - 1; dy <= radius + 1; dy++) {
      for (let dx = -radius - 1; dx <= radius + 1; dx++) {
        const d = c.origin === "spiral" ? Math.hypot(dx, dy) : Math.max(Math.abs(dx), Math.abs(dy));
        if (d <= radius - 1) set(cx + dx, cy + dy, fill);
        else if (d <= radius + 1) set(cx + dx, cy + dy, ring);
      }
    }
  });
  return out;
}
