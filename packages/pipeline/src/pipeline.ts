import { InputError, boxIoU, emptyMask, encodeJpeg, randomStream, rleEncode, stableStringify, type Box, type CompressedRle, type Mask, type Point, type RgbImage, type Sample } from "@resagent/core";
import { createDecoder, type Decoder } from "@resagent/decoder";
import { sampleIoU } from "@resagent/metrics";
import { CachedBackend, QWEN25_RESIZE, boxPrompt, createBackend, parseGrounding, type BackendConfig, type ChatBackend, type SmartResizeOptions } from "@resagent/mllm";
import { createSampler, mergeQueues, type Candidates, type MergeOrder, type Sampler } from "@resagent/sampler";
import { Verifier, type QueryRecord } from "@resagent/verifier";
import { DECODE_DEFAULTS, type DecodeConfig, type PipelineConfig } from "./config.js";

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
  /** The decoder's score of the mask kept (SAM2: predicted IoU; graphcut: colour-model separation). */
  score: number;
  /**
   * How the mask was decoded, when verification ran (K > 0): which branch was kept ("points": box
   * + points, "box": the box alone) and each branch's decoder score; `centre`: the box centre was
   * the positive because no point survived (decode.emptyPoints centre).
   */
  decode?: { branch: "points" | "box"; pointsScore: number; boxScore?: number; centre?: [number, number] };
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
    const { convention: _c, pick: _p, boxPrompt: _b, smartResize: _s, ...b } = cfg as PipelineConfig["mllm"];
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
  readonly decode: DecodeConfig;
  /** The grounder's smart-resize limits (convention qwen2.5), defaults filled in. */
  readonly smartResize: SmartResizeOptions;

  constructor(
    readonly config: PipelineConfig,
    readonly seed: number,
    pool: ComponentPool = new ComponentPool(),
  ) {
    if (!(Number.isInteger(config.k) && config.k >= 0)) throw new InputError(`expected a non-negative integer, got ${JSON.stringify(config.k)}`, { field: "pipeline.k" });
    const kExt = config.kExternal;
    if (kExt !== undefined && kExt !== null && !(Number.isInteger(kExt) && kExt >= 0)) throw new InputError(`expected a non-negative integer or null, got ${JSON.stringify(kExt)}`, { field: "pipeline.kExternal" });
    this.decode = { ...DECODE_DEFAULTS, ...config.decode };
    const d = this.decode;
    if (!["none", "sam-score"].includes(d.fallback)) throw new InputError(`expected none or sam-score, got ${JSON.stringify(d.fallback)}`, { field: "pipeline.decode.fallback" });
    if (!Number.isFinite(d.margin)) throw new InputError(`expected a number, got ${JSON.stringify(d.margin)}`, { field: "pipeline.decode.margin" });
    if (!["none", "centre"].includes(d.emptyPoints)) throw new InputError(`expected none or centre, got ${JSON.stringify(d.emptyPoints)}`, { field: "pipeline.decode.emptyPoints" });
    this.smartResize = { ...QWEN25_RESIZE, ...config.mllm.smartResize };
    const r = this.smartResize;
    if (!(Number.isInteger(r.factor) && r.factor >= 1 && r.minPixels >= 1 && r.maxPixels >= r.minPixels)) {
      throw new InputError(`expected an integer factor >= 1 and 1 <= minPixels <= maxPixels, got ${JSON.stringify(r)}`, { field: "pipeline.mllm.smartResize" });
    }
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
      sampler: `${this.sampler.describe?.() ?? this.sampler.name} K=${this.config.k}${(this.config.kExternal ?? this.config.k) !== this.config.k ? ` (external queue ${this.config.kExternal})` : ""}`,
      decoder: this.decoder.describe(),
      ...(this.config.k > 0 ? { decoding: describeDecode(this.decode) } : {}),
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
        // The server's resize limits decide what it answers (Qwen2.5: pixels of the resized image).
        keyParams: { smartResize: this.smartResize },
      },
      { kind: "ground", sampleId: sample.id, imageWidth: W, imageHeight: H, gold, boxConvention: cfg.convention, smartResize: this.smartResize },
    );
    timing.mllmQueries = 1;
    timing.cacheHits = answer.cached ? 1 : 0;
    lap("ground");
    const g = parseGrounding(answer.text, cfg.convention, W, H, cfg.pick, this.smartResize);
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
        const cands = this.candidates(box, sample.id, W, H);
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
        const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
        record.queries = v.queries.map(({ latencyMs: _l, cached: _c, ...q }) => ({
          ...q,
          point: { x: r2(q.point.x), y: r2(q.point.y) },
          ...(q.pYes === null ? {} : { pYes: r6(q.pYes) }),
          ...(typeof q.confidence === "number" ? { confidence: r6(q.confidence) } : {}),
        }));
        record.positives = positives.map((p) => [r2(p.x), r2(p.y)]);
        record.negatives = negatives.map((p) => [r2(p.x), r2(p.y)]);
        timing.mllmQueries += v.queries.length;
        timing.cacheHits += v.queries.filter((q) => q.cached).length;
        lap("verify");
      }
      // 4. decoding (with K > 0, as the authors' sam2_decode + choose_decode_branch)
      const img = { image: imageOrFail(), key: imageHash };
      const verified = this.config.k > 0;
      const d = this.decode;
      let pos = positives;
      let centre: [number, number] | undefined;
      if (verified && d.emptyPoints === "centre" && positives.length + negatives.length === 0) {
        const c = { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
        pos = [c];
        centre = [r2(c.x), r2(c.y)];
      }
      let out = await this.decoder.segment(img, { box, positives: pos, negatives });
      if (verified) {
        const pointsScore = out.score;
        let branch: "points" | "box" = "points";
        let boxScore: number | undefined;
        // Without any point the points branch is the box branch: one decode serves both.
        if (pos.length + negatives.length === 0) branch = "box";
        else if (d.fallback === "sam-score") {
          const boxOnly = await this.decoder.segment(img, { box, positives: [], negatives: [] });
          boxScore = boxOnly.score;
          // final 1882: the points branch only when it beats the box by more than the margin.
          if (!(pointsScore > boxScore + d.margin)) {
            branch = "box";
            out = boxOnly;
          }
        }
        const r4 = (v: number) => Math.round(v * 1e4) / 1e4;
        record.decode = { branch, pointsScore: r4(pointsScore), ...(boxScore !== undefined ? { boxScore: r4(boxScore) } : {}), ...(centre ? { centre } : {}) };
      }
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

  /**
   * The candidates: K per queue, or K internal and `kExternal` external. Sampler draws do not
   * depend on K (each queue is the first or last samples of its own draw), so asking the sampler
   * for each count from the same stream gives each queue exactly as a sampler with that K would.
   */
  private candidates(box: Box, id: string, W: number, H: number): Candidates {
    const k = this.config.k;
    const kExt = this.config.kExternal ?? k;
    const draw = (n: number) => this.sampler.sample(box, n, randomStream(this.seed, "sampler", id), { width: W, height: H });
    const a = draw(k);
    if (kExt === k) return a;
    const b = draw(kExt);
    const params = this.sampler.params as { merge?: MergeOrder; membership?: Parameters<typeof mergeQueues>[4] };
    return { external: b.external, internal: a.internal, ordered: mergeQueues(b.external, a.internal, params.merge ?? "interleave", box, params.membership), info: a.info };
  }
}

function describeDecode(d: DecodeConfig): string {
  const fb = d.fallback === "sam-score" ? `box + points vs box alone, the higher decoder score kept (margin ${d.margin})` : "box + points";
  return `${fb}; ${d.emptyPoints === "centre" ? "box centre as a positive when no point survives" : "box alone when no point survives"}`;
}
