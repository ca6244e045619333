import { InputError, boxIoU, parseParams, emptyMask, encodeJpeg, randomStream, rleEncode, stableStringify, type Box, type CompressedRle, type Mask, type Point, type RgbImage, type Sample } from "@resagent/core";
import { DecoderConfigSchema, buildDecoder, type DecodeResult, type Decoder, type DecoderInput } from "@resagent/decoder";
import { sampleIoU } from "@resagent/metrics";
import { BackendConfigSchema, CachedBackend, boxPrompt, buildBackend, parseGrounding, type BackendConfig, type BackendInput, type ChatBackend, type GrounderConfig, type GrounderInput, type GroundingResult, type QueryContext, type SmartResizeOptions } from "@resagent/mllm";
import { DEFAULT_POOL_SCALE, buildSampler, createValueScorer, dedupePixels, mergeQueues, rankPool, samplerStandIn, type Candidates, type MergeOrder, type PointValueScorer, type Sampler } from "@resagent/sampler";
import { Verifier, type QueryRecord } from "@resagent/verifier";
import type { DecodeConfig, PipelineConfig } from "./config.js";
import { ROUTER_DESCRIPTIONS, routeBoxes, type RouterName } from "./routers.js";

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
  /**
   * Ensemble grounding (pipeline.grounding): every expert's box in pixels (null when its answer
   * held no usable box, with the parse failure) and its IoU to gold, the router, and which
   * experts the chosen box (`box`) was made from. `upperBound`: the router looked at gold.
   */
  ensemble?: {
    router: RouterName;
    upperBound?: true;
    experts: { name: string; box: [number, number, number, number] | null; failure?: string; boxIoU?: number }[];
    from: number[];
  };
  candidates: { x: number; y: number; queue: string; rank: number }[];
  /**
   * With sampler.rank: what ordered the candidates, and the pool it chose them from (each point's
   * queue and score, external queue first); `upperBound`: the ranking read gold (oracle-value).
   */
  ranking?: { by: string; upperBound?: true; pool: { x: number; y: number; queue: string; score: number }[] };
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
const boxTuple = (b: Box): [number, number, number, number] => [r2(b.x1), r2(b.y1), r2(b.x2), r2(b.y2)];

/** One grounder of a pipeline: its backend, how its answers are read, and its name in records. */
export interface GroundingExpert {
  name: string;
  config: GrounderConfig;
  backend: ChatBackend;
  smartResize: SmartResizeOptions;
}

/** A readable name for an expert: the model (or simulated preset) and the convention it is read in. */
function expertName(cfg: GrounderConfig): string {
  const base =
    cfg.backend === "simulated"
      ? `simulated ${cfg.preset}`
      : cfg.backend === "openai"
        ? cfg.http.model
        : cfg.backend === "oracle"
          ? `oracle${cfg.perturbation !== "none" ? ` ${cfg.perturbation}` : ""}`
          : cfg.backend;
  return `${base} [${cfg.convention}]`;
}

const EMPTY_RLE: CompressedRle = { size: [0, 0], counts: "" };

/** Shares backends and decoders between cells with equal configs (same answers cache, same SAM embeddings). */
export class ComponentPool {
  private readonly backends = new Map<string, ChatBackend>();
  private readonly decoders = new Map<string, Decoder>();
  private readonly samplers = new Map<string, Sampler>();
  private readonly scorers = new Map<string, PointValueScorer>();

  /** The backend part of a grounder or verifier config (a grounder's reading keys aside), its seed filled in, and its key. */
  private backendKey(cfg: GrounderConfig | BackendConfig, seed: number): { key: string; b: BackendConfig } {
    const { convention: _c, pick: _p, boxPrompt: _b, smartResize: _s, ...rest } = cfg as GrounderConfig;
    const b = { ...rest, seed: rest.seed ?? seed } as BackendConfig;
    return { key: stableStringify(b), b };
  }

  /** Use this backend instance wherever a pipeline asks for `cfg`, as written (benchmarks, tests, embedding callers). */
  provideBackend(cfg: GrounderInput | BackendInput, seed: number, backend: ChatBackend): void {
    const { convention: _c, pick: _p, boxPrompt: _b, smartResize: _s, ...rest } = cfg as GrounderInput;
    this.backends.set(this.backendKey(parseParams(BackendConfigSchema, rest, "mllm"), seed).key, backend);
  }

  /** Use this decoder instance wherever a pipeline asks for `cfg`, as written (tests, embedding callers). */
  provideDecoder(cfg: DecoderInput, decoder: Decoder): void {
    this.decoders.set(stableStringify(parseParams(DecoderConfigSchema, cfg, "decoder")), decoder);
  }

  backend(cfg: GrounderConfig | BackendConfig, seed: number): ChatBackend {
    const { key, b } = this.backendKey(cfg, seed);
    let x = this.backends.get(key);
    if (!x) this.backends.set(key, (x = buildBackend(b)));
    return x;
  }

  decoder(cfg: PipelineConfig["decoder"]): Decoder {
    const key = stableStringify(cfg);
    let d = this.decoders.get(key);
    if (!d) this.decoders.set(key, (d = buildDecoder(cfg)));
    return d;
  }

  sampler(cfg: PipelineConfig["sampler"]): Sampler {
    const key = stableStringify(cfg);
    let s = this.samplers.get(key);
    if (!s) this.samplers.set(key, (s = buildSampler(cfg)));
    return s;
  }

  /** The point-value scorer of sampler.rank, shared by cells that rank alike (oracle-value's memo serves every K). */
  scorer(cfg: PipelineConfig["sampler"]): PointValueScorer {
    const key = stableStringify({ rank: cfg.rank, modelDir: cfg.modelDir ?? null });
    let s = this.scorers.get(key);
    if (!s) this.scorers.set(key, (s = createValueScorer(cfg.rank!, cfg.modelDir === undefined ? {} : { modelDir: cfg.modelDir })));
    return s;
  }

  allScorers(): PointValueScorer[] {
    return [...this.scorers.values()];
  }

  allBackends(): ChatBackend[] {
    return [...this.backends.values()];
  }

  allSamplers(): Sampler[] {
    return [...this.samplers.values()];
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
  /** sampler.rank's scorer; undefined: the sampler's own order. */
  readonly scorer: PointValueScorer | undefined;
  readonly verifier: Verifier;
  readonly decoder: Decoder;
  readonly decode: DecodeConfig;
  /** The grounder's smart-resize limits (convention qwen2.5), defaults filled in. */
  readonly smartResize: SmartResizeOptions;
  /** Ensemble grounding (pipeline.grounding): the experts in config order; empty when `mllm` grounds alone. */
  readonly experts: GroundingExpert[] = [];

  /** `config` as parsed by PipelineSchema (parsePipelineConfig, or a loaded cell's pipeline): not checked again here. */
  constructor(
    readonly config: PipelineConfig,
    readonly seed: number,
    pool: ComponentPool = new ComponentPool(),
  ) {
    this.decode = config.decode;
    this.smartResize = config.mllm.smartResize;
    // Box files answer in image pixels (the file's own coordinates are read by the backend).
    for (const [g, field] of [[config.mllm, "pipeline.mllm"], ...(config.grounding?.experts ?? []).map((e, i) => [e, `pipeline.grounding.experts[${i}]`] as const)] as const) {
      if (g.backend === "box-file" && g.convention !== "absolute") throw new InputError(`expected absolute with the box-file backend (it answers in image pixels; the file's coordinates are boxes.coords), got ${JSON.stringify(g.convention)}`, { field: `${field}.convention` });
    }
    this.grounder = pool.backend(config.mllm, seed);
    const ens = config.grounding;
    if (ens) {
      const names = ens.experts.map(expertName);
      this.experts = ens.experts.map((cfg, i) => {
        // Two experts of one model (other prompts or conventions) keep apart by their place in the list.
        const name = names.filter((n) => n === names[i]).length > 1 ? `${names[i]} #${i + 1}` : names[i]!;
        return { name, config: cfg, backend: pool.backend(cfg, seed), smartResize: cfg.smartResize };
      });
    }
    this.verifierBackend = config.verifierMllm ? pool.backend(config.verifierMllm, seed) : this.grounder;
    this.sampler = pool.sampler(config.sampler);
    this.scorer = config.sampler.rank ? pool.scorer(config.sampler) : undefined;
    this.verifier = new Verifier(this.verifierBackend, config.verifier);
    this.decoder = pool.decoder(config.decoder);
  }

  /** The backends that ground: the experts of an ensemble, else the grounder. */
  get groundingBackends(): ChatBackend[] {
    return this.experts.length ? this.experts.map((e) => e.backend) : [this.grounder];
  }

  /** How stage 1 runs, in words; an ensemble names its experts and router (oracle-best says it is an upper bound). */
  describeGrounding(): string {
    const ens = this.config.grounding;
    if (!ens || !this.experts.length) return this.grounder.describe();
    const params = ens.router === "trimmed-mean" ? `, trim ${ens.trim}` : ens.router === "vote-mean" ? `, agreement at IoU >= ${ens.voteIoU}` : "";
    const head = ens.router === "oracle-best" ? "UPPER BOUND (the router looks at the gold box): " : "";
    return `${head}ensemble of ${this.experts.length} grounders via ${ens.router} (${ROUTER_DESCRIPTIONS[ens.router]}${params}): ${this.experts.map((e) => `${e.name}: ${e.backend.describe()}`).join("; ")}`;
  }

  describe(): Record<string, string> {
    return {
      grounding: this.describeGrounding(),
      verification: this.config.k > 0 ? `${this.verifierBackend.describe()}; ${this.verifier.describe()}` : "none (K = 0)",
      sampler: `${this.sampler.describe?.() ?? this.sampler.name} K=${this.config.k}${(this.config.kExternal ?? this.config.k) !== this.config.k ? ` (external queue ${this.config.kExternal})` : ""}${this.config.dedupe === "pixel" ? ", queues de-duplicated by pixel" : ""}`,
      ...(this.scorer ? { ranking: this.describeRanking() } : {}),
      decoder: this.decoder.describe(),
      ...(this.config.k > 0 ? { decoding: describeDecode(this.decode) } : {}),
    };
  }

  /** sampler.rank in words: the scorer (its model, or UPPER BOUND for one that reads gold) and the pool. */
  describeRanking(): string {
    if (!this.scorer) return "the sampler's own order";
    const head = this.scorer.upperBound ? "UPPER BOUND (the ranking reads gold): " : "";
    return `${head}${this.scorer.describe()}; each queue keeps its K best of a pool of ${this.config.sampler.pool ?? DEFAULT_POOL_SCALE} x K (${this.sampler.pool ? `${this.sampler.name} pool` : `${this.sampler.name} with ${this.config.sampler.pool ?? DEFAULT_POOL_SCALE} x K`})`;
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
    const needPixels = this.groundingBackends.some((b) => b.needsImages) || this.verifierBackend.needsImages;
    const imageOrFail = (): RgbImage => {
      if (!image) throw new InputError("image not loaded", { file: sample.imagePath });
      return image;
    };

    // 1. box grounding (the file is sent as it is when its format is one servers accept)
    const fileMime = MIME[sample.imagePath.split(".").pop()!.toLowerCase()];
    const ask = async (backend: ChatBackend, cfg: GrounderConfig, resize: SmartResizeOptions): Promise<{ g: GroundingResult; cached: boolean }> => {
      const answer = await backend.complete(
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
          keyParams: { smartResize: resize },
        },
        { kind: "ground", sampleId: sample.id, imageWidth: W, imageHeight: H, gold, boxConvention: cfg.convention, smartResize: resize, expression: sample.expression, sample: { source: sample.source, ...(sample.meta ? { meta: sample.meta as Record<string, unknown> } : {}) } } satisfies QueryContext,
      );
      return { g: parseGrounding(answer.text, cfg.convention, W, H, cfg.pick, resize), cached: answer.cached };
    };
    let chosen: Box | undefined;
    let failure: string | undefined;
    let ensemble: SampleRecord["ensemble"];
    if (this.experts.length) {
      // Every expert at once, each through its own response cache.
      const ens = this.config.grounding!;
      const answers = await Promise.all(this.experts.map((e) => ask(e.backend, e.config, e.smartResize)));
      timing.mllmQueries = answers.length;
      timing.cacheHits = answers.filter((a) => a.cached).length;
      const valid = answers.flatMap((a, i) => (a.g.ok ? [{ i, box: a.g.box }] : []));
      const routed = routeBoxes(
        ens.router,
        valid.map((v) => v.box),
        { trim: ens.trim, voteIoU: ens.voteIoU, ...(sample.goldBox ? { gold: sample.goldBox } : {}) },
      );
      ensemble = {
        router: ens.router,
        ...(ens.router === "oracle-best" ? { upperBound: true as const } : {}),
        experts: answers.map((a, i) =>
          a.g.ok
            ? { name: this.experts[i]!.name, box: boxTuple(a.g.box), ...(sample.goldBox ? { boxIoU: r2(boxIoU(a.g.box, sample.goldBox) * 100) / 100 } : {}) }
            : { name: this.experts[i]!.name, box: null, failure: a.g.failure },
        ),
        from: routed ? routed.from.map((k) => valid[k]!.i) : [],
      };
      if (routed) chosen = routed.box;
      else failure = `every expert failed (${answers.length} of ${answers.length}); the first: ${(answers[0]!.g as { failure: string }).failure}`;
    } else {
      const a = await ask(this.grounder, this.config.mllm, this.smartResize);
      timing.mllmQueries = 1;
      timing.cacheHits = a.cached ? 1 : 0;
      if (a.g.ok) chosen = a.g.box;
      else failure = a.g.failure;
    }
    lap("ground");
    let box: Box | undefined = chosen;
    // final 515-618 (resolve_box_prior's hard fallback): the last pixel, not the image's edge.
    if (!box && this.config.onGroundingFailure === "full-image") box = { x1: 0, y1: 0, x2: W - 1, y2: H - 1 };

    const record: SampleRecord = {
      id: sample.id,
      cell,
      dataset: sample.source,
      expression: sample.expression,
      box: box ? [r2(box.x1), r2(box.y1), r2(box.x2), r2(box.y2)] : null,
      ...(failure === undefined ? {} : { groundingFailure: failure }),
      ...(box && sample.goldBox ? { boxIoU: r2(boxIoU(box, sample.goldBox) * 100) / 100 } : {}),
      ...(ensemble ? { ensemble } : {}),
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
      const img = { image: imageOrFail(), key: imageHash };
      // The box alone is decoded at most once per sample: a ranking may read it, the fallback does.
      let boxOnly: Promise<DecodeResult> | undefined;
      const boxBox = box;
      const decodeBoxOnly = () => (boxOnly ??= this.decoder.segment(img, { box: boxBox, positives: [], negatives: [] }));
      // 2. candidates (the stream depends on the sample only, so every cell sees the same points)
      if (this.config.k > 0) {
        const cands = this.scorer ? await this.rankedCandidates(box, loaded, img, decodeBoxOnly, record) : this.candidates(box, sample.id, W, H);
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
      const verified = this.config.k > 0;
      const d = this.decode;
      let pos = positives;
      let centre: [number, number] | undefined;
      if (verified && d.emptyPoints === "centre" && positives.length + negatives.length === 0) {
        const c = { x: (box.x1 + box.x2) / 2, y: (box.y1 + box.y2) / 2 };
        pos = [c];
        centre = [r2(c.x), r2(c.y)];
      }
      let out = pos.length + negatives.length === 0 ? await decodeBoxOnly() : await this.decoder.segment(img, { box, positives: pos, negatives });
      if (verified) {
        const pointsScore = out.score;
        let branch: "points" | "box" = "points";
        let boxScore: number | undefined;
        // Without any point the points branch is the box branch: one decode serves both.
        if (pos.length + negatives.length === 0) branch = "box";
        else if (d.fallback === "sam-score") {
          const boxOnly = await decodeBoxOnly();
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
   * sampler.rank: a pool of `pool` x K per queue (the larger K when the queues differ), scored by
   * the ranking (which sees the image, the box, the phrase and the box-only mask; gold only when it
   * is an upper bound), each queue's K best kept, best first, merged as the sampler merges.
   */
  private async rankedCandidates(box: Box, loaded: LoadedSample, img: { image: RgbImage; key: string }, boxOnly: () => Promise<DecodeResult>, record: SampleRecord): Promise<Candidates> {
    const { sample } = loaded;
    const k = this.config.k;
    const kExt = this.config.kExternal ?? k;
    const n = (this.config.sampler.pool ?? DEFAULT_POOL_SCALE) * Math.max(k, kExt);
    const rng = randomStream(this.seed, "sampler", sample.id);
    const size = { width: sample.width, height: sample.height };
    const drawn = this.sampler.pool ? this.sampler.pool(box, n, rng, size) : this.sampler.sample(box, n, rng, size);
    // final 736-766: every strategy's queues go through dedupe_points (the pool's, here).
    const pool = this.config.dedupe === "pixel" ? { ...drawn, external: dedupePixels(drawn.external, size.width, size.height), internal: dedupePixels(drawn.internal, size.width, size.height) } : drawn;
    const scorer = this.scorer!;
    const points = [...pool.external, ...pool.internal];
    const scores = await scorer.score(points, {
      sampleId: sample.id,
      image: img.image,
      imageKey: img.key,
      box,
      expression: sample.expression,
      boxOnlyMask: async () => (await boxOnly()).mask,
      decode: async ({ positives, negatives }) => (await this.decoder.segment(img, { box, positives, negatives })).mask,
      ...(scorer.upperBound && sample.goldMask ? { gold: sample.goldMask } : {}),
    });
    const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
    record.ranking = {
      by: scorer.name,
      ...(scorer.upperBound ? { upperBound: true as const } : {}),
      pool: points.map((p, i) => ({ x: r2(p.x), y: r2(p.y), queue: i < pool.external.length ? "external" : "internal", score: r6(scores[i]!) })),
    };
    const params = this.sampler.params as { merge?: MergeOrder; membership?: Parameters<typeof mergeQueues>[4] };
    return rankPool(pool, scores, { external: kExt, internal: k }, params.merge ?? "interleave", box, params.membership);
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
    const b = kExt === k ? a : draw(kExt);
    if (kExt === k && this.config.dedupe !== "pixel") return a;
    const params = this.sampler.params as { merge?: MergeOrder; membership?: Parameters<typeof mergeQueues>[4] };
    // final 736-766: every strategy's queues go through dedupe_points.
    const external = this.config.dedupe === "pixel" ? dedupePixels(b.external, W, H) : b.external;
    const internal = this.config.dedupe === "pixel" ? dedupePixels(a.internal, W, H) : a.internal;
    return { external, internal, ordered: mergeQueues(external, internal, params.merge ?? "interleave", box, params.membership), info: a.info };
  }
}

/**
 * Components of a pipeline that stand in for something this harness does not have (tables and
 * dry runs label their rows): what each replaces, in words.
 */
export function pipelineStandIns(config: PipelineConfig): { component: string; note: string }[] {
  const sampler = samplerStandIn(config.sampler);
  return sampler ? [{ component: `sampler ${config.sampler.name}`, note: sampler }] : [];
}

function describeDecode(d: DecodeConfig): string {
  const fb = d.fallback === "sam-score" ? `box + points vs box alone, the higher decoder score kept (margin ${d.margin})` : "box + points";
  return `${fb}; ${d.emptyPoints === "centre" ? "box centre as a positive when no point survives" : "box alone when no point survives"}`;
}
