import { basename, extname } from "node:path";
import { escapeMarkup, type Mask, type RgbImage } from "@resagent/core";
import type { SampleRecord } from "@resagent/pipeline";
import { pYesColour } from "@resagent/report";

/** Lower-case words joined by "-", at most `max` characters, cut at a word: "the man on the left" -> "the-man-on-the-left". */
export function slug(text: string, max = 40): string {
  const words = text.toLowerCase().normalize("NFKD").replace(/[^\w\s+-]/g, " ").split(/[\s_]+/).filter(Boolean);
  let out = "";
  for (const w of words) {
    const next = out ? `${out}-${w}` : w;
    if (next.length > max) break;
    out = next;
  }
  return out || (words[0] ?? "phrase").slice(0, max);
}

/**
 * Output file stem of `segment`, named after what was asked: `synthref_refcoco-val_3` for
 * `--sample synthref:refcoco/val:3`, `kitchen_the-red-mug-on-the-left` for `--image kitchen.jpg
 * --text "the red mug on the left"`; a phrase given with --sample, and an --exp / --cell other
 * than the default, are added so different questions never overwrite each other's files.
 */
export function segmentStem(a: { sample?: string; image?: string; text?: string; exp?: string; cell?: string }): string {
  const safe = (s: string) => s.replace(/[^\w.+=-]+/g, "-").replace(/^-+|-+$/g, "");
  let stem: string;
  if (a.sample) {
    const m = a.sample.match(/^([^:]+):(.+):(\d+)$/);
    stem = m ? `${safe(m[1]!)}_${safe(m[2]!)}_${m[3]}` : safe(a.sample);
    if (a.text) stem += `_${slug(a.text)}`;
  } else {
    stem = `${safe(basename(a.image ?? "image", extname(a.image ?? "")))}_${slug(a.text ?? "")}`;
  }
  if (a.exp && a.exp !== "table4") stem += `_${safe(a.exp)}`;
  if (a.cell) stem += `_${safe(a.cell)}`;
  return stem;
}


export const OVERLAY_COLOURS = {
  box: "#00e060",
  mask: [0, 229, 255] as const, // cyan outline: a colour the simulated scenes' phrases never name
  gold: [255, 214, 0] as const, // yellow, dashed
  positive: "#00ff66",
  negative: "#ff2040",
};

/**
 * The image with the predicted mask as a 2-pixel outline over a light (12%) fill, so the colours a
 * phrase names stay visible, and the gold mask as a dashed outline outside it.
 */
export function paintMasks(img: RgbImage, mask: Mask, gold?: Mask): Uint8Array {
  const out = new Uint8Array(img.data);
  const { width: w, height: h } = img;
  const blend = (k: number, c: readonly [number, number, number], a: number) => {
    for (let ch = 0; ch < 3; ch++) out[3 * k + ch] = Math.round(out[3 * k + ch]! * (1 - a) + c[ch]! * a);
  };
  const inside = (m: Mask, x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && m.data[y * w + x] === 1;
  /** Distance (in pixels, Chebyshev, up to r) from a mask pixel to the nearest outside pixel is <= r. */
  const nearEdge = (m: Mask, x: number, y: number, r: number) => {
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (!inside(m, x + dx, y + dy)) return true;
    return false;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = y * w + x;
      if (mask.data[k] === 1) blend(k, OVERLAY_COLOURS.mask, nearEdge(mask, x, y, 1) ? 1 : 0.12);
      // Gold: a dashed line just outside the gold region, so it does not hide the predicted outline.
      if (gold && gold.data[k] !== 1 && !(gold.data[k] === 255)) {
        let touches = false;
        for (let dy = -2; dy <= 2 && !touches; dy++) for (let dx = -2; dx <= 2 && !touches; dx++) if (inside(gold, x + dx, y + dy)) touches = true;
        if (touches && Math.floor((x + y) / 5) % 2 === 0) blend(k, OVERLAY_COLOURS.gold, 1);
      }
    }
  }
  return out;
}

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}
/** Average advance of DejaVu Sans per font-size unit, for wrapping and label boxes (a little generous). */
const CHAR_W = 0.58;
const overlaps = (a: Rect, b: Rect) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Where to put each point's label: the first of eight spots around the marker whose rectangle
 * stays in the image and overlaps no marker and no label placed before it (the least crowded
 * spot when none is free).
 */
export function placeLabels(points: { x: number; y: number; text: string }[], width: number, height: number, font: number, markerR: number): { x: number; y: number }[] {
  const charW = CHAR_W * font;
  const markers: Rect[] = points.map((p) => ({ x: p.x - markerR - 2, y: p.y - markerR - 2, w: 2 * markerR + 4, h: 2 * markerR + 4 }));
  const placed: Rect[] = [];
  const gap = markerR + 3;
  return points.map((p) => {
    const w = p.text.length * charW + 4;
    const h = font + 2;
    const spots: Rect[] = [
      { x: p.x + gap, y: p.y - gap - h / 2, w, h },
      { x: p.x + gap, y: p.y + gap - h / 2, w, h },
      { x: p.x - gap - w, y: p.y - gap - h / 2, w, h },
      { x: p.x - gap - w, y: p.y + gap - h / 2, w, h },
      { x: p.x - w / 2, y: p.y - gap - h, w, h },
      { x: p.x - w / 2, y: p.y + gap, w, h },
      { x: p.x + gap, y: p.y - h / 2, w, h },
      { x: p.x - gap - w, y: p.y - h / 2, w, h },
    ];
    const cost = (r: Rect) => (r.x < 0 || r.y < 0 || r.x + r.w > width || r.y + r.h > height ? 100 : 0) + [...markers, ...placed].filter((o) => overlaps(r, o)).length;
    let best = spots[0]!;
    for (const s of spots) if (cost(s) < cost(best)) best = s;
    placed.push(best);
    // Text is drawn from its baseline.
    return { x: best.x + 2, y: best.y + font - 1 };
  });
}

/** Greedy word wrap to lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && `${line} ${word}`.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export interface OverlayInfo {
  record: SampleRecord;
  phrase: string;
  /** IoU with the gold mask, when there is one. */
  iou?: number;
  goldBox?: { x1: number; y1: number; x2: number; y2: number };
  /** What the run was: "K=4 of table4, embedded profile". */
  what: string;
  /** Which components are simulated (empty: none); then a SIMULATED stamp goes on the image and in the legend. */
  simulated: string[];
}

/**
 * The overlay of a `segment` run as one SVG over the image plus a legend panel below it: the box,
 * queried points coloured by P(yes) with haloed labels placed clear of the markers, the points
 * sent to the decoder ringed, the phrase, the IoU when gold is known, and a SIMULATED stamp.
 * The masks are painted into the pixels (paintMasks); `panel` is the legend's height in image pixels,
 * and the SVG is `overlayZoom(width)` times the image's size (the canvas goes through `zoom`).
 */
export function overlaySvg(info: OverlayInfo, width: number, height: number): { svg: string; panel: number } {
  const s = Math.max(1, width / 640);
  const font = Math.round(12 * s);
  const markerR = 6 * s;
  const ringR = 11 * s;
  const ff = `font-family="DejaVu Sans, sans-serif"`;
  const halo = (x: number, y: number, text: string, size: number, fill: string, extra = "") =>
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" ${ff} ${extra} fill="none" stroke="black" stroke-width="${(3 * s).toFixed(1)}" stroke-linejoin="round">${escapeMarkup(text)}</text>` +
    `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-size="${size}" ${ff} ${extra} fill="${fill}">${escapeMarkup(text)}</text>`;
  const parts: string[] = [];
  const { record: r } = info;
  if (info.goldBox && info.iou === undefined) {
    const g = info.goldBox;
    parts.push(`<rect x="${g.x1}" y="${g.y1}" width="${g.x2 - g.x1}" height="${g.y2 - g.y1}" fill="none" stroke="rgb(${OVERLAY_COLOURS.gold.join(",")})" stroke-width="${2 * s}" stroke-dasharray="${5 * s} ${4 * s}"/>`);
  }
  if (r.box) {
    const [x1, y1, x2, y2] = r.box;
    parts.push(`<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="${OVERLAY_COLOURS.box}" stroke-width="${3 * s}"/>`);
  }
  const labels = r.queries.map((q) => ({ x: q.point.x, y: q.point.y, text: q.pYes === null ? "?" : q.pYes.toFixed(2) }));
  const spots = placeLabels(labels, width, height, font, ringR);
  for (const q of r.queries) parts.push(`<circle cx="${q.point.x}" cy="${q.point.y}" r="${markerR}" fill="${pYesColour(q.pYes)}" stroke="black" stroke-width="${1.5 * s}"/>`);
  for (const [x, y] of r.positives) parts.push(`<circle cx="${x}" cy="${y}" r="${ringR}" fill="none" stroke="${OVERLAY_COLOURS.positive}" stroke-width="${3 * s}"/>`);
  for (const [x, y] of r.negatives) parts.push(`<circle cx="${x}" cy="${y}" r="${ringR}" fill="none" stroke="${OVERLAY_COLOURS.negative}" stroke-width="${3 * s}"/>`);
  labels.forEach((l, i) => parts.push(halo(spots[i]!.x, spots[i]!.y, l.text, font, "white", `font-weight="bold"`)));
  if (info.simulated.length) parts.push(halo(6 * s, 20 * s, "SIMULATED", Math.round(16 * s), "#ff3030", `font-weight="bold"`));

  // Legend panel below the image.
  const line = Math.round(18 * s);
  const chars = Math.max(20, Math.floor(width / (CHAR_W * Math.round(14 * s))));
  const phraseLines = wrap(`“${info.phrase}”`, chars);
  const rows: string[] = [];
  let y = height + line;
  for (const l of phraseLines) {
    rows.push(`<text x="${8 * s}" y="${y}" font-size="${Math.round(14 * s)}" font-weight="bold" ${ff} fill="#111">${escapeMarkup(l)}</text>`);
    y += line;
  }
  const facts = `${info.iou !== undefined ? `IoU ${(100 * info.iou).toFixed(1)} against the gold mask` : "no gold mask: IoU unknown"} · ${r.queries.length} queries, ${r.positives.length}+ / ${r.negatives.length}− to the decoder${r.groundingFailure ? ` · grounding failed: ${r.groundingFailure}` : ""}`;
  for (const l of [...wrap(facts, Math.floor(width / (CHAR_W * font))), ...wrap(info.what, Math.floor(width / (CHAR_W * font)))]) {
    rows.push(`<text x="${8 * s}" y="${y}" font-size="${font}" ${ff} fill="#333">${escapeMarkup(l)}</text>`);
    y += line;
  }
  // Legend entries: a symbol and its meaning, flowed over as many rows as the width needs.
  const sym = {
    box: (x: number, yy: number) => `<rect x="${x}" y="${yy - 9 * s}" width="${14 * s}" height="${10 * s}" fill="none" stroke="${OVERLAY_COLOURS.box}" stroke-width="${2.5 * s}"/>`,
    mask: (x: number, yy: number) => `<rect x="${x}" y="${yy - 9 * s}" width="${14 * s}" height="${10 * s}" fill="rgb(${OVERLAY_COLOURS.mask.join(",")})" fill-opacity="0.25" stroke="rgb(${OVERLAY_COLOURS.mask.join(",")})" stroke-width="${2 * s}"/>`,
    gold: (x: number, yy: number) => `<rect x="${x}" y="${yy - 9 * s}" width="${14 * s}" height="${10 * s}" fill="none" stroke="rgb(${OVERLAY_COLOURS.gold.join(",")})" stroke-width="${2 * s}" stroke-dasharray="${3 * s} ${2 * s}"/>`,
    points: (x: number, yy: number) => [0, 0.5, 1].map((p, i) => `<circle cx="${x + (4 + 7 * i) * s}" cy="${yy - 4 * s}" r="${4 * s}" fill="${pYesColour(p)}" stroke="black" stroke-width="${s}"/>`).join(""),
    rings: (x: number, yy: number) =>
      `<circle cx="${x + 5 * s}" cy="${yy - 4 * s}" r="${5 * s}" fill="none" stroke="${OVERLAY_COLOURS.positive}" stroke-width="${2.5 * s}"/><circle cx="${x + 18 * s}" cy="${yy - 4 * s}" r="${5 * s}" fill="none" stroke="${OVERLAY_COLOURS.negative}" stroke-width="${2.5 * s}"/>`,
  };
  const entries: [keyof typeof sym, string][] = [
    ["box", "predicted box"],
    ["mask", "predicted mask"],
    ...(info.iou !== undefined ? [["gold", "gold mask"] as [keyof typeof sym, string]] : info.goldBox ? [["gold", "gold box"] as [keyof typeof sym, string]] : []),
    ["points", "queried points, P(yes) red 0 → green 1"],
    ["rings", "positive / negative points sent to the decoder"],
  ];
  let x = 8 * s;
  for (const [k, label] of entries) {
    const w = 30 * s + label.length * CHAR_W * font + 16 * s;
    if (x + w > width && x > 8 * s) {
      x = 8 * s;
      y += line;
    }
    rows.push(sym[k](x, y) + `<text x="${x + 30 * s}" y="${y}" font-size="${font}" ${ff} fill="#111">${escapeMarkup(label)}</text>`);
    x += w;
  }
  y += line;
  if (info.simulated.length) {
    for (const l of wrap(`SIMULATED: ${info.simulated.join("; ")}. Not a real model's output.`, Math.floor(width / (CHAR_W * font)))) {
      rows.push(`<text x="${8 * s}" y="${y}" font-size="${font}" font-weight="bold" ${ff} fill="#c00000">${escapeMarkup(l)}</text>`);
      y += line;
    }
  }
  const panel = Math.ceil(y - height - line + 10 * s);
  const f = overlayZoom(width);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${f * width}" height="${f * (height + panel)}"><g transform="scale(${f})">${parts.join("")}${rows.join("")}</g></svg>`;
  return { svg, panel };
}

/** Small images are drawn at twice their size, so markers, labels and the legend stay legible. */
export function overlayZoom(width: number): number {
  return width < 800 ? 2 : 1;
}

/** Nearest-neighbour enlargement by an integer factor (pixels stay pixels). */
export function zoom(img: RgbImage, f: number): RgbImage {
  if (f === 1) return img;
  const W = img.width * f;
  const out = new Uint8Array(W * img.height * f * 3);
  for (let y = 0; y < img.height * f; y++) {
    const sy = Math.floor(y / f);
    for (let x = 0; x < W; x++) {
      const si = 3 * (sy * img.width + Math.floor(x / f));
      const di = 3 * (y * W + x);
      out[di] = img.data[si]!;
      out[di + 1] = img.data[si + 1]!;
      out[di + 2] = img.data[si + 2]!;
    }
  }
  return { width: W, height: img.height * f, data: out };
}
