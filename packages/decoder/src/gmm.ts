/**
 * A Gaussian mixture over RGB with full covariances, as GrabCut uses for its colour models.
 * Samples are Float32Array triples addressed by index lists, so no copies are made.
 */
export class ColourGmm {
  readonly k: number;
  readonly weights: Float64Array;
  readonly means: Float64Array; // k x 3
  private readonly inv: Float64Array; // k x 9
  private readonly logNorm: Float64Array; // log(w / sqrt((2π)^3 det))
  private readonly scratch: Float64Array;

  constructor(k: number) {
    this.k = k;
    this.weights = new Float64Array(k);
    this.means = new Float64Array(3 * k);
    this.inv = new Float64Array(9 * k);
    this.logNorm = new Float64Array(k).fill(-Infinity);
    this.scratch = new Float64Array(k);
  }

  /** Log-likelihood of colour (r, g, b) under component c (weight included). */
  componentLog(c: number, r: number, g: number, b: number): number {
    if (this.weights[c] === 0) return -Infinity;
    const dr = r - this.means[3 * c]!;
    const dg = g - this.means[3 * c + 1]!;
    const db = b - this.means[3 * c + 2]!;
    const m = this.inv;
    const o = 9 * c;
    // The inverse covariance is symmetric: six distinct entries.
    const q = dr * dr * m[o]! + dg * dg * m[o + 4]! + db * db * m[o + 8]! + 2 * (dr * dg * m[o + 1]! + dr * db * m[o + 2]! + dg * db * m[o + 5]!);
    return this.logNorm[c]! - 0.5 * q;
  }

  /** log p(colour) = log Σ_c w_c N(colour; μ_c, Σ_c). */
  logLikelihood(r: number, g: number, b: number): number {
    const logs = this.scratch;
    let best = -Infinity;
    for (let c = 0; c < this.k; c++) {
      const l = this.componentLog(c, r, g, b);
      logs[c] = l;
      if (l > best) best = l;
    }
    if (best === -Infinity) return -1e6;
    let s = 0;
    // Components more than 40 nats below the best add less than e^-40 relative: skip the exp.
    for (let c = 0; c < this.k; c++) {
      const d = logs[c]! - best;
      if (d > -40) s += Math.exp(d);
    }
    return best + Math.log(s);
  }

  /** The most likely component of a colour. */
  assign(r: number, g: number, b: number): number {
    let best = 0;
    let bestLog = -Infinity;
    for (let c = 0; c < this.k; c++) {
      const l = this.componentLog(c, r, g, b);
      if (l > bestLog) {
        bestLog = l;
        best = c;
      }
    }
    return best;
  }

  /** Estimate weights, means and covariances from samples with given component labels. */
  fit(px: Float32Array, idx: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): void {
    const k = this.k;
    const n = new Float64Array(k);
    const s = new Float64Array(3 * k);
    const ss = new Float64Array(9 * k);
    for (let t = 0; t < idx.length; t++) {
      const i = idx[t]! * 3;
      const c = labels[t]!;
      const wt = weights ? weights[t]! : 1;
      const r = px[i]!;
      const g = px[i + 1]!;
      const b = px[i + 2]!;
      n[c]! += wt;
      s[3 * c]! += wt * r;
      s[3 * c + 1]! += wt * g;
      s[3 * c + 2]! += wt * b;
      // Upper triangle only (the covariance is symmetric); no per-sample allocation.
      const o = 9 * c;
      ss[o]! += wt * r * r;
      ss[o + 1]! += wt * r * g;
      ss[o + 2]! += wt * r * b;
      ss[o + 4]! += wt * g * g;
      ss[o + 5]! += wt * g * b;
      ss[o + 8]! += wt * b * b;
    }
    let total = 0;
    for (let c = 0; c < k; c++) total += n[c]!;
    for (let c = 0; c < k; c++) {
      if (n[c] === 0 || total === 0) {
        this.weights[c] = 0;
        this.logNorm[c] = -Infinity;
        continue;
      }
      this.weights[c] = n[c]! / total;
      const mu = [s[3 * c]! / n[c]!, s[3 * c + 1]! / n[c]!, s[3 * c + 2]! / n[c]!];
      for (let a = 0; a < 3; a++) this.means[3 * c + a] = mu[a]!;
      const cov = new Float64Array(9);
      for (let a = 0; a < 3; a++) for (let d = a; d < 3; d++) cov[3 * a + d] = cov[3 * d + a] = ss[9 * c + 3 * a + d]! / n[c]! - mu[a]! * mu[d]!;
      // Regularise: flat patches (synthetic colours, JPEG blocks) have near-singular covariances.
      for (let a = 0; a < 3; a++) cov[4 * a]! += 4;
      const det =
        cov[0]! * (cov[4]! * cov[8]! - cov[5]! * cov[7]!) - cov[1]! * (cov[3]! * cov[8]! - cov[5]! * cov[6]!) + cov[2]! * (cov[3]! * cov[7]! - cov[4]! * cov[6]!);
      const o = 9 * c;
      this.inv[o] = (cov[4]! * cov[8]! - cov[5]! * cov[7]!) / det;
      this.inv[o + 1] = (cov[2]! * cov[7]! - cov[1]! * cov[8]!) / det;
      this.inv[o + 2] = (cov[1]! * cov[5]! - cov[2]! * cov[4]!) / det;
      this.inv[o + 3] = (cov[5]! * cov[6]! - cov[3]! * cov[8]!) / det;
      this.inv[o + 4] = (cov[0]! * cov[8]! - cov[2]! * cov[6]!) / det;
      this.inv[o + 5] = (cov[2]! * cov[3]! - cov[0]! * cov[5]!) / det;
      this.inv[o + 6] = (cov[3]! * cov[7]! - cov[4]! * cov[6]!) / det;
      this.inv[o + 7] = (cov[1]! * cov[6]! - cov[0]! * cov[7]!) / det;
      this.inv[o + 8] = (cov[0]! * cov[4]! - cov[1]! * cov[3]!) / det;
      this.logNorm[c] = Math.log(this.weights[c]!) - 0.5 * (3 * Math.log(2 * Math.PI) + Math.log(det));
    }
  }

  /**
   * Initial component labels by k-means from centres spread over the samples' luminance
   * quantiles: deterministic, no random draws. Centres are refined on at most `maxFit` strided
   * samples (enough for 3-D colour clusters), then every sample gets its nearest centre.
   */
  static kmeansLabels(px: Float32Array, idx: ArrayLike<number>, k: number, steps = 6, maxFit = 4000): Uint8Array {
    if (maxFit >= 8192) throw new RangeError("kmeansLabels: maxFit must be below 8192");
    const n = idx.length;
    const labels = new Uint8Array(n);
    if (n === 0) return labels;
    const stride = Math.max(1, Math.floor(n / maxFit));
    const m = Math.ceil(n / stride);
    const fitIdx = new Int32Array(m);
    for (let t = 0, j = 0; t < n; t += stride) fitIdx[j++] = idx[t]!;
    // Luminance order, ties by sample order: sort keys lum·2^13 + t in a typed array (a native
    // numeric sort, no comparator calls; m ≤ maxFit < 2^13).
    const keys = new Float64Array(m);
    for (let t = 0; t < m; t++) {
      const i = fitIdx[t]! * 3;
      keys[t] = Math.round((px[i]! * 0.299 + px[i + 1]! * 0.587 + px[i + 2]! * 0.114) * 1024) * 8192 + t;
    }
    keys.sort();
    const order = new Int32Array(m);
    for (let t = 0; t < m; t++) order[t] = keys[t]! % 8192;
    const centres = new Float64Array(3 * k);
    for (let c = 0; c < k; c++) {
      const t = order[Math.min(m - 1, Math.floor(((c + 0.5) * m) / k))]!;
      for (let a = 0; a < 3; a++) centres[3 * c + a] = px[fitIdx[t]! * 3 + a]!;
    }
    const nearest = (i: number) => {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const dr = px[i]! - centres[3 * c]!;
        const dg = px[i + 1]! - centres[3 * c + 1]!;
        const db = px[i + 2]! - centres[3 * c + 2]!;
        const d = dr * dr + dg * dg + db * db;
        if (d < bd) {
          bd = d;
          best = c;
        }
      }
      return best;
    };
    // The fit samples' colours, contiguous: the refinement reads them `steps` times.
    const col = new Float64Array(3 * m);
    for (let t = 0; t < m; t++) for (let a = 0; a < 3; a++) col[3 * t + a] = px[fitIdx[t]! * 3 + a]!;
    const assigned = new Uint8Array(m).fill(255);
    const sum = new Float64Array(3 * k);
    const cnt = new Float64Array(k);
    for (let step = 0; step < steps; step++) {
      sum.fill(0);
      cnt.fill(0);
      let changed = false;
      for (let t = 0; t < m; t++) {
        const r = col[3 * t]!;
        const g = col[3 * t + 1]!;
        const b = col[3 * t + 2]!;
        let c = 0;
        let bd = Infinity;
        for (let q = 0; q < k; q++) {
          const dr = r - centres[3 * q]!;
          const dg = g - centres[3 * q + 1]!;
          const db = b - centres[3 * q + 2]!;
          const d = dr * dr + dg * dg + db * db;
          if (d < bd) {
            bd = d;
            c = q;
          }
        }
        if (assigned[t] !== c) {
          assigned[t] = c;
          changed = true;
        }
        cnt[c]! += 1;
        sum[3 * c]! += r;
        sum[3 * c + 1]! += g;
        sum[3 * c + 2]! += b;
      }
      // Same assignment as the step before: the centres are already its means, and every
      // further step would repeat this one.
      if (!changed) break;
      for (let c = 0; c < k; c++) if (cnt[c]! > 0) for (let a = 0; a < 3; a++) centres[3 * c + a] = sum[3 * c + a]! / cnt[c]!;
    }
    for (let t = 0; t < n; t++) labels[t] = nearest(idx[t]! * 3);
    return labels;
  }
}
