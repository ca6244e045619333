/**
 * The HTTP client against a misbehaving server: every fault the hostile test server injects is a
 * failed attempt of its own kind, retried, counted, and never cached as an answer.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { requestKey } from "./cache.js";
import { CachedBackend, HttpError, OpenAiCompatibleBackend, parseHttpOptions, ResponseCache, addAccounting, backendAccounting, emptyAccounting, failedAttempts, formatAccounting, type ChatRequest, type QueryContext } from "./index.js";
import { FAULTS, hostile, startTestServer, type Reply, type Script, type TestServer } from "./test-server.js";

const ctx: QueryContext = { kind: "verify", sampleId: "s1", imageWidth: 64, imageHeight: 48 };
const req = (text: string, topLogprobs = 5): ChatRequest => ({
  content: [
    { type: "image", hash: "img", render: async () => Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]) },
    { type: "text", text },
  ],
  maxTokens: 1,
  topLogprobs,
});
const top = [
  { token: "Yes", logprob: -0.1 },
  { token: "No", logprob: -2.5 },
];
const good: Script = () => ({ kind: "answer", text: "Yes", top });
// A timeout well above a loaded machine's local round trip (CI runs packages side by side), so
// only the scripted hangs time out.
const fast = { timeoutMs: 1_500, backoffMs: 1, maxBackoffMs: 2 };

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A server that answers the n-th request with `replies[n]`, then well. */
async function scripted(...replies: Reply[]): Promise<TestServer> {
  server = await startTestServer((n) => replies[n] ?? { kind: "answer", text: "Yes", top });
  return server;
}

describe("each failure is a failed attempt of its kind, retried", () => {
  it.each([
    ["HTTP 500", { kind: "status", status: 500 } as Reply, { http: { "500": 1 } }],
    ["HTTP 429", { kind: "status", status: 429 } as Reply, { http: { "429": 1 } }],
    ["a hang past the timeout", { kind: "stall", ms: 4_000 } as Reply, { timeout: 1 }],
    ["a body that is not JSON", { kind: "malformed" } as Reply, { malformedBody: 1 }],
    ["a 200 that is no chat completion", { kind: "status", status: 200, body: '{"object":"error"}' } as Reply, { malformedBody: 1 }],
    ["a socket closed mid-body", { kind: "drop" } as Reply, { socket: 1 }],
    ["logprobs: null", { kind: "answer", text: "Yes", top, omitLogprobs: "null" } as Reply, { missingLogprobs: 1 }],
    ["no logprobs key", { kind: "answer", text: "Yes", top, omitLogprobs: "absent" } as Reply, { missingLogprobs: 1 }],
  ])("%s", async (_, fault, failed) => {
    const s = await scripted(fault);
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [s.url], model: "m", ...fast }));
    const out = await b.complete(req("q"), ctx);
    expect(out.firstTokenTopLogprobs).toEqual(top);
    expect(s.requests.length).toBe(2);
    const a = b.accounting();
    expect(a).toMatchObject({ queries: 1, requests: 2, retries: 1, gaveUp: 0 });
    expect(a.failed).toEqual({ ...emptyAccounting().failed, ...failed });
  });

  it("an answer without logprobs is fine when none were asked for", async () => {
    const s = await scripted({ kind: "answer", text: "[1, 2, 3, 4]", omitLogprobs: "null" });
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [s.url], model: "m", ...fast }));
    expect((await b.complete(req("box?", 0), ctx)).text).toBe("[1, 2, 3, 4]");
    expect(b.accounting()).toMatchObject({ requests: 1, retries: 0 });
  });

  it("reports the attempts really made: all of them, or one for a status that is not retried", async () => {
    server = await startTestServer(() => ({ kind: "malformed" }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast, retries: 2 }));
    await expect(b.complete(req("q"), ctx)).rejects.toThrow(/request failed after 3 attempt\(s\) \(3 malformed body\): .*not JSON/);
    await server.close();
    server = await startTestServer((n) => (n === 0 ? { kind: "status", status: 503 } : { kind: "status", status: 400, body: "bad image" }));
    const c = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast, retries: 4 }));
    await expect(c.complete(req("q"), ctx)).rejects.toThrow(/request failed after 2 attempt\(s\) \(2 HTTP status\): .*answered 400: bad image/);
    expect(c.accounting()).toMatchObject({ requests: 2, retries: 1, gaveUp: 1, failed: { http: { "503": 1, "400": 1 } } });
  });

  it("a server that never returns logprobs stops the call with one line naming it and the fix; nothing is cached", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: "Yes", omitLogprobs: "null" }));
    const dir = await mkdtemp(join(tmpdir(), "resagent-nolp-"));
    const file = join(dir, "c.jsonl");
    const inner = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "Qwen/Qwen3-VL-8B-Instruct", ...fast, retries: 2 }));
    const b = new CachedBackend(inner, new ResponseCache(file));
    const err = await b.complete(req("q"), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    const msg = (err as HttpError).message;
    expect(msg).not.toContain("\n");
    expect(msg).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1 \(model Qwen\/Qwen3-VL-8B-Instruct\) returns no logprobs: 3 attempt\(s\) asked for the top-5/);
    expect(msg).toMatch(/--max-logprobs 5 or more/);
    expect(msg).toMatch(/pipeline\.verifier\.aggregation=decoded/);
    expect((err as HttpError).kind).toBe("missingLogprobs");
    await b.cache.close();
    expect(new ResponseCache(file).size).toBe(0);
    expect(b.accounting()).toMatchObject({ queries: 1, cacheHits: 0, requests: 3, retries: 2, gaveUp: 1, failed: { missingLogprobs: 3 } });
  });

  it("a cached answer without the logprobs the request asks for is asked again, and replaced", async () => {
    const s = await scripted();
    const dir = await mkdtemp(join(tmpdir(), "resagent-poison-"));
    const file = join(dir, "c.jsonl");
    const inner = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [s.url], model: "m", ...fast }));
    // What an older version wrote for an answer that came without logprobs.
    await writeFile(file, `${JSON.stringify({ k: requestKey(inner.identity, req("q"), undefined, inner.requestSettings(req("q"))), v: { text: "Yes" } })}\n`);
    const b = new CachedBackend(inner, new ResponseCache(file));
    const out = await b.complete(req("q"), ctx);
    expect(out).toMatchObject({ cached: false, firstTokenTopLogprobs: top });
    expect(s.requests.length).toBe(1);
    expect((await b.complete(req("q"), ctx)).cached).toBe(true);
    await b.cache.close();
    expect(new ResponseCache(file).get(requestKey(inner.identity, req("q"), undefined, inner.requestSettings(req("q"))))?.firstTokenTopLogprobs).toEqual(top);
  });
});

describe("the hostile test server", () => {
  const bodies = Array.from({ length: 2000 }, (_, i) => ({ model: "m", logprobs: i % 2 === 0, messages: [{ q: i }] }));
  const rates = { status500: 0.1, status429: 0.05, hang: 0.05, malformed: 0.1, noLogprobs: 0.3, drop: 0.05 };

  it("draws each fault near its rate, the same for a seed whatever the arrival order, afresh on a retry", () => {
    const run = (order: number[], seed = 1) => {
      const h = hostile(good, { seed, rates });
      const out = new Map<number, string>();
      for (const i of order) out.set(i, JSON.stringify(h(0, bodies[i]!)));
      return { out, injected: h.injected };
    };
    const forward = run(bodies.map((_, i) => i));
    const backward = run(bodies.map((_, i) => bodies.length - 1 - i));
    expect([...backward.out.entries()].sort(([a], [b]) => a - b)).toEqual([...forward.out.entries()].sort(([a], [b]) => a - b));
    expect(backward.injected).toEqual(forward.injected);
    expect(run(bodies.map((_, i) => i), 2).out).not.toEqual(forward.out);
    const n = bodies.length;
    for (const f of FAULTS) {
      // noLogprobs applies to the half of the requests that ask for logprobs.
      const expected = (f === "noLogprobs" ? n / 2 : n) * rates[f];
      expect(Math.abs(forward.injected[f] - expected)).toBeLessThan(4 * Math.sqrt(expected) + 1);
    }
    const h = hostile(good, { seed: 1, rates: { status500: 0.5 } });
    const replies = Array.from({ length: 40 }, () => h(0, bodies[0]!).kind);
    expect(new Set(replies)).toEqual(new Set(["status", "answer"]));
    expect(() => hostile(good, { seed: 1, rates: { status500: 0.7, hang: 0.4 } })).toThrow(RangeError);
    expect(() => hostile(good, { seed: 1, rates: { drop: -0.1 } })).toThrow(RangeError);
  });

  it("is survived by the client at 5-30% per fault; the accounting counts exactly what was injected", async () => {
    const h = hostile(good, { seed: 7, rates: { status500: 0.1, status429: 0.05, hang: 0.05, malformed: 0.1, noLogprobs: 0.3, drop: 0.1 }, hangMs: 4_000 });
    server = await startTestServer(h);
    const dir = await mkdtemp(join(tmpdir(), "resagent-hostile-"));
    const inner = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast, retries: 12, concurrency: 8 }));
    const b = new CachedBackend(inner, new ResponseCache(join(dir, "c.jsonl")));
    const outs = await Promise.all(Array.from({ length: 60 }, (_, i) => b.complete(req(`q${i % 50}`), ctx)));
    expect(outs.every((o) => o.text === "Yes" && o.firstTokenTopLogprobs?.length === 2)).toBe(true);
    const a = backendAccounting([b]);
    expect(a).toMatchObject({ queries: 60, cacheHits: 10, requests: server.requests.length, gaveUp: 0 });
    expect(a.failed).toEqual({ http: { "500": h.injected.status500, "429": h.injected.status429 }, timeout: h.injected.hang, socket: h.injected.drop, malformedBody: h.injected.malformed, missingLogprobs: h.injected.noLogprobs, other: 0 });
    for (const f of FAULTS) expect(h.injected[f]).toBeGreaterThan(0);
    expect(a.retries).toBe(failedAttempts(a));
    expect(a.requests).toBe(50 + a.retries);
    const line = formatAccounting(a);
    expect(line).toMatch(/^model calls: 60 queries, 10 cache hits, \d+ requests sent, \d+ retries, 0 gave up; failed attempts: \d+ HTTP status \(429: \d+, 500: \d+\), \d+ timeout, \d+ socket, \d+ malformed body, \d+ missing logprobs; 0 abstentions, 0 grounding parse failures, 0 unreadable cache lines skipped$/);
    await b.cache.close();
  });
});

describe("accounting", () => {
  it("adds up (older, partial lines included) and counts a shared cache file's unreadable lines once", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-acct-"));
    const file = join(dir, "c.jsonl");
    await writeFile(file, '{"k":"a","v":{"text":"Yes"}}\n{"k":"b","v":{"te\n{"k":"c","v":{"text":"No"}}\n');
    const x = new CachedBackend(new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: ["http://127.0.0.1:1/v1"], model: "m" })), new ResponseCache(file));
    const y = new CachedBackend(new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: ["http://127.0.0.1:1/v1"], model: "m", concurrency: 2 })), new ResponseCache(file));
    expect(x.cache.size).toBe(2);
    expect(backendAccounting([x, y]).cacheLinesSkipped).toBe(1);
    const one = { ...emptyAccounting(), requests: 3, failed: { ...emptyAccounting().failed, http: { "500": 2 }, timeout: 1 } };
    const sum = addAccounting(addAccounting(one, one), { requests: 1, abstentions: 2 } as never);
    expect(sum).toMatchObject({ requests: 7, abstentions: 2, failed: { http: { "500": 4 }, timeout: 2 } });
    expect(formatAccounting(emptyAccounting())).toBe(
      "model calls: 0 queries, 0 cache hits, 0 requests sent, 0 retries, 0 gave up; failed attempts: 0 HTTP status, 0 timeout, 0 socket, 0 malformed body, 0 missing logprobs; 0 abstentions, 0 grounding parse failures, 0 unreadable cache lines skipped",
    );
    expect(await readFile(file, "utf8")).toContain('{"k":"b","v":{"te'); // the shared cache is only read
  });
});
