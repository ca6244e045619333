import type * as tfjs from "@tensorflow/tfjs";

type Tf = typeof tfjs;
type KernelFunc = Parameters<Tf["registerKernel"]>[0]["kernelFunc"];
type TensorInfo = tfjs.TensorInfo;

interface CpuBackend {
  readSync(dataId: object): unknown;
  write(values: Float32Array, shape: number[], dtype: "float32"): object;
}

/**
 * The filter gradient of a 2-D convolution (NHWC, no dilation) on flat typed arrays. tfjs'
 * own CPU kernel reads every element through TensorBuffer.get (about a microsecond each): 13 s
 * for one 3×3 layer's gradient on a batch of 32 at 32×32, which made CPU training impractical.
 * This is the same sum, dW[kr,kc,c,f] = Σ_{b,y,x} x[b, y·s+kr−pad, x·s+kc−pad, c] · dy[b,y,x,f],
 * in about 1/50 of the time. Sums run in float64 in a fixed order, so results are deterministic.
 */
export function conv2dFilterGradient(
  x: Float32Array,
  xShape: readonly [number, number, number, number],
  dy: Float32Array,
  dyShape: readonly [number, number, number, number],
  filter: readonly [number, number],
  stride: readonly [number, number],
  padTop: number,
  padLeft: number,
): Float32Array {
  const [B, H, W, C] = xShape;
  const [, OH, OW, F] = dyShape;
  const [KH, KW] = filter;
  const [SH, SW] = stride;
  const dw = new Float64Array(KH * KW * C * F);
  for (let b = 0; b < B; b++) {
    for (let yr = 0; yr < OH; yr++) {
      for (let yc = 0; yc < OW; yc++) {
        const dyOff = ((b * OH + yr) * OW + yc) * F;
        for (let kr = 0; kr < KH; kr++) {
          const xr = yr * SH + kr - padTop;
          if (xr < 0 || xr >= H) continue;
          for (let kc = 0; kc < KW; kc++) {
            const xc = yc * SW + kc - padLeft;
            if (xc < 0 || xc >= W) continue;
            const xOff = ((b * H + xr) * W + xc) * C;
            const wBase = (kr * KW + kc) * C * F;
            for (let c = 0; c < C; c++) {
              const v = x[xOff + c]!;
              if (v === 0) continue;
              const wOff = wBase + c * F;
              for (let f = 0; f < F; f++) dw[wOff + f]! += v * dy[dyOff + f]!;
            }
          }
        }
      }
    }
  }
  return Float32Array.from(dw);
}

/** Geometry of a 2-D convolution (NHWC, no dilation), as computeConv2DInfo gives it. */
export interface ConvGeometry {
  /** Input [batch, height, width, channels]. */
  x: readonly [number, number, number, number];
  /** Output [batch, height, width, filters]. */
  y: readonly [number, number, number, number];
  filter: readonly [number, number];
  stride: readonly [number, number];
  padTop: number;
  padLeft: number;
}

/**
 * A 2-D convolution (NHWC, filter [KH, KW, C, F], no dilation) with an optional bias and ReLU:
 * y[b,r,c,f] = act(bias[f] + Σ x[b, r·s+kr−pad, c·s+kc−pad, ch] · w[kr,kc,ch,f]). tfjs' CPU kernel
 * does the same sum in float32 through generic strides; this one accumulates each output pixel's
 * filters in float64 in a fixed order and skips zero inputs (half of them after a ReLU), several
 * times faster on the small convolutions the verifier trains. Deterministic.
 */
export function conv2dForward(x: Float32Array, w: Float32Array, g: ConvGeometry, bias: Float32Array | undefined, relu: boolean): Float32Array {
  const [B, H, W, C] = g.x;
  const [, OH, OW, F] = g.y;
  const [KH, KW] = g.filter;
  const [SH, SW] = g.stride;
  const y = new Float32Array(B * OH * OW * F);
  const acc = new Float64Array(F);
  for (let b = 0; b < B; b++) {
    for (let yr = 0; yr < OH; yr++) {
      for (let yc = 0; yc < OW; yc++) {
        for (let f = 0; f < F; f++) acc[f] = bias ? bias[f]! : 0;
        for (let kr = 0; kr < KH; kr++) {
          const xr = yr * SH + kr - g.padTop;
          if (xr < 0 || xr >= H) continue;
          for (let kc = 0; kc < KW; kc++) {
            const xc = yc * SW + kc - g.padLeft;
            if (xc < 0 || xc >= W) continue;
            const xOff = ((b * H + xr) * W + xc) * C;
            const wBase = (kr * KW + kc) * C * F;
            for (let c = 0; c < C; c++) {
              const v = x[xOff + c]!;
              if (v === 0) continue;
              const wOff = wBase + c * F;
              for (let f = 0; f < F; f++) acc[f]! += v * w[wOff + f]!;
            }
          }
        }
        const yOff = ((b * OH + yr) * OW + yc) * F;
        for (let f = 0; f < F; f++) {
          const v = acc[f]!;
          y[yOff + f] = relu && v < 0 ? 0 : v;
        }
      }
    }
  }
  return y;
}

/**
 * The input gradient of a 2-D convolution (NHWC, no dilation): dx[b,r,c,ch] = Σ dy[b,yr,yc,f] ·
 * w[kr,kc,ch,f] over the outputs the input pixel fed. Scattered from each output pixel, skipping
 * zero gradients (every unit a ReLU switched off), in float64 in a fixed order. Deterministic.
 */
export function conv2dInputGradient(dy: Float32Array, w: Float32Array, g: ConvGeometry): Float32Array {
  const [B, H, W, C] = g.x;
  const [, OH, OW, F] = g.y;
  const [KH, KW] = g.filter;
  const [SH, SW] = g.stride;
  // The filter as [KH, KW, F, C], so the innermost loop runs over contiguous channels.
  const wt = new Float64Array(KH * KW * F * C);
  for (let k = 0; k < KH * KW; k++) for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) wt[(k * F + f) * C + c] = w[(k * C + c) * F + f]!;
  const dx = new Float64Array(B * H * W * C);
  for (let b = 0; b < B; b++) {
    for (let yr = 0; yr < OH; yr++) {
      for (let yc = 0; yc < OW; yc++) {
        const dyOff = ((b * OH + yr) * OW + yc) * F;
        for (let kr = 0; kr < KH; kr++) {
          const xr = yr * SH + kr - g.padTop;
          if (xr < 0 || xr >= H) continue;
          for (let kc = 0; kc < KW; kc++) {
            const xc = yc * SW + kc - g.padLeft;
            if (xc < 0 || xc >= W) continue;
            const xOff = ((b * H + xr) * W + xc) * C;
            const wBase = (kr * KW + kc) * F * C;
            for (let f = 0; f < F; f++) {
              const d = dy[dyOff + f]!;
              if (d === 0) continue;
              const wOff = wBase + f * C;
              for (let c = 0; c < C; c++) dx[xOff + c]! += d * wt[wOff + c]!;
            }
          }
        }
      }
    }
  }
  return Float32Array.from(dx);
}

let registered = false;

type ConvAttrs = { strides: [number, number] | number; pad: "valid" | "same" | number; dataFormat: "NHWC" | "NCHW" | "channelsLast" | "channelsFirst"; dilations?: [number, number] | number; dimRoundingMode?: "floor" | "round" | "ceil" };

function geometry(tf: Tf, xShape: number[], filterShape: number[], attrs: ConvAttrs): ConvGeometry | undefined {
  const dil = attrs.dilations ?? 1;
  if (!(dil === 1 || (Array.isArray(dil) && dil[0] === 1 && dil[1] === 1))) return undefined;
  if (attrs.dataFormat === "NCHW" || attrs.dataFormat === "channelsFirst") return undefined;
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number], filterShape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, "channelsLast");
  return {
    x: [info.batchSize, info.inHeight, info.inWidth, info.inChannels],
    y: [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    filter: [info.filterHeight, info.filterWidth],
    stride: [info.strideHeight, info.strideWidth],
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

function replace(tf: Tf, name: string, make: (original: KernelFunc) => KernelFunc): void {
  const original = tf.getKernel(name, "cpu");
  if (!original) return;
  const kernelFunc = make(original.kernelFunc);
  tf.unregisterKernel(name, "cpu");
  tf.registerKernel({ kernelName: name, backendName: "cpu", kernelFunc });
}

/**
 * Replace the CPU backend's 2-D convolution kernels (Conv2D, FusedConv2D with no activation or
 * ReLU, Conv2DBackpropInput, Conv2DBackpropFilter) by the flat typed-array loops above, for NHWC
 * float32 without dilation; anything else keeps tfjs' own kernel.
 */
export function registerFastCpuKernels(tf: Tf): void {
  if (registered) return;
  const f32 = (...t: TensorInfo[]) => t.every((x) => x.dtype === "float32");
  replace(tf, "Conv2D", (original) => (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    const g = f32(x, filter) ? geometry(tf, x.shape, filter.shape, args.attrs as unknown as ConvAttrs) : undefined;
    if (!g) return original(args);
    const backend = args.backend as CpuBackend;
    const y = conv2dForward(backend.readSync(x.dataId) as Float32Array, backend.readSync(filter.dataId) as Float32Array, g, undefined, false);
    return { dataId: backend.write(y, [...g.y], "float32"), shape: [...g.y], dtype: "float32" };
  });
  replace(tf, "FusedConv2D", (original) => (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { activation?: string };
    const act = attrs.activation ?? "linear";
    const simple = (act === "linear" || act === "relu") && !preluActivationWeights && (!bias || (bias.shape.length === 1 && bias.shape[0] === filter.shape[3]));
    const g = simple && f32(x, filter, ...(bias ? [bias] : [])) ? geometry(tf, x.shape, filter.shape, attrs) : undefined;
    if (!g) return original(args);
    const backend = args.backend as CpuBackend;
    const b = bias ? (backend.readSync(bias.dataId) as Float32Array) : undefined;
    const y = conv2dForward(backend.readSync(x.dataId) as Float32Array, backend.readSync(filter.dataId) as Float32Array, g, b, act === "relu");
    return { dataId: backend.write(y, [...g.y], "float32"), shape: [...g.y], dtype: "float32" };
  });
  replace(tf, "Conv2DBackpropInput", (original) => (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
    const g = f32(dy, filter) ? geometry(tf, attrs.inputShape, filter.shape, attrs) : undefined;
    if (!g) return original(args);
    const backend = args.backend as CpuBackend;
    const dx = conv2dInputGradient(backend.readSync(dy.dataId) as Float32Array, backend.readSync(filter.dataId) as Float32Array, g);
    return { dataId: backend.write(dx, [...g.x], "float32"), shape: [...g.x], dtype: "float32" };
  });
  replace(tf, "Conv2DBackpropFilter", (original) => (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
    const g = f32(x, dy) ? geometry(tf, x.shape, attrs.filterShape, attrs) : undefined;
    if (!g) return original(args);
    const backend = args.backend as CpuBackend;
    const dw = conv2dFilterGradient(backend.readSync(x.dataId) as Float32Array, g.x, backend.readSync(dy.dataId) as Float32Array, g.y, g.filter, g.stride, g.padTop, g.padLeft);
    const shape = [...attrs.filterShape];
    return { dataId: backend.write(dw, shape, "float32"), shape, dtype: "float32" };
  });
  // Sum over leading axes (each convolution's bias gradient sums over batch, rows and columns):
  // tfjs transposes the whole gradient first to make them innermost; summing in place gives the
  // same numbers (the same order, in float64 as tfjs' accumulator) without the copy.
  replace(tf, "Sum", (original) => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    if (x.dtype !== "float32") return original(args);
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const k = axes.length;
    if (k === 0 || k >= rank || axes.some((a, i) => a !== i)) return original(args);
    const outer = x.shape.slice(0, k).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(k).reduce((a, b) => a * b, 1);
    const backend = args.backend as CpuBackend;
    const v = backend.readSync(x.dataId) as Float32Array;
    const acc = new Float64Array(inner);
    for (let i = 0; i < outer; i++) {
      const o = i * inner;
      for (let j = 0; j < inner; j++) acc[j]! += v[o + j]!;
    }
    const shape = keepDims ? [...x.shape.slice(0, k).map(() => 1), ...x.shape.slice(k)] : x.shape.slice(k);
    return { dataId: backend.write(Float32Array.from(acc), shape, "float32"), shape, dtype: "float32" };
  });
  // Split of a matrix's columns (the gradient of the layer that joins the two views and the
  // scalars): tfjs slices element by element through index arithmetic; rows are contiguous runs.
  replace(tf, "SplitV", (original) => (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    if (x.dtype !== "float32" || x.shape.length !== 2) return original(args);
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (ax !== 1) return original(args);
    const [rows, cols] = x.shape as [number, number];
    const sizes = typeof numOrSizeSplits === "number" ? Array.from({ length: numOrSizeSplits }, () => cols / numOrSizeSplits) : numOrSizeSplits;
    if (sizes.some((n) => !Number.isInteger(n) || n < 0) || sizes.reduce((a, b) => a + b, 0) !== cols) return original(args);
    const backend = args.backend as CpuBackend;
    const v = backend.readSync(x.dataId) as Float32Array;
    let start = 0;
    return sizes.map((n) => {
      const out = new Float32Array(rows * n);
      for (let r = 0; r < rows; r++) out.set(v.subarray(r * cols + start, r * cols + start + n), r * n);
      start += n;
      return { dataId: backend.write(out, [rows, n], "float32"), shape: [rows, n], dtype: "float32" as const };
    });
  });
  registered = true;
}
