import { PIL_JPEG, overlaySvg, sha256, type Box, type Point, type RandomStream, type RgbImage, type SvgTile } from "@resagent/core";

/**
 * Multi-marker questions as the authors' final eval script draws them
 * (`sam2/resagent_full_eval_point_strategies_final.py`, `render_multi_marker_query` and
 * `draw_single_marker`): per question the 12 colours and the 4 shapes are shuffled, marker i takes
 * colour i mod 12 and shape i mod 4, and its label is written inside it in white bold with a black
 * shadow one pixel down and right; every shape has a white outline.
 */

/** `COLOR_PALETTE` of the final script: the colour names are not in the question, only the letters. */
export const LETTERED_PALETTE: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: "red", rgb: [230, 57, 70] },
  { name: "blue", rgb: [29, 78, 216] },
  { name: "green", rgb: [34, 197, 94] },
  { name: "yellow", rgb: [250, 204, 21] },
  { name: "orange", rgb: [249, 115, 22] },
  { name: "purple", rgb: [168, 85, 247] },
  { name: "pink", rgb: [236, 72, 153] },
  { name: "cyan", rgb: [6, 182, 212] },
  { name: "rose", rgb: [244, 63, 94] },
  { name: "sky blue", rgb: [14, 165, 233] },
  { name: "lime", rgb: [132, 204, 22] },
  { name: "amber", rgb: [245, 158, 11] },
];

export type LetteredShape = "circle" | "square" | "triangle" | "diamond";
export const LETTERED_SHAPES: readonly LetteredShape[] = ["circle", "square", "triangle", "diamond"];

export interface LetteredMarker {
  point: Point;
  /** Colour name (records) and its RGB. */
  colour: string;
  rgb: readonly [number, number, number];
  shape: LetteredShape;
  /** Radius in pixels. */
  size: number;
  label: string;
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The markers of one question: a fresh shuffle of colours and shapes from `rng` (the script's `random.shuffle` per call). */
export function letteredMarkers(points: readonly Point[], labels: readonly string[], size: number, rng: RandomStream): LetteredMarker[] {
  const colours = rng.shuffle(LETTERED_PALETTE);
  const shapes = rng.shuffle(LETTERED_SHAPES);
  return points.map((point, i) => {
    const c = colours[i % colours.length]!;
    return { point, colour: c.name, rgb: c.rgb, shape: shapes[i % shapes.length]!, size, label: labels[i]! };
  });
}

/**
 * The crop of a multi-marker question (`render_multi_marker_query`): box ∪ every marker's square
 * padded by round(size · padScale), clipped to the image, truncated to integers. The final script
 * sends it only with `--use_crop_for_points`; the textual script's `compute_context_crop_bbox` is
 * the same for one point, with at least one pixel of width and height (`minSide`).
 */
export function letteredCrop(box: Box, points: readonly Point[], size: number, padScale: number, width: number, height: number, minSide = false): Box {
  const pad = roundHalfEven(size * padScale);
  const reach = size + pad;
  const x1 = Math.trunc(Math.max(0, Math.min(box.x1, ...points.map((p) => p.x - reach))));
  const y1 = Math.trunc(Math.max(0, Math.min(box.y1, ...points.map((p) => p.y - reach))));
  let x2 = Math.trunc(Math.min(width, Math.max(box.x2, ...points.map((p) => p.x + reach))));
  let y2 = Math.trunc(Math.min(height, Math.max(box.y2, ...points.map((p) => p.y + reach))));
  if (minSide) {
    x2 = Math.max(x1 + 1, x2);
    y2 = Math.max(y1 + 1, y2);
  }
  return { x1, y1, x2, y2 };
}

/**
 * DejaVu Sans Bold (the script's `ImageFont.truetype("DejaVuSans-Bold.ttf")`), 2048 units per em:
 * advance and ink extents (left, top above the baseline as a negative number, right) of the
 * characters a label can hold. Used to place a label where PIL places it.
 */
const UNITS_PER_EM = 2048;
const ASCENDER = 1901;
const GLYPHS: Record<string, [advance: number, inkLeft: number, inkTop: number, inkRight: number]> = {
  A: [1585, 10, -1493, 1575], B: [1561, 188, -1493, 1417], C: [1503, 102, -1520, 1372], D: [1700, 188, -1493, 1593],
  E: [1399, 188, -1493, 1249], F: [1399, 188, -1493, 1227], G: [1681, 102, -1520, 1530], H: [1714, 188, -1493, 1526],
  I: [762, 188, -1493, 573], J: [762, -115, -1493, 573], K: [1587, 188, -1493, 1649], L: [1305, 188, -1493, 1249],
  M: [2038, 188, -1493, 1849], N: [1714, 188, -1493, 1526], O: [1741, 102, -1520, 1638], P: [1501, 188, -1493, 1417],
  Q: [1741, 102, -1520, 1638], R: [1577, 188, -1493, 1536], S: [1475, 147, -1520, 1325], T: [1397, 10, -1493, 1386],
  U: [1663, 188, -1493, 1475], V: [1585, 10, -1493, 1575], W: [2259, 61, -1493, 2195], X: [1579, 39, -1493, 1538],
  Y: [1483, -20, -1493, 1503], Z: [1485, 92, -1493, 1393], "0": [1425, 98, -1520, 1327], "1": [1425, 231, -1493, 1284],
  "2": [1425, 162, -1520, 1247], "3": [1425, 137, -1520, 1262], "4": [1425, 92, -1493, 1331], "5": [1425, 158, -1493, 1282],
  "6": [1425, 127, -1518, 1315], "7": [1425, 137, -1493, 1262], "8": [1425, 125, -1520, 1298], "9": [1425, 106, -1518, 1294],
};
/** Ink below the baseline, where there is any. */
const DESCENT: Record<string, number> = { C: 29, G: 29, J: 410, O: 29, Q: 299, S: 29, U: 29, "0": 29, "3": 29, "5": 29, "6": 29, "8": 29, "9": 29 };

/** The label's font size in pixels: `load_marker_font(max(8, int(round(size * 0.95))))`. */
export function letteredFontSize(size: number): number {
  return Math.max(8, roundHalfEven(size * 0.95));
}

/**
 * PIL's `textbbox((0, 0), text, font)` for a label at `fontSize` (left-ascender anchor, hinted
 * integers) and the font's ascent in pixels: advances rounded per glyph, the last glyph's ink may
 * reach past its advance, the ascent rounded up. Within a pixel of PIL's values.
 */
export function letteredTextBox(text: string, fontSize: number): { box: [number, number, number, number]; ascent: number } {
  const s = fontSize / UNITS_PER_EM;
  const ascent = Math.ceil(ASCENDER * s);
  let pen = 0;
  let top = 0;
  let right = 0;
  let bottom = 0;
  [...text].forEach((ch, i, all) => {
    const g = GLYPHS[ch] ?? GLYPHS.A!;
    top = Math.min(top, Math.round(g[2] * s));
    bottom = Math.max(bottom, Math.round((DESCENT[ch] ?? 0) * s));
    if (i === all.length - 1) right = pen + Math.max(Math.round(g[0] * s), Math.ceil(g[3] * s));
    pen += Math.round(g[0] * s);
  });
  return { box: [0, ascent + top, right, ascent + bottom], ascent };
}

const f2 = (v: number) => v.toFixed(2);
const rgb = (c: readonly number[]) => `rgb(${c[0]},${c[1]},${c[2]})`;

/**
 * One marker as SVG, in image coordinates. PIL's shapes cover the pixels whose centres their
 * outlines enclose, from pixel (x − r) to pixel (x + r) inclusive, so in SVG (pixel i spans
 * [i, i + 1]) each shape's extent is [x − r, x + r + 1]; outlines are drawn inside, as PIL does.
 * Text is placed as `draw_single_marker` places it: the label's box centred on the point, one
 * pixel up, the shadow one pixel down and right.
 */
export function letteredMarkerSvg(m: LetteredMarker): string {
  const { x, y } = m.point;
  const r = m.size;
  const fill = rgb(m.rgb);
  const width = Math.max(1, Math.floor(r / 7));
  let shape: string;
  // PIL's ellipse and rounded_rectangle work on integer (truncated) corners.
  const x0 = Math.trunc(x - r);
  const y0 = Math.trunc(y - r);
  const w = Math.trunc(x + r) - x0 + 1;
  const h = Math.trunc(y + r) - y0 + 1;
  if (m.shape === "circle") {
    const cx = f2(x0 + w / 2);
    const cy = f2(y0 + h / 2);
    shape = `<ellipse cx="${cx}" cy="${cy}" rx="${w / 2}" ry="${h / 2}" fill="white"/><ellipse cx="${cx}" cy="${cy}" rx="${w / 2 - width}" ry="${h / 2 - width}" fill="${fill}"/>`;
  } else if (m.shape === "square") {
    const corner = Math.max(3, Math.floor(r / 4));
    shape =
      `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" rx="${corner + 0.5}" fill="white"/>` +
      `<rect x="${x0 + width}" y="${y0 + width}" width="${w - 2 * width}" height="${h - 2 * width}" rx="${Math.max(0, corner + 0.5 - width)}" fill="${fill}"/>`;
  } else {
    const pts: [number, number][] =
      m.shape === "triangle"
        ? [[x, y - r], [x - 0.9 * r, y + 0.8 * r], [x + 0.9 * r, y + 0.8 * r]]
        : [[x, y - r], [x - r, y], [x, y + r], [x + r, y]];
    // PIL fills the pixels whose integer coordinates lie inside the polygon, then draws a 1-pixel
    // outline through the truncated vertices.
    const fillPts = pts.map(([a, b]) => `${f2(a + 0.5)},${f2(b + 0.5)}`).join(" ");
    const linePts = pts.map(([a, b]) => `${Math.trunc(a) + 0.5},${Math.trunc(b) + 0.5}`).join(" ");
    shape = `<polygon points="${fillPts}" fill="${fill}"/><polygon points="${linePts}" fill="none" stroke="white" stroke-width="1"/>`;
  }
  // PIL draws shapes without anti-aliasing.
  shape = `<g shape-rendering="crispEdges">${shape}</g>`;
  const fontSize = letteredFontSize(r);
  const { box, ascent } = letteredTextBox(m.label, fontSize);
  const tx = x - (box[2] - box[0]) / 2;
  const ty = y - (box[3] - box[1]) / 2 - 1;
  const text = (dx: number, colour: string) =>
    `<text x="${f2(tx + dx)}" y="${f2(ty + dx + ascent)}" font-family="DejaVu Sans" font-weight="bold" font-size="${fontSize}" fill="${colour}">${m.label}</text>`;
  return shape + text(1, "black") + text(0, "white");
}

/**
 * Bumped whenever the pixels of a lettered question change, so that cached answers about the old
 * pixels are not reused.
 */
export const LETTERED_RENDER_VERSION = 1;

/** What the model will see, as a content hash, without rendering it. */
export function letteredImageHash(imageHash: string, markers: readonly LetteredMarker[], crop: Box | undefined): string {
  return sha256(JSON.stringify({ imageHash, markers, crop: crop ?? null, render: `lettered-${LETTERED_RENDER_VERSION}` }));
}

/** One tile per marker (its square, clipped to the output), relative to the output's origin. */
function tiles(markers: readonly LetteredMarker[], origin: Box): SvgTile[] {
  const out: SvgTile[] = [];
  for (const m of markers) {
    // The label of a small marker can be wider than the marker ("P27").
    const half = Math.max(m.size + 2, letteredTextBox(m.label, letteredFontSize(m.size)).box[2] / 2 + 2);
    const x0 = Math.max(origin.x1, Math.floor(m.point.x - half));
    const y0 = Math.max(origin.y1, Math.floor(m.point.y - m.size - 2));
    const x1 = Math.min(origin.x2, Math.ceil(m.point.x + half + 1));
    const y1 = Math.min(origin.y2, Math.ceil(m.point.y + m.size + 3));
    if (x1 <= x0 || y1 <= y0) continue;
    out.push({
      svg: `<svg xmlns="http://www.w3.org/2000/svg" width="${x1 - x0}" height="${y1 - y0}"><g transform="translate(${-x0} ${-y0})">${letteredMarkerSvg(m)}</g></svg>`,
      left: x0 - origin.x1,
      top: y0 - origin.y1,
    });
  }
  return out;
}

/**
 * Draw the markers over the image (cropped when `crop` is given) and encode: JPEG quality 75 with
 * 4:2:0 chroma, what the script's `image.save(format="JPEG")` writes; PNG for tests.
 */
export async function renderLetteredMarkers(image: RgbImage, markers: readonly LetteredMarker[], crop?: Box, format: "jpeg" | "png" = "jpeg", quality = 75): Promise<Buffer> {
  const region = crop ?? { x1: 0, y1: 0, x2: image.width, y2: image.height };
  return overlaySvg(image, tiles(markers, region), {
    ...(crop ? { crop: { left: crop.x1, top: crop.y1, width: Math.max(1, crop.x2 - crop.x1), height: Math.max(1, crop.y2 - crop.y1) } } : {}),
    format,
    quality,
    jpeg: PIL_JPEG,
  });
}
