import { randomUUID } from "node:crypto";
import { InputError, parseParams, randomStream, zInt, zNonNegative } from "@resagent/core";
import { z } from "zod";
import { emptyAccounting, type FailureKind, type ModelCallAccounting } from "./accounting.js";
import { Semaphore } from "./semaphore.js";
import type { ChatBackend, ChatCompletion, ChatRequest, QueryContext, TokenLogprob, TopLogprob } from "./types.js";

/** How the harness talks to an OpenAI-compatible server (`mllm.http`): the schema is the one definition (types, checks, defaults, docs). */
export const HttpOptionsSchema = z.strictObject({
  baseUrls: z.array(z.url({ protocol: /^https?$/ })).min(1).describe("one or more OpenAI-compatible base URLs ending in /v1 (round-robin)"),
  model: z.string().min(1).describe("served model name"),
  apiKeyEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name").optional().describe("name of the environment variable holding the API key (the key never enters configs or logs)"),
  timeoutMs: zInt(1).default(60_000).describe("per-request timeout in milliseconds"),
  concurrency: zInt(1, 1024).default(8).describe("requests in flight per backend"),
  retries: zInt(0, 100).default(4).describe("retries after the first attempt (timeouts, network errors, 429, 5xx)"),
  backoffMs: zNonNegative().default(500),
  maxBackoffMs: zNonNegative().default(20_000),
  temperature: z.number().min(0).max(2).default(0),
  restAfterFailures: zInt(0, 1000).default(3).describe("with several baseUrls: rest an endpoint after this many failed attempts in a row (0: never); the others take its load"),
  restMs: zInt(0).default(30_000).describe("how long a failing endpoint rests (skipped) before it is tried again, in milliseconds"),
  maxResponseBytes: zInt(1024).default(8 * 1024 * 1024).describe("a response body longer than this many bytes is malformed: retried, never cached"),
});
/**
 * Retries cover timeouts, network errors, 429 and 5xx, bodies that are not a chat completion, and
 * answers without the logprobs the request asked for. With several base URLs, an endpoint whose
 * last `restAfterFailures` attempts all failed is rested (skipped for `restMs`) while the others
 * take the load; calls that find every endpoint resting wait for the first to come back. One base
 * URL is never rested.
 */
export type HttpBackendOptions = z.output<typeof HttpOptionsSchema>;

/** Server settings checked and completed (defaults filled in); the one way to make them outside a config. */
export const parseHttpOptions = (input: z.input<typeof HttpOptionsSchema>): HttpBackendOptions => parseParams(HttpOptionsSchema, input, "mllm.http");

/** One base URL's health and what it served. */
interface Endpoint {
  url: string;
  /** The URL without credentials, for accounting and messages. */
  label: string;
  /** Failed attempts in a row (a success resets it). */
  streak: number;
  /** Resting until this time (ms since the epoch); 0 when not resting. */
  restUntil: number;
  requests: number;
  failed: number;
  rests: number;
}

function endpointLabel(url: string): string {
  const u = new URL(url);
  u.username = "";
  u.password = "";
  return u.toString().replace(/\/+$/, "");
}

export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    /** What failed; on the error that ends a call, what failed on every attempt (else undefined). */
    readonly kind?: FailureKind,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** The kind of a failed attempt and whether another attempt may help. */
function classify(err: unknown): { kind: FailureKind; retryable: boolean } {
  if (err instanceof HttpError) return { kind: err.kind ?? "other", retryable: err.retryable };
  const name = (err as Error | undefined)?.name;
  if (name === "TimeoutError" || name === "AbortError") return { kind: "timeout", retryable: true };
  // undici reports a refused, reset or closed connection (before or in the middle of a body) as
  // a TypeError ("fetch failed", "terminated") with the socket error as its cause.
  if (name === "TypeError") return { kind: "socket", retryable: true };
  return { kind: "other", retryable: false };
}

interface OpenAiLogprobEntry {
  token?: unknown;
  logprob?: unknown;
  top_logprobs?: unknown;
}

/**
 * How far above 0 a log-probability may come out of float32 rounding (the top token at P ≈ 1);
 * such a value is read as 0. Anything larger is no log-probability.
 */
const LOGPROB_ROUNDING = 1e-4;

const malformed = (why: string) => new HttpError(`malformed logprobs: ${why}`, undefined, true, "malformedBody");

/** A log-probability as sent: a finite number ≤ 0 (rounding above 0 read as 0), else a malformed answer. */
function logprobOf(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v > LOGPROB_ROUNDING) throw malformed(`${where} is ${JSON.stringify(v) ?? String(v)}, expected a finite number <= 0`);
  return Math.min(0, v);
}

/** Why a list of top-k entries cannot be one position's log-probabilities (undefined when it can). */
function topProblem(top: readonly TopLogprob[], where: string): string | undefined {
  if (!Array.isArray(top)) return `${where} is not a list`;
  for (const [k, t] of top.entries()) {
    if (typeof t?.token !== "string") return `${where}[${k}].token is not a string`;
    if (typeof t.logprob !== "number" || !Number.isFinite(t.logprob) || t.logprob > 0) return `${where}[${k}].logprob is ${String(t?.logprob)}, expected a finite number <= 0`;
  }
  return undefined;
}

/**
 * Whether an answer's logprobs (as parsed, or as a response cache holds them) can be
 * log-probabilities: every top-k logprob a finite number <= 0.
 */
export function logprobsProblem(answer: { firstTokenTopLogprobs?: readonly TopLogprob[]; tokens?: readonly TokenLogprob[] }): string | undefined {
  if (answer.firstTokenTopLogprobs) {
    const p = topProblem(answer.firstTokenTopLogprobs, "token 0 top_logprobs");
    if (p) return p;
  }
  for (const [i, t] of (answer.tokens ?? []).entries()) {
    const p = topProblem(t.top, `token ${i} top_logprobs`);
    if (p) return p;
  }
  return undefined;
}

/**
 * Parse an OpenAI / vLLM chat-completions response body into text, the first token's top-k
 * logprobs and every generated token with its top-k (both absent when the body has none). Throws a
 * retryable HttpError (malformed body) when the body is no chat completion, or when a logprob is
 * not a finite number <= 0 (it could not be a probability).
 */
export function parseChatResponse(body: unknown): { text: string; firstTokenTopLogprobs?: TopLogprob[]; tokens?: TokenLogprob[] } {
  const choice = (body as { choices?: unknown[] })?.choices?.[0] as { message?: { content?: unknown }; logprobs?: { content?: unknown } } | undefined;
  // A 200 that is not a chat completion is a broken answer, retried like a 5xx.
  if (!choice || typeof choice !== "object") throw new HttpError(`response has no choices[0]: ${String(JSON.stringify(body)).slice(0, 200)}`, undefined, true, "malformedBody");
  const text = typeof choice.message?.content === "string" ? choice.message.content : "";
  const content = choice.logprobs?.content;
  if (!Array.isArray(content) || content.length === 0) return { text };
  const tokens: TokenLogprob[] = [];
  for (const [i, entry] of (content as (OpenAiLogprobEntry | null)[]).entries()) {
    const top: TopLogprob[] = [];
    if (Array.isArray(entry?.top_logprobs)) {
      for (const [k, t] of (entry.top_logprobs as (OpenAiLogprobEntry | null)[]).entries()) {
        if (typeof t?.token !== "string") throw malformed(`token ${i} top_logprobs[${k}].token is ${JSON.stringify(t?.token) ?? "missing"}, expected a string`);
        top.push({ token: t.token, logprob: logprobOf(t.logprob, `token ${i} top_logprobs[${k}].logprob`) });
      }
    }
    const own = entry?.logprob === undefined ? Number.NaN : logprobOf(entry.logprob, `token ${i} logprob`);
    tokens.push({ token: typeof entry?.token === "string" ? entry.token : "", logprob: own, top });
  }
  // Only top_logprobs counts. Some servers leave it out and give the chosen token's own logprob:
  // a softmax over that one token is 1, P(yes) would be 0 or 1 (the decoded answer passed off as
  // a probability), so that is an answer without the requested logprobs.
  const first = tokens[0]!.top;
  if (!first.length) return { text };
  return { text, firstTokenTopLogprobs: first, tokens };
}

/**
 * The body as text, refused (a malformed answer, retried) once it passes `max` bytes: a server
 * gone wrong can stream without end, and nothing that long is an answer.
 */
async function readCapped(res: Response, max: number, url: string): Promise<string> {
  const declared = Number(res.headers.get("content-length"));
  const tooLong = (n: number | string) => new HttpError(`${url} answered ${res.status} with a body of ${n} bytes, more than http.maxResponseBytes (${max})`, res.status, true, "malformedBody");
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLong(declared);
  }
  if (!res.body) return "";
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => undefined);
      throw tooLong(`more than ${max}`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, n).toString("utf8");
}

/**
 * Chat completions against OpenAI-compatible servers (vLLM, SGLang, llama.cpp llama-server,
 * Ollama >= 0.12.11, hosted Qwen APIs): images as base64 data URLs, temperature 0, logprobs.
 */
export class OpenAiCompatibleBackend implements ChatBackend {
  readonly name = "openai";
  readonly simulated = false;
  readonly needsImages = true;
  readonly options: HttpBackendOptions;
  private readonly gate: Semaphore;
  private next = 0;
  private readonly endpoints: Endpoint[];
  private readonly counters = { calls: 0, requests: 0, retries: 0, failures: 0, restWaits: 0 };
  private readonly failed = emptyAccounting().failed;

  /** `options` as parsed by HttpOptionsSchema (parseHttpOptions, or a loaded config's `mllm.http`). */
  constructor(options: HttpBackendOptions) {
    this.options = options;
    const o = options;
    this.gate = new Semaphore(o.concurrency);
    this.endpoints = o.baseUrls.map((url) => ({ url: url.replace(/\/+$/, ""), label: endpointLabel(url), streak: 0, restUntil: 0, requests: 0, failed: 0, rests: 0 }));
  }

  get identity(): string {
    return `openai:${this.options.model}`;
  }

  /** The peak number of requests in flight (for tests and summaries). */
  get peakConcurrency(): number {
    return this.gate.peak;
  }

  describe(): string {
    return `OpenAI-compatible server (${this.options.baseUrls.join(", ")}), model ${this.options.model}`;
  }

  stats(): Record<string, number> {
    const f = this.failed;
    const kinds = { timeout: f.timeout, socket: f.socket, malformedBody: f.malformedBody, missingLogprobs: f.missingLogprobs, other: f.other };
    return {
      ...this.counters,
      endpointRests: this.endpoints.reduce((n, e) => n + e.rests, 0),
      ...Object.fromEntries(Object.entries(f.http).map(([s, n]) => [`failedHttp${s}`, n])),
      ...Object.fromEntries(Object.entries(kinds).map(([k, n]) => [`failed${k[0]!.toUpperCase()}${k.slice(1)}`, n])),
    };
  }

  accounting(): ModelCallAccounting {
    const c = this.counters;
    return {
      ...emptyAccounting(),
      queries: c.calls,
      requests: c.requests,
      retries: c.retries,
      gaveUp: c.failures,
      failed: { ...this.failed, http: { ...this.failed.http } },
      endpoints: Object.fromEntries(this.endpoints.map((e) => [e.label, { requests: e.requests, failed: e.failed, rests: e.rests }])),
      restWaits: c.restWaits,
    };
  }

  /** Which endpoints are resting now (for tests and progress lines). */
  resting(now = Date.now()): string[] {
    return this.endpoints.filter((e) => e.restUntil > now).map((e) => e.label);
  }

  /**
   * The next endpoint, round-robin over those not resting, preferring one this call has not failed
   * on yet (`tried`); when every endpoint rests, wait for the first to come back.
   */
  private async pick(tried: ReadonlySet<number>): Promise<number> {
    const n = this.endpoints.length;
    let waited = false;
    for (;;) {
      const now = Date.now();
      let again = -1;
      for (let i = 0; i < n; i++) {
        const j = (this.next + i) % n;
        if (this.endpoints[j]!.restUntil > now) continue;
        if (tried.has(j)) {
          if (again < 0) again = j;
          continue;
        }
        this.next = j + 1;
        return j;
      }
      if (again >= 0) {
        this.next = again + 1;
        return again;
      }
      if (!waited) this.counters.restWaits++;
      waited = true;
      const soonest = Math.min(...this.endpoints.map((e) => e.restUntil));
      await new Promise((r) => setTimeout(r, Math.max(1, soonest - now)));
    }
  }

  /** Count an attempt's outcome on its endpoint; rest the endpoint after too many failures in a row. */
  private settle(j: number, ok: boolean, retryable: boolean): void {
    const e = this.endpoints[j]!;
    if (ok) {
      e.streak = 0;
      return;
    }
    e.failed++;
    // A request the server refuses as such (400) says nothing about the endpoint's health.
    if (!retryable) return;
    e.streak++;
    const o = this.options;
    const now = Date.now();
    if (this.endpoints.length > 1 && o.restAfterFailures > 0 && e.streak >= o.restAfterFailures && e.restUntil <= now) {
      e.restUntil = now + o.restMs;
      e.rests++;
    }
  }

  private apiKey(): string | undefined {
    const env = this.options.apiKeyEnv;
    if (!env) return undefined;
    const key = process.env[env];
    if (!key) throw new InputError(`environment variable ${env} is not set (it should hold the API key)`, { field: "mllm.apiKeyEnv" });
    return key;
  }

  /**
   * Every field of the request body apart from the model and the messages, exactly as sent: the
   * response cache keys on them, so a change of any of them (temperature, max tokens, logprobs)
   * never reuses an answer given under other settings.
   */
  requestSettings(request: ChatRequest): Record<string, unknown> {
    return {
      max_tokens: request.maxTokens,
      temperature: this.options.temperature,
      ...(request.topLogprobs > 0 ? { logprobs: true, top_logprobs: request.topLogprobs } : {}),
    };
  }

  async buildBody(request: ChatRequest): Promise<Record<string, unknown>> {
    return JSON.parse(await this.serializeBody(request)) as Record<string, unknown>;
  }

  /**
   * The request body as JSON text. Images go in after serialising: base64 needs no escaping, and
   * JSON.stringify would otherwise scan every byte of every image (about 2 ms per 640x480 PNG).
   */
  async serializeBody(request: ChatRequest): Promise<string> {
    const content: unknown[] = [];
    const urls: string[] = [];
    // Placeholder for each image's data URL while serialising: plain ASCII (JSON leaves it as is),
    // with a fresh nonce so no text can spell it.
    const slot = `@@image-${randomUUID()}-`;
    for (const part of request.content) {
      if (part.type === "text") content.push({ type: "text", text: part.text });
      else {
        content.push({ type: "image_url", image_url: { url: `${slot}${urls.length}` } });
        const bytes = await part.render();
        // A view, not a copy, of the image bytes.
        urls.push(`data:${part.mime ?? "image/jpeg"};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}`);
      }
    }
    const body: Record<string, unknown> = { model: this.options.model, messages: [{ role: "user", content }], ...this.requestSettings(request) };
    return JSON.stringify(body).replace(new RegExp(`"${slot}(\\d+)"`, "g"), (_, i: string) => `"${urls[Number(i)]!}"`);
  }

  async complete(request: ChatRequest, context: QueryContext): Promise<ChatCompletion> {
    this.counters.calls++;
    const body = await this.serializeBody(request);
    const key = this.apiKey();
    return this.gate.use(async () => {
      const jitter = randomStream(0, "http-backoff", `${context.sampleId}/${body.length}`);
      let lastErr: unknown;
      const kinds: FailureKind[] = [];
      /** Endpoints this call failed on: a retry goes elsewhere when it can, without backing off. */
      const tried = new Set<number>();
      for (let attempt = 0; attempt <= this.options.retries; attempt++) {
        let j = await this.pick(tried);
        if (attempt > 0) {
          this.counters.retries++;
          const wait = Math.min(this.options.maxBackoffMs, this.options.backoffMs * 2 ** (attempt - 1)) * (0.5 + jitter.next());
          if (tried.has(j)) {
            await new Promise((r) => setTimeout(r, wait));
            j = await this.pick(tried);
          }
        }
        const endpoint = this.endpoints[j]!;
        const url = `${endpoint.url}/chat/completions`;
        const t0 = performance.now();
        try {
          this.counters.requests++;
          endpoint.requests++;
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
            body,
            signal: AbortSignal.timeout(this.options.timeoutMs),
          });
          // The whole body first: a connection closed in the middle of it is a socket failure,
          // text that is not JSON a malformed body.
          const raw = await readCapped(res, this.options.maxResponseBytes, url);
          if (!res.ok) throw new HttpError(`${url} answered ${res.status}: ${raw.slice(0, 300)}`, res.status, res.status === 429 || res.status >= 500, "http");
          let json: unknown;
          try {
            json = JSON.parse(raw);
          } catch {
            throw new HttpError(`${url} answered ${res.status} with a body that is not JSON (${raw.length} bytes: ${JSON.stringify(raw.slice(0, 80))})`, res.status, true, "malformedBody");
          }
          const parsed = parseChatResponse(json);
          // Asked for top-k logprobs and got none: P(yes) would silently fall back to the decoded
          // token (0 or 1). A failed attempt, never an answer (so never cached as one).
          if (request.topLogprobs > 0 && !parsed.firstTokenTopLogprobs?.length) throw new HttpError(`${url} answered without the requested logprobs`, res.status, true, "missingLogprobs");
          this.settle(j, true, true);
          return { ...parsed, cached: false, latencyMs: performance.now() - t0 };
        } catch (err) {
          lastErr = err;
          const { kind, retryable } = classify(err);
          kinds.push(kind);
          tried.add(j);
          this.settle(j, false, retryable);
          if (kind === "http") {
            const status = String((err as HttpError).status);
            this.failed.http[status] = (this.failed.http[status] ?? 0) + 1;
          } else this.failed[kind]++;
          if (!retryable) break;
        }
      }
      this.counters.failures++;
      const where = `${this.options.baseUrls.join(", ")} (model ${this.options.model})`;
      if (kinds.every((k) => k === "missingLogprobs")) {
        throw new HttpError(
          `${where} returns no logprobs: ${kinds.length} attempt(s) asked for the top-${request.topLogprobs} first-token logprobs and got none. ` +
            `Fix: serve with logprobs enabled (vLLM: --max-logprobs ${request.topLogprobs} or more), or set pipeline.verifier.aggregation=decoded (P(yes) from the decoded token only).`,
          undefined,
          false,
          "missingLogprobs",
        );
      }
      const tally = [...new Set(kinds)].map((k) => `${kinds.filter((x) => x === k).length} ${KIND_WORDS[k]}`).join(", ");
      throw new HttpError(
        `${where}: request failed after ${kinds.length} attempt(s)${kinds.length > 1 ? ` (${tally})` : ""}: ${describeFailure(lastErr)}`,
        lastErr instanceof HttpError ? lastErr.status : undefined,
        false,
        new Set(kinds).size === 1 ? kinds[0] : undefined,
      );
    });
  }
}

const KIND_WORDS: Record<FailureKind, string> = { http: "HTTP status", timeout: "timeout", socket: "socket", malformedBody: "malformed body", missingLogprobs: "missing logprobs", other: "other" };

/** fetch's "fetch failed" says nothing; its cause (ECONNREFUSED, ENOTFOUND, a TLS error) does. */
function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: string }).code;
    return `${err.message} (${code ? `${code}: ` : ""}${cause.message})`;
  }
  return err.message;
}
