import { open } from "node:fs/promises";
import { join } from "node:path";
import { InputError, escapeMarkup, maskValueAt, niceTicks, randomStream, readImage, readJsonLinesRepairing, sha256, svgToPng, writeFileAtomic, type Point } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { SpiralSampler, parseSpiralParams } from "@resagent/sampler";
import { MARKER_COLOUR_NAMES, MARKER_SHAPES, VBR_PROMPTS, markerCrop, renderMarkers, vbrPrompt, type Marker, type MarkerColour, type MarkerShape } from "@resagent/verifier";
import { claimGeneration } from "./generation.js";

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
  /** Called once before any work: instances planned, instances already complete (a resumed run) and their samples. */
  onStart?: (info: { instances: number; done: number; resumedSamples: number }) => void;
  /** Called after each instance with instances complete (counting resumed ones) and planned. */
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
  /** Index of the candidate among the instance's EBD candidates (merge order): the image is images/<id>_<candidate>.jpg. */
  candidate: number;
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
   * object the question is about (`pnpm train-verifier`), beside the phrase (`expression`).
   */
  image?: { hash: string; width: number; height: number; box: [number, number, number, number]; crop: [number, number, number, number] | null };
  /** The referring expression the question is about (also inside the prompt; here so a learner need not parse it). */
  expression?: string;
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

/** How samples are spread over instances; part of a folder's identity (options.json). */
export const VBR_DRAW = "across-instances-rotated-v2" // v2: picture names carry a hash of the sample id;

interface PlanItem {
  ds: Awaited<ReturnType<typeof openDataset>>;
  index: number;
  id: string;
  /** Samples to draw from this instance. */
  quota: number;
  /** Place in the plan: the instance's candidates are taken starting at candidate `rank` (mod their number). */
  rank: number;
}

/**
 * Which instances, in which order, and how many samples each. The selected instances of every
 * source are shuffled together (seeded, by id, so each instance's place does not depend on the
 * others), and --max is spread over them round-robin: every instance's first sample before
 * any instance's second, so a small cap draws from many images and every source rather than
 * exhausting the first few scenes of the first split. An instance's samples are its first
 * `quota` EBD candidates starting at candidate `rank` (mod their number), so that a small cap
 * mixes centre-proximal and boundary-proximal candidates (yes and no answers) as the whole set
 * does; raising --max only adds candidates, so runs extend one another.
 */
async function vbrPlan(o: VbrOptions): Promise<PlanItem[]> {
  const chosen: (Omit<PlanItem, "quota" | "rank"> & { order: number })[] = [];
  for (const src of o.sources) {
    const ds = await openDataset(src.name, { split: src.split, ...(src.options ?? {}) });
    ds.ids().forEach((id, index) => {
      if (randomStream(o.seed, "gen-vbr/select", id).next() < o.fraction) chosen.push({ ds, index, id, order: randomStream(o.seed, "gen-vbr/order", id).next() });
    });
  }
  chosen.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Candidates per instance: both queues of the sampler (o.candidates each).
  const perInstance = 2 * o.candidates;
  const n = chosen.length;
  const base = n ? Math.floor(o.maxSamples / n) : 0;
  const extra = n ? o.maxSamples % n : 0;
  return chosen
    .map(({ order: _o, ...c }, rank) => ({ ...c, rank, quota: Math.min(perInstance, base + (rank < extra ? 1 : 0)) }))
    .filter((c) => c.quota > 0);
}

/** The SIMULATED mark of outputs drawn from synthetic data (synthref), or undefined for real data. */
export function vbrStamp(sources: readonly VbrSource[]): string | undefined {
  const sim = sources.filter((s) => s.name === "synthref");
  if (!sim.length) return undefined;
  return sim.length === sources.length ? "SIMULATED data: synthetic synthref scenes" : `SIMULATED in part: ${sim.length} of ${sources.length} sources are synthetic synthref scenes`;
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
export async function generateVbr(o: VbrOptions): Promise<VbrSummary & { records: VbrRecord[] }> {
  const bad = (field: string, want: string, got: unknown) => new InputError(`expected ${want}, got ${JSON.stringify(got)}`, { field });
  if (!(o.fraction > 0 && o.fraction <= 1)) throw bad("--fraction", "a fraction in (0, 1]", o.fraction);
  if (!(Number.isInteger(o.candidates) && o.candidates >= 1)) throw bad("--candidates", "an integer >= 1", o.candidates);
  if (!(o.sizeMin > 0)) throw bad("--size-min", "a size > 0", o.sizeMin);
  if (!(o.sizeMax >= o.sizeMin)) throw bad("--size-max", `a size >= --size-min (${o.sizeMin})`, o.sizeMax);
  if (!(o.cropShare >= 0 && o.cropShare <= 1)) throw bad("--crop-share", "a fraction in [0, 1]", o.cropShare);
  if (!(Number.isInteger(o.maxSamples) && o.maxSamples >= 1)) throw bad("--max", "an integer >= 1", o.maxSamples);
  if (!(Number.isInteger(o.seed) && o.seed >= 0)) throw bad("--seed", "an integer >= 0", o.seed);
  // A folder resumes only the generation that made it: other options would mix two data sets.
  // `draw` names how samples are spread over instances (the folder of an older draw is refused);
  // --max is not part of it: raising it extends the same generation, lowering it keeps a prefix.
  const identity = { sources: o.sources, fraction: o.fraction, candidates: o.candidates, sizeMin: o.sizeMin, sizeMax: o.sizeMax, cropShare: o.cropShare, seed: o.seed, datasetName: o.datasetName, draw: VBR_DRAW };
  const recordsFile = await claimGeneration(o.out, identity);
  // Everything written so far (a resumed run's records, possibly of another --max), by instance and candidate.
  const written = new Map<string, VbrRecord>();
  for (const r of await readJsonLinesRepairing<VbrRecord>(recordsFile)) if (typeof r.candidate === "number") written.set(`${r.sampleId}\u0000${r.candidate}`, r);
  const sampler = new SpiralSampler(parseSpiralParams());
  const plan = await vbrPlan(o);
  const kept: VbrRecord[] = [];
  // The candidates an instance's samples use, when it has the nominal 2 x candidates (an instance
  // whose sampler gives fewer is looked at again on a resume, cheaply: its images exist).
  const perInstance = 2 * o.candidates;
  const haves = plan.map((item) => Array.from({ length: item.quota }, (_, j) => written.get(`${item.id}\u0000${(item.rank + j) % perInstance}`)));
  const complete = haves.filter((h) => h.every((r) => r !== undefined)).length;
  o.onStart?.({ instances: plan.length, done: complete, resumedSamples: haves.flat().filter(Boolean).length });
  let finished = complete;
  const handle = await open(recordsFile, "a");
  try {
    for (const [i, item] of plan.entries()) {
      const have = haves[i]!;
      if (have.every((r) => r !== undefined)) {
        kept.push(...(have as VbrRecord[]));
        continue;
      }
      const s = await item.ds.get(item.index);
      if (!s.goldMask || !s.goldBox) throw new InputError("the VBR generator needs gold masks and boxes", { field: `sample ${s.id}` });
      const image = await readImage(s.imagePath);
      const imageHash = sha256(image.data).slice(0, 16);
      const gb = s.goldBox;
      const cands = sampler.sample(s.goldBox, o.candidates, randomStream(o.seed, "gen-vbr/sampler", s.id), image);
      const recs: VbrRecord[] = [];
      const n = cands.ordered.length;
      for (let slot = 0; slot < Math.min(item.quota, n); slot++) {
        const j = (item.rank + slot) % n;
        const c = cands.ordered[j]!;
        const old = written.get(`${item.id}\u0000${j}`);
        if (old) {
          kept.push(old);
          continue;
        }
        const r = randomStream(o.seed, "gen-vbr/marker", `${s.id}/${j}`);
        const marker: Marker = { point: c.point, colour: r.choice(MARKER_COLOUR_NAMES), shape: r.choice(MARKER_SHAPES), size: o.sizeMin + r.int(o.sizeMax - o.sizeMin + 1) };
        const cropped = r.bernoulli(o.cropShare);
        const crop = cropped ? markerCrop([marker], s.goldBox, image.width, image.height) : undefined;
        const file = `images/${safe(s.id)}_${j}.jpg`;
        await writeFileAtomic(join(o.out, file), await renderMarkers(image, [marker], crop));
        const inside = maskValueAt(s.goldMask, c.point) === 1;
        const answer = inside ? "yes" : "no";
        const rec: VbrRecord = {
          sampleId: s.id,
          candidate: j,
          point: c.point,
          colour: marker.colour,
          shape: marker.shape,
          size: marker.size,
          cropped,
          answer,
          image: { hash: imageHash, width: image.width, height: image.height, box: [gb.x1, gb.y1, gb.x2, gb.y2], crop: crop ? [crop.x1, crop.y1, crop.x2, crop.y2] : null },
          expression: s.expression,
          entry: {
            messages: [
              // The authors' question (`{expr}', as their inference code sends it), with the marker's
              // own shape: their LoRA was trained on random colours and shapes (paper §9.1.2).
              { role: "user", content: `<image>${vbrPrompt(s.expression, marker.colour, marker.shape, "authors")}` },
              { role: "assistant", content: answer },
            ],
            images: [file],
          },
        };
        recs.push(rec);
        kept.push(rec);
      }
      await handle.write(recs.map((x) => `${JSON.stringify(x)}\n`).join(""));
      o.progress?.(++finished, plan.length);
    }
  } finally {
    await handle.close();
  }
  // One order whatever the history (fresh, resumed, extended): the plan's.
  const all = kept;
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
  await writeFileAtomic(join(o.out, "stats.json"), `${JSON.stringify({ ...summary, prompt: VBR_PROMPTS.authors, simulated: vbrStamp(o.sources) ?? false, options: { ...o, progress: undefined, onStart: undefined } }, null, 2)}\n`);
  await writeFileAtomic(join(o.out, "sizes.png"), await svgToPng(histogramSvg(summary.sizeHistogram, o.sizeMin, o.sizeMax, vbrStamp(o.sources))));
  // The records in data.json's order (the contact sheet draws from them).
  return { ...summary, records: all };
}

/** Marker-size histogram: samples per radius, with both axes labelled; `stamp` (SIMULATED) under the title. */
export function histogramSvg(h: Record<string, number>, lo: number, hi: number, stamp?: string): string {
  const W = 560;
  const H = 280;
  const left = 56;
  const right = 16;
  const top = stamp ? 48 : 32;
  const bottom = 44;
  const n = hi - lo + 1;
  const peak = Math.max(1, ...Object.values(h));
  // Counts: whole-number ticks (no more ticks than the peak has units).
  const axis = niceTicks(0, peak, Math.min(5, peak));
  const yMax = axis.hi;
  const plotH = H - top - bottom;
  const bw = (W - left - right) / n;
  const y = (v: number) => top + plotH - (plotH * v) / yMax;
  const font = `font-family="DejaVu Sans, sans-serif"`;
  const parts: string[] = [];
  for (const v of axis.ticks) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e4e4e4"/>`);
    parts.push(`<line x1="${left - 4}" x2="${left}" y1="${y(v)}" y2="${y(v)}" stroke="#333"/><text x="${left - 7}" y="${y(v) + 4}" font-size="10" text-anchor="end" ${font}>${v}</text>`);
  }
  const labelEvery = Math.max(1, Math.ceil(n / 12));
  for (let i = 0; i < n; i++) {
    const v = h[String(lo + i)] ?? 0;
    const x = left + i * bw;
    parts.push(`<rect x="${x + 0.5}" y="${y(v)}" width="${Math.max(0.5, bw - 1)}" height="${y(0) - y(v)}" fill="#1f6fd1"/>`);
    if (i % labelEvery === 0 || i === n - 1) parts.push(`<text x="${x + bw / 2}" y="${y(0) + 14}" font-size="10" text-anchor="middle" ${font}>${lo + i}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${y(0)}" stroke="#333"/><line x1="${left}" x2="${W - right}" y1="${y(0)}" y2="${y(0)}" stroke="#333"/>`);
  parts.push(`<text x="${left + (W - left - right) / 2}" y="${H - 8}" font-size="11" text-anchor="middle" ${font}>marker radius (px)</text>`);
  parts.push(`<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" font-size="11" text-anchor="middle" ${font}>samples</text>`);
  parts.push(`<text x="${left}" y="18" font-size="13" font-weight="bold" ${font}>VBR marker sizes: samples per radius (${Object.values(h).reduce((a, b) => a + b, 0)} samples)</text>`);
  if (stamp) parts.push(`<text x="${left}" y="36" font-size="12" font-weight="bold" fill="#c00000" ${font}>${escapeMarkup(stamp)}</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="${W}" height="${H}" fill="white"/>${parts.join("")}</svg>`;
}
