import { maskValueAt, randomStream, readImage, type RgbImage, type Sample } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { GraphCutDecoder, Sam2OnnxDecoder, parseGraphcutParams, parseSam2Params } from "@resagent/decoder";
import { tinyDecoder, tinyEncoder } from "@resagent/decoder/testing";
import { withTempDir, type BenchRow, type BenchSuite } from "./index.js";

export const decoderBench: BenchSuite = {
  name: "decoder",
  description: "graphcut ms per 640x480 image; SAM2 pre/post-processing ms per prompt (tiny ONNX models, model time excluded); encoder calls per image",
  async run(): Promise<BenchRow[]> {
    return withTempDir(async (dir) => {
      const ds = await openDataset("synthref", { split: "refcocog/val", count: 12, cacheDir: dir, width: 640, height: 480, sentencesPerRef: 1 });
      const items: { s: Sample; image: RgbImage }[] = [];
      for await (const s of ds) items.push({ s, image: await readImage(s.imagePath) });
      const gc = new GraphCutDecoder(parseGraphcutParams());
      const times: number[] = [];
      const timesAgree: number[] = [];
      const timesCorrect: number[] = [];
      for (const { s, image } of items) {
        const box = s.goldBox!;
        let t = performance.now();
        await gc.segment({ image }, { box, positives: [], negatives: [] });
        times.push(performance.now() - t);
        // Points labelled by the gold mask mostly agree with the box-only cut (one pass); with the
        // labels swapped every point disagrees, and the corrective second pass runs.
        const r = randomStream(0, "bench", s.id);
        const draw = (inside: boolean) => {
          for (let tries = 0; tries < 1000; tries++) {
            const q = { x: r.uniform(box.x1, box.x2), y: r.uniform(box.y1, box.y2) };
            if ((maskValueAt(s.goldMask!, q) === 1) === inside) return q;
          }
          return { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
        };
        const inside = [draw(true), draw(true)];
        const outside = [draw(false), draw(false)];
        t = performance.now();
        await gc.segment({ image }, { box, positives: inside, negatives: outside.slice(1) });
        timesAgree.push(performance.now() - t);
        t = performance.now();
        await gc.segment({ image }, { box, positives: outside, negatives: inside.slice(1) });
        timesCorrect.push(performance.now() - t);
      }
      const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
      const sam = new Sam2OnnxDecoder(parseSam2Params({ multimask: "stability" }), { encoder: tinyEncoder("samexporter"), decoder: tinyDecoder("samexporter", 4) });
      const prompts = 3;
      for (const { s, image } of items) {
        for (let k = 0; k < prompts; k++) await sam.segment({ image }, { box: s.goldBox!, positives: [{ x: (s.goldBox!.x1 + s.goldBox!.x2) / 2, y: (s.goldBox!.y1 + s.goldBox!.y2) / 2 }], negatives: [] });
      }
      const st = sam.stats();
      return [
        { suite: "decoder", name: "graphcut 640x480, box only (median)", value: median(times), unit: "ms", note: `${items.length} synthref images` },
        { suite: "decoder", name: "graphcut 640x480, box + 2 pos + 1 neg agreeing with the gold mask (median)", value: median(timesAgree), unit: "ms" },
        { suite: "decoder", name: "graphcut 640x480, box + 2 pos + 1 neg all disagreeing (median)", value: median(timesCorrect), unit: "ms", note: "corrective second pass on every image" },
        { suite: "decoder", name: "sam2 image preprocessing (resize + normalise, per image)", value: st.preprocessMs! / st.encoderCalls!, unit: "ms" },
        { suite: "decoder", name: "sam2 prompt pre + mask post-processing (per prompt)", value: st.postprocessMs! / st.decoderCalls!, unit: "ms", note: "prompt encoding, mask choice, upsampling to 640x480, threshold" },
        { suite: "decoder", name: `sam2 encoder calls per image (${prompts} prompts each)`, value: st.encoderCalls! / items.length, unit: "calls" },
      ];
    });
  },
};
