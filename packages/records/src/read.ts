import { InputError, formatPath, issueError, parseParams } from "@resagent/core";
import type { z } from "zod";
import { CandidateRecordSchema, QueryRecordSchema, RECORD_VERSION, RunManifestSchema, RunSummarySchema, SampleRecordHeadSchema, SampleRecordSchema, type PartialSampleRecord, type RunManifest, type RunSummary, type SampleRecord } from "./schemas.js";

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Refuse a summary.json or run.json written by newer code than this (its `recordVersion` is above
 * RECORD_VERSION): one line naming the file and the field. A file without one predates versioning.
 */
export function checkRecordVersion(raw: unknown, file: string): void {
  if (!isObj(raw) || raw.recordVersion === undefined) return;
  const v = raw.recordVersion;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) throw new InputError(`expected a whole number >= 1, got ${JSON.stringify(v)}`, { file, field: "recordVersion" });
  if (v > RECORD_VERSION) throw new InputError(`written by a newer resagent (record version ${v}; this one reads up to ${RECORD_VERSION}): update resagent to read it`, { file, field: "recordVersion" });
}

/** `where` for a line of a JSON-lines file: the file and line number, then the key path. */
const lineOf = (file: string, line?: number) => (path: readonly PropertyKey[]) => ({ file: line === undefined ? file : `${file} line ${line}`, field: formatPath(path) });

/**
 * One samples.jsonl line held to the pipeline's shape: the record (unknown keys kept), or an
 * InputError naming the file, the line and the first field that is missing or of the wrong type.
 */
export function parseSampleRecord(value: unknown, file: string, line?: number): SampleRecord & Record<string, unknown> {
  return parseParams(SampleRecordSchema, value, lineOf(file, line));
}

/** Whether a parsed line is a whole record of the pipeline's shape (for readJsonLinesTolerant). */
export const isSampleRecord = (v: unknown): v is SampleRecord => SampleRecordSchema.safeParse(v).success;

/**
 * Why a parsed line is not a record, as one line naming the field; undefined when it is one.
 * `whole`: hold it to every field the pipeline writes, else only to the required ones.
 */
export function recordProblem(value: unknown, whole = true): string | undefined {
  const schema = whole ? SampleRecordSchema : SampleRecordHeadSchema;
  const r = schema.safeParse(value);
  return r.success ? undefined : issueError(schema, value, r.error.issues, (p) => ({ field: formatPath(p) })).message;
}

/**
 * Keep only the fields of an object that its schema's shape accepts: a known field of the wrong
 * type is left out, an unknown one kept as it is. Key order is kept.
 */
function tolerantFields(shape: Record<string, z.ZodType>, raw: Record<string, unknown>, elementwise: Record<string, Record<string, z.ZodType>> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    const s = Object.hasOwn(shape, k) ? shape[k] : undefined;
    if (!s) {
      out[k] = v;
      continue;
    }
    const r = s.safeParse(v);
    if (r.success && r.data !== undefined) out[k] = r.data;
    else if (Object.hasOwn(elementwise, k) && Array.isArray(v)) out[k] = v.filter(isObj).map((e) => tolerantFields(elementwise[k]!, e));
  }
  return out;
}

/**
 * A samples.jsonl line as a tolerant reader (the report) takes it: undefined unless the required
 * fields (id, cell, dataset, iou, intersection, union) are there and of their types; every other
 * field of the pipeline's kept when it has its type, left out when not; unknown keys kept.
 */
export function readSampleRecordTolerant(value: unknown): PartialSampleRecord | undefined {
  if (!isObj(value) || !SampleRecordHeadSchema.safeParse(value).success) return undefined;
  return tolerantFields(SampleRecordSchema.shape, value, { queries: QueryRecordSchema.shape, candidates: CandidateRecordSchema.shape }) as PartialSampleRecord;
}

/**
 * summary.json read tolerantly: a newer recordVersion refused (InputError naming file and
 * field); every named field kept when it has its type, left out when not; the rest kept.
 */
export function readRunSummary(raw: unknown, file: string): RunSummary {
  if (!isObj(raw)) throw new InputError("expected a JSON object", { file });
  checkRecordVersion(raw, file);
  return tolerantFields(RunSummarySchema.shape, raw) as RunSummary;
}

/** run.json held to its shape: a newer recordVersion, a missing or mistyped field, each one line naming file and field. */
export function parseRunManifest(raw: unknown, file: string): RunManifest & Record<string, unknown> {
  checkRecordVersion(raw, file);
  return parseParams(RunManifestSchema, raw, lineOf(file));
}
