/**
 * Boykov–Kolmogorov max-flow / min-cut ("An Experimental Comparison of Min-Cut/Max-Flow
 * Algorithms for Energy Minimization in Vision", PAMI 2004) on typed arrays.
 *
 * Two search trees grow from the source and the sink; when they touch, the path is augmented,
 * saturated edges orphan subtrees, and orphans are re-adopted or freed. Trees are reused across
 * augmentations, which is what makes BK fast on image grids.
 *
 * Arcs are stored in pairs (a, a ^ 1) so an arc's reverse ("sister") is found without lookup.
 */
const NONE = -1;
const TERMINAL = -2;
const ORPHAN = -3;
const INF_D = 0x3fffffff;

export class MaxflowGraph {
  readonly nodes: number;
  private arcCount = 0;
  // arcs
  private readonly head: Int32Array;
  private readonly nextArc: Int32Array;
  private readonly rcap: Float64Array;
  // nodes
  private readonly first: Int32Array;
  private readonly parent: Int32Array;
  private readonly nextActive: Int32Array;
  private readonly ts: Int32Array;
  private readonly dist: Int32Array;
  private readonly isSink: Uint8Array;
  private readonly trcap: Float64Array;
  private flow = 0;
  private time = 0;
  private qFirst = NONE;
  private qLast = NONE;
  private readonly orphans: number[] = [];
  private orphanHead = 0;

  constructor(nodes: number, maxEdges: number) {
    this.nodes = nodes;
    this.head = new Int32Array(2 * maxEdges);
    this.nextArc = new Int32Array(2 * maxEdges);
    this.rcap = new Float64Array(2 * maxEdges);
    this.first = new Int32Array(nodes).fill(NONE);
    this.parent = new Int32Array(nodes).fill(NONE);
    this.nextActive = new Int32Array(nodes).fill(NONE);
    this.ts = new Int32Array(nodes);
    this.dist = new Int32Array(nodes);
    this.isSink = new Uint8Array(nodes);
    this.trcap = new Float64Array(nodes);
  }

  /**
   * Forget every capacity and the last cut: the graph is as new (same nodes and edge capacity),
   * without allocating its arrays again. Iterated cuts on one grid reuse one graph.
   */
  reset(): this {
    this.arcCount = 0;
    // Arc arrays are written before they are read (only the first arcCount arcs are reachable).
    this.first.fill(NONE);
    this.parent.fill(NONE);
    this.nextActive.fill(NONE);
    this.ts.fill(0);
    this.dist.fill(0);
    this.isSink.fill(0);
    this.trcap.fill(0);
    this.flow = 0;
    this.time = 0;
    this.qFirst = NONE;
    this.qLast = NONE;
    this.orphans.length = 0;
    this.orphanHead = 0;
    return this;
  }

  /** Add capacities from the source and to the sink of node i (accumulates). */
  addTweights(i: number, toSource: number, toSink: number): void {
    const d = this.trcap[i]!;
    if (d > 0) toSource += d;
    else toSink -= d;
    this.flow += Math.min(toSource, toSink);
    this.trcap[i] = toSource - toSink;
  }

  /** Add an edge i -> j with capacity cap and j -> i with revCap. */
  addEdge(i: number, j: number, cap: number, revCap: number): void {
    const a = this.arcCount;
    if (a + 2 > this.head.length) throw new RangeError(`MaxflowGraph: more than ${this.head.length / 2} edges`);
    this.arcCount += 2;
    this.head[a] = j;
    this.rcap[a] = cap;
    this.nextArc[a] = this.first[i]!;
    this.first[i] = a;
    this.head[a + 1] = i;
    this.rcap[a + 1] = revCap;
    this.nextArc[a + 1] = this.first[j]!;
    this.first[j] = a + 1;
  }

  private setActive(i: number): void {
    if (this.nextActive[i] !== NONE) return;
    if (this.qLast !== NONE) this.nextActive[this.qLast] = i;
    else this.qFirst = i;
    this.qLast = i;
    this.nextActive[i] = i; // last element points to itself
  }

  private popActive(): number {
    for (;;) {
      const i = this.qFirst;
      if (i === NONE) return NONE;
      const nx = this.nextActive[i]!;
      if (nx === i) {
        this.qFirst = NONE;
        this.qLast = NONE;
      } else this.qFirst = nx;
      this.nextActive[i] = NONE;
      if (this.parent[i] !== NONE) return i;
    }
  }

  /** Compute the maximum flow; afterwards `inSource(i)` gives the minimum cut. */
  maxflow(): number {
    const { head, nextArc, rcap, first, parent, ts, dist, isSink, trcap } = this;
    for (let i = 0; i < this.nodes; i++) {
      if (trcap[i]! > 0) {
        isSink[i] = 0;
        parent[i] = TERMINAL;
        this.setActive(i);
        ts[i] = 0;
        dist[i] = 1;
      } else if (trcap[i]! < 0) {
        isSink[i] = 1;
        parent[i] = TERMINAL;
        this.setActive(i);
        ts[i] = 0;
        dist[i] = 1;
      } else parent[i] = NONE;
    }
    let current = NONE;
    for (;;) {
      let i = current;
      if (i !== NONE) {
        this.nextActive[i] = NONE; // remove from the active list
        if (parent[i] === NONE) i = NONE;
      }
      if (i === NONE) {
        i = this.popActive();
        if (i === NONE) break;
      }
      let found = NONE;
      if (!isSink[i]) {
        // grow the source tree
        for (let a = first[i]!; a !== NONE; a = nextArc[a]!) {
          if (rcap[a] === 0) continue;
          const j = head[a]!;
          if (parent[j] === NONE) {
            isSink[j] = 0;
            parent[j] = a ^ 1;
            ts[j] = ts[i]!;
            dist[j] = dist[i]! + 1;
            this.setActive(j);
          } else if (isSink[j]) {
            found = a;
            break;
          } else if (ts[j]! <= ts[i]! && dist[j]! > dist[i]!) {
            parent[j] = a ^ 1;
            ts[j] = ts[i]!;
            dist[j] = dist[i]! + 1;
          }
        }
      } else {
        // grow the sink tree
        for (let a = first[i]!; a !== NONE; a = nextArc[a]!) {
          if (rcap[a ^ 1] === 0) continue;
          const j = head[a]!;
          if (parent[j] === NONE) {
            isSink[j] = 1;
            parent[j] = a ^ 1;
            ts[j] = ts[i]!;
            dist[j] = dist[i]! + 1;
            this.setActive(j);
          } else if (!isSink[j]) {
            found = a ^ 1;
            break;
          } else if (ts[j]! <= ts[i]! && dist[j]! > dist[i]!) {
            parent[j] = a ^ 1;
            ts[j] = ts[i]!;
            dist[j] = dist[i]! + 1;
          }
        }
      }
      this.time++;
      if (found !== NONE) {
        // keep i active: it may have more paths
        this.nextActive[i] = i;
        current = i;
        this.augment(found);
        this.adoptOrphans();
      } else current = NONE;
    }
    return this.flow;
  }

  private augment(middle: number): void {
    const { head, rcap, parent, trcap } = this;
    // bottleneck
    let b = rcap[middle]!;
    for (let i = head[middle ^ 1]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        b = Math.min(b, trcap[i]!);
        break;
      }
      b = Math.min(b, rcap[a ^ 1]!);
      i = head[a]!;
    }
    for (let i = head[middle]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        b = Math.min(b, -trcap[i]!);
        break;
      }
      b = Math.min(b, rcap[a]!);
      i = head[a]!;
    }
    // push
    rcap[middle ^ 1]! += b;
    rcap[middle]! -= b;
    for (let i = head[middle ^ 1]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        trcap[i]! -= b;
        if (trcap[i] === 0) this.makeOrphan(i);
        break;
      }
      rcap[a]! += b;
      rcap[a ^ 1]! -= b;
      if (rcap[a ^ 1] === 0) this.makeOrphan(i);
      i = head[a]!;
    }
    for (let i = head[middle]!; ; ) {
      const a = parent[i]!;
      if (a === TERMINAL) {
        trcap[i]! += b;
        if (trcap[i] === 0) this.makeOrphan(i);
        break;
      }
      rcap[a ^ 1]! += b;
      rcap[a]! -= b;
      if (rcap[a] === 0) this.makeOrphan(i);
      i = head[a]!;
    }
    this.flow += b;
  }

  private makeOrphan(i: number): void {
    this.parent[i] = ORPHAN;
    this.orphans.push(i);
  }

  private adoptOrphans(): void {
    while (this.orphanHead < this.orphans.length) {
      const i = this.orphans[this.orphanHead++]!;
      this.processOrphan(i);
    }
    this.orphans.length = 0;
    this.orphanHead = 0;
  }

  private processOrphan(i: number): void {
    const { head, nextArc, rcap, first, parent, ts, dist, isSink } = this;
    const sinkSide = isSink[i] === 1;
    let bestArc = NONE;
    let dMin = INF_D;
    for (let a0 = first[i]!; a0 !== NONE; a0 = nextArc[a0]!) {
      // a candidate parent j must have residual capacity towards i (source tree) or from i (sink tree)
      if ((sinkSide ? rcap[a0] : rcap[a0 ^ 1]) === 0) continue;
      let j = head[a0]!;
      if (isSink[j] !== isSink[i] || parent[j] === NONE) continue;
      // walk to the root to check j's origin, measuring the distance
      let d = 0;
      for (;;) {
        if (ts[j] === this.time) {
          d += dist[j]!;
          break;
        }
        const a = parent[j]!;
        d++;
        if (a === TERMINAL) {
          ts[j] = this.time;
          dist[j] = 1;
          break;
        }
        if (a === ORPHAN) {
          d = INF_D;
          break;
        }
        j = head[a]!;
      }
      if (d < INF_D) {
        if (d < dMin) {
          bestArc = a0;
          dMin = d;
        }
        // mark the path so later walks stop early
        for (j = head[a0]!; ts[j] !== this.time; j = head[parent[j]!]!) {
          ts[j] = this.time;
          dist[j] = d--;
        }
      }
    }
    parent[i] = bestArc;
    if (bestArc !== NONE) {
      ts[i] = this.time;
      dist[i] = dMin + 1;
      return;
    }
    // no parent found: i becomes free; neighbours that could reach it become active,
    // children become orphans
    parent[i] = NONE;
    for (let a0 = first[i]!; a0 !== NONE; a0 = nextArc[a0]!) {
      const j = head[a0]!;
      const a = parent[j]!;
      if (isSink[j] !== (sinkSide ? 1 : 0) || a === NONE) continue;
      if ((sinkSide ? rcap[a0] : rcap[a0 ^ 1])! > 0) this.setActive(j);
      if (a !== TERMINAL && a !== ORPHAN && head[a] === i) this.makeOrphan(j);
    }
  }

  /** After maxflow: whether node i is on the source side of the minimum cut (free nodes count as source, as in BK). */
  inSource(i: number): boolean {
    return this.parent[i] === NONE || !this.isSink[i];
  }
}
