import { polygonsToMask, randomStream, rleDecode, rleEncode, type Mask } from "@resagent/core";
import { timeIt, type BenchRow, type BenchSuite } from "./index.js";

/** A 640x480 mask with a few blobs: the size and run structure of a typical COCO object mask. */
function blobMask(): Mask {
  const w = 640;
  const h = 480;
  const r = randomStream(0, "bench", "rle");
  const data = new Uint8Array(w * h);
  for (let b = 0; b < 4; b++) {
    const cx = r.uniform(80, 560);
    const cy = r.uniform(80, 400);
    const rad = r.uniform(30, 110);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < rad * rad) data[y * w + x] = 1;
  }
  return { width: w, height: h, data };
}

export const coreBench: BenchSuite = {
  name: "rle",
  description: "COCO RLE encode/decode and polygon rasterisation throughput (MB/s of mask pixels, 1 byte per pixel)",
  async run(): Promise<BenchRow[]> {
    const mask = blobMask();
    const mb = (mask.width * mask.height) / 1e6;
    const rle = rleEncode(mask);
    const enc = await timeIt(() => rleEncode(mask));
    const dec = await timeIt(() => rleDecode(rle));
    const poly: number[] = [];
    for (let i = 0; i < 60; i++) {
      const a = (2 * Math.PI * i) / 60;
      const rad = 150 + 40 * Math.sin(5 * a);
      poly.push(320 + rad * Math.cos(a), 240 + rad * Math.sin(a));
    }
    const rast = await timeIt(() => polygonsToMask([poly], 480, 640));
    return [
      { suite: "rle", name: "rleEncode 640x480", value: mb * enc.perSecond, unit: "MB/s", note: `${enc.msPerCall.toFixed(3)} ms/mask` },
      { suite: "rle", name: "rleDecode 640x480", value: mb * dec.perSecond, unit: "MB/s", note: `${dec.msPerCall.toFixed(3)} ms/mask` },
      { suite: "rle", name: "polygonsToMask 60-gon 640x480", value: mb * rast.perSecond, unit: "MB/s", note: `${rast.msPerCall.toFixed(3)} ms/mask` },
    ];
  },
};
