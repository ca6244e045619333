import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { readJsonLinesTolerant } from "@resagent/core";
import { addAccounting, backendAccounting, emptyAccounting, formatAccounting, type ModelCallAccounting } from "@resagent/mllm";
import { ComponentPool, type SampleRecord } from "@resagent/pipeline";
import type { LoadedExperiment } from "./config/load.js";
import { runExperiment, type RunOptions, type RunResult } from "./runner.js";

/** One line per invocation of a run, appended when the invocation ends (done or failed). */
export const MODEL_CALLS_FILE = "model-calls.jsonl";

export interface InvocationAccounting {
  startedAt: string;
  endedAt: string;
  /** "failed": the invocation stopped on an error (its finished samples are kept). */
  status: "done" | "failed";
  /** Records this invocation added to samples.jsonl. */
  newRecords: number;
  /** The run folder it came from, when a merge gathered several. */
  run?: string;
  accounting: ModelCallAccounting;
}

/** The model-call counts that live in records: abstentions (pYes null) and grounding parse failures. */
export function recordAccounting(records: Iterable<Pick<SampleRecord, "queries" | "groundingFailure" | "ensemble">>): Pick<ModelCallAccounting, "abstentions" | "groundingParseFailures"> {
  let abstentions = 0;
  let groundingParseFailures = 0;
  for (const r of records) {
    // An ensemble counts each expert whose answer held no box; a grounder alone, its one answer.
    if (r.ensemble) groundingParseFailures += r.ensemble.experts.filter((e) => e.box === null).length;
    else if (r.groundingFailure) groundingParseFailures++;
    for (const q of r.queries) if (q.pYes === null || q.pYes === undefined) abstentions++;
  }
  return { abstentions, groundingParseFailures };
}

export async function appendInvocation(runDir: string, line: InvocationAccounting): Promise<void> {
  await mkdir(runDir, { recursive: true });
  // One write with O_APPEND: concurrent invocations never interleave within a line.
  await appendFile(join(runDir, MODEL_CALLS_FILE), `${JSON.stringify(line)}\n`);
}

const isInvocation = (v: unknown): v is InvocationAccounting => typeof (v as Partial<InvocationAccounting> | null)?.accounting === "object";

/**
 * Every invocation logged in these run folders (shards of a merge: each line says its run) and
 * their sum. Torn or unreadable lines are skipped and counted.
 */
export function readModelCalls(runDirs: readonly string[]): { invocations: InvocationAccounting[]; cumulative: ModelCallAccounting; unreadableLines: number } {
  const invocations: InvocationAccounting[] = [];
  let unreadableLines = 0;
  for (const dir of runDirs) {
    const { values, skipped } = readJsonLinesTolerant(join(dir, MODEL_CALLS_FILE), isInvocation);
    unreadableLines += skipped;
    invocations.push(...(runDirs.length > 1 ? values.map((v) => ({ ...v, run: v.run ?? dir })) : values));
  }
  const cumulative = invocations.reduce((sum, i) => addAccounting(sum, i.accounting), emptyAccounting());
  return { invocations, cumulative, unreadableLines };
}

export interface AccountedRunResult extends RunResult {
  accounting: ModelCallAccounting;
  /** `formatAccounting(accounting)`: the line to print at the end of the run. */
  accountingLine: string;
}

/**
 * `runExperiment`, accounting for its model calls: the backends' and response caches' counters
 * plus the abstentions and grounding parse failures of the records it wrote. Whether the run
 * finishes or fails (after its first model call), the invocation's line is appended to
 * <runDir>/model-calls.jsonl and `onAccounting` is called with it (a failed run prints it before
 * its error).
 */
export async function runExperimentAccounted(exp: LoadedExperiment, opts: RunOptions & { onAccounting?: (line: string, accounting: ModelCallAccounting, status: InvocationAccounting["status"]) => void }): Promise<AccountedRunResult> {
  const pool = new ComponentPool();
  const fromRecords = { abstentions: 0, groundingParseFailures: 0 };
  let added = 0;
  const startedAt = new Date().toISOString();
  let status: InvocationAccounting["status"] = "failed";
  let run: RunResult | undefined;
  let accounting: ModelCallAccounting;
  try {
    run = await runExperiment(exp, {
      ...opts,
      pool,
      onRecord: (r) => {
        // A record copied from an identical cell made no model call in this invocation.
        const c = r.timing.shared ? { abstentions: 0, groundingParseFailures: 0 } : recordAccounting([r]);
        fromRecords.abstentions += c.abstentions;
        fromRecords.groundingParseFailures += c.groundingParseFailures;
        added++;
        opts.onRecord?.(r);
      },
    });
    status = "done";
  } finally {
    accounting = { ...backendAccounting(pool.allBackends()), ...fromRecords };
    // Decoder sessions and the response caches' append handles, whether the run finished or failed.
    await pool.dispose();
    // A run stopped before its first model call (bad input, missing model files) has nothing to account for.
    if (status === "done" || added > 0 || accounting.queries > 0) {
      // Never let the log hide the run's own error.
      await appendInvocation(opts.runDir, { startedAt, endedAt: new Date().toISOString(), status, newRecords: run?.newRecords ?? added, accounting }).catch((err: unknown) => opts.log?.(`could not append to ${join(opts.runDir, MODEL_CALLS_FILE)}: ${(err as Error).message}`));
      opts.onAccounting?.(formatAccounting(accounting), accounting, status);
    }
  }
  return { ...run, accounting, accountingLine: formatAccounting(accounting) };
}
