import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { roleSelectionViolations } from "@resagent/verifier";
import { experimentNames, findRoot, loadExperiment, readRecords, runExperiment, writeResults } from "./index.js";

const root = findRoot();
process.env.RESAGENT_CACHE_DIR ??= await mkdtemp(join(tmpdir(), "resagent-roles-cache-"));

/**
 * Issue 19's rule, scanned in the records of every pipeline table (embedded profile, 2 samples per
 * dataset): a point used as a positive from the external queue only after the internal queue was
 * asked out with fewer positives than wanted, and the mirror for negatives; each used point names
 * the rule that chose it.
 */
describe("select: roles in every pipeline table's records", () => {
  it("keeps the queue roles in every record of every experiment", { timeout: 600_000 }, async () => {
    const seen = { records: 0, used: 0, fallbacks: 0 };
    for (const name of experimentNames(root)) {
      const loaded = loadExperiment(name, { root, set: ["limit=2"] });
      // The rule is about which points are asked and used; the box decoder keeps the scan quick.
      const exp = { ...loaded, cells: loaded.cells.map((c) => ({ ...c, pipeline: { ...c.pipeline, decoder: { name: "box" as const, params: {} } } })) };
      const dir = await mkdtemp(join(tmpdir(), `resagent-roles-${name}-`));
      const run = await runExperiment(exp, { runDir: dir });
      if (name === "table4") {
        // The table says which candidate and selection rules made it.
        const out = await writeResults(exp, dir, [join(dir, "samples.jsonl")], run);
        expect(out.table.notes).toContain("Candidates and point selection: ebd-spiral (one draw per queue; queues by spiral position (authors' code); densify fast-growth), points by queue roles.");
      }
      const cells = new Map(exp.cells.map((c) => [c.id, c.pipeline]));
      for (const r of readRecords(join(dir, "samples.jsonl"))) {
        const v = cells.get(r.cell)!.verifier;
        expect(v.select).toBe("roles");
        seen.records++;
        expect(roleSelectionViolations(r.queries, r.candidates, v), `${name} ${r.cell} ${r.id}`).toEqual([]);
        for (const q of r.queries.filter((x) => x.used)) {
          seen.used++;
          expect(q.rule, `${name} ${r.cell} ${r.id}`).toMatch(q.decision === "positive" ? /^(internal-positive|fallback-positive)$/ : /^(external-negative|fallback-negative)$/);
          expect(q.queue).toBe(q.rule === "internal-positive" || q.rule === "fallback-negative" ? "internal" : "external");
          if (q.rule!.startsWith("fallback")) seen.fallbacks++;
        }
        // The decoder got exactly the used points.
        expect(r.positives.length + r.negatives.length).toBe(r.queries.filter((x) => x.used).length);
      }
    }
    // Not vacuous: points were used, and some by the fallback rules.
    expect(seen.used).toBeGreaterThan(100);
    expect(seen.fallbacks).toBeGreaterThan(0);
  });
});
