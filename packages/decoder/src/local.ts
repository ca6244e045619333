/**
 * Local evidence around prompt points for the graph-cut decoder: geodesic distances over the
 * working grid (paths that cross a colour edge are long) and each point's patch colour. A point
 * then acts where it is and on what looks like it, not on the global colour models.
 */

/** A point on the ROI grid of the working crop. */
export interface GridPoint {
  u: number;
  v: number;
}

/** The working crop: float RGB, row-major, `cw` wide; the ROI is the window (wx0, wy0, rw, rh). */
export interface WorkGrid {
  px: Float32Array;
  cw: number;
  wx0: number;
  wy0: number;
  rw: number;
  rh: number;
}

const FORWARD: readonly [number, number, number][] = [
  [-1, 0, 1],
  [0, -1, 1],
  [-1, -1, Math.SQRT2],
  [1, -1, Math.SQRT2],
];
const BACKWARD: readonly [number, number, number][] = FORWARD.map(([du, dv, l]) => [-du, -dv, l]);

/**
 * Geodesic distance (in grid pixels) from the nearest source over the ROI: a step costs its
 * length × (1 + κ · colour difference / `scale`), so a path that crosses an edge between unlike
 * colours is long while one through a uniform region is as long as the straight line. Two rounds
 * of forward and backward raster passes (the usual chamfer approximation): exact enough for
 * priors, linear time.
 */
export function geodesicDistance(g: WorkGrid, sources: readonly GridPoint[], kappa: number, scale: number): Float32Array {
  const { px, cw, wx0, wy0, rw, rh } = g;
  const n = rw * rh;
  const d = new Float32Array(n).fill(Infinity);
  for (const s of sources) {
    const u = Math.min(rw - 1, Math.max(0, Math.floor(s.u)));
    const v = Math.min(rh - 1, Math.max(0, Math.floor(s.v)));
    d[v * rw + u] = 0;
  }
  const k = kappa / Math.max(1e-6, scale);
  const pass = (nbrs: readonly [number, number, number][], forward: boolean) => {
    for (let vi = 0; vi < rh; vi++) {
      const v = forward ? vi : rh - 1 - vi;
      for (let ui = 0; ui < rw; ui++) {
        const u = forward ? ui : rw - 1 - ui;
        const idx = v * rw + u;
        let best = d[idx]!;
        const i = 3 * ((v + wy0) * cw + (u + wx0));
        // Indexed, not destructured: this loop runs eight times per pixel per pass.
        for (let q = 0; q < nbrs.length; q++) {
          const nb = nbrs[q]!;
          const du = nb[0];
          const dv = nb[1];
          const len = nb[2];
          const U = u + du;
          const V = v + dv;
          if (U < 0 || U >= rw || V < 0 || V >= rh) continue;
          const dn = d[V * rw + U]!;
          if (dn === Infinity) continue;
          const j = 3 * ((V + wy0) * cw + (U + wx0));
          const diff = Math.sqrt((px[i]! - px[j]!) ** 2 + (px[i + 1]! - px[j + 1]!) ** 2 + (px[i + 2]! - px[j + 2]!) ** 2);
          const c = dn + len * (1 + k * diff);
          if (c < best) best = c;
        }
        d[idx] = best;
      }
    }
  };
  for (let round = 0; round < 2; round++) {
    pass(FORWARD, true);
    pass(BACKWARD, false);
  }
  return d;
}

/** Mean colour of the grid pixels within radius `r` of a point (at least the point's own pixel). */
export function patchColour(g: WorkGrid, p: GridPoint, r: number): [number, number, number] {
  const { px, cw, wx0, wy0, rw, rh } = g;
  let n = 0;
  const s = [0, 0, 0];
  const add = (u: number, v: number) => {
    const i = 3 * ((v + wy0) * cw + (u + wx0));
    s[0]! += px[i]!;
    s[1]! += px[i + 1]!;
    s[2]! += px[i + 2]!;
    n++;
  };
  for (let v = Math.max(0, Math.floor(p.v - r)); v <= Math.min(rh - 1, Math.ceil(p.v + r)); v++) {
    for (let u = Math.max(0, Math.floor(p.u - r)); u <= Math.min(rw - 1, Math.ceil(p.u + r)); u++) {
      if ((u + 0.5 - p.u) ** 2 + (v + 0.5 - p.v) ** 2 <= r * r) add(u, v);
    }
  }
  if (n === 0) add(Math.min(rw - 1, Math.max(0, Math.floor(p.u))), Math.min(rh - 1, Math.max(0, Math.floor(p.v))));
  return [s[0]! / n, s[1]! / n, s[2]! / n];
}

/** exp(−‖a − b‖² / 2τ²): 1 for the same colour, near 0 for colours several τ apart. */
export function colourAffinity(a: readonly number[], b: readonly number[], tau: number): number {
  const d = (a[0]! - b[0]!) ** 2 + (a[1]! - b[1]!) ** 2 + (a[2]! - b[2]!) ** 2;
  return Math.exp(-d / (2 * tau * tau));
}
