import { overlaySvg, sha256, type Box, type Point, type RgbImage, type SvgTile } from "@resagent/core";

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

function polygon(m: Marker): string {
  const { x, y } = m.point;
  const pts: string[] = [];
  if (m.shape === "star") {
    for (let i = 0; i < 10; i++) {
      const a = Math.PI / 2 + (i * Math.PI) / 5;
      const r = i % 2 === 0 ? m.size : m.size * 0.4;
      pts.push(`${(x + r * Math.cos(a)).toFixed(2)},${(y - r * Math.sin(a)).toFixed(2)}`);
    }
  } else {
    for (let i = 0; i < 6; i++) {
      const a = Math.PI / 6 + (i * Math.PI) / 3;
      pts.push(`${(x + m.size * Math.cos(a)).toFixed(2)},${(y - m.size * Math.sin(a)).toFixed(2)}`);
    }
  }
  return pts.join(" ");
}

/** SVG of the markers over a width x height canvas: filled shapes with a black outline. */
export function markersSvg(markers: readonly Marker[], width: number, height: number): string {
  const body = markers
    .map((m) => {
      const [r, g, b] = MARKER_COLOURS[m.colour];
      const fill = `rgb(${r},${g},${b})`;
      const shape =
        m.shape === "circle"
          ? `<circle cx="${m.point.x.toFixed(2)}" cy="${m.point.y.toFixed(2)}" r="${m.size}" fill="${fill}" stroke="black" stroke-width="2"/>`
          : `<polygon points="${polygon(m)}" fill="${fill}" stroke="black" stroke-width="1.5"/>`;
      const label = m.label
        ? `<text x="${(m.point.x + m.size + 2).toFixed(1)}" y="${(m.point.y - m.size * 0.4).toFixed(1)}" font-family="DejaVu Sans, sans-serif" font-weight="bold" font-size="${Math.max(12, m.size)}" fill="white" stroke="black" stroke-width="1">${m.label}</text>`
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

/** What the model will see, as a content hash, without rendering it. */
export function markedImageHash(imageHash: string, markers: readonly Marker[], crop: Box | undefined): string {
  return sha256(JSON.stringify({ imageHash, markers, crop: crop ?? null }));
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

/** Render markers over the image (and crop) to JPEG. */
// Quality 75: what the authors' PIL `image.save(format="JPEG")` writes by default.
export async function renderMarkers(image: RgbImage, markers: readonly Marker[], crop?: Box, quality = 75): Promise<Buffer> {
  const region = crop ?? { x1: 0, y1: 0, x2: image.width, y2: image.height };
  return overlaySvg(image, markerTiles(markers, region), {
    ...(crop ? { crop: { left: crop.x1, top: crop.y1, width: Math.max(1, crop.x2 - crop.x1), height: Math.max(1, crop.y2 - crop.y1) } } : {}),
    format: "jpeg",
    quality,
  });
}
