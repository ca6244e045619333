/**
 * Object shapes of the synthetic benchmark, as membership tests in local coordinates
 * (unit "radius", y down). Several have thin parts (handles, limbs, shafts) or holes,
 * which is where box-only segmentation fails and point prompts matter.
 */
export type Inside = (x: number, y: number) => boolean;

const circle = (cx: number, cy: number, r: number): Inside => (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const rect = (cx: number, cy: number, hw: number, hh: number): Inside => (x, y) => Math.abs(x - cx) <= hw && Math.abs(y - cy) <= hh;
const annulus = (cx: number, cy: number, r0: number, r1: number): Inside => (x, y) => {
  const d = (x - cx) ** 2 + (y - cy) ** 2;
  return d <= r1 * r1 && d >= r0 * r0;
};
/** Points within r of the segment a-b. */
const capsule = (ax: number, ay: number, bx: number, by: number, r: number): Inside => {
  const vx = bx - ax;
  const vy = by - ay;
  const len2 = vx * vx + vy * vy;
  return (x, y) => {
    const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / len2));
    return (x - ax - t * vx) ** 2 + (y - ay - t * vy) ** 2 <= r * r;
  };
};
const polygon = (pts: readonly (readonly [number, number])[]): Inside => {
  // Flat coordinates and a bounding box: this test runs for every pixel near every sign and star.
  const xs = Float64Array.from(pts, (q) => q[0]);
  const ys = Float64Array.from(pts, (q) => q[1]);
  const [xmin, xmax, ymin, ymax] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const n = xs.length;
  return (x, y) => {
    if (x < xmin || x > xmax || y < ymin || y > ymax) return false;
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const yi = ys[i]!;
      const yj = ys[j]!;
      if (yi > y !== yj > y && x < ((xs[j]! - xs[i]!) * (y - yi)) / (yj - yi) + xs[i]!) inside = !inside;
    }
    return inside;
  };
};
const union = (...parts: Inside[]): Inside => (x, y) => {
  for (const p of parts) if (p(x, y)) return true;
  return false;
};
const where = (a: Inside, cond: (x: number, y: number) => boolean): Inside => (x, y) => cond(x, y) && a(x, y);

function starPoints(points: number, outer: number, inner: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < points * 2; i++) {
    const r = i % 2 === 0 ? outer : inner;
    const a = -Math.PI / 2 + (i * Math.PI) / points;
    out.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  return out;
}

export interface ShapeDef {
  /** The words a person would use for it; the first is canonical. */
  nouns: readonly string[];
  inside: Inside;
  /** Largest |x|, |y| of the shape in local units (for bounding the raster loop). */
  extent: number;
  /** Whether it may be drawn rotated (people and bottles stay upright). */
  rotates: boolean;
  /** Has parts a few pixels wide. */
  thin: boolean;
  /** Has a hole the background shows through. */
  hole: boolean;
  /**
   * The part a two-tone object paints in its second colour (a shirt, a lid, the lower half, the
   * handle side...), a third to a half of it: in a two-tone target this part takes the
   * background's colour, so the box's colour statistics miss it.
   */
  part: Inside;
  /** Implicit, function-based descriptions for the ReasonSeg-like split. */
  purposes: readonly string[];
}

export const SHAPES = {
  ball: {
    nouns: ["ball"],
    inside: circle(0, 0, 1),
    extent: 1,
    rotates: false,
    thin: false,
    hole: false,
    part: (_, y) => y > 0,
    purposes: ["the thing you could roll across the floor", "what you could throw to a friend in a game of catch"],
  },
  box: {
    nouns: ["box", "crate"],
    inside: rect(0, 0, 1, 0.7),
    extent: 1.25,
    rotates: true,
    thin: false,
    hole: false,
    part: (_, y) => y < 0,
    purposes: ["something you could pack your belongings into before moving", "the container you would ship a parcel in"],
  },
  sign: {
    nouns: ["sign", "triangle"],
    inside: polygon([
      [0, -1],
      [0.95, 0.72],
      [-0.95, 0.72],
    ]),
    extent: 1,
    rotates: true,
    thin: false,
    hole: false,
    part: (_, y) => y > 0.28,
    purposes: ["the shape used on road signs to warn drivers", "what tells drivers to watch out ahead"],
  },
  star: {
    nouns: ["star"],
    inside: polygon(starPoints(5, 1, 0.45)),
    extent: 1,
    rotates: true,
    thin: false,
    hole: false,
    part: circle(0, 0.05, 0.45),
    purposes: ["the shape you might make a wish upon at night", "what a teacher might stick on a good homework"],
  },
  ring: {
    nouns: ["ring", "donut"],
    inside: annulus(0, 0, 0.55, 1),
    extent: 1,
    rotates: false,
    thin: false,
    hole: true,
    part: (_, y) => y > 0,
    purposes: ["the thing you could toss over a peg in a ring-toss game", "the round object with a hole in the middle"],
  },
  cup: {
    nouns: ["cup", "mug"],
    inside: union(
      rect(-0.15, 0.05, 0.5, 0.75),
      where(annulus(0.38, 0.02, 0.22, 0.36), (x) => x > 0.35),
    ),
    extent: 1,
    rotates: false,
    thin: true,
    hole: true,
    part: (x) => x > 0.1,
    purposes: ["what you would drink hot tea from", "the thing you hold by its handle to sip coffee"],
  },
  key: {
    nouns: ["key"],
    inside: union(
      annulus(-0.62, 0, 0.14, 0.38),
      capsule(-0.26, 0, 1, 0, 0.08),
      rect(0.74, 0.14, 0.05, 0.14),
      rect(0.92, 0.12, 0.05, 0.12),
    ),
    extent: 1.1,
    rotates: true,
    thin: true,
    hole: true,
    part: (x) => x < -0.5,
    purposes: ["the object you would use to open a locked door", "what you need to start the lock turning"],
  },
  person: {
    nouns: ["person", "man", "guy"],
    inside: union(
      circle(0, -0.78, 0.2),
      capsule(0, -0.5, 0, 0.15, 0.2),
      capsule(-0.14, -0.46, -0.5, 0.05, 0.07),
      capsule(0.14, -0.46, 0.5, 0.05, 0.07),
      capsule(-0.1, 0.2, -0.24, 0.93, 0.08),
      capsule(0.1, 0.2, 0.24, 0.93, 0.08),
    ),
    extent: 1.05,
    rotates: false,
    thin: true,
    hole: false,
    part: (_, y) => y > -0.52 && y < 0.1,
    purposes: ["the one who could walk away from here", "whoever could wave back at you"],
  },
  bottle: {
    nouns: ["bottle"],
    inside: union(rect(0, 0.25, 0.36, 0.7), circle(0, -0.42, 0.3), rect(0, -0.66, 0.13, 0.2), rect(0, -0.88, 0.16, 0.07)),
    extent: 1,
    rotates: false,
    thin: false,
    hole: false,
    part: (_, y) => y < -0.1,
    purposes: ["the container you could pour water from", "what you might carry a drink in on a hike"],
  },
  umbrella: {
    nouns: ["umbrella"],
    inside: union(
      where(circle(0, -0.1, 0.95), (_, y) => y <= -0.1),
      capsule(0, -0.1, 0, 0.72, 0.05),
      where(annulus(0.15, 0.72, 0.1, 0.19), (_, y) => y >= 0.72),
    ),
    extent: 1,
    rotates: false,
    thin: true,
    hole: false,
    part: (_, y) => y < -0.55,
    purposes: ["what keeps you dry when it rains", "the thing you would open over your head in a storm"],
  },
} as const satisfies Record<string, ShapeDef>;

export type Category = keyof typeof SHAPES;
export const CATEGORIES = Object.keys(SHAPES) as Category[];
