import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface BenchRow {
  suite: string;
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface BenchSuite {
  name: string;
  description: string;
  /** Run only by `pnpm bench --only <name>`, not by a plain `pnpm bench`. */
  onlyWhenNamed?: boolean;
  run(): Promise<BenchRow[]>;
}

/** Run `fn` repeatedly for about `ms` milliseconds (after a warm-up); returns calls per second. */
export async function timeIt(fn: () => unknown | Promise<unknown>, ms = 1000, warmup = 3): Promise<{ perSecond: number; msPerCall: number; calls: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  let calls = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    await fn();
    calls++;
    now = performance.now();
  }
  const msPerCall = (now - start) / calls;
  return { perSecond: 1000 / msPerCall, msPerCall, calls };
}

/** Run `fn` with a fresh temporary folder (a suite's own synthref cache or fixture), removed afterwards. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "resagent-bench-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
