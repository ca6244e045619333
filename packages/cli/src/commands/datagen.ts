import { join } from "node:path";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { InputError, claimFolder, contactSheet, userPath, decodeImage, writeFileAtomic, type SheetTile } from "@resagent/core";
import { VBR_DEFAULTS, cocoToSa1b, generateVbr, vbrStamp } from "@resagent/datagen";
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
    const sources = args.source.map((s) => {
      const i = s.indexOf(":");
      if (i <= 0) throw new InputError(`expected <dataset>:<split>, got "${s}"`, { field: "--source" });
      return { name: s.slice(0, i), split: s.slice(i + 1), options: args.root ? { root: userPath(args.root, "--root") } : {} };
    });
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
