import sharp from "sharp";
import { escapeMarkup } from "./escape.js";
import type { Box, Mask, RgbImage } from "./types.js";

export interface SheetTile {
  image: RgbImage;
  /** Drawn as a translucent tint with an outline colour. */
  mask?: Mask;
  box?: Box;
  caption: string;
}


/** Word-wrap to lines of at most `width` characters. */
function wrap(text: string, width: number, maxLines: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if ((line + " " + word).trim().length > width && line) {
      lines.push(line);
      line = word;
    } else line = (line + " " + word).trim();
  }
  if (line) lines.push(line);
  if (lines.length > maxLines) {
    lines.length = maxLines;
    lines[maxLines - 1] += " …";
  }
  return lines;
}

/** Outline the mask in magenta over a faint tint, so the object's own colour (the one its phrase names) stays readable. */
function overlay(img: RgbImage, mask: Mask | undefined): Uint8Array {
  const out = new Uint8Array(img.data);
  if (!mask) return out;
  const { width: w, height: h, data } = mask;
  const paint = (k: number, r: number, g: number, b: number, a: number) => {
    out[k * 3] = Math.round(out[k * 3]! * (1 - a) + r * a);
    out[k * 3 + 1] = Math.round(out[k * 3 + 1]! * (1 - a) + g * a);
    out[k * 3 + 2] = Math.round(out[k * 3 + 2]! * (1 - a) + b * a);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = y * w + x;
      const v = data[k]!;
      if (v === 255) paint(k, 80, 120, 255, 0.35);
      if (v !== 1) continue;
      // A 2-pixel outline (it survives the downscale to a tile) over a faint fill.
      let edge = false;
      for (let dy = -2; dy <= 2 && !edge; dy++) for (let dx = -2; dx <= 2 && !edge; dx++) {
        const xx = x + dx;
        const yy = y + dy;
        edge = xx < 0 || yy < 0 || xx >= w || yy >= h || data[yy * w + xx] !== 1;
      }
      if (edge) paint(k, 255, 0, 220, 1);
      else paint(k, 255, 0, 220, 0.08);
    }
  }
  return out;
}

/**
 * A grid of images with optional mask tints, boxes and captions, as one PNG: the quickest way
 * for a person to check that data, prompts or predictions are sensible.
 */
export async function contactSheet(tiles: readonly SheetTile[], options: { columns?: number; tileWidth?: number; title?: string; maxCaptionLines?: number } = {}): Promise<Buffer> {
  const columns = options.columns ?? 4;
  const tileW = options.tileWidth ?? 320;
  // Captions are wrapped, not cut: the caption row is as tall as the longest one needs.
  const charsPerLine = Math.floor(tileW / 7.2);
  const captions = tiles.map((t) => wrap(t.caption, charsPerLine, options.maxCaptionLines ?? 12));
  const captionH = 10 + 14 * Math.max(1, ...captions.map((c) => c.length));
  const titleH = options.title ? 34 : 0;
  const layers: sharp.OverlayOptions[] = [];
  let tileH = 0;
  for (const t of tiles) tileH = Math.max(tileH, Math.round((t.image.height * tileW) / t.image.width));
  const rows = Math.ceil(tiles.length / columns);
  const W = columns * (tileW + 8) + 8;
  const H = titleH + rows * (tileH + captionH + 8) + 8;
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i]!;
    const x = 8 + (i % columns) * (tileW + 8);
    const y = titleH + 8 + Math.floor(i / columns) * (tileH + captionH + 8);
    const scale = tileW / t.image.width;
    const h = Math.round(t.image.height * scale);
    const pic = await sharp(Buffer.from(overlay(t.image, t.mask)), { raw: { width: t.image.width, height: t.image.height, channels: 3 } })
      .resize(tileW, h)
      .png()
      .toBuffer();
    layers.push({ input: pic, left: x, top: y });
    const lines = captions[i]!;
    const box = t.box
      ? `<rect x="${(t.box.x1 * scale).toFixed(1)}" y="${(t.box.y1 * scale).toFixed(1)}" width="${((t.box.x2 - t.box.x1) * scale).toFixed(1)}" height="${((t.box.y2 - t.box.y1) * scale).toFixed(1)}" fill="none" stroke="#00ff66" stroke-width="2"/>`
      : "";
    const text = lines.map((l, k) => `<text x="2" y="${h + 14 + k * 14}" font-family="DejaVu Sans, sans-serif" font-size="12" fill="#111">${escapeMarkup(l)}</text>`).join("");
    layers.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${tileW}" height="${h + captionH}">${box}${text}</svg>`), left: x, top: y });
  }
  if (options.title) {
    layers.push({
      input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${titleH}"><text x="8" y="23" font-family="DejaVu Sans, sans-serif" font-size="17" font-weight="bold" fill="#111">${escapeMarkup(options.title)}</text></svg>`),
      left: 0,
      top: 0,
    });
  }
  return sharp({ create: { width: W, height: H, channels: 3, background: { r: 245, g: 245, b: 242 } } }).composite(layers).png().toBuffer();
}
