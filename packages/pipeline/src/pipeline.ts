import { InputError, boxIoU, emptyMask, encodeJpeg, randomStream, rleEncode, stableStringify, type Box, type CompressedRle, type Mask, type Point, type RgbImage, type Sample } from "@resagent/core";
import { createDecoder, type Decoder } from "@resagent/decoder";
import { sampleIoU } from "@resagent/metrics";
import { CachedBackend, boxPrompt, createBackend, parseGrounding, type BackendConfig, type ChatBackend } from "@resagent/mllm";
import { createSampler, type Sampler } from "@resagent/sampler";
import { Verifier, type QueryRecord } from "@resagent/verifier";
import type { PipelineConfig } from "./config.js";

/** One line of samples.jsonl: everything but `timing` is deterministic for a given seed. */
export interface SampleRecord {
  id: string;
  cell: string;
  dataset: string;
  expression: string;
  /** Predicted (or oracle) box in pixels, rounded to 0.01; null when grounding failed. */
  box: [number, number, number, number] | null;
  groundingFailure?: string;
  boxIoU?: number;
  candidates: { x: number; y: number; queue: string; rank: number }[];
  queries: Omit<QueryRecord, "latencyMs" | "cached">[];
  positives: [number, number][];
  negatives: [number, number][];
  mask: CompressedRle;
  score: number;
  iou: number;
  intersection: number;
  union: number;
  /** Wall-clock milliseconds per stage, MLLM queries and cache hits: the only non-deterministic fields. */
  timing: Record<string, number>;
}

const r2 = (v: number) => Math.round(v * 100) / 100;
const EMPTY_RLE: CompressedRle = { size: [0, 0], counts: "" };

/** Shares backends and decoders between cells with equal configs (same answers cache, same SAM embeddings). */
export class ComponentPool {
  private readonly backends = new Map<string, ChatBackend>();
  private readonly decoders = new Map<string, Decoder>();
  private readonly samplers = new Map<string, Sampler>();

  private backendKey(cfg: PipelineConfig["mllm"] | NonNullable<PipelineConfig["verifierMllm"]>, seed: number): { key: string; b: BackendConfig } {
    const { convention: _c, pick: _p, boxPrompt: _b, ...b } = cfg as PipelineConfig["mllm"];
    return { key: stableStringify({ ...b, seed: b.seed ?? seed }), b };
  }

  /** Use this backend instance wherever a pipeline asks for `cfg` (benchmarks, embedding callers). */
  provideBackend(cfg: PipelineConfig["mllm"] | NonNullable<PipelineConfig["verifierMllm"]>, seed: number, backend: ChatBackend): void {
    this.backends.set(this.backendKey(cfg, seed).key, backend);
  }

  backend(cfg: PipelineConfig["mllm"] | NonNullable<PipelineConfig["verifierMllm"]>, seed: number): ChatBackend {
    const { key, b } = this.backendKey(cfg, seed);
    let x = this.backends.get(key);
    if (!x) this.backends.set(key, (x = createBackend({ ...b, seed: b.seed ?? seed })));
    return x;
  }

  decoder(cfg: PipelineConfig["decoder"]): Decoder {
    const key = stableStringify(cfg);
    let d = this.decoders.get(key);
    if (!d) this.decoders.set(key, (d = createDecoder(cfg.name, cfg.params ?? {})));
    return d;
  }

  sampler(cfg: PipelineConfig["sampler"]): Sampler {
    const key = stableStringify(cfg);
    let s = this.samplers.get(key);
    if (!s) this.samplers.set(key, (s = createSampler(cfg.name, cfg.params ?? {})));
    return s;
  }

  allBackends(): ChatBackend[] {
    return [...this.backends.values()];
  }

  allDecoders(): Decoder[] {
    return [...this.decoders.values()];
  }

  private decodersDisposed = false;

  /**
   * Release what the components hold: decoder sessions (once), and the response caches' append
   * handles (each call: a cache written to after a close reopens its file). Safe to call twice.
   */
  async dispose(): Promise<void> {
    if (!this.decodersDisposed) {
      this.decodersDisposed = true;
      for (const d of this.decoders.values()) await d.dispose?.();
    }
    await Promise.all([...this.backends.values()].map((b) => (b instanceof CachedBackend ? b.cache.close() : undefined)));
  }
}

/** A loaded sample: the image is decoded once and shared by every cell. */
export interface LoadedSample {
  sample: Sample;
  image: RgbImage | undefined;
  imageHash: string;
  /** The image file's bytes: sent as they are for grounding (no re-encoding) when present. */
  fileBytes?: Uint8Array;
}

const MIME: Record<string, string> = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp" };

/**
 * The four-stage ResAgent workflow for one configuration: box grounding (§3.2), EBD candidates
 * (§3.3), visual verification with early stopping (§3.4), mask decoding (§3.5).
 */
export class Pipeline {
  readonly grounder: ChatBackend;
  readonly verifierBackend: ChatBackend;
  readonly sampler: Sampler;
  readonly verifier: Verifier;
  readonly decoder: Decoder;

  constructor(
    readonly config: PipelineConfig,
    readonly seed: number,
    pool: ComponentPool = new ComponentPool(),
  ) {
    if (!(Number.isInteger(config.k) && config.k >= 0)) throw new InputError(`expected a non-negative integer, got ${JSON.stringify(config.k)}`, { field: "pipeline.k" });
    // A bad grounding template fails here, before any work.
    boxPrompt("", config.mllm.boxPrompt);
    this.grounder = pool.backend(config.mllm, seed);
    this.verifierBackend = config.verifierMllm ? pool.backend(config.verifierMllm, seed) : this.grounder;
    this.sampler = pool.sampler(config.sampler);
    this.verifier = new Verifier(this.verifierBackend, config.verifier);
    this.decoder = pool.decoder(config.decoder);
  }

  describe(): Record<string, string> {
    return {
      grounding: this.grounder.describe(),
      verification: this.config.k > 0 ? `${this.verifierBackend.describe()}; ${this.verifier.describe()}` : "none (K = 0)",
      sampler: `${this.sampler.describe?.() ?? this.sampler.name} K=${this.config.k}`,
      decoder: this.decoder.describe(),
    };
  }

  async run(loaded: LoadedSample, cell: string): Promise<SampleRecord> {
    const { sample, image, imageHash } = loaded;
    const timing: Record<string, number> = {};
    const t0 = performance.now();
    let t = t0;
    const lap = (k: string) => {
      const now = performance.now();
      timing[k] = (timing[k] ?? 0) + (now - t);
      t = now;
    };
    const W = sample.width;
    const H = sample.height;
    const gold = { ...(sample.goldMask ? { mask: sample.goldMask } : {}), ...(sample.goldBox ? { box: sample.goldBox } : {}), ...(sample.distractorBoxes ? { distractorBoxes: sample.distractorBoxes } : {}) };
    const needPixels = this.grounder.needsImages || this.verifierBackend.needsImages;
    const imageOrFail = (): RgbImage => {
      if (!image) throw new InputError("image not loaded", { file: sample.imagePath });
      return image;
    };

    // 1. box grounding (the file is sent as it is when its format is one servers accept)
    const cfg = this.config.mllm;
    const fileMime = MIME[sample.imagePath.split(".").pop()!.toLowerCase()];
    const answer = await this.grounder.complete(
      {
        content: [
          loaded.fileBytes && fileMime
            ? { type: "image", hash: imageHash, mime: fileMime, render: async () => loaded.fileBytes! }
            : { type: "image", hash: imageHash, render: () => encodeJpeg(imageOrFail(), 95) },
          { type: "text", text: boxPrompt(sample.expression, cfg.boxPrompt) },
        ],
        maxTokens: 128,
        topLogprobs: 0,
      },
      { kind: "ground", sampleId: sample.id, imageWidth: W, imageHeight: H, gold, boxConvention: cfg.convention },
    );
    timing.mllmQueries = 1;
    timing.cacheHits = answer.cached ? 1 : 0;
    lap("ground");
    const g = parseGrounding(answer.text, cfg.convention, W, H, cfg.pick);
    let box: Box | undefined = g.ok ? g.box : undefined;
    if (!box && this.config.onGroundingFailure === "full-image") box = { x1: 0, y1: 0, x2: W, y2: H };

    const record: SampleRecord = {
      id: sample.id,
      cell,
      dataset: sample.source,
      expression: sample.expression,
      box: box ? [r2(box.x1), r2(box.y1), r2(box.x2), r2(box.y2)] : null,
      ...(g.ok ? {} : { groundingFailure: g.failure }),
      ...(box && sample.goldBox ? { boxIoU: r2(boxIoU(box, sample.goldBox) * 100) / 100 } : {}),
      candidates: [],
      queries: [],
      positives: [],
      negatives: [],
      mask: EMPTY_RLE, // replaced below: by the decoder's mask, or the empty mask when grounding failed
      score: 0,
      iou: 0,
      intersection: 0,
      union: 0,
      timing,
    };
    let positives: Point[] = [];
    let negatives: Point[] = [];
    if (box) {
      // 2. candidates (the stream depends on the sample only, so every cell sees the same points)
      if (this.config.k > 0) {
        const cands = this.sampler.sample(box, this.config.k, randomStream(this.seed, "sampler", sample.id), { width: W, height: H });
        record.candidates = cands.ordered.map((c) => ({ x: r2(c.point.x), y: r2(c.point.y), queue: c.queue, rank: c.rank }));
        lap("sample");
        // 3. verification
        const v = await this.verifier.verify({
          sampleId: sample.id,
          expression: sample.expression,
          image: needPixels ? imageOrFail() : image,
          imageHash,
          width: W,
          height: H,
          box,
          candidates: cands.ordered,
          gold,
          rng: randomStream(this.seed, "verifier", sample.id),
        });
        positives = v.positives;
        negatives = v.negatives;
        record.queries = v.queries.map(({ latencyMs: _l, cached: _c, ...q }) => ({ ...q, point: { x: r2(q.point.x), y: r2(q.point.y) }, ...(q.pYes === null ? {} : { pYes: Math.round(q.pYes * 1e6) / 1e6 }) }));
        record.positives = positives.map((p) => [r2(p.x), r2(p.y)]);
        record.negatives = negatives.map((p) => [r2(p.x), r2(p.y)]);
        timing.mllmQueries += v.queries.length;
        timing.cacheHits += v.queries.filter((q) => q.cached).length;
        lap("verify");
      }
      // 4. decoding
      const out = await this.decoder.segment({ image: imageOrFail(), key: imageHash }, { box, positives, negatives });
      record.mask = rleEncode(out.mask);
      record.score = Math.round(out.score * 1e4) / 1e4;
      lap("decode");
      if (sample.goldMask) {
        const s = sampleIoU(out.mask, sample.goldMask);
        record.iou = Math.round(s.iou * 1e6) / 1e6;
        record.intersection = s.intersection;
        record.union = s.union;
      }
    } else {
      const empty = emptyMask(W, H) as Mask;
      record.mask = rleEncode(empty);
      if (sample.goldMask) {
        const s = sampleIoU(empty, sample.goldMask);
        Object.assign(record, { iou: s.iou, intersection: s.intersection, union: s.union });
      }
    }
    timing.total = performance.now() - t0;
    return record;
  }
}
