/**
 * The response cache with several writer PROCESSES on one cache directory, as shards of a SLURM
 * array or a Kubernetes Job share it on a network filesystem: no entry lost, none corrupted,
 * readers that load while others append see only whole, correct entries.
 *
 * The children run the real cache.ts, bundled from the sources as `pnpm exp` bundles the CLI
 * (packages/cli/bin/bundle.js), so what is tested is the code a run uses. Set
 * RESAGENT_SHARED_FS_DIRS to two or more mounts of one network directory (e.g. two sshfs or NFS
 * mounts of the same export) to run the same test across them.
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ResponseCache } from "./cache.js";

const here = fileURLToPath(new URL(".", import.meta.url));
const { bundleModule } = (await import(pathToFileURL(join(here, "..", "..", "cli", "bin", "bundle.js")).href)) as { bundleModule(input: string, file: string): Promise<void> };

/**
 * The value every writer stores for a key: a pure function of the key, so a reader can tell a
 * correct entry from a corrupt one. Sizes vary from a few bytes to 300 KB (far beyond a pipe
 * buffer, a page, or a 64 KiB write chunk).
 */
const VALUE_FN = `
function value(key) {
  let h = 0;
  for (const c of key) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  const len = h % 151 === 0 ? 300_000 : h % 23 === 0 ? 70_000 : h % 2000;
  const text = (key + ":").repeat(Math.ceil((len + 1) / (key.length + 1))).slice(0, len + 1);
  const top = Array.from({ length: 20 }, (_, i) => ({ token: key.slice(-3) + i, logprob: -((h % 1000) + i) / 100 }));
  return { text, firstTokenTopLogprobs: top };
}
`;

/** A writer process: sets its own keys and the shared ones, loading the cache again every so often and checking what it sees. */
function workerSource(): string {
  return `${VALUE_FN}
import { pathToFileURL } from "node:url";
const [cacheJs, file, writer, writers, own, shared] = process.argv.slice(2);
const { ResponseCache } = await import(pathToFileURL(cacheJs).href);
const keys = [];
for (let w = 0; w < Number(writers); w++) for (let j = 0; j < Number(own); j++) keys.push("w" + w + "-" + j);
for (let j = 0; j < Number(shared); j++) keys.push("shared-" + j);
const stats = { loads: 0, bad: 0, extra: 0, seen: 0, sawOthers: 0 };
// Each key's value as JSON, made once: the loads below compare every entry they find (as JSON: a
// logprob of -0 comes back as 0).
const expected = new Map();
const want = (k) => expected.get(k) ?? expected.set(k, JSON.stringify(value(k))).get(k);
function check(written) {
  const c = new ResponseCache(file);
  stats.loads++;
  let found = 0;
  for (const k of keys) {
    const v = c.get(k);
    if (v === undefined) continue;
    found++;
    if (JSON.stringify(v) !== want(k)) stats.bad++;
  }
  if (c.size !== found) stats.extra += c.size - found;
  stats.seen = Math.max(stats.seen, found);
  // More keys than this writer has set: it read while others were appending.
  if (found > written) stats.sawOthers++;
}
const cache = new ResponseCache(file);
const mine = [];
for (let j = 0; j < Number(own); j++) mine.push("w" + writer + "-" + j);
for (let j = 0; j < Number(shared); j++) mine.push("shared-" + ((j * 7 + Number(writer)) % Number(shared)));
for (let i = 0; i < mine.length; i++) {
  // Not awaited one by one: a run keeps many answers in flight.
  const p = cache.set(mine[i], value(mine[i]));
  if (i % 30 === 29) { await p; check(i + 1); }
}
await cache.close();
check(Infinity);
process.stdout.write(JSON.stringify(stats));
`;
}

async function setup(): Promise<{ dir: string; cache: string; worker: string }> {
  const dir = await mkdtemp(join(tmpdir(), "resagent-writers-"));
  const cache = join(dir, "cache.mjs");
  await bundleModule(join(here, "cache.ts"), cache);
  await writeFile(join(dir, "worker.mjs"), workerSource());
  return { dir, cache, worker: join(dir, "worker.mjs") };
}

interface WorkerStats {
  loads: number;
  bad: number;
  extra: number;
  seen: number;
  sawOthers: number;
}

function runWorker(s: { cache: string; worker: string }, args: (string | number)[]): Promise<WorkerStats> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [s.worker, s.cache, ...args.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as WorkerStats) : reject(new Error(`writer exited ${code}: ${err.slice(-2000)}`))));
  });
}

// The test's own copy of the value function, to check the final cache.
const value = new Function(`${VALUE_FN}; return value;`)() as (key: string) => { text: string; firstTokenTopLogprobs: { token: string; logprob: number }[] };

async function writers(files: string[], n: number, own: number, shared: number) {
  const s = await setup();
  const stats = await Promise.all(Array.from({ length: n }, (_, w) => runWorker(s, [files[w % files.length]!, w, n, own, shared])));
  const expected = [...Array.from({ length: n }, (_, w) => Array.from({ length: own }, (_, j) => `w${w}-${j}`)).flat(), ...Array.from({ length: shared }, (_, j) => `shared-${j}`)];
  return { stats, expected };
}

function checkFinal(file: string, expected: string[]) {
  const c = new ResponseCache(file);
  const missing = expected.filter((k) => c.get(k) === undefined);
  const wrong = expected.filter((k) => c.get(k) !== undefined && JSON.stringify(c.get(k)) !== JSON.stringify(value(k)));
  return { size: c.size, missing: missing.length, wrong: wrong.length, skipped: c.skippedLines };
}

describe("response cache with concurrent writer processes", () => {
  it("8 processes appending to one cache: no entry lost, none corrupted, loads in between see only correct entries", async () => {
    const dir = await mkdtemp(join(tmpdir(), "resagent-shared-cache-"));
    const file = join(dir, "mllm", "0123456789abcdef.jsonl");
    const { stats, expected } = await writers([file], 8, 60, 30);
    expect(checkFinal(file, expected)).toEqual({ size: expected.length, missing: 0, wrong: 0, skipped: 0 });
    for (const s of stats) expect(s).toMatchObject({ bad: 0, extra: 0 });
    // Loads happened while others were appending (more keys than the loader had written itself).
    expect(stats.reduce((a, s) => a + s.sawOthers, 0)).toBeGreaterThan(0);
  });

  const shared = process.env.RESAGENT_SHARED_FS_DIRS?.split(",").filter(Boolean) ?? [];
  it.skipIf(shared.length < 2)(`across mounts of one network directory (RESAGENT_SHARED_FS_DIRS${shared.length < 2 ? " unset: skipped" : ""})`, async () => {
    const sub = `resagent-cache-${process.pid}-${Date.now()}`;
    const files = shared.map((d) => join(d, sub, "0123456789abcdef.jsonl"));
    const { stats, expected } = await writers(files, 6, 80, 40);
    for (const s of stats) expect(s).toMatchObject({ bad: 0, extra: 0 });
    // A client lists a folder from its attribute cache (NFS acdirmax, sshfs dir_cache): segments
    // made through another mount show up when it expires. Until then a reader only misses them
    // (and would ask again); what it does read must be right all along.
    for (const f of files) {
      const deadline = Date.now() + 90_000;
      let seen = checkFinal(f, expected);
      while (seen.missing > 0 && Date.now() < deadline) {
        expect(seen).toMatchObject({ wrong: 0, skipped: 0, size: expected.length - seen.missing });
        await new Promise((r) => setTimeout(r, 2_000));
        seen = checkFinal(f, expected);
      }
      expect(seen).toEqual({ size: expected.length, missing: 0, wrong: 0, skipped: 0 });
    }
  }, 180_000);
});
