import { InputError, parseParams, stableStringify } from "@resagent/core";
import { DecoderConfigSchema, buildDecoder, type DecodeResult, type Decoder, type DecoderInput } from "@resagent/decoder";
import { BackendConfigSchema, CachedBackend, buildBackend, type BackendConfig, type BackendInput, type ChatBackend, type GrounderConfig, type GrounderInput, type SmartResizeOptions } from "@resagent/mllm";
import { DEFAULT_POOL_SCALE, buildSampler, createValueScorer, samplerStandIn, type Candidates, type PointValueScorer, type Sampler } from "@resagent/sampler";
import { Verifier, type VerifyResult } from "@resagent/verifier";
import type { DecodeConfig, PipelineConfig } from "./config.js";
import { ROUTER_DESCRIPTIONS } from "./routers.js";
import { decodeStage, groundStage, pixelsOf, rankedSampleStage, recordStage, sampleStage, verifyStage, type Ranking, type GroundingExpert, type LoadedSample, type SampleRecord } from "./stages.js";

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

  allBackends(): ChatBackend[] {
    return [...this.backends.values()];
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

/**
 * The ResAgent workflow for one configuration: box grounding (§3.2), EBD candidates (§3.3),
 * visual verification with early stopping (§3.4), mask decoding (§3.5), as the stages of
 * stages.ts, with the components built once from a parsed config.
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
  /** `mllm` as a grounder (what grounds when there are no experts). */
  private readonly single: GroundingExpert;

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
    this.single = { name: expertName(config.mllm), config: config.mllm, backend: this.grounder, smartResize: this.smartResize };
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
    const scale = this.config.sampler.pool ?? DEFAULT_POOL_SCALE;
    return `${head}${this.scorer.describe()}; each queue keeps its K best of a pool of ${scale} x K (${this.sampler.pool ? `${this.sampler.name} pool` : `${this.sampler.name} with ${scale} x K`})`;
  }

  /** One sample through the five stages (stages.ts); `cell` labels the record. */
  async run(loaded: LoadedSample, cell: string): Promise<SampleRecord> {
    const { sample, imageHash } = loaded;
    const timing: Record<string, number> = {};
    const t0 = performance.now();
    let t = t0;
    const lap = (k: string) => {
      const now = performance.now();
      timing[k] = (timing[k] ?? 0) + (now - t);
      t = now;
    };
    const { config } = this;
    const grounded = await groundStage({
      loaded,
      grounders: this.experts.length ? this.experts : [this.single],
      ...(config.grounding && this.experts.length ? { ensemble: config.grounding } : {}),
      onGroundingFailure: config.onGroundingFailure,
    });
    timing.mllmQueries = grounded.queries;
    timing.cacheHits = grounded.cacheHits;
    lap("ground");
    const { box } = grounded;
    if (!box) {
      timing.total = performance.now() - t0;
      return recordStage({ sample, cell, grounded, timing });
    }
    let candidates: Candidates | undefined;
    let verified: VerifyResult | undefined;
    const image = { image: pixelsOf(loaded), key: imageHash };
    // The box alone is decoded at most once per sample: a ranking may read it, the fallback does.
    let boxOnlyResult: Promise<DecodeResult> | undefined;
    const boxOnly = () => (boxOnlyResult ??= this.decoder.segment(image, { box, positives: [], negatives: [] }));
    let ranking: Ranking | undefined;
    if (config.k > 0) {
      const drawn = { sampler: this.sampler, box, k: config.k, kExternal: config.kExternal, dedupe: config.dedupe, seed: this.seed, width: sample.width, height: sample.height };
      if (this.scorer) ({ candidates, ranking } = await rankedSampleStage({ ...drawn, scorer: this.scorer, poolScale: config.sampler.pool, loaded, image, decoder: this.decoder, boxOnly }));
      else candidates = sampleStage({ ...drawn, sampleId: sample.id });
      lap("sample");
      const needPixels = this.groundingBackends.some((b) => b.needsImages) || this.verifierBackend.needsImages;
      verified = await verifyStage({ verifier: this.verifier, loaded, needPixels, box, candidates, seed: this.seed });
      timing.mllmQueries += verified.queries.length;
      timing.cacheHits += verified.queries.filter((q) => q.cached).length;
      lap("verify");
    }
    const decoded = await decodeStage({ decoder: this.decoder, image, box, ...(verified ? { points: verified } : {}), decode: this.decode, boxOnly });
    lap("decode");
    // Scoring against gold and serialising are part of the record, not of the decode time.
    const record = recordStage({ sample, cell, grounded, ...(candidates ? { candidates } : {}), ...(ranking ? { ranking } : {}), ...(verified ? { verified } : {}), decoded, timing });
    timing.total = performance.now() - t0;
    return record;
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
