/**
 * Run files are untrusted input: whatever samples.jsonl and summary.json hold, at whatever type,
 * the report is written or refused with the harness's own InputError, and no markup from them
 * reaches report.html (or a LaTeX command table.tex) as anything but text.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "@resagent/core";
import { tableLatex, writeReport } from "./index.js";

const EVIL = "<x-evil onload=1>";
const LATEX_EVIL = "\n\\evil{";
/** Any JSON, with markup and LaTeX commands mixed into its strings. */
const hostileJson = fc.letrec((tie) => ({
  leaf: fc.oneof(fc.string({ maxLength: 6 }).map((s) => `${s}${EVIL}${LATEX_EVIL}`), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 4 })),
  node: fc.oneof({ maxDepth: 3 }, tie("leaf"), fc.array(tie("node"), { maxLength: 3 }), fc.dictionary(fc.oneof(fc.string({ maxLength: 5 }), fc.constant(EVIL)), tie("node"), { maxKeys: 4 })),
})).node;
/** A record: the fields the report reads, each any JSON; id, cell, dataset and iou sometimes right. */
const record = fc.record(
  {
    id: fc.oneof(fc.constant(`s1${EVIL}`), hostileJson),
    cell: fc.oneof(fc.constant(`K=4${EVIL}`), hostileJson),
    dataset: fc.oneof(fc.constant("synthref/refcoco/val"), hostileJson),
    iou: fc.oneof(fc.double({ min: 0, max: 1 }), hostileJson),
    expression: hostileJson,
    box: hostileJson,
    boxIoU: hostileJson,
    groundingFailure: hostileJson,
    queries: fc.oneof(fc.array(fc.record({ point: hostileJson, queue: hostileJson, rank: hostileJson, pYes: hostileJson, decision: hostileJson, gold: hostileJson, used: hostileJson }, { requiredKeys: [] }), { maxLength: 3 }), hostileJson),
    positives: hostileJson,
    negatives: hostileJson,
    mask: hostileJson,
    timing: hostileJson,
  },
  { requiredKeys: ["id", "cell", "dataset", "iou"] },
);
const table = fc.record(
  {
    title: hostileJson,
    headers: fc.oneof(fc.array(fc.string().map((s) => `${s}${EVIL}`), { minLength: 1, maxLength: 3 }), hostileJson),
    rows: fc.oneof(fc.array(fc.record({ label: hostileJson, ours: fc.array(hostileJson, { maxLength: 3 }), paper: fc.array(hostileJson, { maxLength: 3 }), n: hostileJson, ci: hostileJson, note: hostileJson, paperOnly: hostileJson }, { requiredKeys: [] }), { maxLength: 3 }), hostileJson),
    percent: hostileJson,
    metrics: hostileJson,
    notes: hostileJson,
    provenance: hostileJson,
    intervals: hostileJson,
  },
  { requiredKeys: [] },
);
const summary = fc.record({ title: hostileJson, simulated: hostileJson, seed: hostileJson, machine: hostileJson, cells: hostileJson, metrics: hostileJson, table, versions: hostileJson, extra: hostileJson, records: hostileJson }, { requiredKeys: [] });

describe("report.html from hostile run files", () => {
  it("property: written or refused with an InputError; no markup from the files is markup on the page", async () => {
    const base = mkdtempSync(join(tmpdir(), "resagent-report-hostile-"));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 4 }), summary, async (records, s) => {
        const dir = join(base, `r${n++}`);
        const { mkdirSync } = await import("node:fs");
        mkdirSync(dir);
        writeFileSync(join(dir, "samples.jsonl"), records.map((r) => JSON.stringify(r)).join("\n"));
        writeFileSync(join(dir, "summary.json"), JSON.stringify(s));
        try {
          await writeReport(dir, { maxOverlays: 2 });
        } catch (err) {
          if (!(err instanceof InputError)) throw err;
          return;
        }
        const html = readFileSync(join(dir, "report.html"), "utf8");
        expect(html).not.toContain("<x-evil");
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("property: table.tex never carries a LaTeX command or a line break from the files", async () => {
    // A well-formed table whose every string (and every number field) may be LaTeX, read as the report reads it.
    const text = fc.string({ maxLength: 6 }).map((x) => `${x}${LATEX_EVIL}`);
    const cell = fc.oneof(text, fc.double(), fc.constant(null));
    const wellFormed = fc.record({
      title: text,
      provenance: text,
      headers: fc.array(text, { minLength: 1, maxLength: 3 }),
      rows: fc.array(fc.record({ label: text, ours: fc.array(fc.oneof(fc.double(), fc.constant(null)), { maxLength: 3 }), paper: fc.array(cell, { maxLength: 3 }), note: text }), { maxLength: 3 }),
      percent: fc.array(fc.boolean(), { maxLength: 3 }),
      notes: fc.array(text, { maxLength: 2 }),
      intervals: fc.record({ replicates: fc.oneof(fc.integer(), text), level: fc.oneof(fc.double(), text), seed: fc.oneof(fc.integer(), text), method: text }),
    });
    const base = mkdtempSync(join(tmpdir(), "resagent-tex-hostile-"));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(wellFormed, fc.boolean(), async (t, simulated) => {
        const dir = join(base, `t${n++}`);
        const { mkdirSync } = await import("node:fs");
        mkdirSync(dir);
        writeFileSync(join(dir, "summary.json"), JSON.stringify({ simulated, table: t }));
        await writeReport(dir, { maxOverlays: 0 });
        const tex = readFileSync(join(dir, "table.tex"), "utf8");
        expect(tex).not.toMatch(/(?<!textbackslash\{\})\\evil/);
        expect(tex).not.toMatch(/\n\\evil/);
        // Straight from the table too, for callers that have one in memory.
        expect(tableLatex(t as never, { simulated })).not.toMatch(/\n\\evil/);
      }),
      { numRuns: 200 },
    );
  }, 120_000);
});
