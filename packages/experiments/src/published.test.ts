/**
 * Published results: a run becomes a committed manifest, and the docs' blocks are rendered from it,
 * so a number in the docs is the number the run wrote, stamped with where it came from.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { publishedFrom, readPublished, regenerateDoc, regenerateDocs, renderPublished, writePublished } from "./published.js";
import { tableMarkdown, type TableData } from "./table.js";

const table: TableData = {
  title: "Table 4: K sweep — embedded profile (SIMULATED)",
  headers: ["Val", "Avg."],
  rows: [
    { label: "K=0", ours: [0.745, 0.755], paper: [77.09, 76.59], ci: [[0.68, 0.81], [0.71, 0.8]], n: [40, 120] },
    { label: "K=4", ours: [0.762, 0.765], paper: [81.19, 80.63], ci: [[0.7, 0.83], [0.72, 0.81]], n: [40, 120] },
  ],
  percent: [true, true],
  notes: ["a note"],
  provenance: "SIMULATED · table4 · commit abc",
};

function fixtureRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "resagent-published-"));
  mkdirSync(join(root, "docs"));
  mkdirSync(join(root, "packages", "core"), { recursive: true });
  writeFileSync(join(root, "packages", "core", "package.json"), JSON.stringify({ name: "@resagent/core", description: "types | masks" }));
  return root;
}

function runFolder(root: string, summary: Record<string, unknown> = {}): string {
  const dir = join(root, "results", "table4", "embedded-seed0-n40-abc");
  mkdirSync(dir, { recursive: true });
  const s = { experiment: "table4", profile: "embedded", seed: 0, simulated: true, records: 600, configHash: "c0", codeHash: "d0", gitCommit: "0123456789abcdef", createdAt: "2026-12-07T11:10:11.677Z", table, ...summary };
  writeFileSync(join(dir, "summary.json"), JSON.stringify(s));
  return dir;
}

describe("published results", () => {
  it("publishes a run's table with its identity, through the `latest` link to the run folder itself", async () => {
    const root = fixtureRoot();
    const dir = runFolder(root);
    symlinkSync(dir, join(root, "results", "table4", "latest"));
    const p = publishedFrom(root, join(root, "results", "table4", "latest"));
    expect(p).toMatchObject({ kind: "table", name: "table4", runId: "embedded-seed0-n40-abc", source: "results/table4/embedded-seed0-n40-abc", records: 600, gitCommit: "0123456789abcdef" });
    await writePublished(root, p);
    expect(readPublished(root, "table4", "test")).toEqual(p);
  });

  it("renders the run's own table, stamped with run, records and commit", () => {
    const root = fixtureRoot();
    const text = renderPublished(publishedFrom(root, runFolder(root)));
    // The table body is exactly what the run's table.md says (only the title line becomes bold).
    expect(text).toContain(tableMarkdown(table).replace(/^### (.*)$/m, "**$1**"));
    expect(text).toContain("run `table4/embedded-seed0-n40-abc`, 600 records, commit 0123456789");
    expect(text).toContain("76.5 ±4.5 ‹80.63, −4.1›");
  });

  it("refuses a run of uncommitted code, a partial merge, and a summary without a table, naming the file and field", () => {
    const root = fixtureRoot();
    expect(() => publishedFrom(root, runFolder(root, { gitCommit: "0123-dirty" }))).toThrow(/summary\.json: gitCommit is "0123-dirty".*--allow-dirty/);
    expect(publishedFrom(root, runFolder(root, { gitCommit: "0123-dirty" }), { allowDirty: true }).gitCommit).toBe("0123-dirty");
    expect(() => publishedFrom(root, runFolder(root, { partial: { shards: [0], of: 2 } }))).toThrow(/PARTIAL/);
    expect(() => publishedFrom(root, runFolder(root, { table: undefined }))).toThrow(/summary\.json: table: expected the run's table/);
    expect(() => publishedFrom(root, join(root, "nowhere"))).toThrow(/nowhere: cannot read/);
  });

  it("publishes a bench result's rows as figures", () => {
    const root = fixtureRoot();
    const f = join(root, "bench.json");
    writeFileSync(f, JSON.stringify({ date: "2026-12-07T12:00:00Z", commit: "feedbeef00", machine: "2 x cpu", rows: [{ suite: "suite", name: "pnpm test, cold", value: 118.4, unit: "s", note: "2 cores" }] }));
    const text = renderPublished(publishedFrom(root, f, { name: "quickstart" }));
    expect(text).toContain("| suite: pnpm test, cold | 118 s | 2 cores |");
    expect(text).toContain("results/published/quickstart.json`: 2 x cpu, commit feedbeef00");
  });

  it("publishes a point-value ranker's held-out rankings per pool and k, only where lists had a choice", () => {
    const root = fixtureRoot();
    const dir = join(root, "ranker");
    mkdirSync(dir);
    const at = (k: number, lists: number) => ({ k, lists, learned: 0.0026, spiral: 0.0002, oracle: 0.0051, random: 0.0025, gapClosed: 0.5, gapClosedBootstrap95ByImage: [0.07, 0.93] });
    writeFileSync(join(dir, "metrics.json"), JSON.stringify({ heldOut: { spiral: [at(2, 60), at(4, 0)], random: [at(1, 60)] }, seconds: { cpu: 465, wall: 811 }, trainedOn: "synthref", backend: { package: "@tensorflow/tfjs", version: "4.22.0", backend: "cpu" } }));
    writeFileSync(join(dir, "provenance.json"), JSON.stringify({ gitCommit: "feedbeef00", date: "2026-12-07T15:24:27Z", machine: "2 x cpu" }));
    const text = renderPublished(publishedFrom(root, dir, { name: "train-point-value" }));
    expect(text).toContain("| spiral pool, k = 2: mean teacher value of the first k, learned / spiral / oracle (UPPER BOUND) / random | 0.0026 / 0.0002 / 0.0051 / 0.0025 | share of the spiral-to-oracle gap closed 0.50, bootstrap over held-out images [0.07, 0.93]; 60 lists |");
    expect(text).toContain("random pool, k = 1");
    expect(text).not.toContain("k = 4");
  });

  it("rewrites result and package blocks, leaves the rest, and reports stale docs in check mode without writing", async () => {
    const root = fixtureRoot();
    await writePublished(root, publishedFrom(root, runFolder(root)));
    const doc = join(root, "docs", "x.md");
    const original = "# X\n\nprose stays\n\n<!-- results:table4 -->\nold numbers\n<!-- /results -->\n\n<!-- packages:index -->\n<!-- /packages -->\nend\n";
    writeFileSync(doc, original);
    const checked = await regenerateDocs(root, { check: true });
    expect(checked).toEqual([{ file: doc, stale: true, blocks: 2 }]);
    expect(readFileSync(doc, "utf8")).toBe(original);
    await regenerateDocs(root, { check: false });
    const text = readFileSync(doc, "utf8");
    expect(text).toContain("prose stays");
    expect(text).not.toContain("old numbers");
    expect(text).toContain("| [`@resagent/core`](../packages/core) | types \\| masks |");
    expect(await regenerateDocs(root, { check: true })).toEqual([{ file: doc, stale: false, blocks: 2 }]);
  });

  it("a block naming a manifest that is not published, or an unknown kind, is an error naming the doc", () => {
    const root = fixtureRoot();
    const doc = join(root, "docs", "y.md");
    expect(() => regenerateDoc(root, doc, "<!-- results:table9 -->\n<!-- /results -->")).toThrow(/docs\/y\.md: <!-- results:table9 -->: names results\/published\/table9\.json, which does not exist/);
    expect(() => regenerateDoc(root, doc, "<!-- nope:x -->\n<!-- /nope -->")).toThrow(/unknown block kind "nope"/);
  });
});
