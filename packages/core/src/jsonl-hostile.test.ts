/**
 * The samples.jsonl readers against random bytes, torn lines and spliced lines: they never throw,
 * keep every line that parses (a glued record after a torn prefix included), count the rest, and
 * the repairing reader leaves a file the tolerant one reads back the same with nothing dropped.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readJsonLinesTolerant, repairJsonLines } from "./fs.js";

const dir = mkdtempSync(join(tmpdir(), "resagent-jsonl-"));
const record = fc.record({ id: fc.string({ maxLength: 8 }), cell: fc.string({ maxLength: 6 }), iou: fc.double({ noNaN: true, noDefaultInfinity: true }) });
const isRec = (v: unknown): v is { id: string } => typeof (v as { id?: unknown } | null)?.id === "string";

/** A line of a damaged file: a record, a torn record, a record glued after a torn one, or bytes. */
const line = fc.oneof(
  record.map((r) => JSON.stringify(r)),
  fc.tuple(record, fc.nat()).map(([r, k]) => JSON.stringify(r).slice(0, 1 + (k % JSON.stringify(r).length))),
  fc.tuple(record, record, fc.nat()).map(([a, b, k]) => `${JSON.stringify(a).slice(0, 1 + (k % 10))}${JSON.stringify(b)}`),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString("latin1").replace(/\n/g, " ")),
  fc.constantFrom("", "null", "[]", "{}", '{"id": 5}', "\u0000\u0000", '{"id":"x"'),
);

describe("samples.jsonl readers", () => {
  it("property: never throw; a good line is kept wherever it is; repairing leaves a file that reads back with nothing dropped", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 12 }), fc.boolean(), async (lines, trailingNewline) => {
        const f = join(dir, `s${n++}.jsonl`);
        writeFileSync(f, lines.join("\n") + (trailingNewline ? "\n" : ""));
        const tolerant = readJsonLinesTolerant(f, isRec);
        const good = lines.filter((l) => {
          try {
            return isRec(JSON.parse(l));
          } catch {
            return false;
          }
        });
        expect(tolerant.values.length).toBeGreaterThanOrEqual(good.length);
        const repaired = await repairJsonLines(f, isRec);
        expect(repaired.values).toEqual(tolerant.values);
        const again = readJsonLinesTolerant(f, isRec);
        expect(again.skipped).toBe(0);
        expect(again.values).toEqual(repaired.values);
        const text = readFileSync(f, "utf8");
        expect(text === "" || text.endsWith("\n")).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
