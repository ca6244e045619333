import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { InputError } from "./errors.js";
import { assertMask } from "./mask.js";
import type { Mask, RgbImage } from "./types.js";

// Deterministic output: no threads racing inside libvips changes bytes, but caching across
// calls is pointless for our one-shot use and costs memory on long runs.
sharp.cache(false);

async function decode(input: Buffer, where: string): Promise<RgbImage> {
  try {
    const { data, info } = await sharp(input).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) {
      // Greyscale input: expand to RGB so every consumer sees 3 channels.
      const rgb = await sharp(input).removeAlpha().toColourspace("srgb").ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      const out = new Uint8Array(rgb.info.width * rgb.info.height * 3);
      for (let i = 0, j = 0; i < out.length; i += 3, j += rgb.info.channels) {
        out[i] = rgb.data[j]!;
        out[i + 1] = rgb.data[j + 1]!;
        out[i + 2] = rgb.data[j + 2]!;
      }
      return { width: rgb.info.width, height: rgb.info.height, data: out };
    }
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (err) {
    throw new InputError(`cannot decode image (${(err as Error).message.split("\n")[0]})`, { file: where });
  }
}

/** Decode an image file (JPEG, PNG, WebP...) to 8-bit RGB. */
export async function readImage(path: string): Promise<RgbImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new InputError(`cannot read image: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path });
  }
  return decode(bytes, path);
}

/** Decode image bytes already in memory; `name` is used in errors. */
export function decodeImage(bytes: Uint8Array, name = "<buffer>"): Promise<RgbImage> {
  return decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), name);
}

function checkImage(img: RgbImage): void {
  if (img.data.length !== img.width * img.height * 3) {
    throw new InputError(`RGB data has ${img.data.length} bytes but ${img.width}x${img.height}x3 needs ${img.width * img.height * 3}`, { field: "image" });
  }
}

function rawSharp(img: RgbImage) {
  checkImage(img);
  return sharp(Buffer.from(img.data.buffer, img.data.byteOffset, img.data.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
}

export async function encodePng(img: RgbImage): Promise<Buffer> {
  return rawSharp(img).png({ compressionLevel: 6 }).toBuffer();
}

/** JPEG encoder settings beyond quality. */
export interface JpegOptions {
  chromaSubsampling?: "4:4:4" | "4:2:0";
  /** Optimised Huffman tables: smaller files, same pixels, slower (sharp's default). */
  optimiseCoding?: boolean;
}

/** What PIL's `image.save(format="JPEG")` writes besides quality: libjpeg's 4:2:0 chroma, standard Huffman tables. */
export const PIL_JPEG: JpegOptions = { chromaSubsampling: "4:2:0", optimiseCoding: false };

/** JPEG with full-resolution chroma unless told otherwise. */
export async function encodeJpeg(img: RgbImage, quality = 90, options: JpegOptions = {}): Promise<Buffer> {
  return rawSharp(img).jpeg({ quality, chromaSubsampling: "4:4:4", ...options }).toBuffer();
}

/** A mask as an 8-bit greyscale PNG: 0 -> 0, 1 -> 255, 255 (ignore) -> 128. */
export async function maskToPng(mask: Mask): Promise<Buffer> {
  assertMask(mask);
  const grey = new Uint8Array(mask.data.length);
  for (let i = 0; i < grey.length; i++) {
    const v = mask.data[i]!;
    grey[i] = v === 0 ? 0 : v === 1 ? 255 : 128;
  }
  return sharp(Buffer.from(grey.buffer), { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}

/** Read a mask PNG: > 160 -> 1, 96..160 -> 255 (ignore, as written by maskToPng), else 0. */
export async function maskFromPng(bytes: Uint8Array, name = "<buffer>"): Promise<Mask> {
  try {
    const { data, info } = await sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
      .extractChannel(0)
      .raw()
      .toBuffer({ resolveWithObject: true });
    const out = new Uint8Array(info.width * info.height);
    for (let i = 0; i < out.length; i++) {
      const v = data[i]!;
      out[i] = v > 160 ? 1 : v >= 96 ? 255 : 0;
    }
    return { width: info.width, height: info.height, data: out };
  } catch (err) {
    throw new InputError(`cannot decode mask PNG (${(err as Error).message.split("\n")[0]})`, { file: name });
  }
}

/** Rasterise an SVG document to PNG (plots are written as both). */
export async function svgToPng(svg: string, density = 144): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density }).flatten({ background: "#ffffff" }).png().toBuffer();
}

/** An SVG drawn at (left, top) of the (cropped) output; tiles keep SVG rasterisation small. */
export interface SvgTile {
  svg: string;
  left: number;
  top: number;
}

/**
 * Crop an RGB image (optional), draw SVG tiles over it, and encode. Marker rendering for visual
 * prompts goes through here so only core touches sharp. sharp applies extract() before
 * composite(), so tile positions are relative to the crop.
 */
export async function overlaySvg(
  img: RgbImage,
  overlay: string | SvgTile[],
  options: { crop?: { left: number; top: number; width: number; height: number }; format?: "jpeg" | "png"; quality?: number; jpeg?: JpegOptions } = {},
): Promise<Buffer> {
  let s = rawSharp(img);
  if (options.crop) s = s.extract(options.crop);
  const tiles = typeof overlay === "string" ? [{ svg: overlay, left: 0, top: 0 }] : overlay;
  if (tiles.length) s = s.composite(tiles.map((t) => ({ input: Buffer.from(t.svg), left: Math.round(t.left), top: Math.round(t.top) })));
  return options.format === "png" ? s.png().toBuffer() : s.jpeg({ quality: options.quality ?? 90, chromaSubsampling: "4:4:4", ...options.jpeg }).toBuffer();
}
