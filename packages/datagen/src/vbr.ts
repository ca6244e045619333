import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { InputError, maskValueAt, randomStream, readImage, readJsonLinesRepairing, sha256, svgToPng, writeFileAtomic, type Point } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { SpiralSampler } from "@resagent/sampler";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES, markerCrop, renderMarkers, vbrPrompt, type Marker, type MarkerColour, type MarkerShape } from "@resagent/verifier";

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
  /**
   * Where the picture shows what: a hash of the source image's pixels (held-out splits group by
   * it), its size, the referred object's gold box and the crop the picture shows (null: the whole
   * image), all in source pixels (xyxy, exclusive x2/y2). A learner needs these to tell which
   * object the question is about without reading the phrase (`pnpm train-verifier`).
   */
  image?: { hash: string; width: number; height: number; box: [number, number, number, number]; crop: [number, number, number, number] | null };
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

// A readable file stem plus a hash of the id: "refcoco/val" and "refcoco+/val" (and ":" vs "/")
// would otherwise map to one name, and one split's pictures would overwrite the other's.
const safe = (id: string) => `${id.replace(/[^\w.-]+/g, "_")}-${sha256(id).slice(0, 8)}`;

/**
 * The VBR fine-tuning set (paper §9.1.2): a seeded share of instances per split, EBD candidates,
 * one random marker per candidate (colour of 8, star/circle/hexagon, random size), half of them
 * cropped around box ∪ marker, answer from the gold mask. Written in LLaMA-Factory's multimodal
 * ShareGPT format. Resumable: records are appended per instance after its images.
 */
export async function generateVbr(o: VbrOptions): Promise<VbrSummary> {
  if (!(o.fraction > 0 && o.fraction <= 1)) throw new InputError(`expected a fraction in (0, 1], got ${o.fraction}`, { field: "fraction" });
  if (!(o.sizeMin > 0 && o.sizeMax >= o.sizeMin)) throw new InputError(`expected 0 < sizeMin <= sizeMax, got ${o.sizeMin}, ${o.sizeMax}`, { field: "size" });
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
      const imageHash = sha256(image.data).slice(0, 16);
      const gb = s.goldBox;
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
          image: { hash: imageHash, width: image.width, height: image.height, box: [gb.x1, gb.y1, gb.x2, gb.y2], crop: crop ? [crop.x1, crop.y1, crop.x2, crop.y2] : null },
          entry: {
            messages: [
              { role: "user", content: `<image>${vbrPrompt(s.expression, marker.colour, marker.shape)}` },
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
  await writeFileAtomic(join(o.out, "stats.json"), `${JSON.stringify({ ...summary, options: { ...o, progress: undefined } }, null, 2)}\n`);
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
