import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InputError, readImage, readJsonLinesRepairing, rleDecode, sha256, stableStringify } from "@resagent/core";
import { POINT_VALUE_DEFAULTS, candidateValues, generatePointValue, type PointValueOptions, type PointValueRecord } from "@resagent/datagen";
import type { Queue } from "@resagent/sampler";
import { splitByImage, type EncodedSet } from "./data.js";
import { FEATURE_DEFAULTS, allocEncoded, encodeView, type FeatureSpec } from "./features.js";
import { clusterBootstrap, meanOfFirst, ndcgAtK, rankOrder } from "./metrics.js";
import { buildModel, checkTrainingOptions, fitModel, predict, saveModel, type FitEpoch, type LearningTask, type ModelHead, type ModelSpec, type TrainSpec } from "./model.js";
import { curvesSvg, groupedBarsSvg } from "./plots.js";
import { gitCommit } from "@resagent/core";
import { trainingProvenance, writeTrainingReports } from "./provenance.js";
import { loadTf, type TfInfo } from "./tf.js";

/** Bumped when the ranker's inputs or format change: the learned-value scorer refuses models of another version. */
export const POINT_VALUE_MODEL_VERSION = 1;

export const RANKER_HEAD: ModelHead = { output: "value", name: "point_value_ranker" };

/**
 * What the ranker sees of a candidate, all of it available before any point is asked about: the
 * image around the box (the verifier's grid, with the point where the verifier's marker would
 * be) and around the point (the patch), the point's place in the box, the box's shape, the
 * phrase's words, and the decoder's box-only mask in both views.
 */
export const RANKER_FEATURES: FeatureSpec = { ...FEATURE_DEFAULTS, baseMask: true };
export const RANKER_MODEL_DEFAULTS: ModelSpec = { features: RANKER_FEATURES, filters: [16, 32, 64], patchFilters: [16, 32, 32], dense: 64, l2: 1e-4 };
// 6 epochs: on the embedded set's validation split (20% of the training images) the held-out loss
// stopped falling after a few epochs of 12, and the top-k figures did not tell 6 from 12 apart.
export const RANKER_TRAIN_DEFAULTS: Omit<TrainSpec, "seed"> = { epochs: 6, batchSize: 32, learningRate: 2e-3, finalDecay: 0.2, augment: true };
/** Values are small IoU gains: the target is value / scale (at most 1), a soft label for the sigmoid output. */
export const RANKER_TARGET_SCALE = 0.1;
/** Symmetries of the square averaged over when the ranker scores (held-out metrics and the scorer). */
export const RANKER_SYMMETRIES = 8;
/** Ranks reported in metrics.json (top-k mean teacher value, NDCG@k). */
export const RANKING_KS = [1, 2, 3, 4] as const;

/**
 * The embedded teacher set: gen-point-value's defaults (graphcut, severely perturbed gold boxes,
 * spiral and random pools) on synthref scenes of another seed than the benchmark's (scene seed 1;
 * experiments run on seed 0), so point-value.yaml measures the ranker on scenes it never saw.
 */
export const DEFAULT_POINT_VALUE_SET = {
  sceneSeed: 1,
  splits: ["refcoco/val", "refcoco+/val", "refcocog/val"],
} as const;

export interface RankerTrainOptions {
  /** A gen-point-value folder; absent: the embedded set, generated once into the cache. */
  data?: string;
  out: string;
  seed: number;
  /** Share of source images held out (split by image). */
  heldOut: number;
  model: ModelSpec;
  train: Omit<TrainSpec, "seed">;
  targetScale: number;
  /** Objects of the embedded set (gen-point-value --samples). */
  samples?: number;
  cacheDir?: string;
  log?: (line: string) => void;
  progress?: (stage: string, done: number, total: number) => void;
}

/** Ranking quality at one k over lists of candidates (one list per object, queue and pool). */
export interface RankingAtK {
  k: number;
  /** Lists with more than k candidates (where the order decides which k are asked); the figures are over these. */
  lists: number;
  /** Mean teacher value of each ranking's first k, averaged over lists. */
  learned: number;
  spiral: number;
  oracle: number;
  /** k points drawn at random from the pool (the pool's mean value). */
  random: number;
  /** (learned − spiral) / (oracle − spiral); null when the oracle gains nothing over the spiral. */
  gapClosed: number | null;
  /** Percentile bootstrap over held-out images. */
  gapClosedBootstrap95ByImage: [number, number] | null;
  ndcgLearned: number;
  ndcgSpiral: number;
  /** Lists with some value (NDCG is undefined on the others). */
  ndcgLists: number;
}

export interface RankerReport {
  dir: string;
  /** Per pool: "spiral" (the spiral's own queues, re-ranked), "random" (uniform points split by distance from the centre). */
  heldOut: Record<string, RankingAtK[]>;
  epochs: FitEpoch[];
  backend: TfInfo;
  seconds: { wall: number; cpu: number; data: number; training: number };
  files: string[];
}

/** One candidate as the learner reads it. */
interface Example {
  record: number;
  candidate: number;
  imageHash: string;
  value: number;
}

/** Read a gen-point-value folder (records.jsonl), checking what the learner needs of each line. */
export async function readPointValueFolder(dir: string): Promise<{ records: PointValueRecord[]; recordsHash: string; options: Record<string, unknown> }> {
  const file = join(dir, "records.jsonl");
  if (!existsSync(file)) throw new InputError(`no gen-point-value records here (expected records.jsonl; write one with \`pnpm gen-point-value --out ${dir}\`)`, { file });
  const text = await readFile(file, "utf8");
  const records = await readJsonLinesRepairing<PointValueRecord>(file);
  if (records.length === 0) throw new InputError("no records", { file });
  records.forEach((r, i) => {
    const field = `line ${i + 1}`;
    if (typeof r.imagePath !== "string" || typeof r.imageHash !== "string") throw new InputError("expected imagePath and imageHash", { file, field });
    if (!Array.isArray(r.box) || r.box.length !== 4) throw new InputError("expected box [x1, y1, x2, y2]", { file, field });
    if (typeof r.boxOnly?.iou !== "number" || typeof r.boxOnly.mask?.counts !== "string") throw new InputError("expected boxOnly { iou, mask }", { file, field });
    if (!Array.isArray(r.candidates)) throw new InputError("expected candidates", { file, field });
    if (typeof r.expression !== "string") throw new InputError("expected the expression", { file, field });
  });
  const optionsFile = join(dir, "options.json");
  const options = existsSync(optionsFile) ? (JSON.parse(readFileSync(optionsFile, "utf8")) as Record<string, unknown>) : {};
  return { records, recordsHash: sha256(text).slice(0, 16), options };
}

/** Encode every candidate of `records` (one image read per record), labels = min(1, value / targetScale). */
export async function encodeCandidates(records: readonly PointValueRecord[], spec: FeatureSpec, targetScale: number, progress?: (done: number, total: number) => void): Promise<{ set: EncodedSet; examples: Example[] }> {
  const examples: Example[] = [];
  records.forEach((r, ri) => candidateValues(r).forEach((value, ci) => examples.push({ record: ri, candidate: ci, imageHash: r.imageHash, value })));
  const n = examples.length;
  const set: EncodedSet = { n, spec, ...allocEncoded(spec, n), labels: new Float32Array(n) };
  let e = 0;
  for (const [ri, r] of records.entries()) {
    const image = await readImage(r.imagePath);
    if (sha256(image.data).slice(0, 16) !== r.imageHash) throw new InputError(`the image is not the one the teacher data was measured on (pixel hash differs from ${r.imageHash}); regenerate the folder`, { file: r.imagePath });
    const mask = rleDecode(r.boxOnly.mask);
    const [x1, y1, x2, y2] = r.box;
    for (const c of r.candidates) {
      encodeView({ picture: image, origin: { x: 0, y: 0 }, width: r.width, height: r.height, box: { x1, y1, x2, y2 }, point: c, expression: r.expression, mask }, spec, set, e);
      set.labels[e] = Math.min(1, examples[e]!.value / targetScale);
      e++;
    }
    progress?.(ri + 1, records.length);
  }
  return { set, examples };
}

/** One ranking list: a pool's candidates of one object and queue, and the spiral's own values for that queue. */
interface RankingList {
  group: string;
  /** Example indices of the pool's candidates, in pool order. */
  idx: number[];
  values: number[];
  /** The spiral's own first candidates of this queue (their values, in its order): the baseline. */
  spiral: number[];
  /** The pool is the spiral's own queue (its order is the baseline's): NDCG of the spiral order is measured on it. */
  spiralPool: boolean;
}

/** The held-out lists per pool (spiral, random), from the records and the examples' order. */
function rankingLists(records: readonly PointValueRecord[], examples: readonly Example[], test: readonly number[]): Record<string, RankingList[]> {
  const byRecord = new Map<number, number[]>();
  for (const i of test) byRecord.set(examples[i]!.record, [...(byRecord.get(examples[i]!.record) ?? []), i]);
  const out: Record<string, RankingList[]> = { spiral: [], random: [] };
  for (const [ri, idx] of byRecord) {
    const r = records[ri]!;
    for (const queue of ["external", "internal"] as Queue[]) {
      const of = (origin: string) => idx.filter((i) => r.candidates[examples[i]!.candidate]!.origin === origin && r.candidates[examples[i]!.candidate]!.queue === queue).sort((a, b) => r.candidates[examples[a]!.candidate]!.rank - r.candidates[examples[b]!.candidate]!.rank);
      const spiral = of("spiral");
      const spiralValues = spiral.map((i) => examples[i]!.value);
      for (const origin of ["spiral", "random"]) {
        const pool = origin === "spiral" ? spiral : of(origin);
        if (pool.length && spiral.length) out[origin]!.push({ group: r.imageHash, idx: pool, values: pool.map((i) => examples[i]!.value), spiral: spiralValues, spiralPool: origin === "spiral" });
      }
    }
  }
  return out;
}

/** Top-k teacher value of the learned order, the spiral's own, the oracle's and random picks; gap closed with a bootstrap over images; NDCG. */
export function rankingReport(lists: readonly { group: string; values: number[]; scores: ArrayLike<number>; spiral: number[]; spiralPool: boolean }[], ks: readonly number[], seed: number): RankingAtK[] {
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);
  const groups = [...new Set(lists.map((l) => l.group))].sort();
  const gi = new Map(groups.map((g, i) => [g, i]));
  return ks.map((k) => {
    // A pool of k or fewer leaves no choice: every order asks all of it.
    const per = lists.filter((l) => l.values.length > k).map((l) => ({
      g: gi.get(l.group)!,
      learned: meanOfFirst(rankOrder(l.scores).map((i) => l.values[i]!), k),
      spiral: meanOfFirst(l.spiral, k),
      oracle: meanOfFirst(rankOrder(l.values).map((i) => l.values[i]!), k),
      random: mean(l.values),
      ndcgLearned: ndcgAtK(l.values, l.scores, k),
      ndcgSpiral: l.spiralPool ? ndcgAtK(l.values, l.values.map((_, i) => -i), k) : undefined,
    }));
    const learned = mean(per.map((p) => p.learned));
    const spiral = mean(per.map((p) => p.spiral));
    const oracle = mean(per.map((p) => p.oracle));
    const gap = (rows: typeof per) => {
      const s = mean(rows.map((p) => p.spiral));
      const o = mean(rows.map((p) => p.oracle));
      return o > s ? (mean(rows.map((p) => p.learned)) - s) / (o - s) : Number.NaN;
    };
    const byGroup = groups.map((_, g) => per.filter((p) => p.g === g));
    const ci = oracle > spiral ? clusterBootstrap(groups, (picked) => gap(picked.flatMap((g) => byGroup[g]!)), { seed }) : null;
    const nd = per.filter((p) => p.ndcgLearned !== undefined);
    const ndS = per.filter((p) => p.ndcgSpiral !== undefined);
    return {
      k,
      lists: per.length,
      learned,
      spiral,
      oracle,
      random: mean(per.map((p) => p.random)),
      gapClosed: per.length && oracle > spiral ? (learned - spiral) / (oracle - spiral) : null,
      gapClosedBootstrap95ByImage: ci && ci.every(Number.isFinite) ? ci : null,
      ndcgLearned: mean(nd.map((p) => p.ndcgLearned!)),
      ndcgSpiral: mean(ndS.map((p) => p.ndcgSpiral!)),
      ndcgLists: nd.length,
    };
  });
}

/** The folder the embedded set is generated into, named by a hash of everything that shapes it. */
export function defaultPointValueDataDir(samples: number, cacheDir?: string): { dir: string; options: Omit<PointValueOptions, "out"> } {
  const options = { ...POINT_VALUE_DEFAULTS, samples, sources: DEFAULT_POINT_VALUE_SET.splits.map((split) => ({ name: "synthref", split, options: { seed: DEFAULT_POINT_VALUE_SET.sceneSeed } })) };
  // --samples only extends a folder: it is not part of its name.
  const { samples: _s, ...identity } = options;
  const key = sha256(stableStringify(identity)).slice(0, 12);
  const root = cacheDir ?? process.env.RESAGENT_CACHE_DIR ?? join(process.cwd(), ".cache");
  return { dir: resolve(root, "learned", `point-value-synthref-${key}`), options };
}

/**
 * Train the point-value ranker: read (or first generate) gen-point-value data, split it by source
 * image, encode every candidate, fit the value (scaled) with binary cross-entropy on the sigmoid
 * output, rank the held-out images' pools and write the model, metrics.json (top-k mean teacher
 * value of the learned, spiral, oracle and random orders, the share of the spiral-to-oracle gap
 * closed, NDCG), provenance.json, the training curves and the ranking bars into `out`.
 */
export async function trainPointValue(o: RankerTrainOptions): Promise<RankerReport> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const commit = gitCommit();
  checkTrainingOptions(o.heldOut, o.train.epochs);
  if (!(o.targetScale > 0 && o.targetScale <= 1)) throw new InputError(`expected a scale in (0, 1], got ${o.targetScale}`, { field: "targetScale" });
  let dataDir: string;
  let generated: Record<string, unknown> | undefined;
  if (o.data) {
    dataDir = resolve(o.data);
  } else {
    const d = defaultPointValueDataDir(o.samples ?? POINT_VALUE_DEFAULTS.samples, o.cacheDir);
    dataDir = d.dir;
    generated = d.options;
    log(`data: the embedded teacher set (gen-point-value defaults on synthref scenes of seed ${DEFAULT_POINT_VALUE_SET.sceneSeed}, not the benchmark's seed 0) in ${dataDir}`);
    await generatePointValue({ ...d.options, out: dataDir, onStart: (i) => o.progress?.("gen-point-value", i.done, i.samples), progress: (done, total) => o.progress?.("gen-point-value", done, total) });
  }
  const { tf, info } = await loadTf(undefined, log);
  const { records, recordsHash, options: dataOptions } = await readPointValueFolder(dataDir);
  o.progress?.("encode", 0, records.length);
  const { set, examples } = await encodeCandidates(records, o.model.features, o.targetScale, (d, t) => o.progress?.("encode", d, t));
  const split = splitByImage(examples, o.heldOut, o.seed);
  if (split.train.length === 0) throw new InputError(`every image of the ${records.length} records fell on the held-out side; give more data or a smaller held-out share`, { file: dataDir });
  const images = new Set(records.map((r) => r.imageHash)).size;
  log(`data: ${examples.length} candidates of ${records.length} objects in ${images} images; train ${split.train.length}, held out ${split.test.length} (${Math.round(o.heldOut * 100)}% of images)`);
  const dataSeconds = (performance.now() - wall0) / 1000;

  const lists = rankingLists(records, examples, split.test);
  const allLists = [...lists.spiral!, ...lists.random!];
  const pos = new Map(split.test.map((i, k) => [i, k]));
  // The per-epoch held-out figure: the share of the gap closed at k = 2 over both pools (one view).
  const task: LearningTask = {
    loss: "binaryCrossentropy",
    heldOut: (p, s, idx) => {
      let loss = 0;
      idx.forEach((i, k) => {
        const q = Math.min(1 - 1e-7, Math.max(1e-7, p[k]!));
        const y = s.labels[i]!;
        loss -= y * Math.log(q) + (1 - y) * Math.log(1 - q);
      });
      const r = rankingReport(allLists.map((l) => ({ ...l, scores: l.idx.map((i) => p[pos.get(i)!]!) })), [2], o.seed)[0]!;
      return { loss: loss / Math.max(1, idx.length), metric: r.gapClosed ?? 0 };
    },
  };
  const t0 = performance.now();
  const model = buildModel(tf, o.model, o.seed, RANKER_HEAD);
  o.progress?.("train", 0, Math.ceil(split.train.length / o.train.batchSize) * o.train.epochs);
  const epochs = await fitModel(tf, model, set, split, { ...o.train, seed: o.seed }, task, (d, t) => o.progress?.("train", d, t), (l) =>
    log(`epoch ${l.epoch}/${o.train.epochs}: train loss ${l.trainLoss.toFixed(4)} · held-out loss ${l.heldOutLoss.toFixed(4)}, gap closed at k=2 ${l.heldOutMetric.toFixed(3)} · ${l.seconds.toFixed(1)} s`),
  );
  const trainingSeconds = (performance.now() - t0) / 1000;

  const pTest = predict(tf, model, set, split.test, 256, RANKER_SYMMETRIES);
  const heldOut: Record<string, RankingAtK[]> = {};
  for (const [pool, ls] of Object.entries(lists)) heldOut[pool] = rankingReport(ls.map((l) => ({ ...l, scores: l.idx.map((i) => pTest[pos.get(i)!]!) })), RANKING_KS, o.seed);

  const trainedOn = o.data ? `gen-point-value data ${dataDir}` : `synthref (simulated scenes, seed ${DEFAULT_POINT_VALUE_SET.sceneSeed})`;
  const decoder = typeof dataOptions.decoderDescription === "string" ? dataOptions.decoderDescription : "unknown decoder";
  const config = { data: o.data ? dataDir : "embedded (synthref)", heldOut: o.heldOut, seed: o.seed, model: o.model, train: o.train, targetScale: o.targetScale };
  const provenance = trainingProvenance(config, o.seed, { folder: dataDir, recordsHash, records: records.length, candidates: examples.length, images, train: split.train.length, heldOut: split.test.length, decoder, generatedWith: generated ?? null }, info, commit);
  const cpu = process.cpuUsage(cpu0);
  const seconds = { wall: (performance.now() - wall0) / 1000, cpu: (cpu.user + cpu.system) / 1e6, data: dataSeconds, training: trainingSeconds };
  const out = resolve(o.out);
  const at = (pool: string, k: number) => heldOut[pool]?.find((r) => r.k === k);
  await saveModel(tf, model, out, {
    resagent: {
      kind: "point-value",
      version: POINT_VALUE_MODEL_VERSION,
      features: o.model.features,
      symmetries: RANKER_SYMMETRIES,
      targetScale: o.targetScale,
      trainedOn,
      decoder,
      heldOutGapClosed: { spiral: at("spiral", 2)?.gapClosed ?? null, random: at("random", 2)?.gapClosed ?? null, k: 2 },
      heldOutImages: new Set(split.test.map((i) => examples[i]!.imageHash)).size,
      seed: o.seed,
      backend: `${info.package}@${info.version}`,
      gitCommit: provenance.gitCommit,
    } satisfies RankerModelMeta,
  });
  const metrics = {
    note: `heldOut: per pool, lists of one object's candidates in one queue on held-out images (split by image); scores averaged over ${RANKER_SYMMETRIES} symmetries of the square, as the learned-value scorer ranks; learned / spiral / oracle / random: mean teacher value (IoU gain of the better answer) of each order's first k, averaged over lists; spiral is the spiral's own first k of that queue (for the random pool too); oracle is an UPPER BOUND (ranks by the teacher); gapClosed = (learned - spiral) / (oracle - spiral)`,
    heldOut,
    epochs,
    seconds,
    backend: info,
    trainedOn,
    decoder,
  };
  const footer = `${trainedOn} · ${decoder.split(" (")[0]} · seed ${o.seed} · ${info.package}@${info.version} (${info.backend}) · ${provenance.gitCommit.slice(0, 12)}`;
  const bars = (pool: string) =>
    groupedBarsSvg(
      (heldOut[pool] ?? []).map((r) => ({ label: `k = ${r.k}`, values: { random: r.random, spiral: r.spiral, learned: r.learned, oracle: r.oracle } })),
      [
        { key: "random", label: "random picks", colour: "#9a9a9a" },
        { key: "spiral", label: "spiral order", colour: "#1f6fd1" },
        { key: "learned", label: "learned ranking", colour: "#d1461f" },
        { key: "oracle", label: "oracle (UPPER BOUND)", colour: "#444444" },
      ],
      `Point value (tfjs): held-out top-k mean teacher value, ${pool} pool (${heldOut[pool]?.[0]?.lists ?? 0} lists)`,
      footer,
      "mean IoU gain of the first k",
    );
  const files = [
    "model.json",
    "weights.bin",
    ...(await writeTrainingReports(out, metrics, provenance, [
      ["curves", curvesSvg(epochs, `Point-value ranker (tfjs): loss and held-out gap closed at k = 2`, footer, { series: [["trainLoss", "#1f6fd1", "", "train loss"], ["heldOutLoss", "#1f6fd1", 'stroke-dasharray="5 3"', "held-out loss"], ["heldOutMetric", "#d1461f", 'stroke-dasharray="5 3"', "held-out share of the spiral-to-oracle gap closed (k = 2)"]], yLabel: "loss (BCE on value / scale) / gap closed" })],
      ["ranking-spiral", bars("spiral")],
      ["ranking-random", bars("random")],
    ])),
  ];
  model.dispose();
  return { dir: out, heldOut, epochs, backend: info, seconds, files };
}

/** What model.json's userDefinedMetadata.resagent carries for a point-value ranker. */
export interface RankerModelMeta {
  kind: "point-value";
  version: number;
  features: FeatureSpec;
  symmetries: number;
  targetScale: number;
  trainedOn: string;
  decoder: string;
  /** Held-out share of the spiral-to-oracle gap closed at k (per pool), from metrics.json. */
  heldOutGapClosed: { spiral: number | null; random: number | null; k: number };
  heldOutImages: number;
  seed: number;
  backend: string;
  gitCommit: string;
}
