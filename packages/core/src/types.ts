/** A pixel position in image coordinates (x to the right, y down; pixel centres at integer + 0.5 are not assumed). */
export interface Point {
  x: number;
  y: number;
}

/** An axis-aligned box in pixels, corners (x1, y1) top-left and (x2, y2) bottom-right, x1 <= x2, y1 <= y2. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * A binary mask, row-major (index y * width + x). Values are 0 or 1; gold masks that carry
 * LISA-style ignore regions use 255 for "ignore" (see @resagent/metrics).
 */
export interface Mask {
  width: number;
  height: number;
  data: Uint8Array;
}

/** An 8-bit RGB image, interleaved, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** One referring-expression sample: an image, a phrase, and (for evaluation) the gold answer. */
export interface Sample {
  /** Unique within its dataset split; used to derive random streams and resume runs. */
  id: string;
  /** Dataset and split this sample came from, e.g. "synthref/refcoco/val". */
  source: string;
  imagePath: string;
  width: number;
  height: number;
  expression: string;
  /** Gold mask (0/1, 255 = ignore) when the dataset has one. Loaded lazily by the dataset. */
  goldMask?: Mask;
  goldBox?: Box;
  /**
   * Boxes of other objects of the same category in the image: what a confused grounder
   * would answer with (the simulated MLLM uses them; REFER/COCO provide them too).
   */
  distractorBoxes?: Box[];
  /** Free-form dataset-specific facts (category, ref id, sentence id, style...). JSON-serialisable. */
  meta?: Record<string, string | number | boolean>;
}

export function boxWidth(b: Box): number {
  return b.x2 - b.x1;
}

export function boxHeight(b: Box): number {
  return b.y2 - b.y1;
}

export function boxArea(b: Box): number {
  return Math.max(0, b.x2 - b.x1) * Math.max(0, b.y2 - b.y1);
}

export function boxFromXywh(x: number, y: number, w: number, h: number): Box {
  return { x1: x, y1: y, x2: x + w, y2: y + h };
}

export function boxIoU(a: Box, b: Box): number {
  const iw = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const ih = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (boxArea(a) + boxArea(b) - inter);
}
