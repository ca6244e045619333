import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { InputError, claimFolder, decodeImage, userPath, maskToPng, overlaySvg as renderOverlay, rleDecode, sha256, suggest, writeFileAtomic, type Sample } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { findRoot, loadExperiment } from "@resagent/experiments";
import { ComponentPool, Pipeline } from "@resagent/pipeline";
import type { CommandModule } from "yargs";
import { overlaySvg, overlayZoom, paintMasks, segmentStem, zoom } from "../segment-overlay.js";

interface Args {
  image?: string;
  text?: string;
  sample?: string;
  exp: string;
  cell?: string;
  profile?: string;
  set: string[];
  out?: string;
}

export const segmentCommand: CommandModule<object, Args> = {
  command: "segment",
  describe: "Segment one image for one phrase with a paper configuration; writes the mask PNG, an overlay PNG and the run record",
  builder: (y) =>
    y
      .option("image", { type: "string", describe: "image file (with --text); needs real backends (--profile real)" })
      .option("text", { type: "string", describe: "the referring expression" })
      .option("sample", { type: "string", describe: "a dataset sample instead: <dataset>:<split>:<index>, e.g. synthref:refcoco/val:3 (gold answers let the simulated MLLM run)" })
      .option("exp", { type: "string", default: "table4", describe: "experiment whose pipeline to use" })
      .option("cell", { type: "string", describe: "cell of that experiment (default: the one with K = 4, else the first)" })
      .option("profile", { type: "string", describe: "configs/profiles/<profile>.yaml: embedded (default) or real" })
      .option("set", { type: "string", array: true, default: [], describe: "override a config key, as for exp: --set pipeline.verifier.tau=0.7" })
      .option("out", { type: "string", describe: "output folder (default results/segment)" }) as never,
  handler: async (args) => {
    if (args.sample !== undefined && args.image !== undefined) throw new InputError("--sample and --image name two different inputs; give one (--text goes with either)", { field: "--sample" });
    const out = args.out !== undefined ? userPath(args.out, "--out") : join(findRoot(), "results", "segment");
    claimFolder(out, { origin: args.out !== undefined ? "--out" : "segment folder", kind: "segment" });
    const exp = loadExperiment(args.exp, { ...(args.profile ? { profile: args.profile } : {}), set: args.set });
    const cell = args.cell ? exp.cells.find((c) => c.id === args.cell) : (exp.cells.find((c) => c.pipeline.k === 4) ?? exp.cells[0]);
    if (!cell) throw new InputError(`no cell "${args.cell}"; ${suggest(args.cell ?? "", exp.cells.map((c) => c.id))}`, { field: "--cell" });
    let sample: Sample;
    if (args.sample) {
      const m = args.sample.match(/^([^:]+):(.+):(\d+)$/);
      if (!m) throw new InputError(`expected <dataset>:<split>:<index>, got "${args.sample}"`, { field: "--sample" });
      const ds = await openDataset(m[1]!, { split: m[2]! });
      const index = Number(m[3]);
      if (index >= ds.size) throw new InputError(`${m[1]}:${m[2]} has ${ds.size} samples (indices 0-${ds.size - 1}), not ${index}`, { field: "--sample" });
      sample = await ds.get(index);
      if (args.text) sample = { ...sample, expression: args.text };
    } else {
      if (!args.image || !args.text) throw new InputError("give --image and --text, or --sample", { field: "segment" });
      const imagePath = userPath(args.image, "--image");
      const image = await decodeImage(await readFile(imagePath), imagePath);
      sample = { id: basename(args.image), source: "cli", imagePath, width: image.width, height: image.height, expression: args.text };
    }
    const bytes = await readFile(sample.imagePath);
    const image = await decodeImage(bytes, sample.imagePath);
    const pool = new ComponentPool();
    try {
      const pipeline = new Pipeline(cell.pipeline, exp.config.seed, pool);
      const record = await pipeline.run({ sample, image, imageHash: sha256(bytes) }, cell.id);
      const stem = segmentStem(args);
      const mask = rleDecode(record.mask);
      const simulated = [
        ...(pipeline.groundingBackends.some((b) => b.simulated) ? ["grounding MLLM"] : []),
        ...(cell.pipeline.k > 0 && pipeline.verifierBackend.simulated ? ["verifier MLLM"] : []),
        ...(sample.source.startsWith("synthref") ? ["synthetic scene (synthref)"] : []),
      ];
      const what = `${cell.id} of ${exp.config.name}, ${exp.config.profile} profile, seed ${exp.config.seed}; decoder ${pipeline.decoder.describe().split(" (")[0]}`;
      const { svg, panel } = overlaySvg({ record, phrase: sample.expression, ...(sample.goldMask ? { iou: record.iou } : {}), ...(sample.goldBox ? { goldBox: sample.goldBox } : {}), what, simulated }, image.width, image.height);
      // The image with the masks painted in, over a white legend panel of `panel` rows.
      const canvas = new Uint8Array(image.width * (image.height + panel) * 3).fill(255);
      canvas.set(paintMasks(image, mask, sample.goldMask));
      await writeFileAtomic(join(out, `${stem}.mask.png`), await maskToPng(mask));
      await writeFileAtomic(join(out, `${stem}.overlay.png`), await renderOverlay(zoom({ width: image.width, height: image.height + panel, data: canvas }, overlayZoom(image.width)), svg, { format: "png" }));
      await writeFileAtomic(join(out, `${stem}.json`), `${JSON.stringify({ asked: { ...(args.sample ? { sample: args.sample } : { image: resolve(args.image!) }), text: sample.expression, exp: exp.config.name, cell: cell.id, profile: exp.config.profile }, simulated, components: pipeline.describe(), record }, null, 2)}\n`);
      console.log(`"${sample.expression}" (${cell.id} of ${exp.config.name}, ${exp.config.profile} profile)${simulated.length ? ` SIMULATED: ${simulated.join(", ")}` : ""}`);
      for (const [k, v] of Object.entries(pipeline.describe())) console.log(`  ${k}: ${v}`);
      console.log(`  box ${JSON.stringify(record.box)}${record.groundingFailure ? ` (grounding failed: ${record.groundingFailure})` : ""}; ${record.queries.length} queries; ${record.positives.length}+ / ${record.negatives.length}−${sample.goldMask ? `; IoU ${(100 * record.iou).toFixed(1)}` : ""}`);
      console.log(`written ${join(out, `${stem}.mask.png`)}\n        ${join(out, `${stem}.overlay.png`)}\n        ${join(out, `${stem}.json`)}`);
    } finally {
      await pool.dispose();
    }
  },
};
