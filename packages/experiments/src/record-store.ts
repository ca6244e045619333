import { join } from "node:path";
import { readSegmented, SegmentWriter, sha256, stableStringify } from "@resagent/core";
import type { PipelineConfig, SampleRecord } from "@resagent/pipeline";
import type { DatasetRef } from "./config/schema.js";
import { withoutTransport } from "./identity.js";

const isRecord = (v: unknown): v is SampleRecord => typeof (v as Partial<SampleRecord> | null)?.id === "string" && typeof (v as Partial<SampleRecord>).mask === "object";

/**
 * Records shared between cells that run the same thing: a record depends only on the cell's
 * resolved pipeline, the seed, the dataset and the code (never on the cell's name or the table it
 * is in), so Table 2's "Baseline" and Table 4's "K=0", or two experiments that tie, compute each
 * sample once. Append-only JSON-lines per (code hash, cell config, dataset) under the cache folder,
 * one segment per writing process (core's segmented.ts), so shards on several machines can share it
 * on a network filesystem; torn and damaged lines are skipped. A shared record says so in its timing
 * (`timing.shared = 1`); everything else in it is what the computation would give.
 */
export class RecordStore {
  private readonly files = new Map<string, Map<string, SampleRecord>>();
  private readonly writers = new Map<string, SegmentWriter>();

  constructor(
    private readonly dir: string,
    private readonly codeHash: string,
  ) {}

  /** The store's key of one cell on one dataset. */
  static key(pipeline: PipelineConfig, seed: number, dataset: DatasetRef): string {
    // Endpoints and timeouts change how answers are fetched, never the records.
    return sha256(stableStringify({ pipeline: withoutTransport(pipeline), seed, dataset })).slice(0, 24);
  }

  private file(key: string): string {
    return join(this.dir, this.codeHash, `${key}.jsonl`);
  }

  private entries(key: string): Map<string, SampleRecord> {
    let m = this.files.get(key);
    if (!m) {
      m = new Map<string, SampleRecord>();
      // The first record of a sample is the one every later reader gets.
      for (const r of readSegmented(this.file(key), isRecord).values) if (!m.has(r.id)) m.set(r.id, r);
      this.files.set(key, m);
    }
    return m;
  }

  /** A stored record of this sample, relabelled for `cell`. */
  get(key: string, sampleId: string, cell: string): SampleRecord | undefined {
    const r = this.entries(key).get(sampleId);
    return r ? { ...r, cell, timing: { ...r.timing, shared: 1 } } : undefined;
  }

  async put(key: string, record: SampleRecord): Promise<void> {
    const m = this.entries(key);
    if (m.has(record.id)) return;
    m.set(record.id, record);
    let w = this.writers.get(key);
    if (!w) this.writers.set(key, (w = new SegmentWriter(this.file(key), { keepOpen: false })));
    await w.append(record);
  }
}
