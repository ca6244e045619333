import { readFile } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { InputError, decodeImage, maskToPng, overlaySvg, rleDecode, sha256, suggest, writeFileAtomic, type Sample } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { findRoot, loadExperiment } from "@resagent/experiments";
import { ComponentPool, Pipeline, type SampleRecord } from "@resagent/pipeline";
import type { CommandModule } from "yargs";

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

/** SVG of the run: box (green), queried points coloured by P(yes) (red = no, green = yes), chosen points ringed. */
function runSvg(r: SampleRecord, width: number, height: number): string {
  const parts: string[] = [];
  if (r.box) {
    const [x1, y1, x2, y2] = r.box;
    parts.push(`<rect x="${x1}" y="${y1}" width="${x2 - x1}" height="${y2 - y1}" fill="none" stroke="#00e060" stroke-width="3"/>`);
  }
  for (const q of r.queries) {
    const p = q.pYes ?? 0.5;
    const fill = `rgb(${Math.round(255 * (1 - p))},${Math.round(220 * p)},40)`;
    parts.push(`<circle cx="${q.point.x}" cy="${q.point.y}" r="6" fill="${fill}" stroke="black" stroke-width="1.5"/>`);
    parts.push(`<text x="${q.point.x + 8}" y="${q.point.y - 6}" font-family="DejaVu Sans, sans-serif" font-size="12" fill="white" stroke="black" stroke-width="0.6">${q.pYes === null ? "?" : q.pYes.toFixed(2)}</text>`);
  }
  for (const [x, y] of r.positives) parts.push(`<circle cx="${x}" cy="${y}" r="11" fill="none" stroke="#00ff66" stroke-width="3"/>`);
  for (const [x, y] of r.negatives) parts.push(`<circle cx="${x}" cy="${y}" r="11" fill="none" stroke="#ff2040" stroke-width="3"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join("")}</svg>`;
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
      .option("profile", { type: "string" })
      .option("set", { type: "string", array: true, default: [] })
      .option("out", { type: "string", describe: "output folder (default results/segment)" }) as never,
  handler: async (args) => {
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
      const image = await decodeImage(await readFile(args.image).catch(() => { throw new InputError("cannot read image", { file: args.image! }); }), args.image);
      sample = { id: basename(args.image), source: "cli", imagePath: resolve(args.image), width: image.width, height: image.height, expression: args.text };
    }
    const bytes = await readFile(sample.imagePath);
    const image = await decodeImage(bytes, sample.imagePath);
    const pipeline = new Pipeline(cell.pipeline, exp.config.seed, new ComponentPool());
    const record = await pipeline.run({ sample, image, imageHash: sha256(bytes) }, cell.id);
    const out = resolve(args.out ?? join(findRoot(), "results", "segment"));
    const stem = sample.id.replace(/[^\w.-]+/g, "_");
    const mask = rleDecode(record.mask);
    const tinted = new Uint8Array(image.data);
    for (let k = 0; k < mask.data.length; k++) if (mask.data[k]) tinted[3 * k + 2] = Math.min(255, Math.round(tinted[3 * k + 2]! * 0.4 + 255 * 0.6));
    await writeFileAtomic(join(out, `${stem}.mask.png`), await maskToPng(mask));
    await writeFileAtomic(join(out, `${stem}.overlay.png`), await overlaySvg({ ...image, data: tinted }, runSvg(record, image.width, image.height), { format: "png" }));
    await writeFileAtomic(join(out, `${stem}.json`), `${JSON.stringify({ components: pipeline.describe(), record }, null, 2)}\n`);
    console.log(`"${sample.expression}" (${cell.id} of ${exp.config.name}, ${exp.config.profile} profile)`);
    for (const [k, v] of Object.entries(pipeline.describe())) console.log(`  ${k}: ${v}`);
    console.log(`  box ${JSON.stringify(record.box)}${record.groundingFailure ? ` (grounding failed: ${record.groundingFailure})` : ""}; ${record.queries.length} queries; ${record.positives.length}+ / ${record.negatives.length}−${sample.goldMask ? `; IoU ${(100 * record.iou).toFixed(1)}` : ""}`);
    console.log(`written ${join(out, `${stem}.mask.png`)}\n        ${join(out, `${stem}.overlay.png`)}\n        ${join(out, `${stem}.json`)}`);
  },
};
