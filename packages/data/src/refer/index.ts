import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, boxFromXywh, randomStream, segmentationToMask, type Box, type Sample, type Segmentation } from "@resagent/core";
import { IndexedDataset, type Dataset, type DatasetFactory, type DatasetOptions } from "../dataset.js";
import { unpickle } from "../pickle.js";
import { chooseSentence, datasetSource, describeUnit, sampleUnitOptions, type SampleUnit, type SentenceMode } from "../sentences.js";

type ReferName = "refcoco" | "refcoco+" | "refcocog";

/** Default splitBy per dataset, as LISA and REFER use them. */
export const DEFAULT_SPLIT_BY: Record<ReferName, string> = { refcoco: "unc", "refcoco+": "unc", refcocog: "umd" };

interface Sentence {
  sent: string;
  raw?: string;
  sent_id: number;
}
interface Ref {
  ref_id: number;
  ann_id: number;
  image_id: number;
  category_id: number;
  split: string;
  sentences: Sentence[];
}
interface Ann {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  segmentation: Segmentation;
  iscrowd?: number;
}
interface Img {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

/** REFER's getRefIds split rule: testA/testB/testC by last letter, "test" by substring, others exactly. */
export function matchesSplit(refSplit: string, split: string): boolean {
  if (["testA", "testB", "testC"].includes(split)) return refSplit.includes(split[split.length - 1]!);
  if (["testAB", "testBC", "testAC"].includes(split)) return refSplit === split;
  if (split === "test") return refSplit.includes("test");
  if (split === "train" || split === "val") return refSplit === split;
  throw new InputError(`unknown REFER split "${split}"; expected train, val, test, testA, testB, testC, testAB, testBC or testAC`, { field: "dataset.split" });
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

export interface ReferOptions extends DatasetOptions {
  root: string;
  splitBy?: string;
  /** "sentence": every sentence is a sample (LISA); "ref": one sample per ref (the authors' final script). */
  unit?: SampleUnit;
  /** With unit ref: which sentence (the final script's --sentence_mode; default first). */
  sentence?: SentenceMode;
  imagesDir?: string;
}

/** Open RefCOCO / RefCOCO+ / RefCOCOg from REFER files as LISA lays them out; masks decode lazily. */
export async function openRefer(name: ReferName, options: ReferOptions): Promise<Dataset> {
  if (!options.root) throw new InputError(`no data root for ${name}: set dataset.root or RESAGENT_DATA_ROOT`, { field: "dataset.root" });
  const splitBy = options.splitBy ?? DEFAULT_SPLIT_BY[name];
  const { unit, sentence: mode } = sampleUnitOptions(options);
  const dirs = [join(options.root, "refer_seg", name), join(options.root, name)];
  const refsFile = firstExisting(dirs.map((d) => join(d, `refs(${splitBy}).p`)));
  if (!refsFile) throw new InputError(`REFER refs file not found (looked for ${dirs.map((d) => join(d, `refs(${splitBy}).p`)).join(", ")})`, { file: dirs[0]!, field: "dataset.root" });
  const dir = refsFile.slice(0, refsFile.length - `refs(${splitBy}).p`.length - 1);
  const instFile = join(dir, "instances.json");
  if (!existsSync(instFile)) throw new InputError("instances.json not found beside the refs file", { file: instFile });
  const imagesDir =
    options.imagesDir ??
    firstExisting([join(options.root, "refer_seg", "images", "mscoco", "images", "train2014"), join(options.root, "images", "mscoco", "images", "train2014"), join(options.root, "images", "train2014")]) ??
    join(options.root, "refer_seg", "images", "mscoco", "images", "train2014");

  const raw = unpickle(await readFile(refsFile), refsFile);
  if (!Array.isArray(raw)) throw new InputError("expected a list of refs", { file: refsFile });
  let inst: { images?: Img[]; annotations?: Ann[] };
  try {
    inst = JSON.parse(await readFile(instFile, "utf8")) as typeof inst;
  } catch (err) {
    throw new InputError(`cannot parse JSON (${(err as Error).message})`, { file: instFile });
  }
  const anns = new Map<number, Ann>((inst.annotations ?? []).map((a) => [a.id, a]));
  const imgs = new Map<number, Img>((inst.images ?? []).map((i) => [i.id, i]));
  const annsByImage = new Map<number, Ann[]>();
  for (const a of anns.values()) {
    let l = annsByImage.get(a.image_id);
    if (!l) annsByImage.set(a.image_id, (l = []));
    l.push(a);
  }
  /** One sample: a ref and its sentence (a sentence of its own under `join`). */
  type Item = { ref: Ref; sentence: Sentence; key: string };
  const items: Item[] = [];
  raw.forEach((r, i) => {
    const ref = r as unknown as Ref;
    if (!ref || typeof ref !== "object" || typeof ref.split !== "string" || !Array.isArray(ref.sentences)) {
      throw new InputError(`ref ${i} is not a REFER ref (needs split, sentences, ann_id, image_id)`, { file: refsFile, field: `[${i}]` });
    }
    if (!matchesSplit(ref.split, options.split)) return;
    if (unit === "sentence") {
      for (const sentence of ref.sentences) items.push({ ref, sentence, key: String(sentence.sent_id) });
      return;
    }
    const rng = mode === "random" ? randomStream(0, "data/sentence", `${name}/${options.split}/${ref.ref_id}`) : undefined;
    const chosen = chooseSentence(ref.sentences.map((x) => x.sent), mode, rng);
    if (chosen.index === null && mode !== "join") return; // a ref without any sentence text has nothing to score
    const sentence = chosen.index === null ? { sent: chosen.expression, sent_id: ref.sentences[0]?.sent_id ?? 0 } : { ...ref.sentences[chosen.index]!, sent: chosen.expression };
    items.push({ ref, sentence, key: chosen.index === null ? "join" : String(sentence.sent_id) });
  });
  const idOf = (it: Item) => `${name}:${splitBy}:${it.ref.ref_id}.${it.key}`;
  const source = datasetSource({ name, split: options.split, unit, sentence: mode });
  const load = async (item: Item): Promise<Sample> => {
    const { ref, sentence } = item;
    const ann = anns.get(ref.ann_id);
    if (!ann) throw new InputError(`ref ${ref.ref_id} points at annotation ${ref.ann_id}, which instances.json lacks`, { file: instFile, field: `ref ${ref.ref_id}.ann_id` });
    const img = imgs.get(ref.image_id);
    if (!img) throw new InputError(`ref ${ref.ref_id} points at image ${ref.image_id}, which instances.json lacks`, { file: instFile, field: `ref ${ref.ref_id}.image_id` });
    const imagePath = join(imagesDir, img.file_name);
    if (!existsSync(imagePath)) throw new InputError(`image of ref ${ref.ref_id} is missing`, { file: imagePath });
    const goldMask = segmentationToMask(ann.segmentation, img.height, img.width, `annotation ${ann.id}.segmentation`);
    const distractorBoxes: Box[] = (annsByImage.get(ann.image_id) ?? []).filter((a) => a.id !== ann.id && a.category_id === ann.category_id).map((a) => boxFromXywh(...a.bbox));
    return {
      id: idOf(item),
      source,
      imagePath,
      width: img.width,
      height: img.height,
      expression: sentence.sent,
      goldMask,
      goldBox: boxFromXywh(...ann.bbox),
      distractorBoxes,
      meta: { ref: ref.ref_id, sentence: sentence.sent_id, category: ref.category_id, image: ref.image_id },
    };
  };
  const ds = new IndexedDataset(source, `REFER ${name} (${splitBy}), one sample per ${unit === "ref" ? describeUnit({ unit, sentence: mode }).replace(/^refs/, "ref") : "sentence"}, ${refsFile}`, items, idOf, load);
  return Object.assign(ds, { stats: { refs: new Set(items.map((i) => i.ref.ref_id)).size, sentences: items.length, images: new Set(items.map((i) => i.ref.image_id)).size } });
}

function factory(name: ReferName): DatasetFactory {
  return {
    name,
    description: `${name} from REFER files (refs(${DEFAULT_SPLIT_BY[name]}).p + instances.json), LISA layout under the data root`,
    splits: name === "refcocog" ? ["train", "val", "test"] : ["train", "val", "testA", "testB", "test"],
    open: (o) => openRefer(name, { ...o, root: String(o.root ?? process.env.RESAGENT_DATA_ROOT ?? "") } as ReferOptions),
  };
}

export const refcoco = factory("refcoco");
export const refcocoPlus = factory("refcoco+");
export const refcocog = factory("refcocog");
