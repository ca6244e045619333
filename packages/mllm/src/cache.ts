import { readSegmented, SegmentWriter, sha256, stableStringify } from "@resagent/core";
import { emptyAccounting, type AccountedBackend, type ModelCallAccounting } from "./accounting.js";
import { logprobsProblem } from "./http.js";
import type { ChatBackend, ChatCompletion, ChatRequest, QueryContext, TokenLogprob, TopLogprob } from "./types.js";

interface Entry {
  k: string;
  v: { text: string; firstTokenTopLogprobs?: TopLogprob[]; tokens?: TokenLogprob[] };
}

function isEntry(v: unknown): v is Entry {
  const e = v as Partial<Entry> | null;
  return typeof e?.k === "string" && typeof e.v?.text === "string";
}

const hasLogprobs = (v: Entry["v"]): boolean => (v.firstTokenTopLogprobs?.length ?? 0) > 0;

/**
 * A content-addressed response store: an in-memory map backed by append-only JSON lines that
 * several processes, on several machines, may share (the shards of a run on a cluster, with
 * RESAGENT_CACHE_DIR on a network filesystem). Each process appends sealed lines to a segment of
 * its own (see @resagent/core segmented.ts: `<cache>/<writer>.jsonl` beside `<cache>.jsonl`), so
 * no writer can lose or splice another's lines; a kill leaves at worst a torn last line, which
 * loading skips. Loading reads the file and every segment in creation order and keeps the first
 * answer for a key (or the first with logprobs): the same files give the same answers. Nothing is
 * ever rewritten.
 */
export class ResponseCache {
  private readonly map = new Map<string, Entry["v"]>();
  private readonly writer?: SegmentWriter;
  /** Lines that could not be used when loading: torn (a writer killed, or still writing it), corrupt, or failing their checksum. */
  readonly skippedLines: number = 0;
  /** Files read when loading (the cache file and the segments of every process that wrote). */
  readonly filesRead: number = 0;

  constructor(readonly file?: string) {
    if (!file) return;
    const { values, skipped, files } = readSegmented(file, isEntry);
    let unusable = 0;
    for (const e of values) {
      // Logprobs that cannot be probabilities (written before answers were checked) are no answer.
      if (logprobsProblem(e.v)) {
        unusable++;
        continue;
      }
      const had = this.map.get(e.k);
      if (!had || (!hasLogprobs(had) && hasLogprobs(e.v))) this.map.set(e.k, e.v);
    }
    this.skippedLines = skipped + unusable;
    this.filesRead = files;
    this.writer = new SegmentWriter(file);
  }

  /** This process's segment, once it has written one. */
  get segment(): string | undefined {
    return this.writer?.path;
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): Entry["v"] | undefined {
    return this.map.get(key);
  }

  set(key: string, value: Entry["v"]): Promise<void> {
    this.map.set(key, value);
    return this.writer ? this.writer.append({ k: key, v: value }) : Promise.resolve();
  }

  async close(): Promise<void> {
    await this.writer?.close();
  }
}

/**
 * The cache key of a request: backend identity + every part of the request that can change the
 * answer: the messages (images by content hash), max tokens, top logprobs, the settings the backend
 * sends beside them (`settings`: temperature and any other sampling field of the body) and the
 * request's `keyParams` (the grounder's smart-resize limits). Simulated and oracle answers also
 * depend on the sample's ground truth and on how they are asked to print boxes, so their keys carry
 * the sample id and that context (`scope`): two refs with the same image and phrase must not share
 * an answer, nor two cells that read boxes in different conventions.
 */
export function requestKey(identity: string, request: ChatRequest, scope?: string | Record<string, unknown>, settings: Record<string, unknown> = {}): string {
  return sha256(
    stableStringify({
      identity,
      scope: scope ?? null,
      content: request.content.map((p) => (p.type === "text" ? { text: p.text } : { image: p.hash })),
      maxTokens: request.maxTokens,
      topLogprobs: request.topLogprobs,
      // Absent (not empty) when there are none, so keys written before these fields existed still match.
      ...(Object.keys(settings).length ? { settings } : {}),
      ...(request.keyParams && Object.keys(request.keyParams).length ? { params: request.keyParams } : {}),
    }),
  );
}

/** What a simulated answer depends on beyond the request: the sample, and how grounding boxes are printed. */
function simulatedScope(context: QueryContext): string | Record<string, unknown> {
  if (context.kind !== "ground" || (context.boxConvention === undefined && context.smartResize === undefined)) return context.sampleId;
  return { sample: context.sampleId, convention: context.boxConvention ?? null, smartResize: context.smartResize ?? null };
}

/**
 * Whether a stored answer answers the request: one that asked for logprobs needs them, and
 * logprobs that cannot be probabilities (a cache written before they were checked) answer nothing.
 */
function answers(request: ChatRequest, value: Entry["v"]): boolean {
  if (logprobsProblem(value)) return false;
  return request.topLogprobs === 0 || (value.firstTokenTopLogprobs?.length ?? 0) > 0;
}

/**
 * A backend behind the response cache. Identical requests (same model, prompt, image content)
 * are answered once: sweeps over thresholds or pos/neg counts reissue nothing. Concurrent
 * identical requests share one call.
 */
export class CachedBackend implements AccountedBackend {
  readonly name: string;
  readonly simulated: boolean;
  readonly needsImages: boolean;
  readonly identity: string;
  private readonly inflight = new Map<string, Promise<ChatCompletion>>();
  readonly counters = { hits: 0, misses: 0 };

  constructor(
    readonly inner: ChatBackend,
    readonly cache: ResponseCache,
  ) {
    this.name = inner.name;
    this.simulated = inner.simulated;
    this.needsImages = inner.needsImages;
    this.identity = inner.identity;
  }

  describe(): string {
    return this.inner.describe();
  }

  stats(): Record<string, number> {
    return { cacheHits: this.counters.hits, cacheMisses: this.counters.misses, cacheLinesSkipped: this.cache.skippedLines, ...(this.inner.stats?.() ?? {}) };
  }

  get cacheFile(): string | undefined {
    return this.cache.file;
  }

  accounting(): ModelCallAccounting {
    const inner = typeof (this.inner as Partial<AccountedBackend>).accounting === "function" ? (this.inner as AccountedBackend).accounting() : emptyAccounting();
    const { hits, misses } = this.counters;
    return { ...inner, queries: hits + misses, cacheHits: hits + inner.cacheHits, cacheLinesSkipped: this.cache.skippedLines + inner.cacheLinesSkipped };
  }

  async complete(request: ChatRequest, context: QueryContext): Promise<ChatCompletion> {
    const key = requestKey(this.identity, request, this.simulated ? simulatedScope(context) : undefined, this.inner.requestSettings?.(request));
    const hit = this.cache.get(key);
    // An entry without the logprobs the request asks for (written before such answers were
    // refused) is no probability answer: ask again.
    if (hit && answers(request, hit)) {
      this.counters.hits++;
      return { ...hit, cached: true, latencyMs: 0 };
    }
    const pending = this.inflight.get(key);
    if (pending) {
      this.counters.hits++;
      return { ...(await pending), cached: true, latencyMs: 0 };
    }
    this.counters.misses++;
    const p = this.inner.complete(request, context);
    this.inflight.set(key, p);
    try {
      const out = await p;
      const value = { text: out.text, ...(out.firstTokenTopLogprobs ? { firstTokenTopLogprobs: out.firstTokenTopLogprobs } : {}), ...(out.tokens ? { tokens: out.tokens } : {}) };
      if (answers(request, value)) await this.cache.set(key, value);
      return out;
    } finally {
      this.inflight.delete(key);
    }
  }
}
