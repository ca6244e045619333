/**
 * tools/export_sam2_onnx.py run for real, against PyTorch: tools/sam2_export_check.py builds
 * SAM2.1 tiny and base-plus with random weights, exports them with the export script and writes
 * what `SAM2ImagePredictor.predict(multimask_output=False)` answers on one image and random
 * prompts; here the harness's own decoder (resagent export style, `multimask: stability`) answers
 * the same prompts from the ONNX files and must give the same masks and scores.
 *
 * Env-gated (minutes of CPU, a python with torch and a sam2 checkout):
 *   RESAGENT_SAM2_SOURCE      a checkout of facebookresearch/sam2 (the folder holding the sam2 package)
 *   RESAGENT_PYTHON           a python with torch, torchvision and onnx (default: python3, then /usr/bin/python3)
 *   RESAGENT_SAM2_EXPORT_OUT  where the exports go (default .cache/sam2-export-check); a folder whose
 *                             reference was written by the same harness, export script and sam2 is reused
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readImage } from "@resagent/core";
import { parseSam2Params } from "../params.js";
import { Sam2OnnxDecoder } from "./decoder.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const HARNESS = join(ROOT, "tools", "sam2_export_check.py");
const EXPORT = join(ROOT, "tools", "export_sam2_onnx.py");
const MODELS = ["tiny", "base_plus"] as const;
/** Logits this close to the 0 threshold may fall either side between two float implementations. */
const LOGIT_TIE = 1e-3;
const SCORE_TOLERANCE = 1e-4;

interface Reference {
  format: number;
  model: string;
  harness?: string;
  width: number;
  height: number;
  image: string;
  prompts: { box: number[]; points: number[][]; labels: number[]; score: number; stable: boolean; foreground: number }[];
}

function findTorchPython(): string | undefined {
  const candidates = [process.env.RESAGENT_PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p);
  return candidates.find((p) => spawnSync(p, ["-c", "import torch, torchvision, onnx"], { encoding: "utf8" }).status === 0);
}

/** What makes a reference folder current: the harness, the export script and the sam2 sources. */
function inputsHash(source: string): string {
  const h = createHash("sha256");
  for (const f of [HARNESS, EXPORT]) h.update(readFileSync(f));
  for (const f of ["sam2/build_sam.py", "sam2/sam2_image_predictor.py", "sam2/modeling/sam/mask_decoder.py", "sam2/modeling/sam/prompt_encoder.py", "sam2/modeling/sam/transformer.py", "sam2/modeling/backbones/hieradet.py", "sam2/modeling/sam2_base.py", "sam2/configs/sam2.1/sam2.1_hiera_t.yaml", "sam2/configs/sam2.1/sam2.1_hiera_b+.yaml"]) {
    h.update(readFileSync(join(source, f)));
  }
  return h.digest("hex").slice(0, 16);
}

const source = process.env.RESAGENT_SAM2_SOURCE;
const python = source ? findTorchPython() : undefined;
const skipReason = !source
  ? "RESAGENT_SAM2_SOURCE is unset (a checkout of facebookresearch/sam2; see docs/gpu.md)"
  : !existsSync(join(source, "sam2", "build_sam.py"))
    ? `RESAGENT_SAM2_SOURCE=${source} has no sam2/build_sam.py`
    : !python
      ? "no python with torch, torchvision and onnx (Debian: apt-get install -y python3-torch python3-torchvision python3-onnx, or set RESAGENT_PYTHON)"
      : undefined;

describe("tools/export_sam2_onnx.py against PyTorch's SAM2ImagePredictor", () => {
  const out = resolve(process.env.RESAGENT_SAM2_EXPORT_OUT ?? join(ROOT, ".cache", "sam2-export-check"));

  it.for(MODELS)("SAM2.1 %s, random weights: same masks and scores as predict(multimask_output=False)", { timeout: 10_800_000 }, async (model, ctx) => {
    if (skipReason) {
      ctx.skip(skipReason);
      return;
    }
    const dir = join(out, model);
    const hash = inputsHash(source!);
    const current = () => existsSync(join(dir, "reference.json")) && (JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as Reference).harness === hash;
    if (!current()) {
      const run = spawnSync(python!, [HARNESS, "--sam2", resolve(source!), "--out", out, "--models", model, "--harness-hash", hash], { encoding: "utf8", stdio: ["ignore", "inherit", "inherit"] });
      expect(run.status, `${HARNESS} failed`).toBe(0);
    }
    const ref = JSON.parse(readFileSync(join(dir, "reference.json"), "utf8")) as Reference;
    expect(ref.harness).toBe(hash);
    const image = await readImage(join(dir, ref.image));
    const logits = new Float32Array(readFileSync(join(dir, "logits.f32")).buffer.slice(0));
    const size = ref.width * ref.height;
    expect(logits.length).toBe(ref.prompts.length * size);

    const dec = new Sam2OnnxDecoder(parseSam2Params({ dir, multimask: "stability" }));
    expect(await dec.inspect()).toMatch(/resagent export .*4 mask outputs.*multimask stability reproduces SAM2's multimask_output=False/);
    const report: string[] = [];
    for (const [i, p] of ref.prompts.entries()) {
      const positives = p.points.filter((_, j) => p.labels[j] === 1).map(([x, y]) => ({ x: x!, y: y! }));
      const negatives = p.points.filter((_, j) => p.labels[j] === 0).map(([x, y]) => ({ x: x!, y: y! }));
      const [x1, y1, x2, y2] = p.box as [number, number, number, number];
      const got = await dec.segment({ image }, { box: { x1, y1, x2, y2 }, positives, negatives });
      let differ = 0;
      let ties = 0;
      let worst = 0;
      for (let k = 0; k < size; k++) {
        const l = logits[i * size + k]!;
        const want = l > 0 ? 1 : 0;
        if (got.mask.data[k] !== want) {
          differ++;
          worst = Math.max(worst, Math.abs(l));
          if (Math.abs(l) < LOGIT_TIE) ties++;
        }
      }
      report.push(`prompt ${i} (${p.points.length} points, ${p.stable ? "mask 0 stable" : "fell back to masks 1-3"}, ${p.foreground} px): ${differ} pixels differ${differ ? ` (largest |torch logit| ${worst.toExponential(1)})` : ""}, score ${got.score.toFixed(6)} vs ${p.score.toFixed(6)}`);
      expect(differ - ties, `prompt ${i}: pixels that differ away from the threshold`).toBe(0);
      expect(Math.abs(got.score - p.score), `prompt ${i}: score`).toBeLessThan(SCORE_TOLERANCE);
    }
    await dec.dispose();
    console.log(`${ref.model}:\n  ${report.join("\n  ")}`);
  });
});
