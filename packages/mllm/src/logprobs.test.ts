/**
 * Answers that cannot be probabilities (a logprob that is not a finite number <= 0) and bodies
 * past the size cap are malformed answers: retried, never cached, counted like the other server faults.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { requestKey } from "./cache.js";
import { CachedBackend, HttpError, OpenAiCompatibleBackend, ResponseCache, emptyAccounting, formatAccounting, logprobsProblem, parseChatResponse, parseHttpOptions, type ChatRequest, type QueryContext } from "./index.js";
import { startTestServer, type Reply, type TestServer } from "./test-server.js";

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
const fast = { timeoutMs: 1_500, backoffMs: 1, maxBackoffMs: 2 };
/** A chat completion whose first token has these top-k entries. */
const body = (entries: unknown[], own: unknown = -0.1) => ({ choices: [{ message: { content: "Yes" }, logprobs: { content: [{ token: "Yes", logprob: own, top_logprobs: entries }] } }] });

let server: TestServer | undefined;
let raw: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await new Promise<void>((r) => (raw ? raw.close(() => r()) : r()));
  raw = undefined;
});

describe("parseChatResponse refuses logprobs that cannot be probabilities", () => {
  it.each([
    ["+5", [{ token: "Yes", logprob: 5 }], /token 0 top_logprobs\[0\]\.logprob is 5, expected a finite number <= 0/],
    ["null", [{ token: "Yes", logprob: null }], /logprob is null/],
    ["a string", [{ token: "Yes", logprob: "-0.1" }], /logprob is "-0\.1"/],
    ["missing", [{ token: "Yes" }], /logprob is missing|logprob is undefined/],
    ["a token that is no string", [{ token: 7, logprob: -0.1 }], /top_logprobs\[0\]\.token is 7, expected a string/],
  ])("%s", (_, entries, msg) => {
    const err = (() => {
      try {
        parseChatResponse(body(entries));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).kind).toBe("malformedBody");
    expect((err as HttpError).retryable).toBe(true);
    expect((err as HttpError).message).toMatch(msg);
  });
  it("Infinity from 1e999 in the JSON text, and a chosen token's own +5, are refused too", () => {
    expect(() => parseChatResponse(JSON.parse('{"choices":[{"message":{"content":"Yes"},"logprobs":{"content":[{"token":"Yes","logprob":-0.1,"top_logprobs":[{"token":"Yes","logprob":-1e999}]}]}}]}'))).toThrow(/logprob is null|-Infinity|finite/);
    expect(() => parseChatResponse(body(top, 5))).toThrow(/token 0 logprob is 5/);
  });
  it("reads float32 rounding just above 0 as 0, and keeps well-formed answers as they are", () => {
    expect(parseChatResponse(body([{ token: "Yes", logprob: 3e-7 }, { token: "No", logprob: -16 }])).firstTokenTopLogprobs).toEqual([
      { token: "Yes", logprob: 0 },
      { token: "No", logprob: -16 },
    ]);
    expect(parseChatResponse(body(top)).firstTokenTopLogprobs).toEqual(top);
  });
  it("property: any body either parses into probabilities or is refused as a malformed answer", () => {
    const logprob = fc.oneof(fc.double({ noNaN: false }), fc.constant(null), fc.string({ maxLength: 3 }), fc.constant(undefined), fc.integer({ min: -50, max: 50 }));
    const entry = fc.record({ token: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), logprob }, { requiredKeys: [] });
    const bodies = fc.oneof(
      fc.array(entry, { maxLength: 6 }).map((e) => body(e)),
      fc.array(fc.record({ token: fc.string({ maxLength: 3 }), logprob, top_logprobs: fc.oneof(fc.array(entry, { maxLength: 4 }), fc.anything()) }, { requiredKeys: [] }), { maxLength: 4 }).map((content) => ({ choices: [{ message: { content: "x" }, logprobs: { content } }] })),
      fc.anything(),
    );
    fc.assert(
      fc.property(bodies, (b) => {
        let parsed: ReturnType<typeof parseChatResponse>;
        try {
          parsed = parseChatResponse(b);
        } catch (err) {
          expect(err).toBeInstanceOf(HttpError);
          expect((err as HttpError).kind).toBe("malformedBody");
          return;
        }
        expect(logprobsProblem(parsed)).toBeUndefined();
        for (const t of parsed.tokens ?? []) for (const e of t.top) expect(Number.isFinite(e.logprob) && e.logprob <= 0).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("over HTTP", () => {
  it("a +5 logprob is retried, counted as a malformed body, and never cached; the next good answer is", async () => {
    const bad: Reply = { kind: "answer", text: "Yes", top: [{ token: "Yes", logprob: 5 }, { token: "No", logprob: -2 }] };
    server = await startTestServer((n) => (n === 0 ? bad : { kind: "answer", text: "Yes", top }));
    const file = join(await mkdtemp(join(tmpdir(), "resagent-lp-")), "c.jsonl");
    const inner = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast }));
    const b = new CachedBackend(inner, new ResponseCache(file));
    const out = await b.complete(req("q"), ctx);
    expect(out.firstTokenTopLogprobs).toEqual(top);
    expect(server.requests).toHaveLength(2);
    const a = b.accounting();
    expect(a.failed).toEqual({ ...emptyAccounting().failed, malformedBody: 1 });
    expect(formatAccounting(a)).toMatch(/1 malformed body/);
    await b.cache.close();
    expect(new ResponseCache(file).get(requestKey(inner.identity, req("q"), undefined, inner.requestSettings(req("q"))))?.firstTokenTopLogprobs).toEqual(top);
  });

  it("a server that always answers +5 stops the call after its retries; nothing is cached", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: "Yes", top: [{ token: "Yes", logprob: 5 }] }));
    const file = join(await mkdtemp(join(tmpdir(), "resagent-lp-")), "c.jsonl");
    const b = new CachedBackend(new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast, retries: 2 })), new ResponseCache(file));
    await expect(b.complete(req("q"), ctx)).rejects.toThrow(/request failed after 3 attempt\(s\) \(3 malformed body\): malformed logprobs: token 0 top_logprobs\[0\]\.logprob is 5/);
    await b.cache.close();
    expect(new ResponseCache(file).size).toBe(0);
  });

  it("a cache written before answers were checked does not answer with its +5: the request is asked again", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: "Yes", top }));
    const file = join(await mkdtemp(join(tmpdir(), "resagent-lp-")), "c.jsonl");
    const inner = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast }));
    const key = requestKey(inner.identity, req("q"), undefined, inner.requestSettings(req("q")));
    await writeFile(file, `${JSON.stringify({ k: key, v: { text: "Yes", firstTokenTopLogprobs: [{ token: "Yes", logprob: 5 }] } })}\n`);
    const cache = new ResponseCache(file);
    expect(cache.skippedLines).toBe(1);
    const b = new CachedBackend(inner, cache);
    expect((await b.complete(req("q"), ctx)).firstTokenTopLogprobs).toEqual(top);
    expect(server.requests).toHaveLength(1);
  });

  it("a body past http.maxResponseBytes is malformed: announced by its length, or streamed without one", async () => {
    const big = JSON.stringify({ ...body(top), padding: "x".repeat(64 * 1024) });
    server = await startTestServer((n) => (n === 0 ? { kind: "status", status: 200, body: big } : { kind: "answer", text: "Yes", top }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", ...fast, maxResponseBytes: 16 * 1024 }));
    expect((await b.complete(req("q"), ctx)).firstTokenTopLogprobs).toEqual(top);
    expect(b.accounting().failed.malformedBody).toBe(1);
    // Chunked, with no content-length: cut off as it passes the cap.
    let sent = 0;
    raw = createServer((_req, res) => {
      _req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      const tick = () => {
        if (res.destroyed || sent > 1 << 22) return res.end();
        sent += 8192;
        res.write("x".repeat(8192), () => setImmediate(tick));
      };
      tick();
    });
    await new Promise<void>((r) => raw!.listen(0, "127.0.0.1", () => r()));
    const c = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [`http://127.0.0.1:${(raw.address() as AddressInfo).port}/v1`], model: "m", ...fast, retries: 0, maxResponseBytes: 32 * 1024 }));
    await expect(c.complete(req("q"), ctx)).rejects.toThrow(/with a body of more than 32768 bytes, more than http\.maxResponseBytes \(32768\)/);
    expect(sent).toBeLessThan(1 << 22);
  });
});
