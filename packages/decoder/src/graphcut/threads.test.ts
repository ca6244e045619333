import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { parseGraphcutParams } from "../params.js";
import { GraphcutThreads, decodeThreadLimit } from "./threads.js";

// The pool's plumbing with stand-in thread scripts (plain JavaScript, runnable under vitest). That a
// real thread decodes exactly as in-process is checked on the bundled script (packages/cli,
// decode-threads.test.ts): from the TypeScript sources there is no runnable thread script.
const script = async (body: string): Promise<string> => {
  const f = join(await mkdtemp(join(tmpdir(), "resagent-thread-")), "thread.mjs");
  await writeFile(f, `import { parentPort } from "node:worker_threads";\n${body}\n`);
  return pathToFileURL(f).href;
};
const image = { width: 4, height: 3, data: new Uint8Array(36) };
const prompt = { box: { x1: 0, y1: 0, x2: 4, y2: 3 }, positives: [], negatives: [] };
const params = parseGraphcutParams({});

describe("graph-cut decode threads", () => {
  it("answer each request with its own result, starting threads only while all are busy, up to the limit", async () => {
    const echo = await script(`parentPort.on("message", (m) => setTimeout(() => parentPort.postMessage({ id: m.id, mask: { width: m.image.width, height: m.image.height, data: new Uint8Array([m.id]) }, score: m.prompt.box.x2 }), 20));`);
    const pool = new GraphcutThreads(echo, 2);
    try {
      const got = await Promise.all([1, 2, 3, 4].map((x2) => pool.decode(params, image, { ...prompt, box: { ...prompt.box, x2 } })));
      expect(got.map((r) => r.score)).toEqual([1, 2, 3, 4]);
      expect(got.map((r) => r.mask.data[0])).toEqual([0, 1, 2, 3]);
      expect(pool.started).toBe(2);
      // One at a time: the idle thread serves it, no new one starts.
      await pool.decode(params, image, prompt);
      expect(pool.started).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it("pass a thread's error on, and fail the pending decodes of a thread that dies; the next decode starts a fresh one", async () => {
    const failing = await script(`parentPort.on("message", (m) => parentPort.postMessage({ id: m.id, error: { message: "no colour model for box " + m.prompt.box.x2 } }));`);
    const pool = new GraphcutThreads(failing, 1);
    await expect(pool.decode(params, image, prompt)).rejects.toThrow(/^no colour model for box 4$/);
    await pool.close();
    const dies = await script(`parentPort.on("message", () => process.exit(3));`);
    const dying = new GraphcutThreads(dies, 1);
    await expect(dying.decode(params, image, prompt)).rejects.toThrow(/graphcut decode thread \(.*thread\.mjs\) stopped: exit code 3 \(RESAGENT_DECODE_THREADS=0 decodes in-process\)$/);
    expect(dying.started).toBe(0);
    await expect(dying.decode(params, image, prompt)).rejects.toThrow(/exit code 3/);
    await dying.close();
  });

  it("a request that cannot be sent fails alone and holds no thread open: the process still exits", async () => {
    const echo = await script(`parentPort.on("message", (m) => parentPort.postMessage({ id: m.id, mask: { width: 1, height: 1, data: new Uint8Array([1]) }, score: 1 }));`);
    const pool = new GraphcutThreads(echo, 1);
    // Points carry only what a decode reads across: a stray property does not stop the request.
    await expect(pool.decode(params, image, { ...prompt, positives: [{ x: 1, y: 1, note: () => 1 } as { x: number; y: number }] })).resolves.toMatchObject({ score: 1 });
    const detached = new Uint8Array(new ArrayBuffer(36));
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    await expect(pool.decode(params, { ...image, data: detached }, prompt)).rejects.toThrow();
    // The failed send left nothing pending, so nothing holds the thread (and the process) open.
    expect(pool.pendingDecodes).toBe(0);
    await expect(pool.decode(params, image, prompt)).resolves.toMatchObject({ score: 1 });
    await pool.close();
  });

  it("RESAGENT_DECODE_THREADS sets the limit (0: in-process); anything but a whole number fails naming it", () => {
    expect(decodeThreadLimit({ RESAGENT_DECODE_THREADS: "0" })).toBe(0);
    expect(decodeThreadLimit({ RESAGENT_DECODE_THREADS: "3" })).toBe(3);
    expect(decodeThreadLimit({})).toBeGreaterThan(0);
    expect(() => decodeThreadLimit({ RESAGENT_DECODE_THREADS: "two" })).toThrow(/^RESAGENT_DECODE_THREADS: expected a whole number of threads \(0 decodes in-process\), got "two"$/);
  });
});
