import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, decodeImage, randomStream, readJsonLinesTolerant, sha256 } from "@resagent/core";
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

/** Records that cannot be trained on, per kind, and how many there were in all. */
export interface VbrFolderProblems {
  /** Lines of records.jsonl that are not JSON (a killed writer, a torn copy). */
  torn: number;
  /** Records missing a field or holding a wrong value, by reason. */
  invalid: Record<string, number>;
  /** Records whose picture file is not there. */
  missingImages: number;
  /** Lines read in all. */
  lines: number;
}

/** The most records (torn, invalid or without their picture) a folder may lose before training refuses it. */
export const MAX_UNUSABLE_SHARE = 0.05;

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const quad = (v: unknown): v is [number, number, number, number] => Array.isArray(v) && v.length === 4 && v.every(finite);

/** Why a record cannot be trained on, or undefined. */
function invalidReason(r: Partial<VbrRecord> | null): string | undefined {
  if (typeof r !== "object" || r === null) return "not a JSON object";
  const img = r.image;
  if (!img) return 'no "image" geometry (written by a gen-vbr older than the learned verifier)';
  if (typeof img.hash !== "string" || !(Number.isInteger(img.width) && img.width > 0) || !(Number.isInteger(img.height) && img.height > 0)) return "image hash or size missing or not positive integers";
  if (!quad(img.box)) return "image.box is not four finite numbers";
  if (img.crop !== null && !quad(img.crop)) return "image.crop is neither null nor four finite numbers";
  if (typeof r.entry?.images?.[0] !== "string") return "no entry.images[0] (the picture file)";
  if (r.answer !== "yes" && r.answer !== "no") return 'answer is not "yes" or "no"';
  if (!r.point || !finite(r.point.x) || !finite(r.point.y)) return "point is not two finite numbers";
  if (typeof r.sampleId !== "string") return "no sampleId";
  return undefined;
}

/**
 * Read a gen-vbr folder (records.jsonl beside data.json and images/) without changing it. Records
 * need the `image` geometry gen-vbr writes (source image hash, size, gold box, crop). Torn lines,
 * invalid records and records whose picture is missing are left out and counted; more than
 * MAX_UNUSABLE_SHARE of them (or none usable) is refused, naming what was wrong. `max` keeps the
 * first N usable records.
 */
export async function readVbrFolder(dir: string, max = Infinity): Promise<{ examples: VbrExample[]; recordsHash: string; problems: VbrFolderProblems }> {
  const file = join(dir, "records.jsonl");
  if (!existsSync(file)) throw new InputError(`no gen-vbr records here (expected records.jsonl beside data.json; write one with \`pnpm gen-vbr --out ${dir}\`)`, { file });
  const text = await readFile(file, "utf8");
  const { values: records, skipped: torn } = readJsonLinesTolerant<Partial<VbrRecord> | null>(file);
  const problems: VbrFolderProblems = { torn, invalid: {}, missingImages: 0, lines: records.length + torn };
  if (problems.lines === 0) throw new InputError("no records", { file });
  const examples: VbrExample[] = [];
  for (const r of records) {
    if (examples.length >= max) break;
    const why = invalidReason(r);
    if (why) {
      problems.invalid[why] = (problems.invalid[why] ?? 0) + 1;
      continue;
    }
    const rec = r as VbrRecord;
    const img = rec.image!;
    const picture = join(dir, rec.entry.images[0]!);
    if (!existsSync(picture)) {
      problems.missingImages++;
      continue;
    }
    examples.push({ sampleId: rec.sampleId, file: picture, yes: rec.answer === "yes", imageHash: img.hash, width: img.width, height: img.height, box: img.box, crop: img.crop, point: rec.point, ...(typeof rec.expression === "string" ? { expression: rec.expression } : {}) });
  }
  const invalid = Object.values(problems.invalid).reduce((a, b) => a + b, 0);
  const unusable = torn + invalid + problems.missingImages;
  const looked = examples.length + unusable;
  if (unusable > 0 && (examples.length === 0 || unusable > MAX_UNUSABLE_SHARE * looked)) {
    const top = Object.entries(problems.invalid).sort((a, b) => b[1] - a[1])[0];
    const regenerate = top?.[0].startsWith('no "image" geometry') ? `; regenerate: rm -r ${dir} && pnpm gen-vbr --out ${dir}` : "";
    throw new InputError(`${unusable} of ${looked} records are unusable (${describeProblems(problems)}), more than ${100 * MAX_UNUSABLE_SHARE}%${regenerate}`, { file });
  }
  return { examples, recordsHash: sha256(text).slice(0, 16), problems };
}

/** "3 torn lines, 2 without their picture, 1 answer is not ..." for the terminal. */
export function describeProblems(p: VbrFolderProblems): string {
  return [
    ...(p.torn ? [`${p.torn} torn line(s)`] : []),
    ...(p.missingImages ? [`${p.missingImages} without their picture file`] : []),
    ...Object.entries(p.invalid).map(([why, n]) => `${n}: ${why}`),
  ].join(", ");
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
