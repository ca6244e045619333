import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { RECORD_VERSION, RunManifestSchema, type RunManifest, type SampleRecord, checkRecordVersion, isSampleRecord, parseRunManifest, parseSampleRecord, readRunSummary, readSampleRecordTolerant, recordProblem } from "./index.js";

/** Two lines of samples.jsonl as the pipeline wrote them (`exp table4 --limit 5`: a K=0 record and a K=4 one with queries and a decode record). */
const FIXTURE = new URL("./fixtures/table4-smoke.jsonl", import.meta.url);
const lines = readFileSync(FIXTURE, "utf8").split("\n").filter(Boolean);
const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
const FILE = "results/x/run/samples.jsonl";

// The writers' types have no index signature: a key the schema does not name is a type error.
// @ts-expect-error: not a field of a record
type _NotARecordField = SampleRecord["notAField"];
// @ts-expect-error: not a field of run.json
type _NotAManifestField = RunManifest["notAField"];

describe("SampleRecordSchema", () => {
  it("parses the records a run of the pipeline wrote, keys and values unchanged", () => {
    expect(records).toHaveLength(2);
    for (const r of records) {
      const parsed = parseSampleRecord(r, FILE, 1);
      expect(parsed).toEqual(r);
      expect(Object.keys(parsed)).toEqual(Object.keys(r));
      expect(isSampleRecord(r)).toBe(true);
    }
  });

  it("passes a newer writer's unknown keys through, at any depth", () => {
    const r = { ...records[1]!, futureField: { anything: true }, queries: (records[1]!.queries as object[]).map((q) => ({ ...q, futureQ: 1 })) };
    const parsed = parseSampleRecord(r, FILE);
    expect(parsed.futureField).toEqual({ anything: true });
    expect(parsed.queries[0]).toHaveProperty("futureQ", 1);
  });

  it("a line missing iou fails with one line naming the file, the line and the field", () => {
    const { iou: _iou, ...noIou } = records[0]!;
    expect(isSampleRecord(noIou)).toBe(false);
    let err: unknown;
    try {
      parseSampleRecord(noIou, FILE, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).file).toBe(`${FILE} line 3`);
    expect((err as InputError).field).toBe("iou");
    expect((err as Error).message).toBe(`${FILE} line 3: iou: missing (expected number)`);
    expect((err as Error).message).not.toContain("\n");
    expect(recordProblem(noIou)).toBe("iou: missing (expected number)");
    expect(recordProblem(noIou, false)).toBe("iou: missing (expected number)");
  });

  it("a field of the wrong type is named with its path", () => {
    const bad = { ...records[1]!, queries: [{ ...(records[1]!.queries as object[])[0], used: "yes" }] };
    expect(() => parseSampleRecord(bad, FILE)).toThrow(/queries\[0\]\.used: expected boolean, got "yes"/);
  });

  it("read tolerantly: the required fields or nothing; a mistyped other field left out, unknown keys kept, key order kept", () => {
    const { union: _u, ...noUnion } = records[0]!;
    expect(readSampleRecordTolerant(noUnion)).toBeUndefined();
    expect(readSampleRecordTolerant("not a record")).toBeUndefined();
    const r = readSampleRecordTolerant({ ...records[0]!, box: "<b>", timing: { total: "slow" }, extra: [1] })!;
    expect(r).not.toHaveProperty("box");
    expect(r).not.toHaveProperty("timing");
    expect(r.extra).toEqual([1]);
    expect(r.iou).toBe(records[0]!.iou);
    expect(Object.keys(r)).toEqual(Object.keys(records[0]!).filter((k) => k !== "box" && k !== "timing").concat("extra"));
    // Queries and candidates element by element: a query with a mistyped rank keeps its other fields.
    const q = (records[1]!.queries as Record<string, unknown>[])[0]!;
    const withBadQuery = readSampleRecordTolerant({ ...records[1]!, queries: [{ ...q, rank: "first" }, "no query"] })!;
    expect(withBadQuery.queries).toEqual([Object.fromEntries(Object.entries(q).filter(([k]) => k !== "rank"))]);
  });
});

describe("record versions", () => {
  it("RECORD_VERSION is a whole number >= 1", () => {
    expect(Number.isInteger(RECORD_VERSION) && RECORD_VERSION >= 1).toBe(true);
  });

  it("a summary with a newer recordVersion gives one clear line naming the file and the field", () => {
    const file = "results/x/run/summary.json";
    const newer = { experiment: "x", recordVersion: RECORD_VERSION + 1 };
    expect(() => readRunSummary(newer, file)).toThrow(InputError);
    expect(() => readRunSummary(newer, file)).toThrow(`${file}: recordVersion: written by a newer resagent (record version ${RECORD_VERSION + 1}; this one reads up to ${RECORD_VERSION}): update resagent to read it`);
    expect(() => checkRecordVersion({ recordVersion: "2" }, file)).toThrow(/recordVersion: expected a whole number >= 1, got "2"/);
    // This version, or none (written before versioning), reads.
    expect(readRunSummary({ experiment: "x", recordVersion: RECORD_VERSION }, file)).toEqual({ experiment: "x", recordVersion: RECORD_VERSION });
    expect(readRunSummary({ experiment: "x" }, file)).toEqual({ experiment: "x" });
  });

  it("a summary's mistyped named field is left out, unknown ones kept", () => {
    expect(readRunSummary({ seed: "zero", title: "T", extra: { a: 1 } }, "s.json")).toEqual({ title: "T", extra: { a: 1 } });
  });

  it("run.json: parsed, a newer recordVersion and a missing field refused naming the file and the field", () => {
    const file = "results/x/run/run.json";
    const m = { experiment: "table4", profile: "embedded", configHash: "c", codeHash: "k", recordVersion: RECORD_VERSION, source: { experiment: "table4", profile: "embedded", set: ["limit=5"], sweep: [] }, createdAt: "2026-01-01T00:00:00Z", complete: true, future: 1 };
    expect(parseRunManifest(m, file)).toEqual(m);
    expect(RunManifestSchema.safeParse(m).success).toBe(true);
    expect(() => parseRunManifest({ ...m, recordVersion: RECORD_VERSION + 1 }, file)).toThrow(`${file}: recordVersion: written by a newer resagent`);
    const { complete: _c, ...noComplete } = m;
    expect(() => parseRunManifest(noComplete, file)).toThrow(`${file}: complete: missing (expected boolean)`);
  });
});
