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
    const q =
      dr * (dr * m[o]! + dg * m[o + 3]! + db * m[o + 6]!) + dg * (dr * m[o + 1]! + dg * m[o + 4]! + db * m[o + 7]!) + db * (dr * m[o + 2]! + dg * m[o + 5]! + db * m[o + 8]!);
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
    for (let c = 0; c < this.k; c++) s += Math.exp(logs[c]! - best);
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
      const v = [r, g, b];
      for (let a = 0; a < 3; a++) for (let d = 0; d < 3; d++) ss[9 * c + 3 * a + d]! += wt * v[a]! * v[d]!;
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
      for (let a = 0; a < 3; a++) for (let d = 0; d < 3; d++) cov[3 * a + d] = ss[9 * c + 3 * a + d]! / n[c]! - mu[a]! * mu[d]!;
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
    const n = idx.length;
    const labels = new Uint8Array(n);
    if (n === 0) return labels;
    const stride = Math.max(1, Math.floor(n / maxFit));
    const fitIdx: number[] = [];
    for (let t = 0; t < n; t += stride) fitIdx.push(idx[t]!);
    const m = fitIdx.length;
    const lum = new Float64Array(m);
    for (let t = 0; t < m; t++) {
      const i = fitIdx[t]! * 3;
      lum[t] = px[i]! * 0.299 + px[i + 1]! * 0.587 + px[i + 2]! * 0.114;
    }
    const order = Array.from({ length: m }, (_, t) => t).sort((a, b) => lum[a]! - lum[b]!);
    const centres = new Float64Array(3 * k);
    for (let c = 0; c < k; c++) {
      const t = order[Math.min(m - 1, Math.floor(((c + 0.5) * m) / k))]!;
      for (let a = 0; a < 3; a++) centres[3 * c + a] = px[fitIdx[t]! * 3 + a]!;
    }
    const nearest = (i: number) => {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < k; c++) {
        const d = (px[i]! - centres[3 * c]!) ** 2 + (px[i + 1]! - centres[3 * c + 1]!) ** 2 + (px[i + 2]! - centres[3 * c + 2]!) ** 2;
        if (d < bd) {
          bd = d;
          best = c;
        }
      }
      return best;
    };
    for (let step = 0; step < steps; step++) {
      const sum = new Float64Array(3 * k);
      const cnt = new Float64Array(k);
      for (let t = 0; t < m; t++) {
        const i = fitIdx[t]! * 3;
        const c = nearest(i);
        cnt[c]! += 1;
        for (let a = 0; a < 3; a++) sum[3 * c + a]! += px[i + a]!;
      }
      for (let c = 0; c < k; c++) if (cnt[c]! > 0) for (let a = 0; a < 3; a++) centres[3 * c + a] = sum[3 * c + a]! / cnt[c]!;
    }
    for (let t = 0; t < n; t++) labels[t] = nearest(idx[t]! * 3);
    return labels;
  }
}
