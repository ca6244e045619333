import { existsSync, readFileSync } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { InputError, maskValueAt, randomStream, readImage, readJsonLinesRepairing, svgToPng, writeFileAtomic, type Point } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { SpiralSampler } from "@resagent/sampler";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES, VBR_PROMPTS, markerCrop, renderMarkers, vbrPrompt, type Marker, type MarkerColour, type MarkerShape } from "@resagent/verifier";

export interface VbrSource {
  name: string;
  split: string;
  options?: Record<string, unknown>;
}

export interface VbrOptions {
  sources: VbrSource[];
  out: string;
  /** Share of instances sampled per split (paper: 15%). */
  fraction: number;
  /** Candidates per queue: twice the inference budget K = 4 by default. */
  candidates: number;
  /** Marker radius range in pixels (the paper's range was lost in the text). */
  sizeMin: number;
  sizeMax: number;
  /** Share of samples cropped around the marker (paper: 50%). */
  cropShare: number;
  /** Total cap (paper: 80,000). */
  maxSamples: number;
  seed: number;
  /** Dataset name in dataset_info.json. */
  datasetName: string;
  progress?: (done: number, total: number) => void;
}

export const VBR_DEFAULTS: Omit<VbrOptions, "sources" | "out"> = {
  fraction: 0.15,
  candidates: 8,
  sizeMin: 12,
  sizeMax: 32,
  cropShare: 0.5,
  maxSamples: 80_000,
  seed: 0,
  datasetName: "resagent_vbr",
};

/** One generated example: the LLaMA-Factory entry plus what a checker needs. */
export interface VbrRecord {
  sampleId: string;
  point: Point;
  colour: MarkerColour;
  shape: MarkerShape;
  size: number;
  cropped: boolean;
  answer: "yes" | "no";
  entry: { messages: { role: "user" | "assistant"; content: string }[]; images: string[] };
}

export interface VbrSummary {
  samples: number;
  instances: number;
  yes: number;
  no: number;
  colours: Record<string, number>;
  shapes: Record<string, number>;
  cropped: number;
  sizeHistogram: Record<string, number>;
}

const safe = (id: string) => id.replace(/[^\w.-]+/g, "_");

/**
 * The VBR fine-tuning set (paper §9.1.2): a seeded share of instances per split, EBD candidates,
 * one random marker per candidate (colour of 8, star/circle/hexagon, random size), half of them
 * cropped around box ∪ marker, answer from the gold mask. Written in LLaMA-Factory's multimodal
 * ShareGPT format. Resumable: records are appended per instance after its images.
 */
export async function generateVbr(o: VbrOptions): Promise<VbrSummary> {
  const bad = (field: string, want: string, got: unknown) => new InputError(`expected ${want}, got ${JSON.stringify(got)}`, { field });
  if (!(o.fraction > 0 && o.fraction <= 1)) throw bad("--fraction", "a fraction in (0, 1]", o.fraction);
  if (!(Number.isInteger(o.candidates) && o.candidates >= 1)) throw bad("--candidates", "an integer >= 1", o.candidates);
  if (!(o.sizeMin > 0)) throw bad("--size-min", "a size > 0", o.sizeMin);
  if (!(o.sizeMax >= o.sizeMin)) throw bad("--size-max", `a size >= --size-min (${o.sizeMin})`, o.sizeMax);
  if (!(o.cropShare >= 0 && o.cropShare <= 1)) throw bad("--crop-share", "a fraction in [0, 1]", o.cropShare);
  if (!(Number.isInteger(o.maxSamples) && o.maxSamples >= 1)) throw bad("--max", "an integer >= 1", o.maxSamples);
  if (!(Number.isInteger(o.seed) && o.seed >= 0)) throw bad("--seed", "an integer >= 0", o.seed);
  // A folder resumes only the generation that made it: other options would mix two data sets.
  const identity = { sources: o.sources, fraction: o.fraction, candidates: o.candidates, sizeMin: o.sizeMin, sizeMax: o.sizeMax, cropShare: o.cropShare, seed: o.seed, datasetName: o.datasetName };
  const optionsFile = join(o.out, "options.json");
  if (existsSync(optionsFile)) {
    const before = JSON.parse(readFileSync(optionsFile, "utf8")) as Record<string, unknown>;
    const changed = Object.keys(identity).filter((k) => JSON.stringify(before[k]) !== JSON.stringify((identity as Record<string, unknown>)[k]));
    if (changed.length) throw new InputError(`this folder was generated with other options (${changed.map((k) => `${k}: ${JSON.stringify(before[k])} then, ${JSON.stringify((identity as Record<string, unknown>)[k])} now`).join("; ")}); use another --out or the same options`, { file: o.out });
  } else if (existsSync(join(o.out, "records.jsonl"))) {
    throw new InputError("this folder has records but no options.json (made by an older version); use another --out", { file: o.out });
  }
  await mkdir(o.out, { recursive: true });
  await writeFileAtomic(optionsFile, `${JSON.stringify(identity, null, 2)}\n`);
  const recordsFile = join(o.out, "records.jsonl");
  // Everything written so far (a resumed run's records first); the summary is drawn from it.
  const all = await readJsonLinesRepairing<VbrRecord>(recordsFile);
  const done = new Set(all.map((r) => r.sampleId));
  const sampler = new SpiralSampler();
  await mkdir(o.out, { recursive: true });
  const handle = await open(recordsFile, "a");
  try {
    const plan: { ds: Awaited<ReturnType<typeof openDataset>>; index: number; id: string }[] = [];
    for (const src of o.sources) {
      const ds = await openDataset(src.name, { split: src.split, ...(src.options ?? {}) });
      ds.ids().forEach((id, index) => {
        if (randomStream(o.seed, "gen-vbr/select", id).next() < o.fraction) plan.push({ ds, index, id });
      });
    }
    let step = 0;
    for (const item of plan) {
      step++;
      if (all.length >= o.maxSamples) break;
      if (done.has(item.id)) {
        o.progress?.(step, plan.length);
        continue;
      }
      const s = await item.ds.get(item.index);
      if (!s.goldMask || !s.goldBox) throw new InputError("the VBR generator needs gold masks and boxes", { field: `sample ${s.id}` });
      const image = await readImage(s.imagePath);
      const cands = sampler.sample(s.goldBox, o.candidates, randomStream(o.seed, "gen-vbr/sampler", s.id), image);
      const recs: VbrRecord[] = [];
      for (const [j, c] of cands.ordered.entries()) {
        if (all.length + recs.length >= o.maxSamples) break;
        const r = randomStream(o.seed, "gen-vbr/marker", `${s.id}/${j}`);
        const marker: Marker = { point: c.point, colour: r.choice(MARKER_COLOUR_NAMES), shape: r.choice(MARKER_SHAPES), size: o.sizeMin + r.int(o.sizeMax - o.sizeMin + 1) };
        const cropped = r.bernoulli(o.cropShare);
        const crop = cropped ? markerCrop([marker], s.goldBox, image.width, image.height) : undefined;
        const file = `images/${safe(s.id)}_${j}.jpg`;
        await writeFileAtomic(join(o.out, file), await renderMarkers(image, [marker], crop));
        const inside = maskValueAt(s.goldMask, c.point) === 1;
        const answer = inside ? "yes" : "no";
        recs.push({
          sampleId: s.id,
          point: c.point,
          colour: marker.colour,
          shape: marker.shape,
          size: marker.size,
          cropped,
          answer,
          entry: {
            messages: [
              // The authors' question (`{expr}', as their inference code sends it), with the marker's
              // own shape: their LoRA was trained on random colours and shapes (paper §9.1.2).
              { role: "user", content: `<image>${vbrPrompt(s.expression, marker.colour, marker.shape, "authors")}` },
              { role: "assistant", content: answer },
            ],
            images: [file],
          },
        });
      }
      await handle.write(recs.map((x) => `${JSON.stringify(x)}\n`).join(""));
      all.push(...recs);
      o.progress?.(step, plan.length);
    }
  } finally {
    await handle.close();
  }
  await writeFileAtomic(join(o.out, "data.json"), `${JSON.stringify(all.map((r) => r.entry))}\n`);
  await writeFileAtomic(
    join(o.out, "dataset_info.json"),
    `${JSON.stringify(
      {
        [o.datasetName]: {
          file_name: "data.json",
          formatting: "sharegpt",
          columns: { messages: "messages", images: "images" },
          tags: { role_tag: "role", content_tag: "content", user_tag: "user", assistant_tag: "assistant" },
        },
      },
      null,
      2,
    )}\n`,
  );
  const count = (f: (r: VbrRecord) => string) => all.reduce<Record<string, number>>((m, r) => ((m[f(r)] = (m[f(r)] ?? 0) + 1), m), {});
  const summary: VbrSummary = {
    samples: all.length,
    instances: new Set(all.map((r) => r.sampleId)).size,
    yes: all.filter((r) => r.answer === "yes").length,
    no: all.filter((r) => r.answer === "no").length,
    colours: count((r) => r.colour),
    shapes: count((r) => r.shape),
    cropped: all.filter((r) => r.cropped).length,
    sizeHistogram: count((r) => String(r.size)),
  };
  await writeFileAtomic(join(o.out, "stats.json"), `${JSON.stringify({ ...summary, prompt: VBR_PROMPTS.authors, options: { ...o, progress: undefined } }, null, 2)}\n`);
  await writeFileAtomic(join(o.out, "sizes.png"), await svgToPng(histogramSvg(summary.sizeHistogram, o.sizeMin, o.sizeMax)));
  return summary;
}

/** Marker-size histogram as a small bar chart. */
function histogramSvg(h: Record<string, number>, lo: number, hi: number): string {
  const W = 520;
  const H = 240;
  const n = hi - lo + 1;
  const max = Math.max(1, ...Object.values(h));
  const bw = (W - 60) / n;
  const bars = Array.from({ length: n }, (_, i) => {
    const v = h[String(lo + i)] ?? 0;
    const bh = ((H - 60) * v) / max;
    return `<rect x="${40 + i * bw}" y="${H - 30 - bh}" width="${bw - 1}" height="${bh}" fill="#1f6fd1"/>${i % 4 === 0 ? `<text x="${40 + i * bw}" y="${H - 14}" font-size="10" font-family="DejaVu Sans">${lo + i}</text>` : ""}`;
  }).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="${W}" height="${H}" fill="white"/><text x="40" y="20" font-size="13" font-family="DejaVu Sans" font-weight="bold">VBR marker sizes (px radius), max ${max}</text>${bars}</svg>`;
}
