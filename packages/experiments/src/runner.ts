import { mkdir, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { InputError, claimFolder, decodeImage, readJsonLinesTolerant, repairJsonLines, sha256, writeFileAtomic, type Sample } from "@resagent/core";
import { datasetSource, openDataset, type Dataset } from "@resagent/data";
import { ComponentPool, Pipeline, type SampleRecord } from "@resagent/pipeline";
import { RECORD_VERSION } from "@resagent/records";
import { stringify } from "yaml";
import type { LoadedExperiment } from "./config/load.js";
import { findRoot } from "./config/load.js";
import { acquireRunLock, checkResumable, codeHash, configHash, writeManifest, type RunManifest } from "./identity.js";
import { RecordStore } from "./record-store.js";

export interface RunOptions {
  runDir: string;
  /** Shard i of n over each dataset's samples. */
  shard?: { index: number; count: number };
  /** Override of the config's concurrency. */
  concurrency?: number;
  /** Called after each sample (all cells) with done / total. */
  progress?: (done: number, total: number) => void;
  /** Called once before any work: samples in total, samples already done (resumed) and their records. */
  onStart?: (info: { total: number; done: number; resumedRecords: number }) => void;
  /** Stop after this many new samples (tests use it to simulate a kill). */
  stopAfter?: number;
  /** Called with a line of text for warnings (bad samples skipped, etc.). */
  log?: (line: string) => void;
  /** Record a sample whose loading fails and go on, instead of stopping the run. */
  skipBadSamples?: boolean;
  /**
   * Reuse records of identical cells (same resolved pipeline, seed, dataset and code) from the
   * shared record store, and add new ones to it (default true). Tests of the computation itself
   * turn it off.
   */
  shareRecords?: boolean;
  /** Components to build the cells from (default: a fresh pool); the caller reads their counters after the run. */
  pool?: ComponentPool;
  /** Called with each new record as it is made (model-call accounting counts abstentions here). */
  onRecord?: (record: SampleRecord) => void;
  /** How the experiment was loaded (name, profile, --set, --sweep), saved so `merge` can reload it. */
  source?: RunManifest["source"];
}

export interface RunResult {
  runDir: string;
  newRecords: number;
  /** New records copied from identical cells (the shared record store) instead of computed. */
  sharedRecords: number;
  resumedRecords: number;
  backendStats: { description: string; simulated: boolean; stats: Record<string, number> }[];
  decoderStats: { description: string; stats: Record<string, number> }[];
  /** sampler.rank's scorers of the last invocation (oracle-value's decodes, learned-value's points). */
  rankingStats?: { description: string; upperBound: boolean; stats: Record<string, number> }[];
  skipped: { id: string; dataset: string; error: string }[];
}

/** Each dataset's samples of a run (or of one shard), by dataset key: what a complete run has records of, per cell. */
export async function expectedSamples(exp: LoadedExperiment, shard?: { index: number; count: number }): Promise<Record<string, number>> {
  return Object.fromEntries((await openDatasets(exp, shard)).map(([col, ds]) => [datasetSource(exp.config.resolvedDatasets[col]!), ds.ids().length]));
}

async function openDatasets(exp: LoadedExperiment, shard?: { index: number; count: number }): Promise<[string, Dataset][]> {
  const datasets: [string, Dataset][] = [];
  for (const [col, ref] of Object.entries(exp.config.resolvedDatasets)) {
    const { name, ...options } = ref;
    let ds = (await openDataset(name, options as { split: string })).limit(exp.config.limit);
    if (shard) ds = ds.shard(shard.index, shard.count);
    datasets.push([col, ds]);
  }
  return datasets;
}


const isRecord = (v: unknown): v is SampleRecord => typeof (v as Partial<SampleRecord> | null)?.id === "string" && typeof (v as Partial<SampleRecord>).cell === "string";

/**
 * A record's identity in a run: dataset, sample and cell (a REFER sentence is the same sample id
 * under the sentence and the ref unit; the dataset tells the two apart).
 */
export const recordKey = (dataset: string, id: string, cell: string) => `${dataset}\u0000${id}\u0000${cell}`;

/** Existing records of a run as done (dataset, sample, cell) keys; torn lines, anywhere in the file, are dropped (and counted). */
export async function readExistingRecords(file: string): Promise<{ done: Set<string>; count: number; dropped: number }> {
  const { values: recs, dropped } = await repairJsonLines(file, isRecord);
  return { done: new Set(recs.map((r) => recordKey(r.dataset, r.id, r.cell))), count: recs.length, dropped };
}

/** Read every record of a run (or several, for `merge`). */
export function readRecords(file: string): SampleRecord[] {
  // Torn lines (a kill, anywhere in the file) are skipped; the lines after them are read (the next run repairs the file).
  return readJsonLinesTolerant<SampleRecord>(file).values;
}

/** Build every cell's pipeline: this is where unknown components and bad parameters fail, before any work. */
export function buildPipelines(exp: LoadedExperiment, pool = new ComponentPool()): Map<string, Pipeline> {
  const out = new Map<string, Pipeline>();
  for (const cell of exp.cells) {
    try {
      out.set(cell.id, new Pipeline(cell.pipeline, exp.config.seed, pool));
    } catch (err) {
      // The component names the field; where the value came from was checked with the schema.
      if (err instanceof InputError) throw new InputError(`cell "${cell.id}": ${err.message}`);
      throw err;
    }
  }
  return out;
}

/**
 * Run every cell on every sample, sample-major (each image decoded once and shared by the cells),
 * with bounded concurrency over samples. Lines are appended to samples.jsonl in sample order, so
 * the file is the same at any concurrency; a rerun skips what is already there.
 */
export async function runExperiment(exp: LoadedExperiment, opts: RunOptions): Promise<RunResult> {
  // Only a new folder, or a run folder of this experiment (resumed; files beside it are left alone).
  claimFolder(opts.runDir, {
    origin: "run folder",
    kind: "run",
    allowForeign: true,
    accept: (f) => (f.run && f.run.experiment !== exp.config.name ? `it belongs to experiment ${f.run.experiment}, not ${exp.config.name}` : undefined),
  });
  await mkdir(opts.runDir, { recursive: true });
  const release = await acquireRunLock(opts.runDir, opts.log);
  const pool = opts.pool ?? new ComponentPool();
  try {
    return await runLocked(exp, { ...opts, pool });
  } catch (err) {
    // A finished run releases its pool itself; a failed one's (file handles, model sessions) here.
    await pool.dispose().catch(() => undefined);
    throw err;
  } finally {
    await release();
  }
}

async function runLocked(exp: LoadedExperiment, opts: RunOptions): Promise<RunResult> {
  const { config } = exp;
  const previous = checkResumable(opts.runDir, exp, opts.shard);
  const manifest: RunManifest = {
    experiment: config.name,
    profile: config.profile,
    configHash: configHash(exp),
    codeHash: codeHash(),
    recordVersion: RECORD_VERSION,
    ...(opts.shard ? { shard: opts.shard } : {}),
    ...(opts.source ? { source: opts.source } : {}),
    createdAt: previous?.createdAt ?? new Date().toISOString(),
    complete: false,
  };
  await writeManifest(opts.runDir, manifest);
  await writeFileAtomic(join(opts.runDir, "config.resolved.yaml"), stringify({ ...(opts.source ? { source: opts.source } : {}), ...config, cellPipelines: Object.fromEntries(exp.cells.map((c) => [c.id, c.pipeline])) }));
  const pool = opts.pool ?? new ComponentPool();
  const pipelines = buildPipelines(exp, pool);
  // Missing model files fail here, not after the first model requests; so does a component this
  // harness does not have (the authors' learned point scorer).
  for (const d of pool.allDecoders()) d.check?.();
  for (const cell of exp.cells) {
    try {
      pipelines.get(cell.id)!.sampler.check?.();
    } catch (err) {
      if (err instanceof InputError) throw new InputError(`cell "${cell.id}": ${err.message}`);
      throw err;
    }
  }
  const datasets = await openDatasets(exp, opts.shard);
  // What this run (or shard) owes once complete, so `merge` can hold it to it.
  manifest.expectedSamples = Object.fromEntries(datasets.map(([col, ds]) => [datasetSource(config.resolvedDatasets[col]!), ds.ids().length]));
  await writeManifest(opts.runDir, manifest);
  const samplesFile = join(opts.runDir, "samples.jsonl");
  const { done, count: resumed, dropped } = await readExistingRecords(samplesFile);
  if (dropped) opts.log?.(`${samplesFile}: dropped ${dropped} torn line(s), kept ${resumed} record(s); the dropped samples run again`);
  const store = opts.shareRecords === false ? undefined : new RecordStore(join(process.env.RESAGENT_CACHE_DIR ?? join(findRoot(), ".cache"), "records"), codeHash());
  const storeKeys = new Map(datasets.map(([col]) => [col, new Map(exp.cells.map((c) => [c.id, RecordStore.key(c.pipeline, config.seed, config.resolvedDatasets[col]!)]))]));
  let sharedRecords = 0;
  const work: { col: string; ds: Dataset; index: number; id: string; source: string }[] = [];
  for (const [col, ds] of datasets) {
    const source = datasetSource(config.resolvedDatasets[col]!);
    ds.ids().forEach((id, index) => work.push({ col, ds, index, id, source }));
  }
  // A cell with `datasets:` runs on those columns only.
  const cellsFor = (col: string) => exp.cells.filter((c) => !c.datasets || c.datasets.includes(col));
  const isDone = (w: (typeof work)[number], cell: string) => done.has(recordKey(w.source, w.id, cell));
  const todo = work.filter((w) => cellsFor(w.col).some((c) => !isDone(w, c.id)));
  opts.onStart?.({ total: work.length, done: work.length - todo.length, resumedRecords: resumed });
  const handle = await open(samplesFile, "a");
  const skipped: RunResult["skipped"] = [];
  let newRecords = 0;
  try {
    // Results wait in `ready` until every earlier sample is written: output order = work order.
    const ready = new Map<number, string>();
    let nextToWrite = 0;
    let writing = Promise.resolve();
    const flush = () => {
      while (ready.has(nextToWrite)) {
        const text = ready.get(nextToWrite)!;
        ready.delete(nextToWrite);
        nextToWrite++;
        if (text) writing = writing.then(() => handle.write(text).then(() => undefined));
      }
    };
    const limit = Math.min(todo.length, opts.stopAfter ?? Infinity);
    let cursor = 0;
    let finished = 0;
    // The first fatal error stops every worker from taking new samples; the file is closed only
    // after all of them have returned, and that first error is the one reported.
    let failed = false;
    let firstError: unknown;
    const worker = async () => {
      for (;;) {
        const i = cursor++;
        if (failed || i >= limit) return;
        const w = todo[i]!;
        let sample: Sample;
        let lines = "";
        try {
          // Cells whose record another cell (of this run or another) already computed are copied.
          const keys = storeKeys.get(w.col)!;
          const cells = cellsFor(w.col);
          const shared = new Map(cells.flatMap((c) => {
            const r = isDone(w, c.id) ? undefined : store?.get(keys.get(c.id)!, w.id, c.id);
            return r ? [[c.id, r] as const] : [];
          }));
          const needed = cells.filter((c) => !isDone(w, c.id) && !shared.has(c.id));
          if (needed.length === 0) {
            for (const cell of cells) {
              const rec = shared.get(cell.id);
              if (!rec) continue;
              opts.onRecord?.(rec);
              lines += `${JSON.stringify(rec)}\n`;
              newRecords++;
              sharedRecords++;
            }
            ready.set(i, lines);
            flush();
            finished++;
            opts.progress?.(finished + (work.length - todo.length), work.length);
            continue;
          }
          sample = await w.ds.get(w.index);
          const bytes = await readFile(sample.imagePath).catch(() => {
            throw new InputError("image file missing or unreadable", { file: sample.imagePath });
          });
          const image = await decodeImage(bytes, sample.imagePath);
          if (image.width !== sample.width || image.height !== sample.height) {
            throw new InputError(`image is ${image.width}x${image.height} but the dataset says ${sample.width}x${sample.height}`, { file: sample.imagePath });
          }
          const loaded = { sample, image, imageHash: sha256(bytes), fileBytes: bytes };
          for (const cell of cells) {
            if (isDone(w, cell.id)) continue;
            // An identical cell earlier in this loop may have just computed it.
            let rec = shared.get(cell.id) ?? store?.get(keys.get(cell.id)!, w.id, cell.id);
            if (rec) sharedRecords++;
            else {
              rec = await pipelines.get(cell.id)!.run(loaded, cell.id);
              await store?.put(keys.get(cell.id)!, rec);
            }
            opts.onRecord?.(rec);
            lines += `${JSON.stringify(rec)}\n`;
            newRecords++;
          }
        } catch (err) {
          if (!(opts.skipBadSamples && err instanceof InputError)) {
            if (!failed) firstError = err;
            failed = true;
            return;
          }
          skipped.push({ id: w.id, dataset: w.source, error: (err as Error).message });
          opts.log?.(`skipped ${w.id}: ${(err as Error).message}`);
        }
        ready.set(i, lines);
        flush();
        finished++;
        opts.progress?.(finished + (work.length - todo.length), work.length);
      }
    };
    const n = Math.max(1, opts.concurrency ?? config.concurrency);
    await Promise.all(Array.from({ length: n }, worker));
    await writing;
    if (failed) throw firstError;
    if (finished === todo.length) await writeManifest(opts.runDir, { ...manifest, complete: true, ...(skipped.length ? { skipped: skipped.map(({ dataset, id }) => ({ dataset, id })) } : {}) });
  } finally {
    await handle.close();
  }
  const result: RunResult = {
    runDir: opts.runDir,
    newRecords,
    sharedRecords,
    resumedRecords: resumed,
    backendStats: pool.allBackends().map((b) => ({ description: b.describe(), simulated: b.simulated, stats: b.stats?.() ?? {} })),
    decoderStats: pool.allDecoders().map((d) => ({ description: d.describe(), stats: d.stats?.() ?? {} })),
    ...(pool.allScorers().length ? { rankingStats: pool.allScorers().map((s) => ({ description: s.describe(), upperBound: s.upperBound, stats: s.stats?.() ?? {} })) } : {}),
    skipped,
  };
  await pool.dispose();
  return result;
}
