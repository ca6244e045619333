import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { contactSheet, maskArea, maskToCounts, readImage, type Sample, type SheetTile, userPath } from "@resagent/core";
import { SYNTHREF_DEFAULTS, SYNTHREF_SPLITS, openDataset } from "@resagent/data";
import type { CommandModule } from "yargs";
import { Progress } from "../progress.js";

interface Args {
  split: string[];
  count: number;
  seed: number;
  sheet?: string;
  "sheet-size": number;
  coco?: string;
}

/** Summary statistics of a set of samples, as printed by `synthref` (and reused by `data stats`). */
function summarise(samples: readonly Sample[]): Record<string, string | number> {
  const n = samples.length;
  const refs = new Set(samples.map((s) => `${s.source}/${s.meta?.ref}`)).size;
  const count = (k: string) => samples.filter((s) => s.meta?.[k] === true).length;
  const areas = samples.map((s) => (s.goldMask ? maskArea(s.goldMask) / (s.width * s.height) : 0));
  const words = samples.map((s) => s.expression.split(/\s+/).length);
  const cats = new Map<string, number>();
  for (const s of samples) cats.set(String(s.meta?.category), (cats.get(String(s.meta?.category)) ?? 0) + 1);
  const pct = (k: number) => `${((100 * k) / Math.max(1, n)).toFixed(0)}%`;
  return {
    sentences: n,
    refs,
    "mean words/phrase": (words.reduce((a, b) => a + b, 0) / Math.max(1, n)).toFixed(1),
    "mean mask area": `${((100 * areas.reduce((a, b) => a + b, 0)) / Math.max(1, n)).toFixed(1)}% of image`,
    "with same-category distractors": pct(samples.filter((s) => (s.distractorBoxes?.length ?? 0) > 0).length),
    camouflaged: pct(count("camouflaged")),
    occluded: pct(count("occluded")),
    "touching same-category instance": pct(count("touching")),
    "  ... of the target's colour": pct(count("sameColour")),
    "two-tone (a part in the background's colour)": pct(count("twoTone")),
    "clutter inside the box": pct(count("clutter")),
    "thin parts": pct(count("thin")),
    holes: pct(count("hole")),
    categories: [...cats].sort((a, b) => b[1] - a[1]).map(([c, k]) => `${c} ${k}`).join(", "),
  };
}

/**
 * The samples a contact sheet shows: `size` of them, taken from the splits in turn, each split
 * showing distinct scenes (a ref's first sentence) before it repeats a scene with another phrase.
 */
export function sheetPicks(samples: readonly Sample[], splits: readonly string[], size: number): Sample[] {
  const queues = splits.map((split) => {
    const mine = samples.filter((s) => s.source === `synthref/${split}`);
    const seen = new Set<string>();
    const first: Sample[] = [];
    const rest: Sample[] = [];
    for (const s of mine) {
      const ref = String(s.meta?.ref ?? s.id);
      (seen.has(ref) ? rest : first).push(s);
      seen.add(ref);
    }
    return [...first, ...rest];
  });
  const picks: Sample[] = [];
  for (let i = 0; picks.length < size && queues.some((q) => i < q.length); i++) for (const q of queues) if (i < q.length && picks.length < size) picks.push(q[i]!);
  return picks;
}

export const synthrefCommand: CommandModule<object, Args> = {
  command: "synthref",
  describe: "Generate (or load from cache) the embedded synthetic benchmark, print a summary, optionally write a contact sheet",
  builder: (y) =>
    y
      .option("split", {
        type: "string",
        array: true,
        default: ["refcoco/val", "refcoco+/val", "refcocog/val", "reasonseg/val"],
        describe: `splits to generate (${SYNTHREF_SPLITS.join(", ")})`,
      })
      .option("count", { type: "number", default: 200, describe: `sentences per split (the splits hold ${SYNTHREF_DEFAULTS.count}; experiments take the first --limit)` })
      .option("seed", { type: "number", default: SYNTHREF_DEFAULTS.seed, describe: "generation seed (same seed, byte-identical scenes)" })
      .option("sheet", { type: "string", describe: "write a contact sheet PNG of samples with gold masks here" })
      .option("sheet-size", { type: "number", default: 16, describe: "samples on the contact sheet (spread over the splits)" })
      .option("coco", { type: "string", describe: "also write the first split's gold masks as COCO instances JSON (uncompressed RLE) here, for to-sa1b" }) as never,
  handler: async (args) => {
    const all: Sample[] = [];
    const t0 = performance.now();
    for (const split of args.split) {
      const ds = await openDataset("synthref", { split, count: args.count, seed: args.seed });
      const bar = new Progress(`synthref ${split}`, ds.size);
      const samples: Sample[] = [];
      for await (const s of ds) {
        samples.push(s);
        bar.tick();
      }
      bar.finish();
      console.log(`\n${ds.name}  [${ds.provenance}]`);
      for (const [k, v] of Object.entries(summarise(samples))) console.log(`  ${k.padEnd(32)} ${v}`);
      all.push(...samples);
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`\n${all.length} samples in ${secs.toFixed(1)} s (${(all.length / secs).toFixed(1)}/s, cached samples load faster than generated ones)`);
    if (args.coco) {
      const split = args.split[0]!;
      const refs = new Map<number, Sample>();
      for (const s of all) if (s.source === `synthref/${split}`) refs.set(Number(s.meta?.ref), s);
      const images = [...refs.values()].map((s) => ({ id: Number(s.meta?.ref), file_name: basename(s.imagePath), width: s.width, height: s.height }));
      const annotations = [...refs.values()].map((s) => ({ id: 1000 + Number(s.meta?.ref), image_id: Number(s.meta?.ref), category_id: 1, iscrowd: 1, bbox: [s.goldBox!.x1, s.goldBox!.y1, s.goldBox!.x2 - s.goldBox!.x1, s.goldBox!.y2 - s.goldBox!.y1], segmentation: { size: [s.height, s.width], counts: maskToCounts(s.goldMask!) } }));
      const file = userPath(args.coco, "--coco");
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, JSON.stringify({ images, annotations, categories: [{ id: 1, name: "object" }] }));
      console.log(`COCO instances: ${file} (images in ${dirname([...refs.values()][0]!.imagePath)})`);
    }
    if (args.sheet) {
      const tiles: SheetTile[] = [];
      for (const s of sheetPicks(all, args.split, args["sheet-size"])) {
        const f = s.meta ?? {};
        const tags = ["camouflaged", "occluded", "touching", "sameColour", "twoTone", "clutter", "thin", "hole"].filter((k) => f[k] === true).join(",");
        tiles.push({
          image: await readImage(s.imagePath),
          mask: s.goldMask,
          box: s.goldBox,
          caption: `[${f.style}/${f.split}${tags ? ` ${tags}` : ""}] ${s.expression}`,
        });
      }
      const png = await contactSheet(tiles, { columns: 4, tileWidth: 300, title: "synthref — SIMULATED data (synthetic scenes): gold mask outlined magenta, gold box green" });
      const out = userPath(args.sheet, "--sheet");
      await mkdir(dirname(out), { recursive: true });
      await writeFile(out, png);
      console.log(`contact sheet: ${out}`);
    }
  },
};
