import { maskBox, type Box, type Mask, type RandomStream, type RgbImage } from "@resagent/core";
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
  /** The object's main colour: the one phrases name. */
  colour: Colour;
  /** Two-tone objects paint their shape's `part` (trousers, a lid, a handle...) in this colour. */
  second?: Colour;
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

/** What makes a sample hard, for per-condition analysis (and `pnpm synthref`'s statistics). */
export interface SceneFlags {
  /** The target's main colour is the background's. */
  camouflaged: boolean;
  /** Something in front hides part of the target (3% of it or more). */
  occluded: boolean;
  /** A same-category instance touches or overlaps the target. */
  touching: boolean;
  /** ...and has the target's colour: the box-only colour models cannot tell them apart. */
  sameColour: boolean;
  /** Part of the target is painted in the background's colour. */
  twoTone: boolean;
  /** Small objects of other categories sit inside the target's box. */
  clutter: boolean;
  /** The target's shape has parts a few pixels wide. */
  thin: boolean;
  /** The target's shape has a hole the background shows through. */
  hole: boolean;
}

export interface Scene {
  width: number;
  height: number;
  background: { kind: "gradient" | "texture" | "stripes" | "tiles"; colour: Colour; second: Colour; angle: number; freq: number };
  objects: SceneObject[];
  /** Index of the referred object in `objects`. */
  target: number;
  /** Objects in front of the target that hide part of it (indices into `objects`). */
  hiddenBy: number[];
  flags: SceneFlags;
}

export interface GenerationParams {
  width: number;
  height: number;
  /**
   * Category of the target: "person" (testA-like), "object" (testB-like), "mixed" (a person half
   * the time, as RefCOCO's and RefCOCO+'s val mixes the people of testA with the objects of testB)
   * or "any" (uniform over the categories).
   */
  targetKind: "person" | "object" | "mixed" | "any";
  /** Probabilities of the hard cases (per scene). */
  pCamouflage: number;
  pOcclusion: number;
  /** A same-category instance placed touching or overlapping the target... */
  pTouching: number;
  /** ...which shares the target's colour (it differs in size or pattern) with this probability. */
  pSameColour: number;
  /** Target painted in two colours, its part in the background's colour (never with camouflage). */
  pTwoTone: number;
  /** Small other-category objects inside the target's box. */
  pClutter: number;
  /** Scenes without any same-category instance besides the target. */
  pNoDistractors: number;
  /** Same-category distractors: at most this many. */
  maxDistractors: number;
}

const SIZE_RANGE: Record<SizeClass, [number, number]> = { small: [0.045, 0.07], big: [0.1, 0.15] };

/** An object's full (unoccluded) raster: a 0/1 window of the image, so scenes cost by object size, not image size. */
interface Raster {
  x0: number;
  y0: number;
  w: number;
  h: number;
  data: Uint8Array;
  area: number;
}

/** The pixel window (inclusive) that can hold any of the object's pixels. */
function objectWindow(o: SceneObject, width: number, height: number): { x0: number; y0: number; x1: number; y1: number } {
  const reach = SHAPES[o.category].extent * o.scale * 1.45; // covers any rotation of the extent square
  return {
    x0: Math.max(0, Math.floor(o.cx - reach)),
    x1: Math.min(width - 1, Math.ceil(o.cx + reach)),
    y0: Math.max(0, Math.floor(o.cy - reach)),
    y1: Math.min(height - 1, Math.ceil(o.cy + reach)),
  };
}

function rasterWindow(o: SceneObject, width: number, height: number): Raster {
  const shape = SHAPES[o.category];
  const { x0, x1, y0, y1 } = objectWindow(o, width, height);
  const w = Math.max(0, x1 - x0 + 1);
  const h = Math.max(0, y1 - y0 + 1);
  const data = new Uint8Array(w * h);
  const c = Math.cos(-o.rotation);
  const s = Math.sin(-o.rotation);
  let area = 0;
  for (let y = y0; y <= y1; y++) {
    const dy = (y + 0.5 - o.cy) / o.scale;
    for (let x = x0; x <= x1; x++) {
      const dx = (x + 0.5 - o.cx) / o.scale;
      if (shape.inside(c * dx - s * dy, s * dx + c * dy)) {
        data[(y - y0) * w + (x - x0)] = 1;
        area++;
      }
    }
  }
  return { x0, y0, w, h, data, area };
}

/** Which object owns each pixel (-1 = background), and every object's full raster. */
function ownership(scene: Scene): { owner: Int16Array; rasters: Raster[] } {
  const { width, height } = scene;
  const rasters = scene.objects.map((o) => rasterWindow(o, width, height));
  const owner = new Int16Array(width * height).fill(-1);
  const order = scene.objects.map((o, i) => [o.depth, i] as const).sort((a, b) => a[0] - b[0]);
  for (const [, i] of order) {
    const r = rasters[i]!;
    for (let y = 0; y < r.h; y++) {
      const row = (y + r.y0) * width + r.x0;
      for (let x = 0; x < r.w; x++) if (r.data[y * r.w + x]) owner[row + x] = i;
    }
  }
  return { owner, rasters };
}

const visibleCache = new WeakMap<Scene, Uint8Array[]>();

/** Visible masks: each object's pixels not covered by an object in front of it. */
export function visibleMasks(scene: Scene): Uint8Array[] {
  const cached = visibleCache.get(scene);
  if (cached) return cached;
  const { width, height } = scene;
  const { owner, rasters } = ownership(scene);
  const out = scene.objects.map((_, i) => {
    const v = new Uint8Array(width * height);
    const r = rasters[i]!;
    for (let y = 0; y < r.h; y++) {
      const row = (y + r.y0) * width + r.x0;
      for (let x = 0; x < r.w; x++) if (owner[row + x] === i) v[row + x] = 1;
    }
    return v;
  });
  visibleCache.set(scene, out);
  return out;
}

function pickScale(size: SizeClass, p: GenerationParams, r: RandomStream): number {
  const [lo, hi] = SIZE_RANGE[size];
  return r.uniform(lo, hi) * Math.min(p.width, p.height) * 2.2;
}

/**
 * Lay out one scene: the target, same-category distractors that differ from it in at least one
 * appearance attribute (so an appearance-only expression always exists), other-category objects,
 * and the hard cases (camouflage, occlusion, touching and same-coloured instances, two-tone
 * targets, clutter in the box) with the given probabilities.
 */
export function generateScene(p: GenerationParams, r: RandomStream): Scene {
  for (let attempt = 0; attempt < 50; attempt++) {
    const scene = tryScene(p, r);
    if (scene) return scene;
  }
  throw new Error("synthref: could not lay out a scene in 50 attempts (image too small for the objects?)");
}

const rotationFor = (cat: Category, r: RandomStream) => (SHAPES[cat].rotates ? r.uniform(-0.6, 0.6) : r.uniform(-0.08, 0.08));

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
  const kind = p.targetKind === "mixed" ? (r.bernoulli(0.5) ? "person" : "object") : p.targetKind;
  const category: Category = kind === "person" ? "person" : kind === "object" ? r.choice(CATEGORIES.filter((c) => c !== "person")) : r.choice(CATEGORIES);
  const camouflaged = r.bernoulli(p.pCamouflage);
  const twoTone = !camouflaged && r.bernoulli(p.pTwoTone);
  const targetSize: SizeClass = r.bernoulli(0.55) ? "big" : "small";
  const target: SceneObject = {
    category,
    colour: camouflaged ? bgColour : r.choice(COLOUR_NAMES.filter((c) => c !== bgColour)),
    ...(twoTone ? { second: bgColour } : {}),
    size: targetSize,
    pattern: r.bernoulli(0.7) ? "plain" : r.choice(["striped", "dotted"] as const),
    cx: 0,
    cy: 0,
    scale: pickScale(targetSize, p, r),
    rotation: rotationFor(category, r),
    depth: 10,
  };
  const margin = target.scale * 1.1;
  target.cx = r.uniform(margin, width - margin);
  target.cy = r.uniform(margin, height - margin);
  const objects: SceneObject[] = [target];
  /** Place `o` clear of everything, or (with `near`) touching/overlapping `near` at `spread` × the sum of their radii. */
  const place = (o: SceneObject, near?: SceneObject, spread: [number, number] = [0.85, 1.0]): boolean => {
    for (let t = 0; t < 40; t++) {
      if (near) {
        const a = r.uniform(0, 2 * Math.PI);
        const d = (near.scale + o.scale) * r.uniform(spread[0], spread[1]);
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
  // Same-category distractors, each different from the target in colour, size or pattern. RefCOCO,
  // RefCOCO+ and RefCOCOg only chose images with several instances of the target's category.
  const nDistractors = r.bernoulli(p.pNoDistractors) ? 0 : 1 + r.int(p.maxDistractors);
  let touching = false;
  let sameColour = false;
  for (let i = 0; i < nDistractors; i++) {
    const touch = i === 0 && r.bernoulli(p.pTouching);
    // A touching instance shares the target's colour with pSameColour (then it differs in size or
    // pattern); otherwise colour 60%, size 25%, pattern 15%, as before.
    const differ = touch && r.bernoulli(p.pSameColour) ? r.uniform(0.6, 1) : r.next();
    const size: SizeClass = differ >= 0.6 && differ < 0.85 ? (targetSize === "big" ? "small" : "big") : targetSize;
    const colour: Colour = differ < 0.6 ? r.choice(COLOUR_NAMES.filter((c) => c !== target.colour)) : target.colour;
    const pattern: Pattern = differ >= 0.85 ? (target.pattern === "plain" ? r.choice(["striped", "dotted"] as const) : "plain") : target.pattern;
    const o: SceneObject = {
      category,
      colour,
      // A same-coloured neighbour often dresses alike (the same trousers, the same lid).
      ...(target.second && colour === target.colour && r.bernoulli(0.5) ? { second: target.second } : r.bernoulli(0.25) ? { second: r.choice(COLOUR_NAMES) } : {}),
      size,
      pattern,
      cx: 0,
      cy: 0,
      scale: pickScale(size, p, r),
      rotation: rotationFor(category, r),
      depth: r.int(20),
    };
    // Touching instances overlap (people in a group, stacked boxes), not only kiss.
    if (place(o, touch ? target : undefined, touch ? [0.3, 0.8] : undefined)) {
      objects.push(o);
      touching ||= touch;
      sameColour ||= touch && colour === target.colour;
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
      ...(r.bernoulli(0.25) ? { second: r.choice(COLOUR_NAMES) } : {}),
      size,
      pattern: r.bernoulli(0.8) ? "plain" : r.choice(["striped", "dotted"] as const),
      cx: 0,
      cy: 0,
      scale: pickScale(size, p, r),
      rotation: rotationFor(cat, r),
      depth: r.int(20),
    };
    if (place(o)) objects.push(o);
  }
  // Clutter: small things of other categories inside the target's box, behind it (showing around
  // it and through its holes) or in front; half of them in the target's own colour.
  let clutter = false;
  if (r.bernoulli(p.pClutter)) {
    const n = 1 + r.int(2);
    for (let i = 0; i < n; i++) {
      const cat = r.choice(CATEGORIES.filter((c) => c !== category));
      const a = r.uniform(0, 2 * Math.PI);
      const d = target.scale * r.uniform(0.35, 0.9);
      objects.push({
        category: cat,
        colour: r.bernoulli(0.5) ? target.colour : r.choice(COLOUR_NAMES.filter((c) => c !== bgColour)),
        size: "small",
        pattern: "plain",
        cx: Math.min(width - 2, Math.max(2, target.cx + d * Math.cos(a))),
        cy: Math.min(height - 2, Math.max(2, target.cy + d * Math.sin(a))),
        scale: target.scale * r.uniform(0.3, 0.5),
        rotation: rotationFor(cat, r),
        depth: r.bernoulli(0.6) ? r.int(10) : 11 + r.int(19),
      });
      clutter = true;
    }
  }
  // An occluder partly in front of the target.
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
  }
  const scene: Scene = {
    width,
    height,
    background,
    objects,
    target: 0,
    hiddenBy: [],
    flags: { camouflaged, occluded: false, touching, sameColour, twoTone, clutter, thin: SHAPES[category].thin, hole: SHAPES[category].hole },
  };
  // Reject layouts where the target is mostly hidden or leaves the frame: the phrase must be answerable.
  const { owner, rasters } = ownership(scene);
  const full = rasters[0]!;
  let visArea = 0;
  const hidden = new Set<number>();
  for (let y = 0; y < full.h; y++) {
    const row = (y + full.y0) * width + full.x0;
    for (let x = 0; x < full.w; x++) {
      if (!full.data[y * full.w + x]) continue;
      const o = owner[row + x]!;
      if (o === 0) visArea++;
      else hidden.add(o);
    }
  }
  if (visArea < 120 || visArea < 0.5 * full.area) return undefined;
  if (visArea < 0.97 * full.area) {
    scene.flags.occluded = true;
    scene.hiddenBy = [...hidden].sort((a, b) => a - b);
  }
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
    const main = COLOURS[o.colour];
    const second = o.second ? COLOURS[o.second] : undefined;
    const part = SHAPES[o.category].part;
    const c = Math.cos(-o.rotation);
    const s = Math.sin(-o.rotation);
    const jitter = r.uniform(-14, 14);
    const win = objectWindow(o, width, height);
    for (let y = win.y0; y <= win.y1; y++) {
      for (let x = win.x0; x <= win.x1; x++) {
        const k = y * width + x;
        if (!m[k]) continue;
        const dx = (x + 0.5 - o.cx) / o.scale;
        const dy = (y + 0.5 - o.cy) / o.scale;
        const lx = c * dx - s * dy;
        const ly = s * dx + c * dy;
        const base = second && part(lx, ly) ? second : main;
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
