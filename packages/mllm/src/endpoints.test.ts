/**
 * Several endpoints per model with per-endpoint health: an endpoint that keeps failing is rested
 * while the others take the load, tried again later, and the answers never depend on which
 * endpoint gave them.
 */
import { afterEach, describe, expect, it } from "vitest";
import { addAccounting, emptyAccounting, formatAccounting, OpenAiCompatibleBackend, parseHttpOptions, type ChatRequest, type QueryContext } from "./index.js";
import { deadUrl, startTestServer, type Reply, type Script, type TestServer } from "./test-server.js";

const ctx = (i: number): QueryContext => ({ kind: "verify", sampleId: `s${i}`, imageWidth: 64, imageHeight: 48 });
const req = (i: number): ChatRequest => ({
  content: [
    { type: "image", hash: `img${i}`, render: async () => Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]) },
    { type: "text", text: `q${i}` },
  ],
  maxTokens: 1,
  topLogprobs: 5,
});

/** What a well-behaved server of the model answers: a function of the request only. */
const answer: Script = (_n, body) => {
  const text = JSON.stringify(body.messages);
  const q = Number(/q(\d+)/.exec(text)?.[1] ?? 0);
  return { kind: "answer", text: q % 3 === 0 ? "No" : "Yes", top: [{ token: q % 3 === 0 ? "No" : "Yes", logprob: -0.01 * (q % 17) }, { token: "Maybe", logprob: -3 - (q % 5) }], delayMs: 5 };
};

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function serve(script: Script): Promise<TestServer> {
  const s = await startTestServer(script);
  servers.push(s);
  return s;
}

async function runAll(b: OpenAiCompatibleBackend, n: number) {
  return Promise.all(Array.from({ length: n }, (_, i) => b.complete(req(i), ctx(i)).then((c) => ({ text: c.text, top: c.firstTokenTopLogprobs }))));
}

// Well above a loaded machine's local round trip: only the scripted stalls time out.
const fast = { timeoutMs: 1_500, backoffMs: 1, maxBackoffMs: 4 };

describe("endpoint health", () => {
  it("an endpoint that fails (HTTP 503) is rested; the healthy one takes the load; answers as with both up", async () => {
    const good1 = await serve(answer);
    const good2 = await serve(answer);
    const reference = await runAll(new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [good1.url, good2.url], model: "m", concurrency: 4, ...fast })), 60);
    expect(good1.requests.length).toBe(30); // round-robin when both are up
    expect(good2.requests.length).toBe(30);

    const failing = await serve(() => ({ kind: "status", status: 503 }));
    const healthy = await serve(answer);
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [failing.url, healthy.url], model: "m", concurrency: 4, restAfterFailures: 2, restMs: 60_000, ...fast }));
    const out = await runAll(b, 60);
    expect(out).toEqual(reference);
    const a = b.accounting();
    expect(a.gaveUp).toBe(0);
    // Rested once, after 2 failures in a row (plus what was already in flight at that moment).
    expect(failing.requests.length).toBeGreaterThanOrEqual(2);
    expect(failing.requests.length).toBeLessThanOrEqual(2 + 4);
    expect(healthy.requests.length).toBe(60);
    expect(a.endpoints).toEqual({
      [failing.url]: { requests: failing.requests.length, failed: failing.requests.length, rests: 1 },
      [healthy.url]: { requests: 60, failed: 0, rests: 0 },
    });
    expect(b.resting()).toEqual([failing.url]);
    // A failed attempt goes to the other endpoint at once: no sample spent more than one retry.
    expect(a.retries).toBe(failing.requests.length);
    const line = formatAccounting(a);
    expect(line).toContain(`; endpoints: `);
    expect(line).toContain(`${failing.url} ${failing.requests.length} requests, ${failing.requests.length} failed, rested 1x`);
    expect(line).toContain(`${healthy.url} 60 requests, 0 failed, rested 0x`);
  });

  it("an endpoint that is down (connection refused) or hangs past the timeout is rested the same way", async () => {
    for (const bad of [await deadUrl(), (await serve(() => ({ kind: "stall", ms: 5_000 }))).url]) {
      const healthy = await serve(answer);
      const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [bad, healthy.url], model: "m", concurrency: 4, restAfterFailures: 3, restMs: 60_000, ...fast }));
      const out = await runAll(b, 40);
      expect(out.every((o) => o.top?.length === 2)).toBe(true);
      const a = b.accounting();
      expect(a).toMatchObject({ gaveUp: 0, endpoints: { [bad]: { rests: 1 }, [healthy.url]: { requests: 40, failed: 0 } } });
      expect(a.endpoints[bad]!.requests).toBeLessThanOrEqual(3 + 4);
    }
  });

  it("a rested endpoint is tried again after restMs and takes load again once it answers", async () => {
    let down = true;
    const flaky = await serve((n, body) => (down ? { kind: "status", status: 500 } : answer(n, body)));
    const healthy = await serve(answer);
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [flaky.url, healthy.url], model: "m", concurrency: 2, restAfterFailures: 2, restMs: 150, ...fast }));
    await runAll(b, 10);
    // Once, or more on a slow machine where 10 calls outlast a rest.
    const rests = b.accounting().endpoints[flaky.url]!.rests;
    expect(rests).toBeGreaterThanOrEqual(1);
    const before = flaky.requests.length;
    down = false;
    await new Promise((r) => setTimeout(r, 200));
    expect(b.resting()).toEqual([]);
    const out = await Promise.all(Array.from({ length: 20 }, (_, i) => b.complete(req(100 + i), ctx(100 + i))));
    expect(out.every((o) => o.firstTokenTopLogprobs?.length === 2)).toBe(true);
    // Back in the rotation: about half of the new requests.
    expect(flaky.requests.length - before).toBeGreaterThanOrEqual(8);
    expect(b.accounting().endpoints[flaky.url]).toMatchObject({ rests });
  });

  it("one failure after its rest rests it again at once (its failure streak did not end)", async () => {
    const bad = await serve(() => ({ kind: "status", status: 502 }));
    const healthy = await serve(answer);
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [bad.url, healthy.url], model: "m", concurrency: 1, restAfterFailures: 3, restMs: 1_000, ...fast }));
    await runAll(b, 6);
    expect(bad.requests.length).toBe(3);
    await new Promise((r) => setTimeout(r, 1_100));
    await runAll(b, 6);
    expect(bad.requests.length).toBe(4);
    expect(b.accounting().endpoints[bad.url]).toMatchObject({ failed: 4, rests: 2 });
  });

  it("when every endpoint rests, calls wait for the first to come back instead of failing", async () => {
    const first = (replies: number): Script => (n, body) => (n < replies ? ({ kind: "status", status: 503 } as Reply) : answer(n, body));
    const a = await serve(first(1));
    const c = await serve(first(1));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [a.url, c.url], model: "m", concurrency: 1, restAfterFailures: 1, restMs: 1_000, retries: 2, ...fast }));
    const t0 = performance.now();
    const out = await b.complete(req(1), ctx(1));
    const ms = performance.now() - t0;
    expect(out.text).toBe("Yes");
    expect(ms).toBeGreaterThanOrEqual(900); // it waited for a rest to end, not for a retry's backoff
    const acc = b.accounting();
    expect(acc).toMatchObject({ requests: 3, retries: 2, gaveUp: 0, restWaits: 1 });
    expect(formatAccounting(acc)).toMatch(/; 1 calls waited for a rested endpoint$/);
  });

  it("a single endpoint is never rested (there is nowhere else to go): retries and backoff as before", async () => {
    const s = await serve((n, body) => (n < 4 ? { kind: "status", status: 500 } : answer(n, body)));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [s.url], model: "m", restAfterFailures: 1, restMs: 60_000, ...fast }));
    expect((await b.complete(req(1), ctx(1))).text).toBe("Yes");
    expect(b.accounting()).toMatchObject({ requests: 5, retries: 4, endpoints: { [s.url]: { requests: 5, failed: 4, rests: 0 } } });
    expect(formatAccounting(b.accounting())).not.toContain("endpoints:");
  });

  it("a request the server refuses as such (HTTP 400) does not count against the endpoint's health", async () => {
    const s1 = await serve(() => ({ kind: "status", status: 400, body: "bad image" }));
    const s2 = await serve(() => ({ kind: "status", status: 400, body: "bad image" }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [s1.url, s2.url], model: "m", restAfterFailures: 1, ...fast }));
    for (let i = 0; i < 4; i++) await expect(b.complete(req(i), ctx(i))).rejects.toThrow(/answered 400/);
    expect(b.resting()).toEqual([]);
    expect(b.accounting().endpoints[s1.url]).toEqual({ requests: 2, failed: 2, rests: 0 });
  });

  it("credentials in a base URL never reach the accounting", async () => {
    const s = await serve(answer);
    const withUser = s.url.replace("http://", "http://user:secret@");
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [withUser, s.url], model: "m", ...fast }));
    await runAll(b, 2).catch(() => undefined);
    expect(JSON.stringify(b.accounting())).not.toContain("secret");
  });

  it("accounting adds up per endpoint across invocations, and old lines without endpoints count as none", () => {
    const one = { ...emptyAccounting(), endpoints: { "http://a/v1": { requests: 3, failed: 1, rests: 1 } }, restWaits: 2 };
    const sum = addAccounting(addAccounting(one, one), { requests: 1 } as never);
    expect(sum.endpoints).toEqual({ "http://a/v1": { requests: 6, failed: 2, rests: 2 } });
    expect(sum.restWaits).toBe(4);
  });
});
