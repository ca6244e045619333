import { cp, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeImage, randomStream, readImage, sha256 } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { testCacheDir } from "@resagent/data/testing";
import { generateVbr, VBR_DEFAULTS } from "@resagent/datagen";
import { createBackend, type ChatBackend } from "@resagent/mllm";
import { SpiralSampler, parseSpiralParams } from "@resagent/sampler";
import { Verifier, markerCrop, parseVerifierParams } from "@resagent/verifier";
import {
  CHANNELS,
  FEATURE_DEFAULTS,
  LearnedVerifierBackend,
  allocEncoded,
  encodeExamples,
  encodeQuery,
  encodedSizes,
  loadModel,
  predict,
  readModelMeta,
  binaryMetrics,
  clusterBootstrapAccuracy,
  conv2dFilterGradient,
  conv2dForward,
  conv2dInputGradient,
  encodeView,
  loadTf,
  transformEncoded,
  pictureOrigin,
  phraseWords,
  planTfBackend,
  readVbrFolder,
  reliability,
  setAutoTrain,
  splitByImage,
  trainVerifier,
  wilsonInterval,
  type TfPackage,
  type TrainOptions,
} from "./index.js";

process.env.RESAGENT_CACHE_DIR ??= await testCacheDir("resagent-learned-cache-");
const tmp = (p: string) => mkdtemp(join(tmpdir(), `resagent-${p}-`));

describe("metrics arithmetic", () => {
  it("counts the confusion and derives accuracy, precision, recall, F1 and log loss", () => {
    const m = binaryMetrics([0.9, 0.8, 0.3, 0.6, 0.1, 0.4], [true, false, true, true, false, false]);
    expect(m.confusion).toEqual({ tp: 2, fp: 1, tn: 2, fn: 1 });
    expect(m.accuracy).toBeCloseTo(4 / 6, 12);
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12);
    const ll = -(Math.log(0.9) + Math.log(0.2) + Math.log(0.3) + Math.log(0.6) + Math.log(0.9) + Math.log(0.6)) / 6;
    expect(m.logLoss).toBeCloseTo(ll, 12);
    expect(binaryMetrics([0.1], [false])).toMatchObject({ precision: 0, recall: 0, f1: 0, accuracy: 1 });
  });

  it("gives Wilson intervals as the closed form does", () => {
    // 8 of 10 at z = 1.96: centre (0.8 + 0.19208) / 1.38416, half 1.96·sqrt(0.016 + 0.009604) / 1.38416
    const [lo, hi] = wilsonInterval(8, 10);
    expect(lo).toBeCloseTo(0.4901568, 6);
    expect(hi).toBeCloseTo(0.9433190, 6);
    expect(wilsonInterval(0, 0)).toEqual([0, 1]);
    const [a, b] = wilsonInterval(750, 1000);
    expect(a).toBeLessThan(0.75);
    expect(b).toBeGreaterThan(0.75);
    expect(b - a).toBeLessThan(0.06);
  });

  it("computes ECE over P(yes) bins, zero for a calibrated predictor", () => {
    // Bin [0.2, 0.3): mean 0.25, 1 of 4 yes -> gap 0; bin [0.9, 1): mean 0.95, 3 of 4 yes -> gap 0.2
    const p = [0.2, 0.25, 0.25, 0.3 - 1e-9, 0.9, 0.95, 0.95, 1 - 1e-9];
    const y = [true, false, false, false, true, true, true, false];
    const r = reliability(p, y);
    expect(r.bins).toHaveLength(10);
    expect(r.bins[2]).toMatchObject({ count: 4, fracYes: 0.25 });
    expect(r.bins[9]).toMatchObject({ count: 4, fracYes: 0.75 });
    expect(r.ece).toBeCloseTo(0.5 * 0 + 0.5 * 0.2, 6);
    expect(reliability([1, 1, 0, 0], [true, true, false, false]).ece).toBe(0);
  });

  it("bootstraps accuracy over images: deterministic, and wider than Wilson when an image's answers agree", () => {
    const correct: boolean[] = [];
    const groups: string[] = [];
    for (let g = 0; g < 40; g++) for (let j = 0; j < 10; j++) {
      correct.push(g % 4 !== 0);
      groups.push(`img${g}`);
    }
    const a = clusterBootstrapAccuracy(correct, groups, { seed: 1 });
    expect(clusterBootstrapAccuracy(correct, groups, { seed: 1 })).toEqual(a);
    expect(a[0]).toBeLessThan(0.75);
    expect(a[1]).toBeGreaterThan(0.75);
    const w = wilsonInterval(300, 400);
    expect(a[1] - a[0]).toBeGreaterThan(w[1] - w[0]);
  });
});

describe("backend selection", () => {
  const probe = (installed: TfPackage[], gpu: boolean, forced?: string) => ({ installed: (p: TfPackage) => installed.includes(p), gpu: () => gpu, forced });

  it("prefers tfjs-node-gpu with a GPU, then tfjs-node, then pure tfjs, and says why", () => {
    expect(planTfBackend(probe(["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs"], true)).order).toEqual(["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", "@tensorflow/tfjs"]);
    const noGpu = planTfBackend(probe(["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs"], false));
    expect(noGpu.order).toEqual(["@tensorflow/tfjs"]);
    expect(noGpu.reasons.join("; ")).toMatch(/tfjs-node-gpu installed but no GPU visible; @tensorflow\/tfjs-node not installed/);
    expect(planTfBackend(probe(["@tensorflow/tfjs-node", "@tensorflow/tfjs"], true)).order).toEqual(["@tensorflow/tfjs-node", "@tensorflow/tfjs"]);
    expect(planTfBackend(probe(["@tensorflow/tfjs"], true)).order).toEqual(["@tensorflow/tfjs"]);
  });

  it("honours RESAGENT_TFJS and refuses a forced backend that is not installed", () => {
    expect(planTfBackend(probe(["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs"], true, "cpu"))).toMatchObject({ order: ["@tensorflow/tfjs"], forced: true });
    expect(() => planTfBackend(probe(["@tensorflow/tfjs"], true, "node-gpu"))).toThrow(/RESAGENT_TFJS=node-gpu but @tensorflow\/tfjs-node-gpu is not installed/);
    expect(() => planTfBackend(probe(["@tensorflow/tfjs"], true, "gpu"))).toThrow(/unknown TensorFlow.js backend "gpu"; expected one of node-gpu, node, cpu/);
  });

  it("loads pure tfjs on its CPU backend here (the native packages are optional) and records it", async () => {
    const lines: string[] = [];
    const { info } = await loadTf({ installed: (p) => p === "@tensorflow/tfjs", gpu: () => false, forced: undefined }, (l) => lines.push(l));
    expect(info).toMatchObject({ package: "@tensorflow/tfjs", backend: "cpu", gpu: false, deterministic: true });
    expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
  });
});

describe("conv filter gradient", () => {
  it("equals the direct sum, with padding and strides", async () => {
    const { tf } = await loadTf();
    const rng = randomStream(0, "test");
    for (const [stride, pad] of [[2, "same"], [1, "valid"], [2, "valid"]] as const) {
      const x = Float32Array.from({ length: 2 * 7 * 6 * 3 }, () => rng.normal());
      const w = Float32Array.from({ length: 3 * 3 * 3 * 4 }, () => rng.normal());
      // tf.grad goes through the registered kernel; compare with the textbook sum
      const xs = tf.tensor4d(x, [2, 7, 6, 3]);
      const y = tf.conv2d(xs, tf.tensor4d(w, [3, 3, 3, 4]), stride, pad);
      const dy = Float32Array.from({ length: y.size }, () => rng.normal());
      const got = tf.grad((k) => tf.conv2d(xs, k as tfjs.Tensor4D, stride, pad).mul(tf.tensor(dy, y.shape)).sum())(tf.tensor4d(w, [3, 3, 3, 4])).dataSync();
      const [, OH, OW] = y.shape as [number, number, number, number];
      const padTop = pad === "same" ? Math.floor(Math.max(0, (OH - 1) * stride + 3 - 7) / 2) : 0;
      const padLeft = pad === "same" ? Math.floor(Math.max(0, (OW - 1) * stride + 3 - 6) / 2) : 0;
      const want = new Float64Array(3 * 3 * 3 * 4);
      for (let b = 0; b < 2; b++)
        for (let i = 0; i < OH; i++)
          for (let j = 0; j < OW; j++)
            for (let kr = 0; kr < 3; kr++)
              for (let kc = 0; kc < 3; kc++) {
                const r = i * stride + kr - padTop;
                const c = j * stride + kc - padLeft;
                if (r < 0 || r >= 7 || c < 0 || c >= 6) continue;
                for (let ci = 0; ci < 3; ci++) for (let f = 0; f < 4; f++) want[((kr * 3 + kc) * 3 + ci) * 4 + f]! += x[((b * 7 + r) * 6 + c) * 3 + ci]! * dy[((b * OH + i) * OW + j) * 4 + f]!;
              }
      for (let k = 0; k < want.length; k++) expect(got[k]).toBeCloseTo(want[k]!, 4);
      const direct = conv2dFilterGradient(x, [2, 7, 6, 3], dy, [2, OH, OW, 4], [3, 3], [stride, stride], padTop, padLeft);
      expect(Array.from(direct)).toEqual(Array.from(got));
    }
  });
});

describe("fast CPU kernels", () => {
  // The textbook sums, in float64: y = conv(x, w) (NHWC, filter [3, 3, C, F]), and its input gradient.
  const geometryOf = (H: number, W: number, stride: number, pad: "same" | "valid") => {
    const OH = pad === "same" ? Math.ceil(H / stride) : Math.ceil((H - 2) / stride);
    const OW = pad === "same" ? Math.ceil(W / stride) : Math.ceil((W - 2) / stride);
    const padTop = pad === "same" ? Math.floor(Math.max(0, (OH - 1) * stride + 3 - H) / 2) : 0;
    const padLeft = pad === "same" ? Math.floor(Math.max(0, (OW - 1) * stride + 3 - W) / 2) : 0;
    return { OH, OW, padTop, padLeft };
  };

  it("convolve (with bias and ReLU, as the fused layer does) and back-propagate to the input as the direct sums do", async () => {
    const { tf } = await loadTf();
    const rng = randomStream(0, "kernels");
    const [B, H, W, C, F] = [2, 7, 6, 3, 5];
    for (const [stride, pad] of [[2, "same"], [1, "same"], [1, "valid"], [2, "valid"]] as const) {
      // a few exact zeros, as after a ReLU (the kernels skip them)
      const x = Float32Array.from({ length: B * H * W * C }, () => (rng.uniform(0, 1) < 0.3 ? 0 : rng.normal()));
      const w = Float32Array.from({ length: 9 * C * F }, () => rng.normal());
      const bias = Float32Array.from({ length: F }, () => rng.normal());
      const { OH, OW, padTop, padLeft } = geometryOf(H, W, stride, pad);
      const at = (r: number, c: number) => r >= 0 && r < H && c >= 0 && c < W;
      const want = new Float64Array(B * OH * OW * F);
      for (let b = 0; b < B; b++)
        for (let i = 0; i < OH; i++)
          for (let j = 0; j < OW; j++)
            for (let f = 0; f < F; f++) {
              let v = 0;
              for (let kr = 0; kr < 3; kr++)
                for (let kc = 0; kc < 3; kc++) {
                  const r = i * stride + kr - padTop;
                  const c = j * stride + kc - padLeft;
                  if (at(r, c)) for (let ci = 0; ci < C; ci++) v += x[((b * H + r) * W + c) * C + ci]! * w[((kr * 3 + kc) * C + ci) * F + f]!;
                }
              want[((b * OH + i) * OW + j) * F + f] = v;
            }
      const xs = tf.tensor4d(x, [B, H, W, C]);
      const ws = tf.tensor4d(w, [3, 3, C, F]);
      const plain = tf.conv2d(xs, ws, stride, pad);
      expect(plain.shape).toEqual([B, OH, OW, F]);
      const p = plain.dataSync();
      for (let k = 0; k < want.length; k++) expect(p[k]).toBeCloseTo(want[k]!, 4);
      const fused = tf.fused.conv2d({ x: xs, filter: ws, strides: stride, pad, bias: tf.tensor1d(bias), activation: "relu" }).dataSync();
      for (let k = 0; k < want.length; k++) expect(fused[k]).toBeCloseTo(Math.max(0, want[k]! + bias[k % F]!), 4);
      // input gradient: dx[b, r, c, ci] = Σ dy[b, i, j, f] · w[kr, kc, ci, f] over the outputs (i, j) that read (r, c)
      const dy = Float32Array.from({ length: B * OH * OW * F }, () => (rng.uniform(0, 1) < 0.3 ? 0 : rng.normal()));
      const dx = new Float64Array(B * H * W * C);
      for (let b = 0; b < B; b++)
        for (let i = 0; i < OH; i++)
          for (let j = 0; j < OW; j++)
            for (let kr = 0; kr < 3; kr++)
              for (let kc = 0; kc < 3; kc++) {
                const r = i * stride + kr - padTop;
                const c = j * stride + kc - padLeft;
                if (!at(r, c)) continue;
                for (let ci = 0; ci < C; ci++) for (let f = 0; f < F; f++) dx[((b * H + r) * W + c) * C + ci]! += dy[((b * OH + i) * OW + j) * F + f]! * w[((kr * 3 + kc) * C + ci) * F + f]!;
              }
      const got = tf.grad((v) => tf.conv2d(v as tfjs.Tensor4D, ws, stride, pad).mul(tf.tensor(dy, [B, OH, OW, F])).sum())(xs).dataSync();
      for (let k = 0; k < dx.length; k++) expect(got[k]).toBeCloseTo(dx[k]!, 4);
      const direct = conv2dInputGradient(dy, w, { x: [B, H, W, C], y: [B, OH, OW, F], filter: [3, 3], stride: [stride, stride], padTop, padLeft });
      expect(Array.from(direct)).toEqual(Array.from(got));
      const forward = conv2dForward(x, w, { x: [B, H, W, C], y: [B, OH, OW, F], filter: [3, 3], stride: [stride, stride], padTop, padLeft }, undefined, false);
      expect(Array.from(forward)).toEqual(Array.from(p));
    }
  });

  it("sum over leading axes and split a matrix's columns exactly as tfjs' own kernels", async () => {
    const { tf } = await loadTf();
    const rng = randomStream(1, "kernels");
    const x = Float32Array.from({ length: 3 * 4 * 5 * 2 }, () => rng.normal());
    const t = tf.tensor4d(x, [3, 4, 5, 2]);
    for (const [axes, keep] of [[[0, 1, 2], false], [[0], true], [[1, 0], false], [[0, 2], false], [[3], false]] as const) {
      // the reference: the same sum through a transpose that makes the reduced axes innermost, in float64 as tfjs does
      const rest = [0, 1, 2, 3].filter((a) => !(axes as readonly number[]).includes(a));
      const perm = [...rest, ...axes];
      const moved = tf.transpose(t, perm);
      const inner = (axes as readonly number[]).reduce((a: number, ax) => a * t.shape[ax]!, 1);
      const m = moved.dataSync();
      const want = Array.from({ length: m.length / inner }, (_, i) => {
        let v = 0;
        for (let j = 0; j < inner; j++) v += m[i * inner + j]!;
        return Math.fround(v);
      });
      const s = tf.sum(t, axes as unknown as number[], keep);
      expect(Array.from(s.dataSync())).toEqual(want);
      expect(s.shape).toEqual(keep ? t.shape.map((n, a) => ((axes as readonly number[]).includes(a) ? 1 : n)) : rest.map((a) => t.shape[a]));
    }
    const mtx = tf.tensor2d(Float32Array.from({ length: 4 * 7 }, (_, i) => i), [4, 7]);
    const parts = tf.split(mtx, [2, 4, 1], 1);
    expect(parts.map((p) => p.shape)).toEqual([[4, 2], [4, 4], [4, 1]]);
    expect(Array.from(parts[1]!.dataSync())).toEqual([2, 3, 4, 5, 9, 10, 11, 12, 16, 17, 18, 19, 23, 24, 25, 26]);
    expect(Array.from(parts[2]!.dataSync())).toEqual([6, 13, 20, 27]);
  });
});

describe("features", () => {
  it("recovers where a marker crop lies in the image from its size alone", () => {
    const rng = randomStream(0, "crop");
    for (let t = 0; t < 300; t++) {
      const W = 200 + rng.int(500);
      const H = 200 + rng.int(400);
      const x1 = rng.int(W - 20);
      const y1 = rng.int(H - 20);
      const box = { x1, y1, x2: x1 + 10 + rng.int(W - x1 - 10), y2: y1 + 10 + rng.int(H - y1 - 10) };
      const point = { x: rng.uniform(box.x1, box.x2), y: rng.uniform(box.y1, box.y2) };
      const c = markerCrop([{ point, size: 8 + rng.int(30), colour: "red", shape: "star" }], box, W, H);
      expect(pictureOrigin(c.x2 - c.x1, c.y2 - c.y1, W, H, box, point)).toEqual({ x: c.x1, y: c.y1 });
    }
    expect(pictureOrigin(640, 480, 640, 480, { x1: 1, y1: 1, x2: 50, y2: 50 }, { x: 9, y: 9 })).toEqual({ x: 0, y: 0 });
    expect(() => pictureOrigin(33, 31, 640, 480, { x1: 100, y1: 100, x2: 300, y2: 300 }, { x: 200, y: 200 })).toThrow(/neither the 640x480 image nor a marker crop/);
  });

  it("puts the marker channel's peak under the marker, reads the box region, and mirrors consistently", () => {
    const W = 100;
    const H = 80;
    const data = new Uint8Array(W * H * 3);
    // left half of the box red, right half blue
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set(x < 50 ? [255, 0, 0] : [0, 0, 255], (y * W + x) * 3);
    const spec = { size: 16, margin: 0, markerSigma: 1, patchSize: 8, patchSpan: 16, phraseBins: 0 };
    const enc = () => allocEncoded(spec, 1);
    const buf = enc();
    const grid = buf.grid;
    const scalars = buf.scalars;
    const view = { picture: { width: W, height: H, data }, origin: { x: 0, y: 0 }, width: W, height: H, box: { x1: 20, y1: 20, x2: 80, y2: 60 }, point: { x: 20 + 4.5 * 3.75, y: 20 + 12.5 * 2.5 } };
    encodeView(view, spec, buf);
    let best = 0;
    for (let k = 1; k < 16 * 16; k++) if (grid[k * CHANNELS + 3]! > grid[best * CHANNELS + 3]!) best = k;
    // the point is at the centre of cell (row 12, column 4) of the 60x40 box's 16x16 grid
    expect([Math.floor(best / 16), best % 16]).toEqual([12, 4]);
    expect(grid[(12 * 16 + 2) * CHANNELS]).toBeCloseTo(1, 6); // red on the left
    expect(grid[(12 * 16 + 13) * CHANNELS + 2]).toBeCloseTo(1, 6); // blue on the right
    expect(Array.from(scalars)).toEqual([0.28125, 0.78125, Math.fround(Math.log(1.5)), Math.fround(Math.sqrt(2400 / 8000))]);
    // the same picture as a crop at (10, 5) encodes identically, patch included
    const crop = { width: 80, height: 70, data: new Uint8Array(80 * 70 * 3) };
    for (let y = 0; y < 70; y++) crop.data.set(data.subarray(((y + 5) * W + 10) * 3, ((y + 5) * W + 90) * 3), y * 80 * 3);
    const buf2 = enc();
    encodeView({ ...view, picture: crop, origin: { x: 10, y: 5 } }, spec, buf2);
    expect(Array.from(buf2.grid)).toEqual(Array.from(grid));
    expect(Array.from(buf2.patch)).toEqual(Array.from(buf.patch));
    expect(Array.from(buf2.scalars)).toEqual(Array.from(scalars));
    const grid2 = buf2.grid;
    // symmetries move the marker and the colours with the scalars, and compose as they should
    const at = (g: Float32Array) => {
      let k = 0;
      for (let q = 1; q < 256; q++) if (g[q * CHANNELS + 3]! > g[k * CHANNELS + 3]!) k = q;
      return [Math.floor(k / 16), k % 16];
    };
    const cases: [number, number[], number[]][] = [
      [1, [12, 11], [0.71875, 0.78125]], // mirror
      [2, [3, 4], [0.28125, 0.21875]], // flip
      [4, [4, 12], [0.78125, 0.28125]], // transpose
      [7, [11, 3], [0.21875, 0.71875]], // all three
    ];
    for (const [t, cell, uv] of cases) {
      const b = { grid: grid2.slice(), patch: buf2.patch.slice(), scalars: Float32Array.from(scalars), phrase: buf2.phrase.slice() };
      transformEncoded(b, spec, t);
      const g = b.grid;
      const sc = b.scalars;
      expect(at(g)).toEqual(cell);
      expect([sc[0], sc[1]]).toEqual(uv);
      expect(sc[2]).toBeCloseTo(t & 4 ? -Math.log(1.5) : Math.log(1.5), 6);
      // the red half follows the marker's side
      const [r, c] = cell as [number, number];
      expect(g[(r * 16 + c) * CHANNELS]).toBeCloseTo(1, 6);
    }
  });

  it("reads the marker patch at a few pixels a cell around the marker, with the box share, and moves it with the symmetries", () => {
    const W = 100;
    const H = 80;
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data.set(x < 50 ? [255, 0, 0] : [0, 0, 255], (y * W + x) * 3);
    const spec = { size: 16, margin: 0, markerSigma: 1, patchSize: 8, patchSpan: 16, phraseBins: 0 };
    const box = { x1: 20, y1: 20, x2: 80, y2: 60 };
    // Patch over x 40–56, y 50–66 in 2-px cells: columns 0–4 red (x < 50), 5–7 blue; rows 0–4 in the box (y < 60), 5–7 below it.
    const buf = allocEncoded(spec, 1);
    encodeView({ picture: { width: W, height: H, data }, origin: { x: 0, y: 0 }, width: W, height: H, box, point: { x: 48, y: 58 } }, spec, buf);
    const cell = (b: typeof buf, i: number, j: number) => Array.from(b.patch.subarray((i * 8 + j) * CHANNELS, (i * 8 + j + 1) * CHANNELS));
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) expect(cell(buf, i, j)).toEqual(j < 5 ? [1, -1, -1, i < 5 ? 1 : 0] : [-1, -1, 1, i < 5 ? 1 : 0]);
    }
    // mirror: red on columns 3–7; flip: the box's rows are 3–7; transpose: red rows 0–4, box columns 0–4
    const moved = (t: number) => {
      const b = { grid: buf.grid.slice(), patch: buf.patch.slice(), scalars: buf.scalars.slice(), phrase: buf.phrase.slice() };
      transformEncoded(b, spec, t);
      return b;
    };
    expect(cell(moved(1), 2, 3)).toEqual([1, -1, -1, 1]);
    expect(cell(moved(1), 2, 2)).toEqual([-1, -1, 1, 1]);
    expect(cell(moved(2), 3, 0)).toEqual([1, -1, -1, 1]);
    expect(cell(moved(2), 2, 0)).toEqual([1, -1, -1, 0]);
    expect(cell(moved(4), 4, 6)).toEqual([1, -1, -1, 0]);
    expect(cell(moved(4), 5, 4)).toEqual([-1, -1, 1, 1]);
    // by the image's left edge the patch is mid-grey (0) outside the picture, and outside the box
    encodeView({ picture: { width: W, height: H, data }, origin: { x: 0, y: 0 }, width: W, height: H, box, point: { x: 2, y: 40 } }, spec, buf);
    expect(cell(buf, 4, 2)).toEqual([0, 0, 0, 0]); // x −2–0: left of the image
    expect(cell(buf, 4, 3)).toEqual([1, -1, -1, 0]); // x 0–2: red, left of the box
    // without a patch the patch buffer is empty and untouched
    const none = allocEncoded({ ...spec, patchSize: 0 }, 2);
    expect(none.patch.length).toBe(0);
  });

  it("reads the phrase as a bag of hashed words, without direction words, the same under every symmetry", () => {
    expect(phraseWords("The small RED cup, to the left of the blue-striped ball")).toEqual(["the", "small", "red", "cup", "to", "the", "of", "the", "blue", "striped", "ball"]);
    expect(phraseWords("man in front of the car; partly hidden behind it")).toContain("front");
    const W = 40;
    const H = 30;
    const view = { picture: { width: W, height: H, data: new Uint8Array(W * H * 3) }, origin: { x: 0, y: 0 }, width: W, height: H, box: { x1: 5, y1: 5, x2: 30, y2: 25 }, point: { x: 10, y: 10 } };
    const spec = { size: 8, margin: 0, markerSigma: 1, patchSize: 0, patchSpan: 16, phraseBins: 64 };
    const bins = (expression: string) => {
      const b = allocEncoded(spec, 1);
      encodeView({ ...view, expression }, spec, b);
      return Array.from(b.phrase);
    };
    const red = bins("red cup on the left");
    expect(red.every((v) => v === 0 || v === 1)).toBe(true);
    expect(red.filter((v) => v === 1).length).toBeGreaterThanOrEqual(2); // "red", "cup" ("on", "the" may share a bin)
    expect(red.filter((v) => v === 1).length).toBeLessThanOrEqual(4);
    expect(bins("red cup on the right")).toEqual(red); // direction words do not count
    expect(bins("cup red the on")).toEqual(red); // nor does the order
    expect(bins("blue cup on the left")).not.toEqual(red);
    const b = allocEncoded(spec, 1);
    encodeView({ ...view, expression: "red cup" }, spec, b);
    const before = Array.from(b.phrase);
    for (let t = 1; t < 8; t++) {
      transformEncoded(b, spec, t);
      expect(Array.from(b.phrase)).toEqual(before);
    }
    // a spec that reads the phrase refuses a query without one; a spec that does not, ignores it
    expect(() => encodeView(view, spec, allocEncoded(spec, 1))).toThrow(/reads the phrase, but the query has none/);
    const none = allocEncoded({ ...spec, phraseBins: 0 }, 1);
    encodeView(view, { ...spec, phraseBins: 0 }, none);
    expect(none.phrase.length).toBe(0);
  });
});

describe("training and the learned backend", () => {
  let data: string;
  const tiny = (out: string, seed: number): TrainOptions => ({
    data,
    out,
    seed,
    heldOut: 0.25,
    model: { features: { ...FEATURE_DEFAULTS, size: 16, patchSize: 8, patchSpan: 48 }, filters: [4, 8], patchFilters: [4], dense: 8, l2: 1e-4 },
    train: { epochs: 2, batchSize: 16, learningRate: 2e-3, finalDecay: 0.5, augment: true },
    log: () => {},
  });

  /** One model trained (seed 3) for the tests that need a trained model but not a particular one; the first caller trains it. */
  let shared: Promise<{ dir: string; result: Awaited<ReturnType<typeof trainVerifier>> }> | undefined;
  const trained = () =>
    (shared ??= (async () => {
      const dir = await tmp("learned-a");
      return { dir, result: await trainVerifier(tiny(dir, 3)) };
    })());

  beforeAll(async () => {
    data = await tmp("learned-vbr");
    await generateVbr({ ...VBR_DEFAULTS, sources: [{ name: "synthref", split: "refcoco/val", options: { count: 12 } }], out: data, fraction: 1, candidates: 3 });
  }, 120_000);

  it("reads gen-vbr records and splits them by source image", async () => {
    const { examples } = await readVbrFolder(data);
    expect(examples.length).toBe(12 * 6);
    const { train, test } = splitByImage(examples, 0.25, 0);
    const side = (idx: number[]) => new Set(idx.map((i) => examples[i]!.imageHash));
    expect([...side(train)].filter((h) => side(test).has(h))).toEqual([]);
    expect(side(test).size).toBe(2); // 6 images (2 sentences each), a quarter held out
    expect(train.length + test.length).toBe(examples.length);
    expect(examples.every((e) => typeof e.expression === "string" && e.expression.length > 0)).toBe(true);
  });

  it("refuses records without the expression when the model reads the phrase, and trains without it when told", async () => {
    const old = await tmp("learned-old");
    const lines = (await readFile(join(data, "records.jsonl"), "utf8")).split("\n").filter(Boolean).map((l) => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r.expression;
      return JSON.stringify(r);
    });
    await writeFile(join(old, "records.jsonl"), `${lines.join("\n")}\n`);
    await symlink(join(data, "images"), join(old, "images"));
    const opts = tiny(await tmp("learned-old-out"), 1);
    await expect(trainVerifier({ ...opts, data: old })).rejects.toThrow(/records\.jsonl: line 1: record of .* has no "expression".*pnpm gen-vbr --out .*--no-phrase/);
    const r = await trainVerifier({ ...opts, data: old, model: { ...opts.model, features: { ...opts.model.features, phraseBins: 0 } }, train: { ...opts.train, epochs: 1 } });
    expect(r.heldOut.n).toBeGreaterThan(0);
    expect(readModelMeta(r.dir)!.meta.features.phraseBins).toBe(0);
  }, 120_000);

  it("is deterministic for a seed on the CPU backend: same weights, same metrics; another seed differs", async () => {
    const { dir: a, result: ra } = await trained();
    const [b, c] = [await tmp("learned-b"), await tmp("learned-c")];
    await trainVerifier(tiny(b, 3));
    await trainVerifier(tiny(c, 4));
    const weights = async (d: string) => sha256(await readFile(join(d, "weights.bin")));
    expect(await weights(b)).toBe(await weights(a));
    expect(await weights(c)).not.toBe(await weights(a));
    const strip = (m: { seconds?: unknown }) => ({ ...m, seconds: undefined, epochs: undefined });
    const ma = JSON.parse(await readFile(join(a, "metrics.json"), "utf8")) as { seconds: unknown; heldOut: { n: number; accuracy: number; ece: number } };
    expect(strip(JSON.parse(await readFile(join(b, "metrics.json"), "utf8")) as typeof ma)).toEqual(strip(ma));
    expect(ma.heldOut.n).toBe(ra.heldOut.n);
    expect(ra.backend.package).toBe("@tensorflow/tfjs");
    expect(ra.files).toEqual(expect.arrayContaining(["model.json", "weights.bin", "metrics.json", "provenance.json", "reliability.png", "curves.png"]));
    const prov = JSON.parse(await readFile(join(a, "provenance.json"), "utf8")) as { seed: number; gitCommit: string; versions: Record<string, string>; data: { records: number } };
    expect(prov).toMatchObject({ seed: 3, data: { records: 72 } });
    expect(prov.versions["@tensorflow/tfjs"]).toMatch(/^\d/);
  }, 120_000);

  it("encodes a query at inference exactly as training encoded its gen-vbr record, and answers with the P(yes) the held-out metrics measured", async () => {
    const { dir } = await trained();
    const { examples } = await readVbrFolder(data);
    const meta = readModelMeta(dir)!.meta;
    const spec = meta.features;
    expect(spec.patchSize).toBeGreaterThan(0);
    const picked = [examples.findIndex((e) => e.crop !== null), examples.findIndex((e) => e.crop === null), examples.length - 1];
    expect(picked.every((i) => i >= 0)).toBe(true);
    const set = await encodeExamples(picked.map((i) => examples[i]!), spec);
    const z = encodedSizes(spec);
    const { tf } = await loadTf();
    const model = await loadModel(tf, dir);
    const want = predict(tf, model, set, undefined, 256, meta.symmetries);
    const backend = createBackend({ backend: "learned", modelDir: dir }) as ChatBackend;
    for (const [k, i] of picked.entries()) {
      const e = examples[i]!;
      const bytes = await readFile(e.file);
      const [x1, y1, x2, y2] = e.box;
      expect(e.expression).toBeTruthy();
      const q = { picture: await decodeImage(bytes, e.file), width: e.width, height: e.height, box: { x1, y1, x2, y2 }, point: e.point, expression: e.expression };
      // the backend's encoding (picture origin recovered from its size) under all its symmetries
      const got = encodeQuery(q, spec, 8);
      expect(Array.from(got.grid.subarray(0, z.grid))).toEqual(Array.from(set.grid.subarray(k * z.grid, (k + 1) * z.grid)));
      expect(Array.from(got.patch.subarray(0, z.patch))).toEqual(Array.from(set.patch.subarray(k * z.patch, (k + 1) * z.patch)));
      expect(Array.from(got.scalars.subarray(0, z.scalars))).toEqual(Array.from(set.scalars.subarray(k * z.scalars, (k + 1) * z.scalars)));
      expect(z.phrase).toBeGreaterThan(0);
      expect(Array.from(got.phrase.subarray(0, z.phrase))).toEqual(Array.from(set.phrase.subarray(k * z.phrase, (k + 1) * z.phrase)));
      expect(Array.from(got.phrase.subarray(7 * z.phrase, 8 * z.phrase))).toEqual(Array.from(set.phrase.subarray(k * z.phrase, (k + 1) * z.phrase)));
      for (let t = 1; t < 8; t++) {
        const one = { grid: set.grid.slice(k * z.grid, (k + 1) * z.grid), patch: set.patch.slice(k * z.patch, (k + 1) * z.patch), scalars: set.scalars.slice(k * z.scalars, (k + 1) * z.scalars), phrase: set.phrase.slice(k * z.phrase, (k + 1) * z.phrase) };
        transformEncoded(one, spec, t);
        expect(Array.from(got.patch.subarray(t * z.patch, (t + 1) * z.patch))).toEqual(Array.from(one.patch));
        expect(Array.from(got.grid.subarray(t * z.grid, (t + 1) * z.grid))).toEqual(Array.from(one.grid));
      }
      // and the backend answers with the probability training's predict gives that record
      const answer = await backend.complete(
        { content: [{ type: "image", hash: e.file, render: async () => bytes }, { type: "text", text: "?" }], maxTokens: 1, topLogprobs: 2 },
        { kind: "verify", sampleId: e.sampleId, expression: e.expression, imageWidth: e.width, imageHeight: e.height, box: q.box, points: [e.point], format: "vbr" },
      );
      const yes = answer.firstTokenTopLogprobs!.find((l) => l.token === "yes")!;
      expect(Math.exp(yes.logprob)).toBeCloseTo(want[k]!, 5);
    }
  }, 120_000);

  it("answers a VBR query from the pipeline's verifier with yes/no top-logprobs, and refuses other formats", async () => {
    const { dir } = await trained();
    const backend = createBackend({ backend: "learned", modelDir: dir, cache: "memory" }) as ChatBackend;
    expect(backend).toBeInstanceOf(LearnedVerifierBackend); // never behind the request-keyed cache
    expect(backend.simulated).toBe(false);
    expect(backend.describe()).toMatch(/^learned \(tfjs\) VBR verifier, trained on gen-vbr data .*held-out acc/);
    const ds = await openDataset("synthref", { split: "refcoco/testA", count: 2 });
    const s = await ds.get(0);
    const image = await readImage(s.imagePath);
    const cands = new SpiralSampler(parseSpiralParams()).sample(s.goldBox!, 2, randomStream(0, "t", s.id), image).ordered;
    const input = { sampleId: s.id, expression: s.expression, image, imageHash: "h", width: s.width, height: s.height, box: s.goldBox!, candidates: cands, gold: { mask: s.goldMask! }, rng: randomStream(0, "v", s.id) };
    for (const crop of [true, false]) {
      const res = await new Verifier(backend, parseVerifierParams({ format: "vbr", tau: 0, earlyStop: false, crop })).verify(input);
      expect(res.queries).toHaveLength(cands.length);
      for (const q of res.queries) {
        expect(q.pYes).toBeGreaterThan(0);
        expect(q.pYes).toBeLessThan(1);
        expect(q.decision).toBe(q.pYes! >= 0.5 ? "positive" : "negative");
      }
    }
    await expect(new Verifier(backend, parseVerifierParams({ format: "textual:(x,y)" })).verify(input)).rejects.toThrow(/single-marker VBR questions only, not "textual:\(x,y\)"/);
    await expect(new Verifier(backend, parseVerifierParams({ format: "vbr-multi" })).verify(input)).rejects.toThrow(/single-marker VBR/);
    const missing = createBackend({ backend: "learned", modelDir: join(dir, "nothing-here") });
    await expect(new Verifier(missing, parseVerifierParams({ format: "vbr" })).verify(input)).rejects.toThrow(/no trained verifier here; train it with `pnpm train-verifier --out /);

    // The default folder without a model: the first query trains it (the CLI's hook), then answers.
    const saved = process.env.RESAGENT_LEARNED_MODEL;
    process.env.RESAGENT_LEARNED_MODEL = join(await tmp("learned-default"), "model");
    try {
      const trainedInto: string[] = [];
      setAutoTrain(async (d) => {
        trainedInto.push(d);
        // What training leaves in the folder: a trained model's files.
        await cp((await trained()).dir, d, { recursive: true });
      });
      const fresh = createBackend({ backend: "learned" });
      expect(fresh.describe()).toMatch(/not trained yet/);
      const res = await new Verifier(fresh, parseVerifierParams({ format: "vbr", tau: 0, earlyStop: false })).verify(input);
      expect(res.queries.every((q) => q.pYes !== null)).toBe(true);
      expect(trainedInto).toEqual([process.env.RESAGENT_LEARNED_MODEL]);
      expect(fresh.describe()).toMatch(/trained on gen-vbr data/);
    } finally {
      setAutoTrain(undefined);
      if (saved === undefined) delete process.env.RESAGENT_LEARNED_MODEL;
      else process.env.RESAGENT_LEARNED_MODEL = saved;
    }
  }, 120_000);
});
