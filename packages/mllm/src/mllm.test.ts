import { mkdtemp, readFile, readdir, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CachedBackend, OpenAiCompatibleBackend, parseHttpOptions, QWEN25_RESIZE, ResponseCache, backendNames, createBackend, fromPixelBox, parseChatResponse, parseGrounding, registerBackend, requestKey, smartResize, toPixelBox, type ChatBackend, type ChatRequest, type QueryContext } from "./index.js";
import { startTestServer, type TestServer } from "./test-server.js";

const ctx: QueryContext = { kind: "verify", sampleId: "s1", imageWidth: 64, imageHeight: 48 };
const req = (text: string, image = "img-hash"): ChatRequest => ({
  content: [
    { type: "image", hash: image, render: async () => Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]) },
    { type: "text", text },
  ],
  maxTokens: 1,
  topLogprobs: 5,
});
const yesTop = [
  { token: "ĠYes", logprob: -0.2 },
  { token: "Yes", logprob: -2.0 },
  { token: "No", logprob: -2.5 },
];

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.restoreAllMocks();
});

describe("OpenAI-compatible backend against a local vLLM-shaped server", () => {
  it("sends images as data URLs with logprobs and parses split tokens", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: " Yes", top: yesTop }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "Qwen/Qwen3-VL-8B-Instruct" }));
    const out = await b.complete(req("Is it?"), ctx);
    expect(out.text).toBe(" Yes");
    expect(out.firstTokenTopLogprobs).toEqual(yesTop);
    const body = server.requests[0]!.body as { messages: { content: { type: string; image_url?: { url: string } }[] }[]; temperature: number; logprobs: boolean; top_logprobs: number; max_tokens: number };
    expect(body.messages[0]!.content[0]!.image_url!.url).toBe("data:image/jpeg;base64,/9j/2Q==");
    expect(body).toMatchObject({ temperature: 0, logprobs: true, top_logprobs: 5, max_tokens: 1 });
  });

  it("serialises bodies with images in order and text untouched, slot-like text included", async () => {
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: ["http://127.0.0.1:1/v1"], model: "m" }));
    const tricky = 'say "@@image-0" and \\ "quotes"\nnewline';
    const request: ChatRequest = {
      content: [
        { type: "image", hash: "a", render: async () => Uint8Array.from([1, 2, 3]) },
        { type: "text", text: tricky },
        { type: "image", hash: "b", mime: "image/png", render: async () => Uint8Array.from([250, 251]) },
        { type: "text", text: "@@image-1" },
      ],
      maxTokens: 1,
      topLogprobs: 5,
    };
    const body = JSON.parse(await b.serializeBody(request)) as { messages: { content: { type: string; text?: string; image_url?: { url: string } }[] }[] };
    expect(body.messages[0]!.content).toEqual([
      { type: "image_url", image_url: { url: "data:image/jpeg;base64,AQID" } },
      { type: "text", text: tricky },
      { type: "image_url", image_url: { url: "data:image/png;base64,+vs=" } },
      { type: "text", text: "@@image-1" },
    ]);
  });

  it("takes the chosen token's logprob without top_logprobs for no answer (P(yes) would be 0 or 1): retried, then refused", async () => {
    server = await startTestServer((n) => (n === 0 ? { kind: "answer", text: "No", top: [{ token: "No", logprob: -0.01 }], omitTop: true } : { kind: "answer", text: "No", top: [{ token: "No", logprob: -0.01 }, { token: "Yes", logprob: -4.6 }] }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", backoffMs: 1 }));
    expect((await b.complete(req("q"), ctx)).firstTokenTopLogprobs).toHaveLength(2);
    expect(b.accounting().failed.missingLogprobs).toBe(1);
    await server.close();
    server = await startTestServer(() => ({ kind: "answer", text: "No", top: [{ token: "No", logprob: -0.01 }], omitTop: true }));
    const c = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", backoffMs: 1, retries: 1 }));
    await expect(c.complete(req("q"), ctx)).rejects.toThrow(/returns no logprobs: 2 attempt\(s\)/);
  });

  it("retries 500s, 429s and timeouts with backoff, then succeeds", async () => {
    server = await startTestServer((n) => (n === 0 ? { kind: "status", status: 500 } : n === 1 ? { kind: "status", status: 429 } : n === 2 ? { kind: "stall", ms: 4_000 } : { kind: "answer", text: "Yes", top: yesTop }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", timeoutMs: 1_500, backoffMs: 5, retries: 4 }));
    const out = await b.complete(req("q"), ctx);
    expect(out.text).toBe("Yes");
    expect(server.requests.length).toBe(4);
    expect(b.stats()).toMatchObject({ retries: 3, failures: 0 });
  });

  it("does not retry a 400 and says what the server said", async () => {
    server = await startTestServer(() => ({ kind: "status", status: 400, body: '{"error":"bad image"}' }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", backoffMs: 5 }));
    await expect(b.complete(req("q"), ctx)).rejects.toThrow(/answered 400: \{"error":"bad image"\}/);
    expect(server.requests.length).toBe(1);
  });

  it("keeps at most `concurrency` requests in flight and round-robins endpoints", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: "Yes", top: yesTop, delayMs: 40 }));
    const b = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url, `${server.url}/`], model: "m", concurrency: 3 }));
    await Promise.all(Array.from({ length: 12 }, (_, i) => b.complete(req(`q${i}`), ctx)));
    expect(server.peakInFlight).toBeLessThanOrEqual(3);
    expect(server.peakInFlight).toBe(3);
    expect(b.peakConcurrency).toBe(3);
  });

  it("sends the API key from the environment and never writes it anywhere", async () => {
    const secret = "sk-test-DO-NOT-LEAK-12345";
    process.env.RESAGENT_TEST_KEY = secret;
    const logs: string[] = [];
    for (const m of ["log", "warn", "error", "info"] as const) vi.spyOn(console, m).mockImplementation((...a: unknown[]) => void logs.push(a.join(" ")));
    server = await startTestServer((n) => (n === 0 ? { kind: "status", status: 503 } : { kind: "answer", text: "Yes", top: yesTop }));
    const dir = await mkdtemp(join(tmpdir(), "resagent-key-"));
    const b = createBackend({ backend: "openai", http: { baseUrls: [server.url], model: "m", apiKeyEnv: "RESAGENT_TEST_KEY", backoffMs: 5 }, cache: "disk", cacheDir: dir });
    await b.complete(req("q"), ctx);
    expect(server.requests[0]!.headers.authorization).toBe(`Bearer ${secret}`);
    const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(await readFile(f, "utf8")).not.toContain(secret);
    expect(logs.join("\n")).not.toContain(secret);
    expect(b.describe()).not.toContain(secret);
    expect(JSON.stringify((b as CachedBackend).stats())).not.toContain(secret);
    delete process.env.RESAGENT_TEST_KEY;
    await (b as CachedBackend).cache.close();
    const failing = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", apiKeyEnv: "RESAGENT_TEST_KEY" }));
    await expect(failing.complete(req("q2"), ctx)).rejects.toThrow(/RESAGENT_TEST_KEY is not set/);
  });
});

describe("logprobs of every generated token (VBR-multi)", () => {
  it("keeps each token with its top-k, and the first token's top-k as before", () => {
    const entry = (token: string, logprob: number, top: [string, number][]) => ({ token, logprob, bytes: [], top_logprobs: top.map(([t, l]) => ({ token: t, logprob: l, bytes: [] })) });
    const body = {
      choices: [
        {
          message: { content: "A: yes\nB: no" },
          logprobs: { content: [entry("A", 0, [["A", 0]]), entry(":", 0, [[":", 0]]), entry(" yes", -0.2, [[" yes", -0.2], [" no", -1.8]]), entry("\n", 0, [["\n", 0]]), entry("B", 0, [["B", 0]]), entry(":", 0, [[":", 0]]), entry(" no", -0.1, [[" no", -0.1], [" yes", -2.4]])] },
        },
      ],
    };
    const out = parseChatResponse(body);
    expect(out.text).toBe("A: yes\nB: no");
    expect(out.tokens).toHaveLength(7);
    expect(out.tokens![2]).toEqual({ token: " yes", logprob: -0.2, top: [{ token: " yes", logprob: -0.2 }, { token: " no", logprob: -1.8 }] });
    expect(out.tokens!.map((t) => t.token).join("")).toBe(out.text);
    expect(out.firstTokenTopLogprobs).toEqual([{ token: "A", logprob: 0 }]);
    // No top_logprobs at the first token: no logprobs (as before).
    expect(parseChatResponse({ choices: [{ message: { content: "Yes" }, logprobs: { content: [{ token: "Yes", logprob: -0.1 }] } }] })).toEqual({ text: "Yes" });
  });
});

describe("cache key: every request field that can change the answer", () => {
  const base = (o: Partial<ConstructorParameters<typeof OpenAiCompatibleBackend>[0]> = {}) => new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: ["http://127.0.0.1:1/v1"], model: "m", ...o }));
  const key = (b: OpenAiCompatibleBackend, r: ChatRequest) => requestKey(b.identity, r, undefined, b.requestSettings(r));

  it("differs by temperature, max tokens, top logprobs, model and the grounder's smart-resize limits", async () => {
    const r = req("q");
    const k0 = key(base(), r);
    expect(key(base(), r)).toBe(k0);
    expect(key(base({ temperature: 0.7 }), r)).not.toBe(k0);
    expect(key(base(), { ...r, maxTokens: 2 })).not.toBe(k0);
    expect(key(base(), { ...r, topLogprobs: 20 })).not.toBe(k0);
    expect(key(base({ model: "other" }), r)).not.toBe(k0);
    expect(key(base(), { ...r, keyParams: { smartResize: { ...QWEN25_RESIZE, maxPixels: 1_003_520 } } })).not.toBe(k0);
    // What the key holds beside the messages is exactly what the body sends beside them.
    const b = base({ temperature: 0.3 });
    const body = JSON.parse(await b.serializeBody(r)) as Record<string, unknown>;
    const { model: _m, messages: _msgs, ...rest } = body;
    expect(rest).toEqual(b.requestSettings(r));
    expect(rest).toEqual({ max_tokens: 1, temperature: 0.3, logprobs: true, top_logprobs: 5 });
  });

  it("an answer cached at one temperature is not served at another", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: "Yes", top: yesTop }));
    const cache = new ResponseCache();
    const a = new CachedBackend(new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m" })), cache);
    const b = new CachedBackend(new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m", temperature: 1 })), cache);
    await a.complete(req("q"), ctx);
    expect((await a.complete(req("q"), ctx)).cached).toBe(true);
    expect((await b.complete(req("q"), ctx)).cached).toBe(false);
    expect(server.requests.map((x) => x.body.temperature)).toEqual([0, 1]);
  });

  it("simulated grounding answers are keyed by the convention and smart-resize limits they are printed in", async () => {
    const sim = createBackend({ backend: "simulated", preset: "zero-shot", seed: 1 });
    const g: QueryContext = { kind: "ground", sampleId: "s", imageWidth: 1280, imageHeight: 960, gold: { box: { x1: 100, y1: 100, x2: 900, y2: 700 } } };
    const box = { ...req("box"), topLogprobs: 0 };
    const q3 = await sim.complete(box, { ...g, boxConvention: "qwen3" });
    const abs = await sim.complete(box, { ...g, boxConvention: "absolute" });
    expect(abs.cached).toBe(false);
    expect(abs.text).not.toBe(q3.text);
    expect((await sim.complete(box, { ...g, boxConvention: "absolute" })).cached).toBe(true);
  });
});

describe("response cache", () => {
  it("answers repeated requests from the cache, across processes, and skips torn lines", async () => {
    server = await startTestServer(() => ({ kind: "answer", text: "Yes", top: yesTop }));
    const dir = await mkdtemp(join(tmpdir(), "resagent-cache-"));
    const file = join(dir, "c.jsonl");
    const inner = new OpenAiCompatibleBackend(parseHttpOptions({ baseUrls: [server.url], model: "m" }));
    const a = new CachedBackend(inner, new ResponseCache(file));
    await a.complete(req("q1"), ctx);
    const again = await a.complete(req("q1"), ctx);
    expect(again.cached).toBe(true);
    await Promise.all([a.complete(req("q2"), ctx), a.complete(req("q2"), ctx)]); // in-flight dedupe
    expect(server.requests.length).toBe(2);
    expect(a.stats()).toMatchObject({ cacheHits: 2, cacheMisses: 2 });
    await a.cache.close();
    await appendFile(file, '{"k":"torn","v":{"te'); // a kill mid-write
    const reopened = new ResponseCache(file);
    expect(reopened.size).toBe(2);
    expect(reopened.skippedLines).toBe(1);
    const b = new CachedBackend(inner, reopened);
    expect((await b.complete(req("q1"), ctx)).cached).toBe(true);
    expect((await b.complete(req("q1", "other-image"), ctx)).cached).toBe(false);
    expect(server.requests.length).toBe(3);
    await b.cache.close();
  });
});

describe("grounding", () => {
  const W = 640;
  const H = 480;
  // 24 answer shapes seen from Qwen2.5-VL / Qwen3-VL, each with the pixel box it means.
  const cases: [string, string, "qwen3" | "qwen2.5" | "absolute" | "normalized", number[]][] = [
    ["fenced bbox_2d list (qwen3)", '```json\n[\n\t{"bbox_2d": [100, 200, 500, 800], "label": "man"}\n]\n```', "qwen3", [64, 96, 320, 384]],
    ["bare bbox_2d list", '[{"bbox_2d": [100, 200, 500, 800], "label": "man"}]', "qwen3", [64, 96, 320, 384]],
    ["single object", '{"bbox_2d": [0, 0, 1000, 1000]}', "qwen3", [0, 0, 640, 480]],
    ["bare nested list", "[[100, 200, 500, 800]]", "qwen3", [64, 96, 320, 384]],
    ["bare flat list", "[100, 200, 500, 800]", "qwen3", [64, 96, 320, 384]],
    ["im_end token", '[{"bbox_2d": [100, 200, 500, 800]}]<|im_end|>', "qwen3", [64, 96, 320, 384]],
    ["prose then fence", 'Sure! Here it is:\n```json\n[{"bbox_2d": [250, 250, 750, 750], "label": "cup"}]\n```', "qwen3", [160, 120, 480, 360]],
    ["fence without language", '```\n[{"bbox_2d": [250, 250, 750, 750]}]\n```', "qwen3", [160, 120, 480, 360]],
    ["unterminated fence", '```json\n[{"bbox_2d": [250, 250, 750, 750]}]', "qwen3", [160, 120, 480, 360]],
    ["truncated JSON", '```json\n[{"bbox_2d": [250, 250, 750, 750], "label": "the man in the red shi', "qwen3", [160, 120, 480, 360]],
    ["bbox key", '{"bbox": [250, 250, 750, 750]}', "qwen3", [160, 120, 480, 360]],
    ["bounding_box key", '{"bounding_box": [250, 250, 750, 750]}', "qwen3", [160, 120, 480, 360]],
    ["nested under label", '{"man": {"bbox_2d": [250, 250, 750, 750]}}', "qwen3", [160, 120, 480, 360]],
    ["swapped corners", '[{"bbox_2d": [750, 750, 250, 250]}]', "qwen3", [160, 120, 480, 360]],
    ["out of range clamps", '[{"bbox_2d": [-20, 100, 1040, 900]}]', "qwen3", [0, 48, 640, 432]],
    ["float coordinates", '[{"bbox_2d": [100.5, 200.25, 500, 800]}]', "qwen3", [64.32, 96.12, 320, 384]],
    ["qwen2-vl box tokens", "<|object_ref_start|>man<|object_ref_end|><|box_start|>(100,200),(500,800)<|box_end|>", "qwen3", [64, 96, 320, 384]],
    ["prose pairs", "The object is located from (100, 200) to (500, 800).", "qwen3", [64, 96, 320, 384]],
    ["several boxes: first", '[{"bbox_2d": [100, 200, 500, 800]}, {"bbox_2d": [0, 0, 10, 10]}]', "qwen3", [64, 96, 320, 384]],
    ["qwen2.5 absolute on smart-resized 476x644", '[{"bbox_2d": [161, 119, 483, 357]}]', "qwen2.5", [160, 120, 480, 360]],
    ["qwen2.5 full frame", '[{"bbox_2d": [0, 0, 644, 476]}]', "qwen2.5", [0, 0, 640, 480]],
    ["absolute pixels", '[{"bbox_2d": [160, 120, 480, 360]}]', "absolute", [160, 120, 480, 360]],
    ["normalized 0-1", '[{"bbox_2d": [0.25, 0.25, 0.75, 0.75]}]', "normalized", [160, 120, 480, 360]],
    ["point_2d answers are ignored, bbox kept", '[{"point_2d": [10, 10]}, {"bbox_2d": [250, 250, 750, 750]}]', "qwen3", [160, 120, 480, 360]],
  ];
  it.each(cases)("%s", (_, answer, conv, want) => {
    const g = parseGrounding(answer, conv, W, H);
    expect(g.ok).toBe(true);
    if (!g.ok) return;
    const got = [g.box.x1, g.box.y1, g.box.x2, g.box.y2];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i]!, conv === "qwen2.5" ? 0 : 6));
  });

  it("takes the highest-scoring box when asked", () => {
    const g = parseGrounding('[{"bbox_2d": [0,0,100,100], "score": 0.2}, {"bbox_2d": [250,250,750,750], "confidence": 0.9}]', "qwen3", W, H, "highest-score");
    expect(g.ok && [g.box.x1, g.box.x2]).toEqual([160, 480]);
  });

  it.each([["", /empty answer/], ["I cannot find it.", /no box in answer/], ['[{"bbox_2d": [5, 5, 5, 9]}]', /degenerate box/]])("records %j as a typed failure", (answer, msg) => {
    const g = parseGrounding(answer, "qwen3", W, H);
    expect(g.ok).toBe(false);
    if (!g.ok) expect(g.failure).toMatch(msg);
  });

  it("implements Qwen2.5-VL smart_resize, Python rounding included", () => {
    expect(smartResize(480, 640)).toEqual([476, 644]);
    expect(smartResize(1080, 1920)).toEqual([1092, 1932]);
    expect(smartResize(4000, 6000)).toEqual([2912, 4368]);
    expect(smartResize(20, 30)).toEqual([56, 84]);
    expect(smartResize(70, 70)).toEqual([56, 56]); // round(2.5) = 2
    expect(smartResize(42, 98)).toEqual([56, 112]); // round(1.5) = 2, round(3.5) = 4
    expect(toPixelBox([0, 0, 644, 476], "qwen2.5", 640, 480)).toEqual({ x1: 0, y1: 0, x2: 640, y2: 480 });
  });

  it("reads qwen2.5 boxes through the configured smart-resize limits (a server with max_pixels 1003520)", () => {
    // 4000x3000 photo: the default limits resize it to 4004x2996 (nearly itself); a server started
    // with --mm-processor-kwargs '{"max_pixels": 1003520}' resizes it to 1148x840.
    const small = { ...QWEN25_RESIZE, maxPixels: 1_003_520 };
    expect(smartResize(3000, 4000)).toEqual([2996, 4004]);
    expect(smartResize(3000, 4000, small)).toEqual([840, 1148]);
    const answer = '[{"bbox_2d": [287, 210, 861, 630]}]';
    const right = parseGrounding(answer, "qwen2.5", 4000, 3000, "first", small);
    const wrong = parseGrounding(answer, "qwen2.5", 4000, 3000);
    expect(right.ok && [right.box.x1, right.box.y1, right.box.x2, right.box.y2].map(Math.round)).toEqual([1000, 750, 3000, 2250]);
    expect(wrong.ok && Math.round(wrong.box.x2)).toBe(860);
    // The inverse used by simulated answers follows the same limits.
    expect(fromPixelBox({ x1: 1000, y1: 750, x2: 3000, y2: 2250 }, "qwen2.5", 4000, 3000, small)).toEqual([287, 210, 861, 630]);
    // The authors' Qwen2.5 runs read boxes as image pixels (--box_coord_mode absolute): the same
    // answer as pixels of the original image.
    const authors = parseGrounding(answer, "absolute", 4000, 3000);
    expect(authors.ok && [authors.box.x1, authors.box.x2]).toEqual([287, 861]);
  });
});

describe("simulated and oracle backends", () => {
  const mask = { width: 20, height: 20, data: new Uint8Array(400).map((_, k) => (k % 20 >= 5 && k % 20 < 15 && k >= 100 && k < 300 ? 1 : 0)) };
  const gctx: QueryContext = { kind: "verify", sampleId: "s", imageWidth: 20, imageHeight: 20, gold: { mask, box: { x1: 5, y1: 5, x2: 15, y2: 15 } }, format: "vbr" };
  it("are deterministic, say they are simulated, and answer in the parsers' formats", async () => {
    const sim = createBackend({ backend: "simulated", preset: "zero-shot", seed: 3 });
    expect(sim.simulated).toBe(true);
    expect(sim.describe()).toMatch(/^simulated MLLM/);
    const q = { ...gctx, points: [{ x: 10, y: 10 }] };
    const a = await sim.complete(req("q"), q);
    const b = await createBackend({ backend: "simulated", preset: "zero-shot", seed: 3 }).complete(req("q"), q);
    expect(b.firstTokenTopLogprobs).toEqual(a.firstTokenTopLogprobs);
    const g = await sim.complete(req("box"), { ...gctx, kind: "ground", boxConvention: "qwen3" });
    expect(parseGrounding(g.text, "qwen3", 20, 20).ok).toBe(true);
    const oracle = createBackend({ backend: "oracle" });
    expect((await oracle.complete(req("q", "marker-at-10-10"), { ...gctx, points: [{ x: 10, y: 10 }] })).text).toBe("Yes");
    expect((await oracle.complete(req("q", "marker-at-1-1"), { ...gctx, points: [{ x: 1, y: 1 }] })).text).toBe("No");
    const og = await oracle.complete(req("b"), { ...gctx, kind: "ground" });
    const parsed = parseGrounding(og.text, "absolute", 20, 20);
    expect(parsed.ok && parsed.box).toEqual({ x1: 5, y1: 5, x2: 15, y2: 15 });
    expect(() => createBackend({ backend: "simulatd" })).toThrow(/did you mean "simulated"/);
  });

  it("answer VBR-multi with one line per label and the top-k at each answer token", async () => {
    const sim = createBackend({ backend: "simulated", preset: "zero-shot", seed: 3, cache: "off" });
    const points = [{ x: 10, y: 10 }, { x: 1, y: 1 }, { x: 12, y: 8 }];
    const q = { ...gctx, format: "vbr-multi", points, labels: ["I", "J", "K"] };
    const out = await sim.complete(req("multi"), q);
    expect(out.text).toMatch(/^I: (yes|no)\nJ: (yes|no)\nK: (yes|no)$/i);
    const tokens = out.tokens!;
    // Label, colon, answer per line; lines joined by a newline token.
    expect(tokens.map((t) => t.token.replace(/^Ġ(yes|no)$/i, "Ġ*"))).toEqual(["I", ":", "Ġ*", "Ċ", "J", ":", "Ġ*", "Ċ", "K", ":", "Ġ*"]);
    for (const i of [2, 6, 10]) {
      expect(tokens[i]!.top).toHaveLength(5);
      // The decoded answer is the most likely form.
      expect(tokens[i]!.top[0]!.token).toBe(tokens[i]!.token);
    }
    expect((await sim.complete({ ...req("multi"), topLogprobs: 0 }, q)).tokens).toBeUndefined();
    const oracle = await createBackend({ backend: "oracle", cache: "off" }).complete(req("multi"), q);
    expect(oracle.text).toBe("I: yes\nJ: no\nK: yes");
    expect(oracle.tokens![6]).toEqual({ token: "Ġno", logprob: 0, top: [{ token: "Ġno", logprob: 0 }, { token: "Ġyes", logprob: -30 }] });
  });
});

describe("backends registered by other packages", () => {
  it("are created by name, behind the cache unless they say their answers depend on the context", async () => {
    let calls = 0;
    const make = (name: string): ChatBackend => ({
      name,
      simulated: false,
      needsImages: false,
      identity: name,
      describe: () => `test backend ${name}`,
      // With the top logprobs the request asks for: an answer without them is never cached.
      complete: async () => ({ text: `yes ${++calls}`, firstTokenTopLogprobs: yesTop, cached: false, latencyMs: 0 }),
    });
    registerBackend({ name: "test-cached", description: "", create: () => make("test-cached") });
    registerBackend({ name: "test-uncached", description: "", create: () => make("test-uncached"), uncached: true });
    expect(backendNames()).toEqual(expect.arrayContaining(["simulated", "oracle", "openai", "test-cached", "test-uncached"]));
    const cached = createBackend({ backend: "test-cached" });
    expect(cached).toBeInstanceOf(CachedBackend);
    expect((await cached.complete(req("q"), ctx)).text).toBe((await cached.complete(req("q"), ctx)).text);
    const uncached = createBackend({ backend: "test-uncached", cache: "memory" });
    expect(uncached).not.toBeInstanceOf(CachedBackend);
    expect((await uncached.complete(req("q"), ctx)).text).not.toBe((await uncached.complete(req("q"), ctx)).text);
    expect(() => createBackend({ backend: "test-cachd" })).toThrow(/did you mean "test-cached"/);
    expect(() => createBackend({ backend: "learned" })).toThrow(/registers itself when @resagent\/learned is imported/);
    expect(() => registerBackend({ name: "oracle", description: "", create: () => make("x") })).toThrow(/MLLM backend "oracle" is registered twice/);
  });
});
