/** The report reads run files through @resagent/records: newer record versions refused, non-records counted and skipped. */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { RECORD_VERSION } from "@resagent/records";
import { listRuns, readRunFolder } from "./index.js";

const record = (id: string, extra: Record<string, unknown> = {}) => ({ id, cell: "K=0", dataset: "synthref/refcoco/val", expression: "x", box: null, candidates: [], queries: [], positives: [], negatives: [], mask: { size: [2, 2], counts: "4" }, score: 0, iou: 0.5, intersection: 1, union: 2, timing: {}, ...extra });

function run(summary: Record<string, unknown>, lines: unknown[]): string {
  const root = mkdtempSync(join(tmpdir(), "resagent-records-"));
  const dir = join(root, "tx", "r1");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "summary.json"), JSON.stringify(summary));
  writeFileSync(join(dir, "samples.jsonl"), lines.map((l) => `${typeof l === "string" ? l : JSON.stringify(l)}\n`).join(""));
  return dir;
}

describe("the report reads records through the records schema", () => {
  it("refuses a summary of a newer recordVersion in one line naming the file and the field", () => {
    const dir = run({ experiment: "tx", recordVersion: RECORD_VERSION + 1 }, [record("a")]);
    expect(() => readRunFolder(dir)).toThrow(InputError);
    expect(() => readRunFolder(dir)).toThrow(`${join(dir, "summary.json")}: recordVersion: written by a newer resagent`);
    // `runs` lists it as unreadable rather than leaving it out.
    const [entry] = listRuns(join(dir, "..", ".."));
    expect(entry).toMatchObject({ run: "r1", complete: false });
    expect(entry!.status).toMatch(/recordVersion: written by a newer resagent/);
  });

  it("counts and skips lines that are not records (no iou, torn), keeps unknown keys, leaves out a mistyped field", () => {
    const { iou: _iou, ...noIou } = record("b");
    const dir = run({ experiment: "tx", recordVersion: RECORD_VERSION }, [record("a", { futureField: 1, score: "high" }), noIou, '{"id": "c", "cel']);
    const folder = readRunFolder(dir);
    expect(folder.records.map((r) => r.id)).toEqual(["a"]);
    expect(folder.badLines).toBe(2);
    expect(folder.records[0]!.futureField).toBe(1);
    expect(folder.records[0]).not.toHaveProperty("score");
    expect(folder.summary?.recordVersion).toBe(RECORD_VERSION);
  });
});
