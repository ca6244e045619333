import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, decodeImage, randomStream, readJsonLinesRepairing, sha256 } from "@resagent/core";
import type { VbrRecord } from "@resagent/datagen";
import { allocEncoded, encodeView, type EncodedBuffers, type FeatureSpec } from "./features.js";

/** One gen-vbr example with what the learner needs (see VbrRecord.image). */
export interface VbrExample {
  sampleId: string;
  file: string;
  yes: boolean;
  imageHash: string;
  width: number;
  height: number;
  box: [number, number, number, number];
  crop: [number, number, number, number] | null;
  point: { x: number; y: number };
  /** The referring expression (records written before gen-vbr stored it have none). */
  expression?: string;
}

/**
 * Read a gen-vbr folder (records.jsonl beside data.json and images/). Records need the `image`
 * geometry gen-vbr writes (source image hash, size, gold box, crop); a folder written before it
 * did is refused with the command that regenerates it. `max` keeps the first N records.
 */
export async function readVbrFolder(dir: string, max = Infinity): Promise<{ examples: VbrExample[]; recordsHash: string }> {
  const file = join(dir, "records.jsonl");
  if (!existsSync(file)) throw new InputError(`no gen-vbr records here (expected records.jsonl beside data.json; write one with \`pnpm gen-vbr --out ${dir}\`)`, { file });
  const text = await readFile(file, "utf8");
  const records = await readJsonLinesRepairing<VbrRecord>(file);
  if (records.length === 0) throw new InputError("no records", { file });
  const examples: VbrExample[] = [];
  for (const [i, r] of records.entries()) {
    if (examples.length >= max) break;
    const field = `line ${i + 1}`;
    const img = r.image;
    if (!img) throw new InputError(`record has no "image" geometry (gen-vbr writes it since the learned verifier came; regenerate: rm -r ${dir} && pnpm gen-vbr --out ${dir})`, { file, field });
    const image = r.entry?.images?.[0];
    if (typeof image !== "string") throw new InputError('expected entry.images[0], the picture file', { file, field });
    if (r.answer !== "yes" && r.answer !== "no") throw new InputError(`expected answer "yes" or "no", got ${JSON.stringify(r.answer)}`, { file, field });
    examples.push({ sampleId: r.sampleId, file: join(dir, image), yes: r.answer === "yes", imageHash: img.hash, width: img.width, height: img.height, box: img.box, crop: img.crop, point: r.point, ...(typeof r.expression === "string" ? { expression: r.expression } : {}) });
  }
  return { examples, recordsHash: sha256(text).slice(0, 16) };
}

/** Split by source image (no image has points on both sides), seeded: about `heldOut` of the images go to the held-out side. */
export function splitByImage(examples: readonly { imageHash: string }[], heldOut: number, seed: number): { train: number[]; test: number[] } {
  const hashes = [...new Set(examples.map((e) => e.imageHash))].sort();
  const shuffled = randomStream(seed, "learned/split").shuffle(hashes);
  const nTest = Math.max(1, Math.round(heldOut * hashes.length));
  const testSet = new Set(shuffled.slice(0, nTest));
  const train: number[] = [];
  const test: number[] = [];
  examples.forEach((e, i) => (testSet.has(e.imageHash) ? test : train).push(i));
  return { train, test };
}

/** Encoded examples (see encodeView) with the spec that encoded them, labels 0/1. */
export interface EncodedSet extends EncodedBuffers {
  n: number;
  spec: FeatureSpec;
  labels: Float32Array;
}

/** Decode and encode the pictures (a few at a time: decoding is libvips' work on its threads). */
export async function encodeExamples(examples: readonly VbrExample[], spec: FeatureSpec, progress?: (done: number, total: number) => void): Promise<EncodedSet> {
  const n = examples.length;
  const out: EncodedSet = { n, spec, ...allocEncoded(spec, n), labels: new Float32Array(n) };
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const e = examples[i]!;
      const picture = await decodeImage(await readFile(e.file), e.file);
      const origin = e.crop ? { x: e.crop[0], y: e.crop[1] } : { x: 0, y: 0 };
      const wantW = e.crop ? e.crop[2] - e.crop[0] : e.width;
      const wantH = e.crop ? e.crop[3] - e.crop[1] : e.height;
      if (picture.width !== wantW || picture.height !== wantH) {
        throw new InputError(`picture is ${picture.width}x${picture.height} but its record says ${wantW}x${wantH}`, { file: e.file });
      }
      const [x1, y1, x2, y2] = e.box;
      encodeView({ picture, origin, width: e.width, height: e.height, box: { x1, y1, x2, y2 }, point: e.point, expression: e.expression }, spec, out, i);
      out.labels[i] = e.yes ? 1 : 0;
      progress?.(++done, n);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return out;
}
