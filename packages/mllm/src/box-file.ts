import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, zEnum } from "@resagent/core";
import { z } from "zod";
import type { ChatBackend, ChatCompletion, ChatRequest, QueryContext } from "./types.js";

/**
 * Precomputed boxes instead of a grounding model: the authors' router output
 * (`router_eval_medoid/*_medoid_choices.jsonl`, one line per sentence: dataset, split, ref_id,
 * sent_id, expr, w, h, pred_box_xyxy, raw_text) or any file of that layout (their textual baseline
 * reads `pred_<dataset>_<splitBy>_<split>_<model>.jsonl` the same way). A box is resolved as the
 * final eval script resolves it with `--box_prior_mode fixed --fixed_box_field <field>
 * --box_coord_mode <coords> --prefer_sentence_level_prior`: the line of the sample's ref and
 * sentence (`resolve_predict_info`: by sentence id, else by the sentence's text), its field's first
 * box (`parse_boxes_from_text`), read as image pixels (`absolute`) or 0-1000 (`qwen1000`,
 * `convert_from_qwen2vl_format`), clipped to the last pixel (`clip_box_xyxy`). The answer is that
 * box in image pixels, so the grounder's convention must be `absolute`.
 */
export const BoxFileOptionsSchema = z
  .strictObject({
    dir: z.string().min(1).describe("folder with one box file per dataset split (e.g. the authors' router_eval_medoid/)"),
    pattern: z
      .string()
      .min(1)
      .refine((p) => p.includes("{split}"), "a file name with {split} (and {dataset}, {splitBy})")
      .default("{dataset}_{splitBy}_{split}_medoid_choices.jsonl")
      .describe("file name per split: {dataset}, {splitBy} (unc, or umd for refcocog, as the release scripts' build_json_path) and {split} are filled in; default the router's medoid files"),
    field: zEnum(["raw_text", "pred_box_xyxy"] as const).default("raw_text").describe("the line's field holding the box (--fixed_box_field)"),
    coords: zEnum(["absolute", "qwen1000"] as const).default("absolute").describe("how the field's numbers are read (--box_coord_mode): image pixels (router script) or 0-1000 (textual script)"),
  })
  .describe("boxes read from files keyed by dataset, split, ref and sentence id, as the authors' final script reads them; a sample without a line is an error");
export type BoxFileOptions = z.output<typeof BoxFileOptionsSchema>;

interface Row {
  dataset: string;
  split: string;
  ref_id: number;
  sent_id: number;
  expr?: string;
  w?: number;
  h?: number;
  key?: string;
  raw_text?: unknown;
  pred_box_xyxy?: unknown;
  line: number;
}

interface Index {
  file: string;
  bySentence: Map<string, Row>;
  byText: Map<string, Row>;
  refs: Set<number>;
}

const isBox = (v: unknown): v is number[] => Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === "number" && Number.isFinite(x));

/** `parse_boxes_from_text`'s first box: JSON (any nesting), else `[[a, b, c, d]]`, else the first four numbers. */
export function firstBoxInText(text: string): number[] | null {
  const t = text.trim();
  if (!t) return null;
  const collect = (v: unknown, out: number[][]): number[][] => {
    if (isBox(v)) out.push(v);
    else if (Array.isArray(v)) for (const x of v) collect(x, out);
    else if (v && typeof v === "object") for (const x of Object.values(v)) collect(x, out);
    return out;
  };
  if (t.startsWith("[") || t.startsWith("{")) {
    try {
      const boxes = collect(JSON.parse(t), []);
      if (boxes.length) return boxes[0]!;
    } catch {
      // not JSON: the patterns below
    }
  }
  const num = String.raw`(-?\d+\.?\d*)`;
  const m = new RegExp(String.raw`\[\[\s*${num}\s*,\s*${num}\s*,\s*${num}\s*,\s*${num}\s*\]\]`).exec(t);
  if (m) return [m[1], m[2], m[3], m[4]].map(Number);
  const nums = t.match(/-?\d+\.?\d*/g);
  return nums && nums.length >= 4 ? nums.slice(0, 4).map(Number) : null;
}

/**
 * A field's box in image pixels as the final script reads it: `maybe_normalized_box_to_absolute`
 * (absolute: clipped to the last pixel; qwen1000: scaled by the image size and clamped to it),
 * then main()'s `clip_box_xyxy`. Null when narrower or shorter than 2 pixels (`is_valid_box_xyxy`).
 */
export function resolveFileBox(raw: readonly number[], coords: "absolute" | "qwen1000", width: number, height: number): [number, number, number, number] | null {
  const clip = (b: readonly number[]): [number, number, number, number] => {
    let [x1, y1, x2, y2] = b.map((v, i) => Math.max(0, Math.min(v, (i % 2 ? height : width) - 1))) as [number, number, number, number];
    if (x2 < x1) [x1, x2] = [x2, x1];
    if (y2 < y1) [y1, y2] = [y2, y1];
    return [x1, y1, x2, y2];
  };
  const b =
    coords === "absolute"
      ? clip(raw)
      : raw.map((v, i) => {
          const s = (v * (i % 2 ? height : width)) / 1000;
          return Math.max(0, Math.min(s, i % 2 ? height : width));
        });
  if (!(b[2]! - b[0]! >= 2 && b[3]! - b[1]! >= 2)) return null;
  return clip(b);
}

/** The file name of a dataset split under `pattern`. */
export function boxFileName(pattern: string, dataset: string, split: string): string {
  const splitBy = dataset === "refcocog" ? "umd" : "unc";
  return pattern.replace(/\{dataset\}/g, dataset).replace(/\{splitBy\}/g, splitBy).replace(/\{split\}/g, split);
}

export class BoxFileBackend implements ChatBackend {
  readonly name = "box-file";
  readonly simulated = false;
  readonly needsImages = false;
  private readonly indexes = new Map<string, Promise<Index>>();

  /** `options` as parsed by BoxFileOptionsSchema (a loaded config's `mllm.boxes`, or createBackend's). */
  constructor(readonly options: BoxFileOptions) {}

  get identity(): string {
    const o = this.options;
    return `box-file:${o.dir}/${o.pattern}:${o.field}:${o.coords}`;
  }

  describe(): string {
    const o = this.options;
    return `boxes read from ${join(o.dir, o.pattern)} (field ${o.field}, ${o.coords === "absolute" ? "image pixels" : "0-1000"}; the sample's ref and sentence, as the final script's --box_prior_mode fixed)`;
  }

  /** Whether the files exist for these dataset splits (checked before any work by callers that can). */
  fileFor(dataset: string, split: string): string {
    return join(this.options.dir, boxFileName(this.options.pattern, dataset, split));
  }

  private index(file: string): Promise<Index> {
    let p = this.indexes.get(file);
    if (!p) this.indexes.set(file, (p = this.load(file)));
    return p;
  }

  private async load(file: string): Promise<Index> {
    if (!existsSync(file)) throw new InputError("box file not found", { file, field: "mllm.boxes" });
    const text = await readFile(file, "utf8");
    const idx: Index = { file, bySentence: new Map(), byText: new Map(), refs: new Set() };
    text.split("\n").forEach((line, i) => {
      if (!line.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (err) {
        throw new InputError(`not JSON (${(err as Error).message})`, { file, field: `line ${i + 1}` });
      }
      const r = v as Partial<Row> | null;
      if (!r || typeof r !== "object") throw new InputError("expected an object per line", { file, field: `line ${i + 1}` });
      for (const k of ["ref_id", "sent_id"] as const) if (typeof r[k] !== "number") throw new InputError(`expected a number, got ${JSON.stringify(r[k])}`, { file, field: `line ${i + 1}.${k}` });
      const row = { ...r, line: i + 1 } as Row;
      idx.refs.add(row.ref_id);
      idx.bySentence.set(`${row.ref_id}/${row.sent_id}`, row);
      if (typeof row.expr === "string" && row.expr.trim()) idx.byText.set(`${row.ref_id}/${row.expr.trim()}`, row);
    });
    return idx;
  }

  async complete(_request: ChatRequest, ctx: QueryContext): Promise<ChatCompletion> {
    if (ctx.kind !== "ground") throw new InputError("the box-file backend only grounds: set verifierMllm to a verifier", { field: "mllm.backend" });
    const s = ctx.sample;
    const m = s ? /^([^/\s]+)\/(\S+)/.exec(s.source) : null;
    const ref = s?.meta?.ref;
    const sent = s?.meta?.sentence;
    if (!m || typeof ref !== "number" || typeof sent !== "number") {
      throw new InputError(`box files are keyed by dataset, split, ref and sentence id; sample ${ctx.sampleId} (${s?.source ?? "no source"}) has no REFER ref/sentence`, { field: "mllm.boxes" });
    }
    const [, dataset, split] = m as unknown as [string, string, string];
    const file = this.fileFor(dataset, split);
    const idx = await this.index(file);
    const key = `${dataset}:${split}:${ref}:${sent}`;
    const row = idx.bySentence.get(`${ref}/${sent}`) ?? (ctx.expression ? idx.byText.get(`${ref}/${ctx.expression.trim()}`) : undefined);
    if (!row) throw new InputError(`no box for ${key} (dataset:split:ref:sentence)${idx.refs.has(ref) ? "; the ref is there, its sentence is not" : ""}`, { file, field: "mllm.boxes" });
    if ((row.w !== undefined && row.w !== ctx.imageWidth) || (row.h !== undefined && row.h !== ctx.imageHeight)) {
      throw new InputError(`the line for ${key} is for a ${row.w}x${row.h} image, the sample's is ${ctx.imageWidth}x${ctx.imageHeight}`, { file, field: `line ${row.line}` });
    }
    const value = row[this.options.field];
    const raw = typeof value === "string" ? firstBoxInText(value) : isBox(value) ? value : null;
    const box = raw && resolveFileBox(raw, this.options.coords, ctx.imageWidth, ctx.imageHeight);
    // No usable box on the line: an empty answer, so the pipeline's grounding-failure rule applies.
    return { text: box ? JSON.stringify([box]) : "", cached: false, latencyMs: 0 };
  }
}
