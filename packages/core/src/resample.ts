import type { RgbImage } from "./types.js";

/** Crop an RGB image to [x0, x1) x [y0, y1) (integer bounds, clipped by the caller). */
export function cropRgb(img: RgbImage, x0: number, y0: number, x1: number, y1: number): RgbImage {
  const w = x1 - x0;
  const h = y1 - y0;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) out.set(img.data.subarray(((y0 + y) * img.width + x0) * 3, ((y0 + y) * img.width + x1) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

/**
 * Resize RGB by area averaging when shrinking and bilinear interpolation (pixel-centre aligned,
 * like PIL/torchvision `align_corners=False`) when enlarging. Output is float per channel.
 */
export function resizeRgbFloat(img: RgbImage, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height * 3);
  const sx = img.width / width;
  const sy = img.height / height;
  if (sx >= 1 && sy >= 1) {
    for (let y = 0; y < height; y++) {
      const ya = y * sy;
      const yb = (y + 1) * sy;
      for (let x = 0; x < width; x++) {
        const xa = x * sx;
        const xb = (x + 1) * sx;
        let r = 0;
        let g = 0;
        let b = 0;
        let wsum = 0;
        for (let yy = Math.floor(ya); yy < Math.min(img.height, Math.ceil(yb)); yy++) {
          const wy = Math.min(yb, yy + 1) - Math.max(ya, yy);
          for (let xx = Math.floor(xa); xx < Math.min(img.width, Math.ceil(xb)); xx++) {
            const wgt = wy * (Math.min(xb, xx + 1) - Math.max(xa, xx));
            const k = (yy * img.width + xx) * 3;
            r += wgt * img.data[k]!;
            g += wgt * img.data[k + 1]!;
            b += wgt * img.data[k + 2]!;
            wsum += wgt;
          }
        }
        const o = (y * width + x) * 3;
        out[o] = r / wsum;
        out[o + 1] = g / wsum;
        out[o + 2] = b / wsum;
      }
    }
    return out;
  }
  // Bilinear: column indices and weights are the same for every row, so compute them once.
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const txs = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const fx = Math.min(img.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
    x0s[x] = Math.floor(fx) * 3;
    x1s[x] = Math.min(img.width - 1, Math.floor(fx) + 1) * 3;
    txs[x] = fx - Math.floor(fx);
  }
  const src = img.data;
  const stride = img.width * 3;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(img.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const r0 = y0 * stride;
    const r1 = Math.min(img.height - 1, y0 + 1) * stride;
    const ty = fy - y0;
    let o = y * width * 3;
    for (let x = 0; x < width; x++) {
      const a = x0s[x]!;
      const b = x1s[x]!;
      const tx = txs[x]!;
      for (let c = 0; c < 3; c++) {
        const top = src[r0 + a + c]! + (src[r0 + b + c]! - src[r0 + a + c]!) * tx;
        const bot = src[r1 + a + c]! + (src[r1 + b + c]! - src[r1 + a + c]!) * tx;
        out[o++] = top + (bot - top) * ty;
      }
    }
  }
  return out;
}
