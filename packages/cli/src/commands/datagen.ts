import { join } from "node:path";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { InputError, claimFolder, contactSheet, decodeImage, readImage, rleDecode, userPath, writeFileAtomic, type SheetTile } from "@resagent/core";
import { POINT_VALUE_DEFAULTS, VBR_DEFAULTS, candidateValues, cocoToSa1b, generatePointValue, generateVbr, paintValueMap, poolOf, vbrStamp } from "@resagent/datagen";
import { loadExperiment } from "@resagent/experiments";
import type { Perturbation } from "@resagent/mllm";
import type { CommandModule } from "yargs";
import { Progress, progressIntervalSeconds } from "../progress.js";

interface VbrArgs {
  source: string[];
  out: string;
  fraction: number;
  candidates: number;
  "size-min": number;
  "size-max": number;
  "crop-share": number;
  max: number;
  seed: number;
  root?: string;
  sheet: number;
}

export const genVbrCommand: CommandModule<object, VbrArgs> = {
  command: "gen-vbr",
  describe: "Generate the VBR fine-tuning set (LLaMA-Factory multimodal format) with markers on EBD candidates labelled from gold masks",
  builder: (y) =>
    y
      .option("source", {
        type: "string",
        array: true,
        default: ["synthref:refcoco/val", "synthref:refcoco+/val", "synthref:refcocog/val"],
        describe: "<dataset>:<split>; real data: refcoco:train refcoco+:train refcocog:train (with --root); synthref has no train split, so its val splits stand in",
      })
      .option("out", { type: "string", default: "results/vbr-data", describe: "output folder (data.json, dataset_info.json, images/, stats.json, sizes.png, sheet.png); rerunning resumes it" })
      .option("fraction", { type: "number", default: VBR_DEFAULTS.fraction, describe: "share of instances per split" })
      .option("candidates", { type: "number", default: VBR_DEFAULTS.candidates, describe: "EBD candidates per queue (2 x inference K)" })
      .option("size-min", { type: "number", default: VBR_DEFAULTS.sizeMin, describe: "smallest marker radius in pixels" })
      .option("size-max", { type: "number", default: VBR_DEFAULTS.sizeMax, describe: "largest marker radius in pixels" })
      .option("crop-share", { type: "number", default: VBR_DEFAULTS.cropShare, describe: "share of samples cropped around box and marker (paper: half)" })
      .option("max", { type: "number", default: VBR_DEFAULTS.maxSamples, describe: "cap on generated samples, spread over all selected instances (each instance's first candidate before any second one); raising it extends a folder" })
      .option("seed", { type: "number", default: 0, describe: "seed of instance selection, order, candidates and markers" })
      .option("root", { type: "string", describe: "data root for REFER sources (default $RESAGENT_DATA_ROOT)" })
      .option("sheet", { type: "number", default: 16, describe: "samples on the contact sheet (0 = none)" }) as never,
  handler: async (args) => {
    const sources = parseSources(args.source, args.root);
    const out = userPath(args.out, "--out");
    // Rerunning resumes a gen-vbr folder; anything else there (a run, a dataset, other files) is refused.
    claimFolder(out, { origin: "--out", kind: "vbr-data" });
    const intervalSeconds = progressIntervalSeconds(); // a bad value stops here, before any work
    let bar: Progress | undefined;
    const summary = await generateVbr({
      sources,
      out,
      fraction: args.fraction,
      candidates: args.candidates,
      sizeMin: args["size-min"],
      sizeMax: args["size-max"],
      cropShare: args["crop-share"],
      maxSamples: args.max,
      seed: args.seed,
      datasetName: VBR_DEFAULTS.datasetName,
      onStart: ({ instances, done, resumedSamples }) => {
        if (resumedSamples) console.error(`resumed: ${resumedSamples} samples were already written (${done} of ${instances} instances complete)`);
        if (done < instances) bar = new Progress("gen-vbr instances", instances, { start: done, intervalSeconds });
      },
      progress: (done, total) => bar?.update(done, total),
    });
    bar?.finish();
    console.log(`${summary.samples} samples from ${summary.instances} instances: ${summary.yes} yes / ${summary.no} no, ${summary.cropped} cropped`);
    console.log(`colours ${JSON.stringify(summary.colours)}\nshapes ${JSON.stringify(summary.shapes)}`);
    if (args.sheet > 0) {
      const recs = summary.records;
      const step = Math.max(1, Math.floor(recs.length / args.sheet));
      const tiles: SheetTile[] = [];
      for (let i = 0; i < recs.length && tiles.length < args.sheet; i += step) {
        const r = recs[i]!;
        const q = r.entry.messages[0]!.content.replace("<image>", "");
        tiles.push({ image: await decodeImage(await readFile(join(out, r.entry.images[0]!))), caption: `${r.answer.toUpperCase()}${r.cropped ? " (cropped)" : ""}: ${q}` });
      }
      const stamp = vbrStamp(sources);
      await writeFileAtomic(join(out, "sheet.png"), await contactSheet(tiles, { columns: 4, tileWidth: 260, title: `VBR training samples: question → gold answer${stamp ? ` — ${stamp}` : ""}` }));
    }
    console.log(`written ${join(out, "data.json")}, dataset_info.json, stats.json, sizes.png${args.sheet > 0 ? ", sheet.png" : ""}`);
  },
};

interface PointValueArgs {
  source: string[];
  "scene-seed": number;
  root?: string;
  out: string;
  profile?: string;
  samples: number;
  spiral: number;
  random: number;
  box: Perturbation;
  context: number;
  seed: number;
  sheet: number;
}

/** `<dataset>:<split>` sources; synthref ones get the scene seed, REFER ones the data root. */
function parseSources(list: readonly string[], root: string | undefined, sceneSeed?: number) {
  return list.map((s) => {
    const i = s.indexOf(":");
    if (i <= 0) throw new InputError(`expected <dataset>:<split>, got "${s}"`, { field: "--source" });
    const name = s.slice(0, i);
    return { name, split: s.slice(i + 1), options: { ...(root ? { root: userPath(root, "--root") } : {}), ...(name === "synthref" && sceneSeed !== undefined ? { seed: sceneSeed } : {}) } };
  });
}

export const genPointValueCommand: CommandModule<object, PointValueArgs> = {
  command: "gen-point-value",
  describe: "Generate point-value teacher data: for each object a box, spiral and random candidates, and the decoder's IoU with gold for each candidate added as a positive and as a negative (the learned-value ranker's training set)",
  builder: (y) =>
    y
      .option("source", {
        type: "string",
        array: true,
        default: ["synthref:refcoco/val", "synthref:refcoco+/val", "synthref:refcocog/val"],
        describe: "<dataset>:<split>; real data: refcoco:train refcoco+:train refcocog:train (with --root)",
      })
      .option("scene-seed", { type: "number", default: 1, describe: "synthref scene seed (1: not the benchmark's scenes, seed 0, so experiments measure the ranker on scenes it never saw)" })
      .option("root", { type: "string", describe: "data root for REFER sources (default $RESAGENT_DATA_ROOT)" })
      .option("out", { type: "string", default: "results/point-value-data", describe: "output folder (records.jsonl, options.json, stats.json, sheet.png); rerunning resumes it, a larger --samples extends it" })
      .option("profile", { type: "string", describe: "whose decoder measures the values: that of experiments/point-value.yaml on this profile (embedded: graphcut, default; real: SAM2 ONNX)" })
      .option("samples", { type: "number", default: POINT_VALUE_DEFAULTS.samples, describe: "referred objects, spread over the sources (each object once)" })
      .option("spiral", { type: "number", default: POINT_VALUE_DEFAULTS.spiral, describe: "spiral candidates per queue (each queue's half of the EBD spiral's draws)" })
      .option("random", { type: "number", default: POINT_VALUE_DEFAULTS.random, describe: "random candidates per queue (uniform in the box, split by distance from the centre)" })
      .option("box", { type: "string", choices: ["none", "mild", "severe"], default: POINT_VALUE_DEFAULTS.box, describe: "the box: gold (none) or perturbed as the oracle grounder does (Table 7: mild, severe)" })
      .option("context", { type: "number", default: POINT_VALUE_DEFAULTS.context, describe: "also measure each candidate on top of the spiral's first N points per queue, labelled from gold (0: off; two more decodes per candidate)" })
      .option("seed", { type: "number", default: POINT_VALUE_DEFAULTS.seed, describe: "seed of object order, boxes and candidates" })
      .option("sheet", { type: "number", default: 12, describe: "objects on the value-map sheet (0 = none)" }) as never,
  handler: async (args) => {
    const sources = parseSources(args.source, args.root, args["scene-seed"]);
    const exp = loadExperiment("point-value", args.profile ? { profile: args.profile } : {});
    const decoder = exp.cells[0]!.pipeline.decoder;
    const out = userPath(args.out, "--out");
    // Rerunning resumes (or extends) a teacher set; anything else there is refused.
    claimFolder(out, { origin: "--out", kind: "point-value-data" });
    const intervalSeconds = progressIntervalSeconds();
    let bar: Progress | undefined;
    const s = await generatePointValue({
      sources,
      out,
      decoder,
      samples: args.samples,
      spiral: args.spiral,
      random: args.random,
      box: args.box,
      context: args.context,
      seed: args.seed,
      onStart: ({ samples, done }) => {
        if (done) console.error(`resumed: ${done} objects were already measured`);
        if (done < samples) bar = new Progress("gen-point-value objects", samples, { start: done, intervalSeconds });
      },
      progress: (done, total) => bar?.update(done, total),
    });
    bar?.finish();
    const all = s.values.all!;
    console.log(`${s.samples} objects, ${s.candidates} candidates (${s.decodes} decodes, ${s.seconds.cpu.toFixed(0)} s CPU this run); box-only IoU ${s.meanBoxOnlyIoU.toFixed(3)}; value > 0 for ${(100 * all.positive).toFixed(1)}% of candidates, mean ${all.mean.toFixed(4)}, max ${all.max.toFixed(3)}`);
    if (s.samples < args.samples) console.log(`the sources hold only ${s.samples} distinct objects`);
    const f = (v: number | null) => (v === null ? "n/a" : v.toFixed(4));
    for (const h of s.headroom) console.log(`k=${h.k}: spiral's first ${f(h.spiralFirst)} · best of spiral pool ${f(h.spiralOracle)} · best of random pool ${f(h.randomPoolOracle)} · random pick ${f(h.randomPoolMean)} (mean teacher value; pools of more than k)`);
    if (args.sheet > 0 && s.records.length) {
      const step = Math.max(1, Math.floor(s.records.length / args.sheet));
      const tiles: SheetTile[] = [];
      for (let i = 0; i < s.records.length && tiles.length < args.sheet; i += step) {
        const r = s.records[i]!;
        const v = candidateValues(r);
        const [x1, y1, x2, y2] = r.box;
        const best = Math.max(0, ...v);
        const first = (["external", "internal"] as const).map((q) => poolOf(r, "spiral", q)[0]).filter((c) => c !== undefined);
        tiles.push({
          image: paintValueMap(await readImage(r.imagePath), r),
          mask: rleDecode(r.boxOnly.mask),
          box: { x1, y1, x2, y2 },
          caption: `"${r.expression}" · box-only IoU ${r.boxOnly.iou.toFixed(3)} · best +${best.toFixed(3)} · ${v.filter((x) => x > 0).length}/${v.length} worth asking${first.length ? ` · spiral's first: ${first.map((c) => `+${(c.value ?? 0).toFixed(3)}`).join(", ")}` : ""}`,
        });
      }
      const stamp = vbrStamp(sources);
      await writeFileAtomic(
        join(out, "sheet.png"),
        await contactSheet(tiles, { columns: 4, tileWidth: 340, title: `Point value (${decoder.name}): grey no gain, yellow→red IoU gain, white ring in gold, magenta box-only mask${stamp ? ` — ${stamp}` : ""}` }),
      );
    }
    console.log(`written ${join(out, "records.jsonl")}, options.json, stats.json${args.sheet > 0 ? ", sheet.png" : ""}`);
  },
};

interface Sa1bArgs {
  instances: string;
  images: string;
  out: string;
  "image-mode": "symlink" | "hardlink" | "copy" | "none";
  seed: number;
}

export const toSa1bCommand: CommandModule<object, Sa1bArgs> = {
  command: "to-sa1b",
  describe: "Convert COCO instances JSON to SA-1B layout (one JSON per image, compressed RLE, a point per mask) for SAM2 fine-tuning",
  builder: (y) =>
    y
      .option("instances", { type: "string", demandOption: true, describe: "COCO instances_*.json (streamed)" })
      .option("images", { type: "string", demandOption: true, describe: "folder with the images named by file_name" })
      .option("out", { type: "string", demandOption: true, describe: "output folder (one JSON per image, the images, summary.json)" })
      .option("image-mode", { type: "string", choices: ["symlink", "hardlink", "copy", "none"], default: "symlink", describe: "how images get into the output folder (none: JSON only)" })
      .option("seed", { type: "number", default: 0, describe: "seed of the point drawn inside each mask" }) as never,
  handler: async (args) => {
    let bar: Progress | undefined;
    const t0 = performance.now();
    const out = userPath(args.out, "--out");
    const images = userPath(args.images, "--images");
    const instances = userPath(args.instances, "--instances");
    // Only a conversion of the same instances file is redone in place; another's images would mix with these.
    claimFolder(out, {
      origin: "--out",
      kind: "sa1b",
      accept: () => {
        const before = (JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { instances?: unknown }).instances;
        return typeof before === "string" && before !== instances ? `it is the conversion of ${before}` : undefined;
      },
    });
    const s = await cocoToSa1b({
      instances,
      images,
      out,
      imageMode: args["image-mode"],
      seed: args.seed,
      progress: (done, total) => {
        bar ??= new Progress("to-sa1b images", total);
        bar.update(done, total);
      },
    });
    bar?.finish();
    console.log(`${s.imagesWritten} images, ${s.annotationsWritten} annotations in ${((performance.now() - t0) / 1000).toFixed(1)} s -> ${out}`);
    for (const [why, n] of Object.entries(s.skipped)) console.log(`  skipped ${n}: ${why}`);
  },
};
