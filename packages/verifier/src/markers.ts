import { PIL_JPEG, cropRgb, escapeMarkup, encodeJpeg, overlaySvg, sha256, type Box, type Point, type RgbImage, type SvgTile } from "@resagent/core";

/** The 8 marker colours of the authors' code (names as the prompt says them). */
export const MARKER_COLOURS = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  carmine: [255, 0, 255],
  cyan: [0, 255, 255],
  orange: [255, 165, 0],
  pink: [255, 192, 203],
} as const satisfies Record<string, readonly [number, number, number]>;
export type MarkerColour = keyof typeof MARKER_COLOURS;
export const MARKER_COLOUR_NAMES = Object.keys(MARKER_COLOURS) as MarkerColour[];

export type MarkerShape = "star" | "circle" | "hexagon";
export const MARKER_SHAPES: readonly MarkerShape[] = ["star", "circle", "hexagon"];

export interface Marker {
  point: Point;
  colour: MarkerColour;
  shape: MarkerShape;
  /** Radius in pixels (the authors' star uses 24). */
  size: number;
  /** Letter drawn beside the marker (VBR-multi). */
  label?: string;
}

/** Outline vertices of a star (10, alternating outer/inner radius) or hexagon (6), in image pixels. */
function outline(m: Marker): Point[] {
  const { x, y } = m.point;
  const pts: Point[] = [];
  if (m.shape === "star") {
    for (let i = 0; i < 10; i++) {
      const a = Math.PI / 2 + (i * Math.PI) / 5;
      const r = i % 2 === 0 ? m.size : m.size * 0.4;
      pts.push({ x: x + r * Math.cos(a), y: y - r * Math.sin(a) });
    }
  } else {
    for (let i = 0; i < 6; i++) {
      const a = Math.PI / 6 + (i * Math.PI) / 3;
      pts.push({ x: x + m.size * Math.cos(a), y: y - m.size * Math.sin(a) });
    }
  }
  return pts;
}

function polygon(m: Marker): string {
  return outline(m)
    .map((p) => `${p.x.toFixed(2)},${p.y.toFixed(2)}`)
    .join(" ");
}

/** Black outline widths, in pixels, as the SVG draws them (centred on the shape's edge). */
const STROKE = { circle: 2, polygon: 1.5 } as const;
/** Sub-samples per pixel side where a pixel straddles an edge. */
const SS = 4;

/**
 * Draw one unlabelled marker into an RGB buffer whose (0, 0) is image pixel (ox, oy), as the SVG
 * renderer would: filled shape, black outline centred on its edge, anti-aliased. Pixels farther
 * than a pixel from every edge take one class; the others are 4x4 super-sampled. Polygon corners
 * are drawn round where SVG's miter would be sharp (a pixel or two at the star's tips).
 */
function drawMarker(dst: RgbImage, m: Marker, ox: number, oy: number): void {
  const [fr, fg, fb] = MARKER_COLOURS[m.colour];
  const circle = m.shape === "circle";
  const half = (circle ? STROKE.circle : STROKE.polygon) / 2;
  const { x: cx, y: cy } = m.point;
  const pts = circle ? [] : outline(m);
  // Edges as typed arrays: start point, direction and 1/|direction|².
  const n = pts.length;
  const ax = new Float64Array(n);
  const ay = new Float64Array(n);
  const ex = new Float64Array(n);
  const ey = new Float64Array(n);
  const inv = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p0 = pts[(i + n - 1) % n]!;
    const p1 = pts[i]!;
    ax[i] = p0.x;
    ay[i] = p0.y;
    ex[i] = p1.x - p0.x;
    ey[i] = p1.y - p0.y;
    inv[i] = 1 / (ex[i]! ** 2 + ey[i]! ** 2);
  }
  // Class of a point (0 outside, 1 fill, 2 outline); leaves its distance to the edge in `dist`.
  let dist = 0;
  const classify = (x: number, y: number): number => {
    if (circle) {
      const d = Math.sqrt((x - cx) ** 2 + (y - cy) ** 2) - m.size;
      dist = Math.abs(d);
      return dist <= half ? 2 : d < 0 ? 1 : 0;
    }
    let inside = false;
    let best = Infinity;
    for (let i = 0; i < n; i++) {
      const px = x - ax[i]!;
      const py = y - ay[i]!;
      const dx = ex[i]!;
      const dy = ey[i]!;
      if (py < 0 !== py < dy && px < (dx * py) / dy) inside = !inside;
      let t = (px * dx + py * dy) * inv[i]!;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const d2 = (px - t * dx) ** 2 + (py - t * dy) ** 2;
      if (d2 < best) best = d2;
    }
    dist = Math.sqrt(best);
    return dist <= half ? 2 : inside ? 1 : 0;
  };
  const reach = m.size + half + 1;
  const x0 = Math.max(0, Math.floor(cx - reach - ox));
  const y0 = Math.max(0, Math.floor(cy - reach - oy));
  const x1 = Math.min(dst.width, Math.ceil(cx + reach - ox));
  const y1 = Math.min(dst.height, Math.ceil(cy + reach - oy));
  const cover = [0, 0, 0];
  for (let v = y0; v < y1; v++) {
    for (let u = x0; u < x1; u++) {
      const X = u + ox;
      const Y = v + oy;
      const k = classify(X + 0.5, Y + 0.5);
      cover[0] = cover[1] = cover[2] = 0;
      if (dist > half + 0.75) cover[k] = 1; // the whole pixel is on one side of every edge
      else {
        for (let sy = 0; sy < SS; sy++) for (let sx = 0; sx < SS; sx++) cover[classify(X + (sx + 0.5) / SS, Y + (sy + 0.5) / SS)]! += 1 / (SS * SS);
      }
      if (cover[0] === 1) continue;
      const i = 3 * (v * dst.width + u);
      const keep = cover[0]!;
      dst.data[i] = Math.round(dst.data[i]! * keep + fr * cover[1]!);
      dst.data[i + 1] = Math.round(dst.data[i + 1]! * keep + fg * cover[1]!);
      dst.data[i + 2] = Math.round(dst.data[i + 2]! * keep + fb * cover[1]!);
    }
  }
}

/** SVG of the markers over a width x height canvas: filled shapes with a black outline. */
export function markersSvg(markers: readonly Marker[], width: number, height: number): string {
  const body = markers
    .map((m) => {
      const [r, g, b] = MARKER_COLOURS[m.colour];
      const fill = `rgb(${r},${g},${b})`;
      const shape =
        m.shape === "circle"
          ? `<circle cx="${m.point.x.toFixed(2)}" cy="${m.point.y.toFixed(2)}" r="${m.size}" fill="${fill}" stroke="black" stroke-width="${STROKE.circle}"/>`
          : `<polygon points="${polygon(m)}" fill="${fill}" stroke="black" stroke-width="${STROKE.polygon}"/>`;
      const label = m.label
        ? `<text x="${(m.point.x + m.size + 2).toFixed(1)}" y="${(m.point.y - m.size * 0.4).toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="${Math.max(12, m.size)}" fill="white" stroke="black" stroke-width="1">${escapeMarkup(m.label)}</text>`
        : "";
      return shape + label;
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`;
}

/**
 * The crop the authors use: the union of the object box and the markers, padded by twice the
 * marker size, clipped to the image (integer pixel bounds).
 */
export function markerCrop(markers: readonly Marker[], box: Box, width: number, height: number): Box {
  let x1 = box.x1;
  let y1 = box.y1;
  let x2 = box.x2;
  let y2 = box.y2;
  let pad = 0;
  for (const m of markers) {
    x1 = Math.min(x1, m.point.x - m.size);
    y1 = Math.min(y1, m.point.y - m.size);
    x2 = Math.max(x2, m.point.x + m.size);
    y2 = Math.max(y2, m.point.y + m.size);
    pad = Math.max(pad, 2 * m.size);
  }
  return {
    x1: Math.max(0, Math.floor(x1 - pad)),
    y1: Math.max(0, Math.floor(y1 - pad)),
    x2: Math.min(width, Math.ceil(x2 + pad)),
    y2: Math.min(height, Math.ceil(y2 + pad)),
  };
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * `tools.py` `draw_marker_on_image`'s placement: the crop it wants is box ∪ marker padded by twice
 * the marker size; wherever that padding would leave the image, the marker is moved inwards by the
 * shortfall (right/bottom after left/top), then kept at least `size` from every edge. So a marker
 * moves whenever the box lies within 2·size of an edge, even when the point itself is far from it.
 * The crop then follows the moved marker (PIL's `crop` rounds its corners).
 */
export function toolsMarkerShift(p: Point, size: number, box: Box, width: number, height: number): { point: Point; crop: Box } {
  const pad = size * 2;
  const left = Math.min(box.x1, p.x - size);
  const top = Math.min(box.y1, p.y - size);
  const right = Math.max(box.x2, p.x + size);
  const bottom = Math.max(box.y2, p.y + size);
  const safeLeft = Math.max(0, left - pad);
  const safeTop = Math.max(0, top - pad);
  const safeRight = Math.min(width, right + pad);
  const safeBottom = Math.min(height, bottom + pad);
  let x = p.x;
  let y = p.y;
  if (safeLeft > left - pad) x = Math.max(p.x + (safeLeft - (left - pad)), size);
  if (safeTop > top - pad) y = Math.max(p.y + (safeTop - (top - pad)), size);
  if (safeRight < right + pad) x = Math.min(p.x - (right + pad - safeRight), width - size);
  if (safeBottom < bottom + pad) y = Math.min(p.y - (bottom + pad - safeBottom), height - size);
  x = Math.max(size, Math.min(width - size, x));
  y = Math.max(size, Math.min(height - size, y));
  const crop = {
    x1: Math.max(0, Math.min(box.x1, x - size) - pad),
    y1: Math.max(0, Math.min(box.y1, y - size) - pad),
    x2: Math.min(width, Math.max(box.x2, x + size) + pad),
    y2: Math.min(height, Math.max(box.y2, y + size) + pad),
  };
  return { point: { x, y }, crop: { x1: roundHalfEven(crop.x1), y1: roundHalfEven(crop.y1), x2: roundHalfEven(crop.x2), y2: roundHalfEven(crop.y2) } };
}

/**
 * Bumped whenever the pixels of a rendered marker image change (drawing, JPEG settings), so that
 * cached model answers about the old pixels are not reused. 2: TypeScript rasteriser, 4:2:0 chroma.
 */
export const MARKER_RENDER_VERSION = 2;

/** What the model will see, as a content hash, without rendering it. */
export function markedImageHash(imageHash: string, markers: readonly Marker[], crop: Box | undefined): string {
  return sha256(JSON.stringify({ imageHash, markers, crop: crop ?? null, render: MARKER_RENDER_VERSION }));
}

/**
 * One small SVG tile per marker (its bounding square, letter included, clipped to the output),
 * positioned relative to the crop: rasterising a few hundred pixels instead of the whole image.
 */
function markerTiles(markers: readonly Marker[], origin: Box): SvgTile[] {
  const tiles: SvgTile[] = [];
  for (const m of markers) {
    const extra = m.label ? 3 * m.size : 0; // room for the letter on the right
    const x0 = Math.max(origin.x1, Math.floor(m.point.x - m.size - 3));
    const y0 = Math.max(origin.y1, Math.floor(m.point.y - m.size - 3));
    const x1 = Math.min(origin.x2, Math.ceil(m.point.x + m.size + 3 + extra));
    const y1 = Math.min(origin.y2, Math.ceil(m.point.y + m.size + 3));
    if (x1 <= x0 || y1 <= y0) continue;
    const body = markersSvg([m], 0, 0).replace(/^<svg[^>]*>/, "").replace(/<\/svg>$/, "");
    tiles.push({
      svg: `<svg xmlns="http://www.w3.org/2000/svg" width="${x1 - x0}" height="${y1 - y0}"><g transform="translate(${-x0} ${-y0})">${body}</g></svg>`,
      left: x0 - origin.x1,
      top: y0 - origin.y1,
    });
  }
  return tiles;
}

/**
 * Markers through SVG (librsvg via sharp): the route for lettered markers (VBR-multi), and the
 * reference the TypeScript rasteriser is tested against.
 */
export async function renderMarkersSvg(image: RgbImage, markers: readonly Marker[], crop?: Box, quality = 75): Promise<Buffer> {
  const region = crop ?? { x1: 0, y1: 0, x2: image.width, y2: image.height };
  return overlaySvg(image, markerTiles(markers, region), {
    ...(crop ? { crop: { left: crop.x1, top: crop.y1, width: Math.max(1, crop.x2 - crop.x1), height: Math.max(1, crop.y2 - crop.y1) } } : {}),
    format: "jpeg",
    quality,
    jpeg: PIL_JPEG,
  });
}

/**
 * Render markers over the image (and crop) to JPEG. Unlabelled markers are drawn in TypeScript
 * straight into the cropped pixels (about 2 ms less per query than rasterising SVG); lettered
 * ones (VBR-multi) go through SVG for the text.
 */
// Quality 75, 4:2:0 chroma, standard Huffman tables: what the authors' PIL `image.save(format="JPEG")` writes.
export async function renderMarkers(image: RgbImage, markers: readonly Marker[], crop?: Box, quality = 75): Promise<Buffer> {
  if (markers.some((m) => m.label)) return renderMarkersSvg(image, markers, crop, quality);
  const region = crop ?? { x1: 0, y1: 0, x2: image.width, y2: image.height };
  const canvas = cropRgb(image, region.x1, region.y1, Math.max(region.x1 + 1, region.x2), Math.max(region.y1 + 1, region.y2));
  for (const m of markers) drawMarker(canvas, m, region.x1, region.y1);
  return encodeJpeg(canvas, quality, PIL_JPEG);
}
