import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { InputError, type RgbImage } from "@resagent/core";
import type { GraphCutParams } from "../params.js";
import type { DecodeResult, Prompt } from "../types.js";

/**
 * Graph-cut decodes on worker threads. A decode is pure CPU in (parameters, image, prompt), so the
 * samples a run keeps in flight can decode at once on as many cores; the masks and scores are
 * the same bytes as in-process (the thread runs the same function). Threads start when a decode
 * finds every existing one busy, up to the limit, and hold the process open only while a decode
 * is pending.
 */

/** One request to a thread and its answer (see thread.ts). */
export interface ThreadRequest {
  id: number;
  params: GraphCutParams;
  image: RgbImage;
  prompt: Prompt;
}
export type ThreadReply = { id: number; mask: { width: number; height: number; data: Uint8Array }; score: number } | { id: number; error: { message: string; stack?: string } };

/**
 * Where the thread's script is. Built by tsc it lies beside this module (thread.js). Run from a
 * bundle (`pnpm exp`, packages/cli/bin/from-source.js), the bundler writes it as a file of its own
 * and names it under this global key before the bundle loads. From the TypeScript sources (vitest)
 * there is no runnable script, and decodes stay in-process.
 */
const SCRIPT_KEY = Symbol.for("resagent.decoder.graphcut-thread");

export function threadScript(): string | undefined {
  const named = (globalThis as Record<symbol, unknown>)[SCRIPT_KEY];
  if (typeof named === "string") return named;
  const beside = new URL("./thread.js", import.meta.url);
  return beside.protocol === "file:" && existsSync(fileURLToPath(beside)) ? beside.href : undefined;
}

/**
 * How many decode threads at most: `RESAGENT_DECODE_THREADS` (0 decodes in-process), else one per
 * core the process may use.
 */
export function decodeThreadLimit(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.RESAGENT_DECODE_THREADS;
  if (v === undefined || v === "") return availableParallelism();
  if (!/^\d+$/.test(v.trim())) throw new InputError(`expected a whole number of threads (0 decodes in-process), got "${v}"`, { field: "RESAGENT_DECODE_THREADS" });
  return Number(v);
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }>;
}

export class GraphcutThreads {
  private readonly slots: Slot[] = [];
  private nextId = 0;

  constructor(
    readonly script: string,
    readonly limit: number,
  ) {}

  /** Threads started so far. */
  get started(): number {
    return this.slots.length;
  }

  /** Decodes sent and not yet answered: while any is, the process stays open. */
  get pendingDecodes(): number {
    return this.slots.reduce((n, s) => n + s.pending.size, 0);
  }

  decode(params: GraphCutParams, image: RgbImage, prompt: Prompt): Promise<DecodeResult> {
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<DecodeResult>((resolve, reject) => {
      // Only what a decode reads crosses to the thread (a point may carry more than x and y).
      const xy = (q: readonly { x: number; y: number }[]) => q.map(({ x, y }) => ({ x, y }));
      const { x1, y1, x2, y2 } = prompt.box;
      const req: ThreadRequest = { id, params, image: { width: image.width, height: image.height, data: image.data }, prompt: { box: { x1, y1, x2, y2 }, positives: xy(prompt.positives), negatives: xy(prompt.negatives) } };
      // Sent first, then counted as pending: a request that cannot be sent holds no thread open.
      slot.worker.postMessage(req);
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
    });
  }

  /** An idle thread, else a new one while under the limit, else the least busy. */
  private pick(): Slot {
    const idle = this.slots.find((s) => s.pending.size === 0);
    if (idle) return idle;
    if (this.slots.length < this.limit) return this.start();
    return this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
  }

  private start(): Slot {
    const worker = new Worker(new URL(this.script));
    const slot: Slot = { worker, pending: new Map() };
    worker.unref();
    worker.on("message", (reply: ThreadReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if ("error" in reply) {
        const err = new Error(reply.error.message);
        if (reply.error.stack) err.stack = reply.error.stack;
        p.reject(err);
      } else p.resolve({ mask: reply.mask, score: reply.score });
    });
    // A thread that dies takes its pending decodes with it: they fail, and the next decode starts a fresh thread.
    const fail = (err: Error) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(new Error(`graphcut decode thread (${this.script}) stopped: ${err.message} (RESAGENT_DECODE_THREADS=0 decodes in-process)`));
      slot.pending.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`exit code ${code}`)));
    // An answer that cannot be read back leaves no decode waiting forever: the thread is given up.
    worker.on("messageerror", (err) => {
      fail(err);
      void worker.terminate();
    });
    this.slots.push(slot);
    return slot;
  }

  async close(): Promise<void> {
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

let shared: GraphcutThreads | undefined;

/**
 * The process's decode threads, shared by every graphcut decoder (an experiment's cells have
 * decoders of their own; the cores are one pool), or null to decode in-process: no runnable
 * thread script, or a limit of 0.
 */
export function sharedGraphcutThreads(): GraphcutThreads | null {
  const limit = decodeThreadLimit();
  const script = threadScript();
  if (limit === 0 || !script) return null;
  // Another script or limit (a test, a library user changing them): a new pool. The old one is not
  // closed: decoders made before still hold it and may have decodes in flight; its idle threads
  // do not hold the process open.
  if (shared?.script !== script || shared.limit !== limit) shared = new GraphcutThreads(script, limit);
  return shared;
}
