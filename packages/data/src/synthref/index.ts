import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  InputError,
  encodePng,
  randomStream,
  rleDecode,
  rleEncode,
  sha256,
  stableStringify,
  writeFileAtomic,
  type Box,
  type CompressedRle,
  type Sample,
} from "@resagent/core";
import { IndexedDataset, type Dataset, type DatasetFactory, type DatasetOptions } from "../dataset.js";
import { chooseSentence, datasetSource, sampleUnitOptions } from "../sentences.js";
import { readCachedRef } from "./cached.js";
import { describeTarget, STYLES, type Style } from "./language.js";
import { generateScene, renderScene, sceneAnswers, visibleMasks, type GenerationParams, type Scene } from "./scene.js";

/** Bump when generation changes in any way that alters images, masks or phrases. */
export const SYNTHREF_VERSION = 2;

const SPLITS_BY_STYLE: Record<Style, readonly string[]> = {
  refcoco: ["val", "testA", "testB"],
  "refcoco+": ["val", "testA", "testB"],
  refcocog: ["val", "test"],
  reasonseg: ["val", "test"],
};
export const SYNTHREF_SPLITS = STYLES.flatMap((s) => SPLITS_BY_STYLE[s].map((sp) => `${s}/${sp}`));

export interface SynthrefOptions {
  /** "<style>/<split>", e.g. "refcoco/testA". */
  split: string;
  /** Sentences in the split. */
  count: number;
  seed: number;
  width: number;
  height: number;
  /** Sentences per referred object (RefCOCO has ~2.8; they share one image and mask). */
  sentencesPerRef: number;
  /** Hard cases, per scene: see GenerationParams (scene.ts) and the README's synthref section for the mix. */
  pCamouflage: number;
  pOcclusion: number;
  pTouching: number;
  pSameColour: number;
  pTwoTone: number;
  pClutter: number;
  pNoDistractors: number;
  maxDistractors: number;
  /** Where generated images and answers are cached; default `$RESAGENT_CACHE_DIR` or `./.cache`. */
  cacheDir?: string;
}

export const SYNTHREF_DEFAULTS: Omit<SynthrefOptions, "split"> = {
  count: 1000,
  seed: 0,
  width: 480,
  height: 360,
  sentencesPerRef: 2,
  pCamouflage: 0.15,
  pOcclusion: 0.3,
  pTouching: 0.5,
  pSameColour: 0.6,
  pTwoTone: 0.35,
  pClutter: 0.35,
  pNoDistractors: 0.05,
  maxDistractors: 3,
};

interface RefRecord {
  version: number;
  ref: number;
  width: number;
  height: number;
  box: Box;
  distractorBoxes: Box[];
  mask: CompressedRle;
  category: string;
  flags: Scene["flags"];
  sentences: { text: string; isSentence: boolean }[];
}

function checkNumber(opts: Record<string, unknown>, key: string, min: number, max: number, integer: boolean): void {
  const v = opts[key];
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new InputError(`expected ${integer ? "an integer" : "a number"} in [${min}, ${max}], got ${JSON.stringify(v)}`, { field: `dataset.${key}` });
  }
}

export function resolveSynthrefOptions(options: DatasetOptions): SynthrefOptions {
  const merged = { ...SYNTHREF_DEFAULTS, ...options } as SynthrefOptions & Record<string, unknown>;
  if (!SYNTHREF_SPLITS.includes(merged.split)) {
    throw new InputError(`unknown synthref split "${merged.split}"; expected one of ${SYNTHREF_SPLITS.join(", ")}`, { field: "dataset.split" });
  }
  checkNumber(merged, "count", 1, 1_000_000, true);
  checkNumber(merged, "seed", -(2 ** 31), 2 ** 31, true);
  checkNumber(merged, "width", 64, 4096, true);
  checkNumber(merged, "height", 64, 4096, true);
  checkNumber(merged, "sentencesPerRef", 1, 10, true);
  for (const k of ["pCamouflage", "pOcclusion", "pTouching", "pSameColour", "pTwoTone", "pClutter", "pNoDistractors"]) checkNumber(merged, k, 0, 1, false);
  checkNumber(merged, "maxDistractors", 1, 6, true);
  return merged;
}

/** Generate one referred object: scene, image, gold answers and its sentences. Pure in (options, ref). */
export async function generateRef(o: SynthrefOptions, ref: number): Promise<{ record: RefRecord; png: Buffer }> {
  const [style, split] = o.split.split("/") as [Style, string];
  const stream = randomStream(o.seed, "synthref", `${o.split}/${ref}`);
  const params: GenerationParams = {
    width: o.width,
    height: o.height,
    targetKind: split === "testA" ? "person" : split === "testB" ? "object" : style === "refcoco" || style === "refcoco+" ? "mixed" : "any",
    pCamouflage: o.pCamouflage,
    pOcclusion: o.pOcclusion,
    pTouching: o.pTouching,
    pSameColour: o.pSameColour,
    pTwoTone: o.pTwoTone,
    pClutter: o.pClutter,
    pNoDistractors: o.pNoDistractors,
    maxDistractors: o.maxDistractors,
  };
  const scene = generateScene(params, stream.fork("layout"));
  const visible = visibleMasks(scene);
  const image = renderScene(scene, visible, stream.fork("render"));
  const answers = sceneAnswers(scene, visible);
  const sentences = Array.from({ length: o.sentencesPerRef }, (_, j) => describeTarget(scene, visible, style, stream.fork(`sentence${j}`)));
  const record: RefRecord = {
    version: SYNTHREF_VERSION,
    ref,
    width: o.width,
    height: o.height,
    box: answers.box,
    distractorBoxes: answers.distractorBoxes,
    mask: rleEncode(answers.mask),
    category: scene.objects[scene.target]!.category,
    flags: scene.flags,
    sentences,
  };
  return { record, png: await encodePng(image) };
}

/** The cache folder for these options: generation parameters are hashed into its name. */
export function synthrefCacheDir(o: SynthrefOptions): string {
  const { cacheDir, count: _count, split: _split, unit: _unit, sentence: _sentence, ...gen } = o as SynthrefOptions & { unit?: unknown; sentence?: unknown };
  const root = cacheDir ?? process.env.RESAGENT_CACHE_DIR ?? join(process.cwd(), ".cache");
  const key = sha256(stableStringify({ v: SYNTHREF_VERSION, ...gen })).slice(0, 12);
  return resolve(root, "synthref", `v${SYNTHREF_VERSION}-${key}`);
}

export async function openSynthref(options: DatasetOptions): Promise<Dataset> {
  const o = resolveSynthrefOptions(options);
  const dir = join(synthrefCacheDir(o), ...o.split.split("/"));
  const pending = new Map<number, Promise<RefRecord>>();

  const loadRef = (ref: number): Promise<RefRecord> => {
    let p = pending.get(ref);
    if (!p) {
      p = (async () => {
        const jsonPath = join(dir, `r${ref}.json`);
        const pngPath = join(dir, `r${ref}.png`);
        if (existsSync(jsonPath) && existsSync(pngPath)) {
          const cached = await readCachedRef<RefRecord>(jsonPath, pngPath);
          if ("problem" in cached) console.warn(`synthref cache: ${cached.problem}; regenerating ref ${ref}`);
          else if (cached.record.version === SYNTHREF_VERSION && cached.record.sentences.length === o.sentencesPerRef) return cached.record;
        }
        const { record, png } = await generateRef(o, ref);
        // Image first, then the record: a record on disk always has its image.
        await writeFileAtomic(pngPath, png);
        await writeFileAtomic(jsonPath, JSON.stringify(record));
        return record;
      })();
      pending.set(ref, p);
      // Keep the map small on long runs; the files are the cache.
      // (Both ways: a `finally` chain would be a second, unobserved rejection that ends the process.)
      void p.then(
        () => pending.delete(ref),
        () => pending.delete(ref),
      );
    }
    return p;
  };

  const { unit, sentence: mode } = sampleUnitOptions(options);
  const spr = o.sentencesPerRef;
  const source = datasetSource({ name: "synthref", split: o.split, unit, sentence: mode });
  // unit sentence: `count` sentences; unit ref: the refs they belong to, one sample each.
  const indices = Array.from({ length: unit === "ref" ? Math.ceil(o.count / spr) : o.count }, (_, i) => i);
  const idOf = (i: number) => (unit === "ref" ? `synthref:${o.split}:${i}.${mode === "first" ? 0 : mode}` : `synthref:${o.split}:${Math.floor(i / spr)}.${i % spr}`);
  const load = async (i: number): Promise<Sample> => {
    const ref = unit === "ref" ? i : Math.floor(i / spr);
    const rec = await loadRef(ref);
    let j = i % spr;
    let expression = rec.sentences[j]!.text;
    if (unit === "ref") {
      const chosen = chooseSentence(rec.sentences.map((x) => x.text), mode, randomStream(o.seed, "data/sentence", `${o.split}/${ref}`));
      j = chosen.index ?? 0;
      expression = chosen.expression;
    }
    const sentence = rec.sentences[j]!;
    const [style, split] = o.split.split("/") as [string, string];
    return {
      id: idOf(i),
      source,
      imagePath: join(dir, `r${ref}.png`),
      width: rec.width,
      height: rec.height,
      expression,
      goldMask: rleDecode(rec.mask),
      goldBox: rec.box,
      distractorBoxes: rec.distractorBoxes,
      meta: {
        style,
        split,
        ref,
        sentence: j,
        category: rec.category,
        isSentence: sentence.isSentence,
        distractors: rec.distractorBoxes.length,
        ...rec.flags,
      },
    };
  };
  return new IndexedDataset(source, `synthetic (synthref v${SYNTHREF_VERSION}, seed ${o.seed}, ${o.width}x${o.height}), one sample per ${unit === "ref" ? `ref (${mode} sentence)` : "sentence"}`, indices, idOf, load);
}

export const synthref: DatasetFactory = {
  name: "synthref",
  description: "Embedded synthetic RES benchmark: RefCOCO/+/g- and ReasonSeg-style phrases over generated scenes (simulated data)",
  splits: SYNTHREF_SPLITS,
  open: openSynthref,
};
