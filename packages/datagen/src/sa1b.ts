import { existsSync } from "node:fs";
import { copyFile, link, mkdir, symlink } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { InputError, countsToBbox, isInside, countsToString, randomStream, segmentationToCounts, writeFileAtomic, type CompressedRle } from "@resagent/core";
import { streamTopLevelArrays } from "./jsonstream.js";

export interface Sa1bOptions {
  instances: string;
  /** Folder holding the images named by `file_name`. */
  images: string;
  out: string;
  /** How images get into the output folder. */
  imageMode: "symlink" | "hardlink" | "copy" | "none";
  seed: number;
  progress?: (done: number, total: number) => void;
}

export interface Sa1bAnnotation {
  id: number;
  segmentation: CompressedRle;
  bbox: [number, number, number, number];
  area: number;
  predicted_iou: number;
  point_coords: [number, number][];
  crop_box: [number, number, number, number];
  stability_score: number;
}

export interface Sa1bSummary {
  imagesWritten: number;
  annotationsWritten: number;
  skipped: Record<string, number>;
}

interface CocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
}

interface CocoAnn {
  id: number;
  image_id: number;
  bbox?: number[];
  segmentation?: unknown;
}

/** Why an `images` entry cannot be converted (its record is skipped with this reason), or undefined. */
function badImage(im: CocoImage, imagesDir: string): string | undefined {
  const side = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (typeof im !== "object" || im === null) return "image entry that is not an object";
  if (!Number.isFinite(im.id)) return "image entry without a numeric id";
  if (typeof im.file_name !== "string" || im.file_name === "") return "image entry without a file_name";
  if (!side(im.width) || !side(im.height)) return "image entry whose width or height is not a positive integer";
  // The file is linked or copied into the output: it must come from the images folder.
  if (!isInside(imagesDir, join(imagesDir, im.file_name))) return "image file_name outside the images folder";
  return undefined;
}

/** A uniformly drawn foreground pixel (its centre), from the run lengths, without decoding the mask. */
function pointInside(counts: number[], h: number, area: number, seed: number, annId: number): [number, number] {
  let k = randomStream(seed, "to-sa1b", String(annId)).int(area);
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (i % 2 === 1) {
      if (k < c) {
        const idx = pos + k;
        return [Math.floor(idx / h) + 0.5, (idx % h) + 0.5];
      }
      k -= c;
    }
    pos += c;
  }
  throw new Error("unreachable: area larger than the runs");
}

/**
 * COCO instances -> SA-1B layout: one `<image>.json` per image with compressed-RLE annotations
 * (bit-exact with pycocotools), one seeded point inside each mask, crop box = the image,
 * stability 1.0. Streams the instances file, so instances_train2014.json fits in memory.
 */
export async function cocoToSa1b(o: Sa1bOptions): Promise<Sa1bSummary> {
  if (!existsSync(o.instances)) throw new InputError("instances file not found", { file: o.instances });
  const images = new Map<number, CocoImage>();
  const anns = new Map<number, Sa1bAnnotation[]>();
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  const pending: CocoAnn[] = [];
  const convert = (a: CocoAnn, img: CocoImage) => {
    let counts: number[];
    try {
      counts = segmentationToCounts(a.segmentation, img.height, img.width, `annotation ${a.id}.segmentation`);
    } catch (err) {
      skip(`bad segmentation (${(err as Error).message.replace(/^annotation \d+\.segmentation(\[\d+\])?: /, "")})`);
      return;
    }
    let area = 0;
    for (let i = 1; i < counts.length; i += 2) area += counts[i]!;
    if (area === 0) {
      skip("empty mask");
      return;
    }
    let list = anns.get(img.id);
    if (!list) anns.set(img.id, (list = []));
    list.push({
      id: a.id,
      segmentation: { size: [img.height, img.width], counts: countsToString(counts) },
      bbox: countsToBbox(counts, img.height),
      area,
      predicted_iou: 1.0,
      point_coords: [pointInside(counts, img.height, area, o.seed, a.id)],
      crop_box: [0, 0, img.width, img.height],
      stability_score: 1.0,
    });
  };
  const { found } = await streamTopLevelArrays(o.instances, ["images", "annotations"], (key, item) => {
    if (key === "images") {
      const im = item as CocoImage;
      const why = badImage(im, o.images);
      if (why) skip(why);
      else images.set(im.id, im);
    } else {
      const a = item as CocoAnn;
      const img = images.get(a.image_id);
      // COCO lists images first; keep the rare annotation that comes earlier for later.
      if (img) convert(a, img);
      else pending.push(a);
    }
  });
  for (const key of ["images", "annotations"]) {
    if (!found.has(key)) throw new InputError(`not a COCO instances file: no top-level "${key}" list`, { file: o.instances });
  }
  for (const a of pending) {
    const img = images.get(a.image_id);
    if (img) convert(a, img);
    else skip("annotation of an image not in the file");
  }
  await mkdir(o.out, { recursive: true });
  let written = 0;
  let annotations = 0;
  let done = 0;
  const total = images.size;
  for (const img of images.values()) {
    done++;
    const src = join(o.images, img.file_name);
    if (o.imageMode !== "none" && !existsSync(src)) {
      skip("image file missing");
      o.progress?.(done, total);
      continue;
    }
    const list = (anns.get(img.id) ?? []).sort((a, b) => a.id - b.id);
    const stem = basename(img.file_name).replace(/\.[^.]+$/, "");
    await writeFileAtomic(join(o.out, `${stem}.json`), JSON.stringify({ image: { image_id: img.id, width: img.width, height: img.height, file_name: basename(img.file_name) }, annotations: list }));
    const dst = join(o.out, basename(img.file_name));
    if (o.imageMode !== "none" && !existsSync(dst)) {
      if (o.imageMode === "symlink") await symlink(resolve(src), dst);
      else if (o.imageMode === "hardlink") await link(src, dst);
      else await copyFile(src, dst);
    }
    written++;
    annotations += list.length;
    o.progress?.(done, total);
  }
  const summary = { imagesWritten: written, annotationsWritten: annotations, skipped };
  // The instances file it converted: a rerun on the same file may overwrite the folder, another may not.
  await writeFileAtomic(join(o.out, "summary.json"), `${JSON.stringify({ ...summary, instances: resolve(o.instances) }, null, 2)}\n`);
  return summary;
}
