import { z } from "zod";
import { InputError, zInt, type Box } from "@resagent/core";

/**
 * The grounding question. "authors": byte for byte `tools.py` `inference_bbox` (RefCOCO/+/g and
 * ReasonSeg), which says "target"; "paper": §3.2's wording, "object" (this harness before issue 19).
 */
export const BOX_PROMPTS = {
  authors: "Identify the target referred to by '{expr}' in the image and return its bounding box in JSON format.",
  paper: "Identify the object referred to by '{expr}' in the image and return its bounding box in JSON format.",
} as const;
export const BOX_PROMPT = BOX_PROMPTS.authors;

/**
 * The grounding prompt for an expression. `template` (the pipeline's `mllm.boxPrompt`) is
 * "authors" (the default), "paper", or a template of your own with an {expr} slot.
 */
export function boxPrompt(expression: string, template: string = "authors"): string {
  const t = Object.hasOwn(BOX_PROMPTS, template) ? BOX_PROMPTS[template as keyof typeof BOX_PROMPTS] : template;
  if (!t.includes("{expr}")) throw new InputError(`expected "authors", "paper" or a template with an {expr} slot, got ${JSON.stringify(template)}`, { field: "mllm.boxPrompt" });
  // A function replacement inserts the expression as written ("$'" stays "$'").
  return t.replace("{expr}", () => expression);
}

/**
 * How the model writes coordinates: qwen2.5 = pixels of the smart-resized image, qwen3 = 0–1000,
 * absolute = image pixels, normalized = 0–1.
 */
export const BOX_CONVENTIONS = ["qwen2.5", "qwen3", "absolute", "normalized"] as const;
export type BoxConvention = (typeof BOX_CONVENTIONS)[number];

/** The smart-resize limits of a Qwen2.5-VL processor; defaults are its own (min 56², max 12,845,056 pixels, factor 28). */
export const SmartResizeSchema = z
  .strictObject({
    factor: zInt(1, 1024).describe("each side a multiple of this (Qwen2.5-VL: 28)").default(28),
    minPixels: zInt(1).describe("fewest pixels of the resized image (Qwen2.5-VL default 3136 = 56²)").default(56 * 56),
    maxPixels: zInt(1).describe("most pixels of the resized image (Qwen2.5-VL default 12845056; vLLM --mm-processor-kwargs max_pixels)").default(12_845_056),
  })
  .superRefine((r, ctx) => {
    if (r.minPixels > r.maxPixels) ctx.addIssue({ code: "custom", path: ["maxPixels"], message: `expected minPixels <= maxPixels (${r.minPixels} > ${r.maxPixels})` });
  });
export type SmartResizeOptions = z.output<typeof SmartResizeSchema>;

/** Qwen2.5-VL processor defaults. */
export const QWEN25_RESIZE: SmartResizeOptions = SmartResizeSchema.parse({});

/** The grounding prompt templates a config may name, besides a template of its own with an {expr} slot. */
export const BoxPromptSchema = z
  .string()
  .min(1)
  .refine((t) => Object.hasOwn(BOX_PROMPTS, t) || t.includes("{expr}"), 'expected "authors", "paper" or a template with an {expr} slot');

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Qwen2.5-VL's smart_resize: each side a multiple of `factor`, total pixels within
 * [minPixels, maxPixels], aspect ratio kept as closely as possible. Returns [height, width].
 */
export function smartResize(height: number, width: number, o: SmartResizeOptions = QWEN25_RESIZE): [number, number] {
  if (Math.max(height, width) / Math.min(height, width) > 200) {
    throw new InputError(`aspect ratio ${Math.max(height, width) / Math.min(height, width)} exceeds 200, which Qwen2.5-VL rejects`, { field: "image" });
  }
  let h = Math.max(o.factor, roundHalfEven(height / o.factor) * o.factor);
  let w = Math.max(o.factor, roundHalfEven(width / o.factor) * o.factor);
  if (h * w > o.maxPixels) {
    const beta = Math.sqrt((height * width) / o.maxPixels);
    h = Math.floor(height / beta / o.factor) * o.factor;
    w = Math.floor(width / beta / o.factor) * o.factor;
  } else if (h * w < o.minPixels) {
    const beta = Math.sqrt(o.minPixels / (height * width));
    h = Math.ceil((height * beta) / o.factor) * o.factor;
    w = Math.ceil((width * beta) / o.factor) * o.factor;
  }
  return [h, w];
}

/** Convert a model box (x1, y1, x2, y2 in the convention) to image pixels, ordered and clamped. */
export function toPixelBox(raw: readonly number[], convention: BoxConvention, width: number, height: number, resize: SmartResizeOptions = QWEN25_RESIZE): Box {
  let [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = raw;
  let sx = 1;
  let sy = 1;
  if (convention === "qwen3") {
    sx = width / 1000;
    sy = height / 1000;
  } else if (convention === "normalized") {
    sx = width;
    sy = height;
  } else if (convention === "qwen2.5") {
    const [rh, rw] = smartResize(height, width, resize);
    sx = width / rw;
    sy = height / rh;
  }
  x1 *= sx;
  x2 *= sx;
  y1 *= sy;
  y2 *= sy;
  const cl = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  return { x1: cl(Math.min(x1, x2), width), y1: cl(Math.min(y1, y2), height), x2: cl(Math.max(x1, x2), width), y2: cl(Math.max(y1, y2), height) };
}

/** The inverse of toPixelBox, rounded as a model would print it (for simulated answers and tests). */
export function fromPixelBox(b: Box, convention: BoxConvention, width: number, height: number, resize: SmartResizeOptions = QWEN25_RESIZE): number[] {
  const v = [b.x1, b.y1, b.x2, b.y2];
  if (convention === "absolute") return v.map(Math.round);
  if (convention === "normalized") return [b.x1 / width, b.y1 / height, b.x2 / width, b.y2 / height].map((x) => Math.round(x * 1000) / 1000);
  if (convention === "qwen3") return [b.x1 / width, b.y1 / height, b.x2 / width, b.y2 / height].map((x) => Math.round(x * 1000));
  const [rh, rw] = smartResize(height, width, resize);
  return [(b.x1 * rw) / width, (b.y1 * rh) / height, (b.x2 * rw) / width, (b.y2 * rh) / height].map(Math.round);
}

export type ParsedBoxes = { ok: true; boxes: { box: number[]; score?: number; label?: string }[] } | { ok: false; failure: string };

const BOX_KEYS = ["bbox_2d", "bbox", "bounding_box", "bounding box", "bounding_box_2d", "box", "box_2d"];

function isBox(v: unknown): v is number[] {
  return Array.isArray(v) && v.length === 4 && v.every((x) => typeof x === "number" && Number.isFinite(x));
}

function collect(v: unknown, out: { box: number[]; score?: number; label?: string }[]): void {
  if (isBox(v)) {
    out.push({ box: v });
    return;
  }
  if (Array.isArray(v)) {
    for (const x of v) collect(x, out);
    return;
  }
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    for (const k of BOX_KEYS) {
      if (isBox(o[k])) {
        const score = [o.score, o.confidence, o.conf].find((s): s is number => typeof s === "number");
        out.push({ box: o[k] as number[], ...(score !== undefined ? { score } : {}), ...(typeof o.label === "string" ? { label: o.label } : {}) });
        return;
      }
    }
    for (const x of Object.values(o)) collect(x, out);
  }
}

/**
 * Every box in a model answer, in order: JSON in ```json fences or bare, `bbox_2d`-style objects,
 * nested objects, bare `[[x1,y1,x2,y2]]`, and as fallbacks `"bbox_2d": [..]` in truncated JSON,
 * Qwen2-VL `<|box_start|>(x1,y1),(x2,y2)<|box_end|>` and "(x1, y1), (x2, y2)" in prose.
 */
export function parseBoxes(answer: string): ParsedBoxes {
  const text = answer.replace(/<\|im_end\|>/g, "").trim();
  if (!text) return { ok: false, failure: "empty answer" };
  const candidates: string[] = [];
  for (const m of text.matchAll(/```(?:json|JSON)?\s*([\s\S]*?)(?:```|$)/g)) if (m[1]?.trim()) candidates.push(m[1].trim());
  candidates.push(text);
  const firstBracket = text.search(/[[{]/);
  if (firstBracket > 0) candidates.push(text.slice(firstBracket));
  for (const c of candidates) {
    try {
      const out: { box: number[]; score?: number; label?: string }[] = [];
      collect(JSON.parse(c), out);
      if (out.length) return { ok: true, boxes: out };
    } catch {
      // not JSON: try the next form
    }
  }
  const num = String.raw`(-?\d+(?:\.\d+)?)`;
  const sep = String.raw`\s*,\s*`;
  const keyed = [...text.matchAll(new RegExp(String.raw`"(?:${BOX_KEYS.join("|")})"\s*:\s*\[\s*${num}${sep}${num}${sep}${num}${sep}${num}\s*\]`, "g"))];
  if (keyed.length) return { ok: true, boxes: keyed.map((m) => ({ box: [m[1], m[2], m[3], m[4]].map(Number) })) };
  const pairs = [...text.matchAll(new RegExp(String.raw`\(\s*${num}${sep}${num}\s*\)\s*,?\s*(?:to\s*)?\(\s*${num}${sep}${num}\s*\)`, "g"))];
  if (pairs.length) return { ok: true, boxes: pairs.map((m) => ({ box: [m[1], m[2], m[3], m[4]].map(Number) })) };
  const bare = text.match(new RegExp(String.raw`\[\s*${num}${sep}${num}${sep}${num}${sep}${num}\s*\]`));
  if (bare) return { ok: true, boxes: [{ box: [bare[1], bare[2], bare[3], bare[4]].map(Number) }] };
  return { ok: false, failure: `no box in answer: ${JSON.stringify(text.slice(0, 120))}` };
}

export type GroundingResult = { ok: true; box: Box; raw: number[]; candidates: number } | { ok: false; failure: string };

/** Parse an answer and convert its chosen box to pixels. `pick`: first box, or the highest score. */
export function parseGrounding(answer: string, convention: BoxConvention, width: number, height: number, pick: "first" | "highest-score" = "first", resize?: SmartResizeOptions): GroundingResult {
  const parsed = parseBoxes(answer);
  if (!parsed.ok) return parsed;
  let chosen = parsed.boxes[0]!;
  if (pick === "highest-score") for (const b of parsed.boxes) if ((b.score ?? -Infinity) > (chosen.score ?? -Infinity)) chosen = b;
  const box = toPixelBox(chosen.box, convention, width, height, resize);
  if (!(box.x2 > box.x1 && box.y2 > box.y1)) return { ok: false, failure: `degenerate box ${JSON.stringify(chosen.box)} (empty after conversion to pixels)` };
  return { ok: true, box, raw: chosen.box, candidates: parsed.boxes.length };
}
