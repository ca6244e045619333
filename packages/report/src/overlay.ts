import { existsSync } from "node:fs";
import { mkdir, readdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { cropRgb, overlaySvg, readImage, resizeMask, resizeRgbFloat, rleDecode, sha256, stableStringify, writeFileAtomic, type Mask, type RgbImage, type Sample } from "@resagent/core";
import { openDataset, type Dataset } from "@resagent/data";
import type { DatasetRef, RunRecord } from "./run.js";

/** Bump when the drawing changes, so cached overlays are redrawn. */
export const OVERLAY_VERSION = 2;
/** Longest side of an overlay image, px. */
export const OVERLAY_SIDE = 320;
/** Folder beside report.html holding the overlays. */
export const ASSET_DIR = "report-assets";

export const COLOURS = {
  predicted: "#00e5ff",
  gold: "#ffd400",
} as const;

/** P(yes) as a colour from red (no) through yellow to green (yes); grey for an abstention. */
export function pYesColour(p: number | null | undefined): string {
  if (p === null || p === undefined || Number.isNaN(p)) return "#9e9e9e";
  const r = p < 0.5 ? 220 : Math.round(220 - (p - 0.5) * 2 * 190);
  const g = p < 0.5 ? Math.round(40 + p * 2 * 170) : 210;
  return `rgb(${r},${g},40)`;
}

export interface OverlayResult {
  /** Path relative to the run folder, or null when nothing could be drawn. */
  file: string | null;
  /** Why the image (or the gold mask) is missing, when it is. */
  note?: string;
}

function outline(mask: Mask, into: Uint8Array, rgb: [number, number, number], thick: boolean): void {
  const { width: w, height: h, data } = mask;
  const paint = (x: number, y: number) => {
    if (x < 0 || y < 0 || x >= w || y >= h) return;
    const k = 3 * (y * w + x);
    into[k] = rgb[0];
    into[k + 1] = rgb[1];
    into[k + 2] = rgb[2];
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = data[y * w + x]!;
      if (v !== 1) continue;
      const edge = x === 0 || y === 0 || x === w - 1 || y === h - 1 || data[y * w + x - 1] !== 1 || data[y * w + x + 1] !== 1 || data[(y - 1) * w + x] !== 1 || data[(y + 1) * w + x] !== 1;
      if (!edge) continue;
      paint(x, y);
      if (thick) {
        paint(x + 1, y);
        paint(x, y + 1);
      }
    }
  }
}

const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];

/** Vector marks in overlay coordinates (source pixel v maps to (v - origin) * s): gold box dashed, predicted box solid, queried points by P(yes) (circle: external queue, square: internal), chosen points ringed. */
function marksSvg(r: RunRecord, s: number, ox: number, oy: number, width: number, height: number, goldBox: Sample["goldBox"]): string {
  const parts: string[] = [];
  const fx = (v: number) => ((v - ox) * s).toFixed(1);
  const fy = (v: number) => ((v - oy) * s).toFixed(1);
  const fl = (v: number) => (v * s).toFixed(1);
  if (goldBox) parts.push(`<rect x="${fx(goldBox.x1)}" y="${fy(goldBox.y1)}" width="${fl(goldBox.x2 - goldBox.x1)}" height="${fl(goldBox.y2 - goldBox.y1)}" fill="none" stroke="${COLOURS.gold}" stroke-width="1.5" stroke-dasharray="5 3"/>`);
  if (r.box) {
    const [x1, y1, x2, y2] = r.box;
    parts.push(`<rect x="${fx(x1)}" y="${fy(y1)}" width="${fl(x2 - x1)}" height="${fl(y2 - y1)}" fill="none" stroke="${COLOURS.predicted}" stroke-width="2"/>`);
  }
  for (const q of r.queries ?? []) {
    if (!q.point) continue;
    const x = (q.point.x - ox) * s;
    const y = (q.point.y - oy) * s;
    const fill = pYesColour(q.pYes);
    if (q.queue === "internal") parts.push(`<rect x="${(x - 4).toFixed(1)}" y="${(y - 4).toFixed(1)}" width="8" height="8" fill="${fill}" stroke="#000" stroke-width="1"/>`);
    else parts.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="4.5" fill="${fill}" stroke="#000" stroke-width="1"/>`);
  }
  const ring = (p: [number, number], colour: string) => `<circle cx="${fx(p[0])}" cy="${fy(p[1])}" r="8" fill="none" stroke="#000" stroke-width="3.5"/><circle cx="${fx(p[0])}" cy="${fy(p[1])}" r="8" fill="none" stroke="${colour}" stroke-width="2"/>`;
  for (const p of r.positives ?? []) parts.push(ring(p, "#ffffff"));
  for (const p of r.negatives ?? []) parts.push(ring(p, "#ff3df5"));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>`;
}

/**
 * The part of the image worth showing: gold and predicted boxes and every point, with a margin
 * of 30% of that region on each side (at least 24 px), within the image. The whole image when
 * the record has nothing to locate.
 */
export function overlayRegion(r: RunRecord, goldBox: Sample["goldBox"], W: number, H: number): { x0: number; y0: number; x1: number; y1: number } {
  const xs: number[] = [];
  const ys: number[] = [];
  const add = (x1: number, y1: number, x2 = x1, y2 = y1) => {
    xs.push(x1, x2);
    ys.push(y1, y2);
  };
  if (goldBox) add(goldBox.x1, goldBox.y1, goldBox.x2, goldBox.y2);
  if (r.box) add(r.box[0], r.box[1], r.box[2], r.box[3]);
  for (const q of r.queries ?? []) if (q.point) add(q.point.x, q.point.y);
  for (const p of [...(r.positives ?? []), ...(r.negatives ?? [])]) add(p[0], p[1]);
  if (!xs.length) return { x0: 0, y0: 0, x1: W, y1: H };
  const [a, b, c, d] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const mx = Math.max(24, 0.3 * (b - a));
  const my = Math.max(24, 0.3 * (d - c));
  const x0 = Math.max(0, Math.floor(a - mx));
  const y0 = Math.max(0, Math.floor(c - my));
  const x1 = Math.min(W, Math.ceil(b + mx));
  const y1 = Math.min(H, Math.ceil(d + my));
  return x1 - x0 >= 2 && y1 - y0 >= 2 ? { x0, y0, x1, y1 } : { x0: 0, y0: 0, x1: W, y1: H };
}

function cropMask(m: Mask, x0: number, y0: number, x1: number, y1: number): Mask {
  const w = x1 - x0;
  const out = new Uint8Array(w * (y1 - y0));
  for (let y = y0; y < y1; y++) out.set(m.data.subarray(y * m.width + x0, y * m.width + x1), (y - y0) * w);
  return { width: w, height: y1 - y0, data: out };
}

/** A record's overlay file name: a hash of everything drawn, so unchanged records reuse their image. */
export function overlayKey(r: RunRecord, ref: DatasetRef | undefined): string {
  const { timing: _t, cell: _c, ...drawn } = r;
  return sha256(stableStringify({ v: OVERLAY_VERSION, side: OVERLAY_SIDE, ref: ref ?? null, drawn })).slice(0, 20);
}

/**
 * Default cap on the overlays one report draws: a 1000-per-split grounding run with 15 cells would
 * otherwise draw 120,000 pictures (about 40 ms each) that nobody pages through.
 */
export const DEFAULT_MAX_OVERLAYS = 4000;

/** Whole samples (all their cells), in order and round-robin over datasets, until `max` records are covered; 0 = all. */
export function pickSamples<T extends { dataset: string }>(groups: T[][], max: number): { drawn: T[][]; skipped: T[][] } {
  const total = groups.reduce((n, g) => n + g.length, 0);
  if (max <= 0 || total <= max) return { drawn: groups, skipped: [] };
  const byDataset = new Map<string, T[][]>();
  for (const g of groups) {
    const k = g[0]!.dataset;
    let l = byDataset.get(k);
    if (!l) byDataset.set(k, (l = []));
    l.push(g);
  }
  const queues = [...byDataset.values()];
  const drawn = new Set<T[]>();
  let count = 0;
  for (let i = 0; count < max; i++) {
    let any = false;
    for (const q of queues) {
      const g = q[i];
      if (!g || count >= max) continue;
      drawn.add(g);
      count += g.length;
      any = true;
    }
    if (!any) break;
  }
  return { drawn: groups.filter((g) => drawn.has(g)), skipped: groups.filter((g) => !drawn.has(g)) };
}

interface LoadedImage {
  image: RgbImage | undefined;
  sample: Sample | undefined;
  note?: string;
  /** The sample's cells mostly frame the same region: its resized pixels, drawn on copies. */
  regions?: Map<string, Uint8Array>;
}

/**
 * Draw every record's overlay (image from the dataset, predicted and gold masks as outlines,
 * boxes, queried and chosen points) into `<runDir>/report-assets/`, reusing files already there,
 * and remove overlays no record uses any more. Images load once per sample and are shared by
 * its cells. Nothing is recomputed: masks, boxes and points are the record's. With more records
 * than `maxOverlays` (0 = no cap), whole samples are taken in order, round-robin over the datasets,
 * until the cap is reached; the other cards say why they have no picture.
 */
export async function writeOverlays(runDir: string, records: readonly RunRecord[], datasets: Record<string, DatasetRef>, options: { concurrency?: number; maxOverlays?: number } = {}): Promise<Map<RunRecord, OverlayResult>> {
  const out = new Map<RunRecord, OverlayResult>();
  const dir = join(runDir, ASSET_DIR);
  await mkdir(dir, { recursive: true });
  const refOf = new Map(Object.values(datasets).map((ref) => [`${ref.name}/${ref.split}`, ref]));
  const opened = new Map<string, Promise<{ ds?: Dataset; index?: Map<string, number>; error?: string }>>();
  const openRef = (name: string) => {
    let p = opened.get(name);
    if (!p) {
      const ref = refOf.get(name);
      p = ref
        ? openDataset(ref.name, ref as { split: string })
            .then((ds) => ({ ds, index: new Map(ds.ids().map((id, i) => [id, i])) }))
            .catch((err: Error) => ({ error: `dataset ${name} did not open: ${err.message.split("\n")[0]}` }))
        : Promise.resolve({ error: `dataset ${name} is not in the run's config` });
      opened.set(name, p);
    }
    return p;
  };
  // Group by sample so its image and gold mask load once for every cell.
  const bySample = new Map<string, RunRecord[]>();
  for (const r of records) {
    const k = `${r.dataset}\u0000${r.id}`;
    let g = bySample.get(k);
    if (!g) bySample.set(k, (g = []));
    g.push(r);
  }
  const keep = new Set<string>();
  const { drawn: groups, skipped } = pickSamples([...bySample.values()], options.maxOverlays ?? DEFAULT_MAX_OVERLAYS);
  if (skipped.length) {
    const note = `overlay not drawn: the run has ${records.length} records and overlays are drawn for the first samples of each dataset up to ${options.maxOverlays ?? DEFAULT_MAX_OVERLAYS} (resagent report <run> --max-overlays 0 draws all)`;
    for (const g of skipped) {
      const ref = refOf.get(g[0]!.dataset);
      for (const r of g) {
        // One drawn earlier (by a report without the cap) stays in use.
        const file = `${ASSET_DIR}/ov-${overlayKey(r, ref)}.jpg`;
        if (existsSync(join(runDir, file))) {
          keep.add(file);
          out.set(r, { file });
        } else out.set(r, { file: null, note });
      }
    }
  }
  let next = 0;
  const worker = async () => {
    for (;;) {
      const g = groups[next++];
      if (!g) return;
      const first = g[0]!;
      const ref = refOf.get(first.dataset);
      const todo = g.map((r) => ({ r, file: `${ASSET_DIR}/ov-${overlayKey(r, ref)}.jpg` }));
      todo.forEach((t) => keep.add(t.file));
      if (todo.every((t) => existsSync(join(runDir, t.file)))) {
        for (const t of todo) out.set(t.r, { file: t.file });
        continue;
      }
      const loaded = await loadSample(first, await openRef(first.dataset));
      for (const t of todo) {
        const note = loaded.note;
        if (!existsSync(join(runDir, t.file))) {
          const bytes = await drawOverlay(t.r, loaded);
          if (!bytes) {
            out.set(t.r, { file: null, ...(note ? { note } : {}) });
            continue;
          }
          await writeFileAtomic(join(runDir, t.file), bytes);
        }
        out.set(t.r, { file: t.file, ...(note ? { note } : {}) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  for (const f of await readdir(dir)) if (/^ov-[0-9a-f]+\.jpg$/.test(f) && !keep.has(`${ASSET_DIR}/${f}`)) await unlink(join(dir, f));
  return out;
}

async function loadSample(r: RunRecord, opened: { ds?: Dataset; index?: Map<string, number>; error?: string }): Promise<LoadedImage> {
  if (!opened.ds) return { image: undefined, sample: undefined, note: opened.error ?? "dataset unavailable" };
  const i = opened.index!.get(r.id);
  if (i === undefined) return { image: undefined, sample: undefined, note: `sample ${r.id} is not in ${opened.ds.name}` };
  try {
    const sample = await opened.ds.get(i);
    try {
      return { image: await readImage(sample.imagePath), sample };
    } catch (err) {
      return { image: undefined, sample, note: `image unreadable: ${(err as Error).message.split("\n")[0]}` };
    }
  } catch (err) {
    return { image: undefined, sample: undefined, note: `sample did not load: ${(err as Error).message.split("\n")[0]}` };
  }
}

/** JPEG bytes of one record's overlay (cropped to the region that matters), or null when neither the image nor the mask gives a size. */
const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isPair = (p: unknown): p is [number, number] => Array.isArray(p) && p.length >= 2 && finite(p[0]) && finite(p[1]);

/** The record's geometry with everything that is not finite numbers where numbers belong left out (run files are untrusted). */
function drawable(r: RunRecord): RunRecord {
  const box = Array.isArray(r.box) && r.box.length === 4 && r.box.every(finite) ? r.box : r.box === null ? null : undefined;
  const queries = (Array.isArray(r.queries) ? r.queries : []).filter((q) => q && typeof q === "object" && q.point && finite(q.point.x) && finite(q.point.y)).map((q) => ({ ...q, pYes: finite(q.pYes) ? q.pYes : null }));
  const size = r.mask?.size;
  const mask = r.mask && typeof r.mask === "object" && Array.isArray(size) && size.length === 2 && size.every((x) => Number.isInteger(x) && x >= 0) ? r.mask : undefined;
  const { mask: _m, box: _b, ...rest } = r;
  return { ...rest, ...(box !== undefined ? { box } : {}), ...(mask ? { mask } : {}), queries, positives: (Array.isArray(r.positives) ? r.positives : []).filter(isPair), negatives: (Array.isArray(r.negatives) ? r.negatives : []).filter(isPair) };
}

async function drawOverlay(record: RunRecord, loaded: LoadedImage): Promise<Buffer | null> {
  const r = drawable(record);
  const [mh, mw] = r.mask?.size ?? [0, 0];
  const W = loaded.image?.width ?? loaded.sample?.width ?? mw;
  const H = loaded.image?.height ?? loaded.sample?.height ?? mh;
  if (!W || !H) return null;
  const goldBox = loaded.sample?.goldBox;
  const { x0, y0, x1, y1 } = overlayRegion(r, goldBox, W, H);
  const cw = x1 - x0;
  const ch = y1 - y0;
  // Small objects are enlarged up to 2x so points and outlines stay legible.
  const s = Math.min(2, OVERLAY_SIDE / Math.max(cw, ch));
  const w = Math.max(1, Math.round(cw * s));
  const h = Math.max(1, Math.round(ch * s));
  let base: Uint8Array;
  if (loaded.image) {
    const key = `${x0},${y0},${x1},${y1},${w},${h}`;
    const regions = (loaded.regions ??= new Map());
    let pixels = regions.get(key);
    if (!pixels) {
      const f = resizeRgbFloat(cropRgb(loaded.image, x0, y0, x1, y1), w, h);
      pixels = new Uint8Array(f.length);
      for (let k = 0; k < f.length; k++) pixels[k] = Math.round(f[k]!);
      regions.set(key, pixels);
    }
    base = pixels.slice();
  } else base = new Uint8Array(w * h * 3).fill(70); // no image: draw the record's marks on grey
  const gold = loaded.sample?.goldMask;
  if (gold && gold.width === W && gold.height === H) outline(resizeMask(cropMask(gold, x0, y0, x1, y1), w, h), base, hex(COLOURS.gold), true);
  if (r.mask && mw === W && mh === H && r.mask.counts) {
    try {
      outline(resizeMask(cropMask(rleDecode(r.mask), x0, y0, x1, y1), w, h), base, hex(COLOURS.predicted), true);
    } catch {
      // a malformed mask leaves the outline out; the card still shows the numbers
    }
  }
  return overlaySvg({ width: w, height: h, data: base }, marksSvg(r, s, x0, y0, w, h, goldBox), { format: "jpeg", quality: 80 });
}
