import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, maskBox, readImage, type Mask, type Sample } from "@resagent/core";
import { IndexedDataset, type Dataset, type DatasetFactory, type DatasetOptions } from "../dataset.js";

interface Shape {
  label: string;
  points: number[][];
}

/** Fill a polygon (vertices truncated to integers, as LISA's np.int32 cast) plus its 1-px outline. */
function drawPolygon(mask: Uint8Array, width: number, height: number, pts: [number, number][], value: number): void {
  const n = pts.length;
  if (n === 0) return;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const [, y] of pts) {
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  // Scanline fill with pixel centres on integer coordinates (OpenCV's convention).
  for (let y = Math.max(0, y0); y <= Math.min(height - 1, y1); y++) {
    const xs: number[] = [];
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = pts[i]!;
      const [xj, yj] = pts[j]!;
      if (yi > y !== yj > y) xs.push(xi + ((y - yi) * (xj - xi)) / (yj - yi));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      for (let x = Math.max(0, Math.ceil(xs[k]!)); x <= Math.min(width - 1, Math.floor(xs[k + 1]!)); x++) mask[y * width + x] = value;
    }
  }
  // Outline (closed), Bresenham.
  for (let i = 0; i < n; i++) {
    let [x, y] = pts[i]!;
    const [x2, y2] = pts[(i + 1) % n]!;
    const dx = Math.abs(x2 - x);
    const dy = -Math.abs(y2 - y);
    const sx = x < x2 ? 1 : -1;
    const sy = y < y2 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      if (x >= 0 && y >= 0 && x < width && y < height) mask[y * width + x] = value;
      if (x === x2 && y === y2) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y += sy;
      }
    }
  }
}

/**
 * The ReasonSeg gold mask as LISA's `get_mask_from_json` builds it: "flag" shapes skipped,
 * polygons drawn largest first, 255 where the label contains "ignore", else 1. Rasterisation is
 * our scanline fill + Bresenham outline in OpenCV's pixel convention, not OpenCV itself.
 */
export function reasonSegMask(shapes: readonly Shape[], width: number, height: number): Mask {
  const valid = shapes.filter((s) => s.label.toLowerCase() !== "flag");
  const withArea = valid.map((s) => {
    const tmp = new Uint8Array(width * height);
    const pts = s.points.map((p) => [Math.trunc(p[0]!), Math.trunc(p[1]!)] as [number, number]);
    drawPolygon(tmp, width, height, pts, 1);
    let area = 0;
    for (let k = 0; k < tmp.length; k++) area += tmp[k]!;
    return { s, pts, area };
  });
  // np.argsort(...)[::-1]: largest first; equal areas keep reversed original order.
  const order = withArea.map((_, i) => i).sort((a, b) => withArea[a]!.area - withArea[b]!.area || a - b).reverse();
  const data = new Uint8Array(width * height);
  for (const i of order) {
    const { s, pts } = withArea[i]!;
    drawPolygon(data, width, height, pts, s.label.toLowerCase().includes("ignore") ? 255 : 1);
  }
  return { width, height, data };
}

// Windows-1252 0x80-0x9F (Node's TextDecoder treats "windows-1252" as Latin-1 there); undefined bytes stay as C1 controls.
const CP1252_HIGH = "\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178";

function decodeCp1252(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b >= 0x80 && b <= 0x9f ? CP1252_HIGH[b - 0x80] : String.fromCharCode(b);
  return out;
}

/** JSON read as UTF-8, falling back to cp1252 as LISA does (Windows-1252 bytes in some files). */
async function readJsonCp1252(file: string): Promise<unknown> {
  const bytes = await readFile(file);
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    try {
      return JSON.parse(decodeCp1252(bytes));
    } catch (err) {
      throw new InputError(`cannot parse JSON as UTF-8 or cp1252 (${(err as Error).message})`, { file });
    }
  }
}

export async function openReasonSeg(options: DatasetOptions): Promise<Dataset> {
  const root = String(options.root ?? process.env.RESAGENT_DATA_ROOT ?? "");
  if (!root) throw new InputError("no data root for reasonseg: set dataset.root or RESAGENT_DATA_ROOT", { field: "dataset.root" });
  const candidates = [join(root, "reason_seg", "ReasonSeg", options.split), join(root, "ReasonSeg", options.split), join(root, options.split)];
  const dir = candidates.find((d) => existsSync(d));
  if (!dir) throw new InputError(`ReasonSeg split folder not found (looked for ${candidates.join(", ")})`, { file: root, field: "dataset.split" });
  const names = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort();
  const load = async (name: string): Promise<Sample> => {
    const stem = name.replace(/\.[^.]+$/, "");
    const jsonFile = join(dir, `${stem}.json`);
    if (!existsSync(jsonFile)) throw new InputError(`annotation of ${name} is missing`, { file: jsonFile });
    const anno = (await readJsonCp1252(jsonFile)) as { text?: unknown; shapes?: unknown; is_sentence?: unknown };
    const text = Array.isArray(anno.text) ? anno.text[0] : anno.text;
    if (typeof text !== "string") throw new InputError("expected text: [string, ...]", { file: jsonFile, field: "text" });
    if (!Array.isArray(anno.shapes)) throw new InputError("expected shapes: [{label, points}]", { file: jsonFile, field: "shapes" });
    const imagePath = join(dir, name);
    const img = await readImage(imagePath); // size is needed to build the mask
    const goldMask = reasonSegMask(anno.shapes as Shape[], img.width, img.height);
    const fg: Mask = { ...goldMask, data: goldMask.data.map((v) => (v === 1 ? 1 : 0)) };
    const box = maskBox(fg);
    return {
      id: `reasonseg:${options.split}:${stem}`,
      source: `reasonseg/${options.split}`,
      imagePath,
      width: img.width,
      height: img.height,
      expression: text,
      goldMask,
      ...(box ? { goldBox: box } : {}),
      meta: { isSentence: anno.is_sentence === true },
    };
  };
  const ds = new IndexedDataset(`reasonseg/${options.split}`, `ReasonSeg (LISA layout), ${dir}`, names, (n) => `reasonseg:${options.split}:${n.replace(/\.[^.]+$/, "")}`, load);
  return Object.assign(ds, { stats: { images: names.length, sentences: names.length } });
}

export const reasonseg: DatasetFactory = {
  name: "reasonseg",
  description: "ReasonSeg (LISA): <split>/*.jpg + *.json, text[0], target/ignore/flag polygons; ignore = 255",
  splits: ["train", "val", "test"],
  open: openReasonSeg,
};
