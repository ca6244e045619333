import { maskArea, maskBox, type Box, type Mask, type RandomStream, type RgbImage } from "@resagent/core";
import { CATEGORIES, SHAPES, type Category } from "./shapes.js";

export const COLOURS = {
  red: [200, 32, 36],
  green: [44, 150, 62],
  blue: [38, 72, 190],
  yellow: [232, 204, 44],
  orange: [238, 128, 30],
  purple: [128, 56, 160],
  pink: [238, 132, 182],
  brown: [124, 80, 46],
  white: [236, 236, 230],
  black: [28, 28, 32],
  gray: [128, 128, 128],
} as const satisfies Record<string, readonly [number, number, number]>;
export type Colour = keyof typeof COLOURS;
export const COLOUR_NAMES = Object.keys(COLOURS) as Colour[];

export type SizeClass = "small" | "big";
export type Pattern = "plain" | "striped" | "dotted";

export interface SceneObject {
  category: Category;
  colour: Colour;
  size: SizeClass;
  pattern: Pattern;
  cx: number;
  cy: number;
  /** Radius in pixels of the shape's unit circle. */
  scale: number;
  rotation: number;
  /** Drawing order: higher is in front. */
  depth: number;
}

export interface Scene {
  width: number;
  height: number;
  background: { kind: "gradient" | "texture" | "stripes" | "tiles"; colour: Colour; second: Colour; angle: number; freq: number };
  objects: SceneObject[];
  /** Index of the referred object in `objects`. */
  target: number;
  /** What makes the sample hard, for per-condition analysis. */
  flags: { camouflaged: boolean; occluded: boolean; touching: boolean; thin: boolean };
}

export interface GenerationParams {
  width: number;
  height: number;
  /** Category of the target: "person" (testA-like), "object" (testB-like) or "any". */
  targetKind: "person" | "object" | "any";
  /** Probabilities of the hard cases. */
  pCamouflage: number;
  pOcclusion: number;
  pTouching: number;
  /** Same-category distractors: at most this many. */
  maxDistractors: number;
}

const SIZE_RANGE: Record<SizeClass, [number, number]> = { small: [0.045, 0.07], big: [0.1, 0.15] };

/** Pixel mask of one object alone (no occlusion), as a full-image 0/1 array. */
export function rasteriseObject(o: SceneObject, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  const shape = SHAPES[o.category];
  const reach = shape.extent * o.scale * 1.45; // covers any rotation of the extent square
  const x0 = Math.max(0, Math.floor(o.cx - reach));
  const x1 = Math.min(width - 1, Math.ceil(o.cx + reach));
  const y0 = Math.max(0, Math.floor(o.cy - reach));
  const y1 = Math.min(height - 1, Math.ceil(o.cy + reach));
  const c = Math.cos(-o.rotation);
  const s = Math.sin(-o.rotation);
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = (x + 0.5 - o.cx) / o.scale;
      const dy = (y + 0.5 - o.cy) / o.scale;
      if (shape.inside(c * dx - s * dy, s * dx + c * dy)) out[y * width + x] = 1;
    }
  }
  return out;
}

/** Visible masks: each object's pixels not covered by an object in front of it. */
export function visibleMasks(scene: Scene): Uint8Array[] {
  const { width, height } = scene;
  const full = scene.objects.map((o) => rasteriseObject(o, width, height));
  const owner = new Int16Array(width * height).fill(-1);
  const order = scene.objects.map((o, i) => [o.depth, i] as const).sort((a, b) => a[0] - b[0]);
  for (const [, i] of order) {
    const m = full[i]!;
    for (let k = 0; k < m.length; k++) if (m[k]) owner[k] = i;
  }
  return scene.objects.map((_, i) => {
    const v = new Uint8Array(width * height);
    for (let k = 0; k < v.length; k++) if (owner[k] === i) v[k] = 1;
    return v;
  });
}

function pickScale(size: SizeClass, p: GenerationParams, r: RandomStream): number {
  const [lo, hi] = SIZE_RANGE[size];
  return r.uniform(lo, hi) * Math.min(p.width, p.height) * 2.2;
}

/**
 * Lay out one scene: the target, same-category distractors that differ from it in at least one
 * appearance attribute (so an appearance-only expression always exists), other-category objects,
 * and the hard cases (camouflage, occlusion, touching) with the given probabilities.
 */
export function generateScene(p: GenerationParams, r: RandomStream): Scene {
  for (let attempt = 0; attempt < 50; attempt++) {
    const scene = tryScene(p, r);
    if (scene) return scene;
  }
  throw new Error("synthref: could not lay out a scene in 50 attempts (image too small for the objects?)");
}

function tryScene(p: GenerationParams, r: RandomStream): Scene | undefined {
  const { width, height } = p;
  const bgColour = r.choice(COLOUR_NAMES);
  const background: Scene["background"] = {
    kind: r.choice(["gradient", "texture", "stripes", "tiles"] as const),
    colour: bgColour,
    second: r.choice(COLOUR_NAMES.filter((c) => c !== bgColour)),
    angle: r.uniform(0, Math.PI),
    freq: r.uniform(0.02, 0.06),
  };
  const category: Category =
    p.targetKind === "person" ? "person" : p.targetKind === "object" ? r.choice(CATEGORIES.filter((c) => c !== "person")) : r.choice(CATEGORIES);
  const camouflaged = r.bernoulli(p.pCamouflage);
  const targetSize: SizeClass = r.bernoulli(0.55) ? "big" : "small";
  const target: SceneObject = {
    category,
    colour: camouflaged ? bgColour : r.choice(COLOUR_NAMES.filter((c) => c !== bgColour)),
    size: targetSize,
    pattern: r.bernoulli(0.7) ? "plain" : r.choice(["striped", "dotted"] as const),
    cx: 0,
    cy: 0,
    scale: pickScale(targetSize, p, r),
    rotation: SHAPES[category].rotates ? r.uniform(-0.6, 0.6) : r.uniform(-0.08, 0.08),
    depth: 10,
  };
  const margin = target.scale * 1.1;
  target.cx = r.uniform(margin, width - margin);
  target.cy = r.uniform(margin, height - margin);
  const objects: SceneObject[] = [target];
  const place = (o: SceneObject, near?: SceneObject): boolean => {
    for (let t = 0; t < 40; t++) {
      if (near) {
        const a = r.uniform(0, 2 * Math.PI);
        const d = (near.scale + o.scale) * r.uniform(0.85, 1.0);
        o.cx = near.cx + d * Math.cos(a);
        o.cy = near.cy + d * Math.sin(a);
      } else {
        o.cx = r.uniform(o.scale, width - o.scale);
        o.cy = r.uniform(o.scale, height - o.scale);
      }
      const inFrame = o.cx > o.scale * 0.6 && o.cx < width - o.scale * 0.6 && o.cy > o.scale * 0.6 && o.cy < height - o.scale * 0.6;
      const clear = objects.every((q) => Math.hypot(q.cx - o.cx, q.cy - o.cy) > (near && q === near ? 0 : (q.scale + o.scale) * 1.05));
      if (inFrame && clear) return true;
    }
    return false;
  };
  // Same-category distractors, each different from the target in colour, size or pattern.
  const nDistractors = r.bernoulli(0.15) ? 0 : 1 + r.int(p.maxDistractors);
  let touching = false;
  for (let i = 0; i < nDistractors; i++) {
    const differ = r.next();
    const size: SizeClass = differ >= 0.6 && differ < 0.85 ? (targetSize === "big" ? "small" : "big") : targetSize;
    const colour: Colour = differ < 0.6 ? r.choice(COLOUR_NAMES.filter((c) => c !== target.colour)) : target.colour;
    const pattern: Pattern = differ >= 0.85 ? (target.pattern === "plain" ? r.choice(["striped", "dotted"] as const) : "plain") : target.pattern;
    const o: SceneObject = {
      category,
      colour,
      size,
      pattern,
      cx: 0,
      cy: 0,
      scale: pickScale(size, p, r),
      rotation: SHAPES[category].rotates ? r.uniform(-0.6, 0.6) : r.uniform(-0.08, 0.08),
      depth: r.int(20),
    };
    const touch = i === 0 && r.bernoulli(p.pTouching);
    if (place(o, touch ? target : undefined)) {
      objects.push(o);
      touching ||= touch;
    }
  }
  // Other categories: context, anchors for relational phrases, occluders.
  const nOthers = 1 + r.int(3);
  for (let i = 0; i < nOthers; i++) {
    const cat = r.choice(CATEGORIES.filter((c) => c !== category));
    const size: SizeClass = r.bernoulli(0.5) ? "big" : "small";
    const o: SceneObject = {
      category: cat,
      colour: r.choice(COLOUR_NAMES),
      size,
      pattern: r.bernoulli(0.8) ? "plain" : r.choice(["striped", "dotted"] as const),
      cx: 0,
      cy: 0,
      scale: pickScale(size, p, r),
      rotation: SHAPES[cat].rotates ? r.uniform(-0.6, 0.6) : r.uniform(-0.08, 0.08),
      depth: r.int(20),
    };
    if (place(o)) objects.push(o);
  }
  // An occluder partly in front of the target.
  let occluded = false;
  if (r.bernoulli(p.pOcclusion)) {
    const cat = r.choice(CATEGORIES.filter((c) => c !== category));
    const o: SceneObject = {
      category: cat,
      colour: r.choice(COLOUR_NAMES.filter((c) => c !== target.colour)),
      size: "small",
      pattern: "plain",
      cx: 0,
      cy: 0,
      scale: target.scale * r.uniform(0.45, 0.7),
      rotation: SHAPES[cat].rotates ? r.uniform(-0.6, 0.6) : 0,
      depth: 30,
    };
    const a = r.uniform(0, 2 * Math.PI);
    const d = target.scale * r.uniform(0.55, 0.85);
    o.cx = Math.min(width - 2, Math.max(2, target.cx + d * Math.cos(a)));
    o.cy = Math.min(height - 2, Math.max(2, target.cy + d * Math.sin(a)));
    objects.push(o);
    occluded = true;
  }
  const scene: Scene = {
    width,
    height,
    background,
    objects,
    target: 0,
    flags: { camouflaged, occluded, touching, thin: SHAPES[category].thin },
  };
  // Reject layouts where the target is mostly hidden or leaves the frame: the phrase must be answerable.
  const vis = visibleMasks(scene);
  const fullArea = maskArea({ width, height, data: rasteriseObject(target, width, height) });
  const visArea = maskArea({ width, height, data: vis[0]! });
  if (visArea < 120 || visArea < 0.5 * fullArea) return undefined;
  if (occluded && visArea > 0.97 * fullArea) scene.flags.occluded = false;
  return scene;
}

/** Smooth value noise in [0, 1) on a lattice of `cell` pixels, seeded by the stream. */
function valueNoise(width: number, height: number, cell: number, r: RandomStream): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = new Float32Array(gw * gh).map(() => r.next());
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const gy = y / cell;
    const iy = Math.floor(gy);
    const fy = gy - iy;
    const sy = fy * fy * (3 - 2 * fy);
    for (let x = 0; x < width; x++) {
      const gx = x / cell;
      const ix = Math.floor(gx);
      const fx = gx - ix;
      const sx = fx * fx * (3 - 2 * fx);
      const a = grid[iy * gw + ix]!;
      const b = grid[iy * gw + ix + 1]!;
      const c = grid[(iy + 1) * gw + ix]!;
      const d = grid[(iy + 1) * gw + ix + 1]!;
      out[y * width + x] = a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
    }
  }
  return out;
}

const clamp8 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

/** Paint the scene: background, then objects back to front with shading, patterns and noise. */
export function renderScene(scene: Scene, visible: readonly Uint8Array[], r: RandomStream): RgbImage {
  const { width, height, background: bg } = scene;
  const img = new Uint8Array(width * height * 3);
  const c1 = COLOURS[bg.colour];
  const c2 = COLOURS[bg.second];
  const coarse = valueNoise(width, height, 48, r);
  const fine = valueNoise(width, height, 6, r);
  const ca = Math.cos(bg.angle);
  const sa = Math.sin(bg.angle);
  const diag = Math.hypot(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = y * width + x;
      const along = (x * ca + y * sa) / diag + 0.5;
      let mix: number;
      switch (bg.kind) {
        case "gradient":
          mix = 0.15 + 0.3 * along;
          break;
        case "texture":
          mix = 0.45 * coarse[k]!;
          break;
        case "stripes":
          mix = Math.sin((x * ca + y * sa) * bg.freq * Math.PI) > 0.3 ? 0.28 : 0.05;
          break;
        case "tiles":
          mix = (Math.floor(x * bg.freq * 0.5) + Math.floor(y * bg.freq * 0.5)) % 2 ? 0.22 : 0.04;
          break;
      }
      // Mostly the named background colour, so "camouflaged" targets really are close to it.
      const grain = (fine[k]! - 0.5) * 26 + (coarse[k]! - 0.5) * 30;
      for (let ch = 0; ch < 3; ch++) img[k * 3 + ch] = clamp8(c1[ch]! * (1 - mix) + c2[ch]! * mix + grain);
    }
  }
  const order = scene.objects.map((o, i) => [o.depth, i] as const).sort((a, b) => a[0] - b[0]);
  for (const [, i] of order) {
    const o = scene.objects[i]!;
    const m = visible[i]!;
    const base = COLOURS[o.colour];
    const c = Math.cos(-o.rotation);
    const s = Math.sin(-o.rotation);
    const jitter = r.uniform(-14, 14);
    for (let k = 0; k < m.length; k++) {
      if (!m[k]) continue;
      const y = Math.floor(k / width);
      const x = k - y * width;
      const dx = (x + 0.5 - o.cx) / o.scale;
      const dy = (y + 0.5 - o.cy) / o.scale;
      const lx = c * dx - s * dy;
      const ly = s * dx + c * dy;
      // Soft light from the top-left gives the objects volume (and intra-object colour variation).
      let shade = 1.08 - 0.22 * Math.hypot(lx + 0.35, ly + 0.35);
      if (o.pattern === "striped" && Math.floor((lx + ly) * 3.5 + 10) % 2 === 0) shade *= 0.62;
      if (o.pattern === "dotted") {
        const fx = lx * 3 - Math.round(lx * 3);
        const fy = ly * 3 - Math.round(ly * 3);
        if (fx * fx + fy * fy < 0.09) shade *= 0.55;
      }
      const noise = (fine[k]! - 0.5) * 18 + jitter;
      for (let ch = 0; ch < 3; ch++) img[k * 3 + ch] = clamp8(base[ch]! * shade + noise + (base[ch]! < 40 ? 18 * shade : 0));
    }
  }
  return { width, height, data: img };
}

/** The target's gold mask and box, and the boxes of same-category distractors. */
export function sceneAnswers(scene: Scene, visible: readonly Uint8Array[]): { mask: Mask; box: Box; distractorBoxes: Box[] } {
  const { width, height } = scene;
  const t = scene.objects[scene.target]!;
  const box = maskBox({ width, height, data: visible[scene.target]! });
  if (!box) throw new Error("synthref: target has no visible pixels");
  const distractorBoxes: Box[] = [];
  scene.objects.forEach((o, i) => {
    if (i === scene.target || o.category !== t.category) return;
    const b = maskBox({ width, height, data: visible[i]! });
    if (b) distractorBoxes.push(b);
  });
  return { mask: { width, height, data: visible[scene.target]! }, box, distractorBoxes };
}
