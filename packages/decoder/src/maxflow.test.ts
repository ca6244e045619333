import { describe, expect, it } from "vitest";
import { randomStream } from "@resagent/core";
import { MaxflowGraph } from "./maxflow.js";

/** Edmonds–Karp on a dense matrix: slow, obviously correct, for checking BK. */
function edmondsKarp(n: number, cap: number[][], s: number, t: number): number {
  const r = cap.map((row) => [...row]);
  let flow = 0;
  for (;;) {
    const prev = new Array<number>(n).fill(-1);
    prev[s] = s;
    const q = [s];
    while (q.length && prev[t] === -1) {
      const u = q.shift()!;
      for (let v = 0; v < n; v++) if (prev[v] === -1 && r[u]![v]! > 1e-12) {
        prev[v] = u;
        q.push(v);
      }
    }
    if (prev[t] === -1) return flow;
    let b = Infinity;
    for (let v = t; v !== s; v = prev[v]!) b = Math.min(b, r[prev[v]!]![v]!);
    for (let v = t; v !== s; v = prev[v]!) {
      r[prev[v]!]![v]! -= b;
      r[v]![prev[v]!]! += b;
    }
    flow += b;
  }
}

describe("Boykov–Kolmogorov max-flow", () => {
  it("matches Edmonds–Karp and yields a cut of equal capacity on 300 random graphs", () => {
    for (let g = 0; g < 300; g++) {
      const r = randomStream(0, "maxflow", String(g));
      const n = 2 + r.int(14);
      const S = n;
      const T = n + 1;
      const cap = Array.from({ length: n + 2 }, () => new Array<number>(n + 2).fill(0));
      const G = new MaxflowGraph(n, n * n);
      for (let i = 0; i < n; i++) {
        const a = r.bernoulli(0.5) ? r.int(10) : 0;
        const b = r.bernoulli(0.5) ? r.int(10) : 0;
        G.addTweights(i, a, b);
        cap[S]![i] = a;
        cap[i]![T] = b;
      }
      for (let e = 0; e < 2 * n; e++) {
        const i = r.int(n);
        const j = r.int(n);
        if (i === j) continue;
        const c1 = r.int(8);
        const c2 = r.int(8);
        G.addEdge(i, j, c1, c2);
        cap[i]![j]! += c1;
        cap[j]![i]! += c2;
      }
      const want = edmondsKarp(n + 2, cap, S, T);
      const got = G.maxflow();
      expect(got).toBeCloseTo(want, 9);
      // the cut's capacity equals the flow
      const side = (v: number) => (v === S ? true : v === T ? false : G.inSource(v));
      let cut = 0;
      for (let u = 0; u < n + 2; u++) for (let v = 0; v < n + 2; v++) if (side(u) && !side(v)) cut += cap[u]![v]!;
      expect(cut).toBeCloseTo(want, 9);
    }
  });

  it("separates a grid along the weak seam", () => {
    const w = 30;
    const h = 20;
    const G = new MaxflowGraph(w * h, 2 * w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const i = y * w + x;
        if (x === 0) G.addTweights(i, 1000, 0);
        if (x === w - 1) G.addTweights(i, 0, 1000);
        if (x + 1 < w) {
          const c = x === 11 ? 1 : 10; // weak column between x=11 and x=12
          G.addEdge(i, i + 1, c, c);
        }
        if (y + 1 < h) G.addEdge(i, i + w, 10, 10);
      }
    }
    expect(G.maxflow()).toBeCloseTo(h * 1, 9);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) expect(G.inSource(y * w + x)).toBe(x <= 11);
  });

  it("a graph reset and filled again cuts exactly as a new one (flow and every node's side)", () => {
    const n = 40;
    const fill = (G: MaxflowGraph, seed: number) => {
      const r = randomStream(0, "maxflow-reset", String(seed));
      for (let i = 0; i < n; i++) G.addTweights(i, r.bernoulli(0.5) ? r.uniform(0, 10) : 0, r.bernoulli(0.5) ? r.uniform(0, 10) : 0);
      for (let e = 0; e < 3 * n; e++) {
        const i = r.int(n);
        const j = r.int(n);
        if (i !== j) G.addEdge(i, j, r.uniform(0, 8), r.uniform(0, 8));
      }
      return G;
    };
    const reused = new MaxflowGraph(n, 3 * n);
    for (let seed = 0; seed < 20; seed++) {
      const fresh = fill(new MaxflowGraph(n, 3 * n), seed);
      const again = fill(reused.reset(), seed);
      expect(again.maxflow()).toBe(fresh.maxflow());
      for (let i = 0; i < n; i++) expect(again.inSource(i)).toBe(fresh.inSource(i));
    }
  });
});
