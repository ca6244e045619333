import type { ChatBackend } from "./types.js";

/** Why one attempt at a model request failed. */
export type FailureKind = "http" | "timeout" | "socket" | "malformedBody" | "missingLogprobs" | "other";

/**
 * What the model calls of a run cost and how they failed: counted by the backends and the
 * response cache, except abstentions and grounding parse failures, which live in the records.
 * Plain numbers, so invocations add up (`addAccounting`) and summaries stay JSON.
 */
export interface ModelCallAccounting {
  /** Calls the pipeline made, answered by the response cache or a server. */
  queries: number;
  /** Of those, answered by the response cache (on disk, in memory, or an identical call in flight). */
  cacheHits: number;
  /** HTTP requests sent to model servers: every attempt, retries included. */
  requests: number;
  /** Attempts after a failed one. */
  retries: number;
  /** Failed attempts by kind; HTTP statuses by code ("500", "429"). */
  failed: { http: Record<string, number>; timeout: number; socket: number; malformedBody: number; missingLogprobs: number; other: number };
  /** Calls that failed every attempt (the run stops at the first). */
  gaveUp: number;
  /** Response-cache lines that could not be read (torn or corrupt) and were skipped when loading. */
  cacheLinesSkipped: number;
  /** Verifier answers with neither yes nor no (queries with pYes null in the records). */
  abstentions: number;
  /** Records whose grounding answer held no usable box. */
  groundingParseFailures: number;
  /**
   * Per base URL (credentials removed): requests sent, failed attempts, and how many times it was
   * rested after failing `restAfterFailures` times in a row (http options).
   */
  endpoints: Record<string, EndpointAccounting>;
  /** Calls that found every endpoint of their model resting and waited for one to come back. */
  restWaits: number;
}

export interface EndpointAccounting {
  requests: number;
  failed: number;
  rests: number;
}

export function emptyAccounting(): ModelCallAccounting {
  return {
    queries: 0,
    cacheHits: 0,
    requests: 0,
    retries: 0,
    failed: { http: {}, timeout: 0, socket: 0, malformedBody: 0, missingLogprobs: 0, other: 0 },
    gaveUp: 0,
    cacheLinesSkipped: 0,
    abstentions: 0,
    groundingParseFailures: 0,
    endpoints: {},
    restWaits: 0,
  };
}

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/**
 * The sum of two accountings. Tolerates partial or older objects (a missing field counts 0), so
 * summaries can add up lines written by earlier versions.
 */
export function addAccounting(a: ModelCallAccounting, b: Partial<ModelCallAccounting>): ModelCallAccounting {
  const out = emptyAccounting();
  const scalar = ["queries", "cacheHits", "requests", "retries", "gaveUp", "cacheLinesSkipped", "abstentions", "groundingParseFailures", "restWaits"] as const;
  for (const k of scalar) out[k] = num(a[k]) + num(b[k]);
  const fa = a.failed ?? emptyAccounting().failed;
  const fb: Partial<ModelCallAccounting["failed"]> = b.failed ?? {};
  for (const k of ["timeout", "socket", "malformedBody", "missingLogprobs", "other"] as const) out.failed[k] = num(fa[k]) + num(fb[k]);
  for (const [status, n] of [...Object.entries(fa.http ?? {}), ...Object.entries(fb.http ?? {})]) out.failed.http[status] = (out.failed.http[status] ?? 0) + num(n);
  for (const [url, e] of [...Object.entries(a.endpoints ?? {}), ...Object.entries(b.endpoints ?? {})]) {
    const t = (out.endpoints[url] ??= { requests: 0, failed: 0, rests: 0 });
    t.requests += num(e?.requests);
    t.failed += num(e?.failed);
    t.rests += num(e?.rests);
  }
  return out;
}

/** Failed attempts of every kind together. */
export function failedAttempts(a: ModelCallAccounting): number {
  const f = a.failed;
  return Object.values(f.http).reduce((s, n) => s + n, 0) + f.timeout + f.socket + f.malformedBody + f.missingLogprobs + f.other;
}

/**
 * One line for the end of a run. Every failure kind is shown, zeros included, so a reader (or a
 * grep) sees that it was counted; HTTP statuses are listed by code.
 */
export function formatAccounting(a: ModelCallAccounting): string {
  const f = a.failed;
  const statuses = Object.entries(f.http).sort(([x], [y]) => x.localeCompare(y));
  const http = statuses.reduce((s, [, n]) => s + n, 0);
  const parts = [
    `${http} HTTP status${statuses.length ? ` (${statuses.map(([s, n]) => `${s}: ${n}`).join(", ")})` : ""}`,
    `${f.timeout} timeout`,
    `${f.socket} socket`,
    `${f.malformedBody} malformed body`,
    `${f.missingLogprobs} missing logprobs`,
    ...(f.other ? [`${f.other} other`] : []),
  ];
  // Per endpoint only where there is something to compare: several endpoints, or one was rested.
  const endpoints = Object.entries(a.endpoints ?? {}).sort(([x], [y]) => x.localeCompare(y));
  const perEndpoint =
    endpoints.length > 1 || endpoints.some(([, e]) => e.rests > 0) || (a.restWaits ?? 0) > 0
      ? `; endpoints: ${endpoints.map(([url, e]) => `${url} ${e.requests} requests, ${e.failed} failed, rested ${e.rests}x`).join("; ")}${a.restWaits ? `; ${a.restWaits} calls waited for a rested endpoint` : ""}`
      : "";
  return (
    `model calls: ${a.queries} queries, ${a.cacheHits} cache hits, ${a.requests} requests sent, ${a.retries} retries, ${a.gaveUp} gave up; ` +
    `failed attempts: ${parts.join(", ")}; ${a.abstentions} abstentions, ${a.groundingParseFailures} grounding parse failures, ${a.cacheLinesSkipped} unreadable cache lines skipped` +
    perEndpoint
  );
}

/** A backend that counts its calls. */
export interface AccountedBackend extends ChatBackend {
  accounting(): ModelCallAccounting;
  /** The response-cache file it loaded, if any: several backends may share one (counted once). */
  readonly cacheFile?: string;
}

function isAccounted(b: ChatBackend): b is AccountedBackend {
  return typeof (b as Partial<AccountedBackend>).accounting === "function";
}

/**
 * The accounting of a set of backends (a run's pool). Lines skipped in a response-cache file are
 * counted once per file, however many backends loaded it.
 */
export function backendAccounting(backends: readonly ChatBackend[]): ModelCallAccounting {
  let total = emptyAccounting();
  const cacheFiles = new Set<string>();
  for (const b of backends) {
    if (!isAccounted(b)) continue;
    const a = b.accounting();
    if (b.cacheFile !== undefined) {
      if (cacheFiles.has(b.cacheFile)) a.cacheLinesSkipped = 0;
      cacheFiles.add(b.cacheFile);
    }
    total = addAccounting(total, a);
  }
  return total;
}
