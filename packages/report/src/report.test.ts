import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { InputError, boxIoU, rleEncode, type Mask, type Sample } from "@resagent/core";
import { openDataset } from "@resagent/data";
import { linkTestScenes } from "@resagent/data/testing";
import { ASSET_DIR, compareRuns, pickSamples, comparisonHtml, comparisonText, listRuns, readRunFolder, runsText, tableLatex, updateLatest, writeReport, type GalleryData, type RunRecord, type SummaryTable } from "./index.js";

const tmp = await mkdtemp(join(tmpdir(), "resagent-report-"));
process.env.RESAGENT_CACHE_DIR = await linkTestScenes(join(tmp, "cache"));

const DATASETS = { val: { name: "synthref", split: "refcoco/val" } };
let samples: Sample[] = [];

beforeAll(async () => {
  const ds = await openDataset("synthref", { split: "refcoco/val" });
  samples = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => ds.get(i)));
});

/** The gold mask shifted right by `dx` pixels: a prediction with a known, lower IoU. */
function shifted(m: Mask, dx: number): Mask {
  const out = new Uint8Array(m.data.length);
  for (let y = 0; y < m.height; y++) for (let x = 0; x < m.width - dx; x++) out[y * m.width + x + dx] = m.data[y * m.width + x] === 1 ? 1 : 0;
  return { ...m, data: out };
}

function iu(pred: Mask, gold: Mask): { iou: number; intersection: number; union: number } {
  let i = 0;
  let u = 0;
  for (let k = 0; k < pred.data.length; k++) {
    const p = pred.data[k] === 1;
    const g = gold.data[k] === 1;
    if (p && g) i++;
    if (p || g) u++;
  }
  return { iou: u ? i / u : 1, intersection: i, union: u };
}

/** A record as the pipeline writes it, built from a sample; `kind` makes it fail in one way. */
function record(s: Sample, cell: string, kind: "ok" | "grounding" | "wrong" | "verifier", dx = 0): RunRecord {
  const gold = s.goldMask!;
  const g = s.goldBox!;
  const box = kind === "wrong" ? { x1: 0, y1: 0, x2: 30, y2: 30 } : { x1: g.x1 + dx, y1: g.y1, x2: g.x2 + dx, y2: g.y2 };
  const pred = kind === "grounding" ? { ...gold, data: new Uint8Array(gold.data.length) } : shifted(gold, dx);
  const cx = (g.x1 + g.x2) / 2;
  const cy = (g.y1 + g.y2) / 2;
  return {
    id: s.id,
    cell,
    dataset: s.source,
    expression: s.expression,
    box: kind === "grounding" ? null : [box.x1, box.y1, box.x2, box.y2],
    ...(kind === "grounding" ? { groundingFailure: "no JSON box in the answer" } : { boxIoU: Math.round(boxIoU(box, g) * 100) / 100 }),
    candidates: [{ x: cx, y: cy, queue: "external", rank: 0 }],
    queries:
      kind === "grounding"
        ? []
        : [
            { point: { x: cx, y: cy }, queue: "external", rank: 0, pYes: 0.9, decision: "positive", used: true, gold: kind !== "verifier" },
            { point: { x: g.x1 + 2, y: g.y1 + 2 }, queue: "internal", rank: 0, pYes: null, decision: "abstain", used: false },
          ],
    positives: kind === "grounding" ? [] : [[cx, cy]],
    negatives: [],
    mask: rleEncode(pred),
    score: 0.9,
    ...iu(pred, gold),
    timing: { mllmQueries: 3, cacheHits: 1, total: 12.5 },
    // A key a newer writer might add: the report must ignore it.
    futureField: { anything: true },
  };
}

const TABLE: SummaryTable = {
  title: "Table X: test & check — embedded profile (SIMULATED)",
  headers: ["Val", "Avg.", "Time/sample (ms)"],
  percent: [true, true, false],
  metrics: ["mIoU", "mIoU", "msPerSample"],
  notes: ["a note with 50% and_underscore"],
  provenance: "SIMULATED · x · seed 0",
  intervals: { replicates: 1000, level: 0.95, seed: 0, method: "percentile bootstrap interval over samples" },
  rows: [
    { label: "Other method", ours: [null, null, null], paper: [70.1, 71.2, "3.1 s"], paperOnly: true },
    { label: "K=0", ours: [0.8, 0.8, 120], ci: [[0.75, 0.85], [0.76, 0.84], null], n: [6, 6, 6], paper: [77.09, 76.59, "4.03 s"] },
    { label: "K=4 | verifier.tau=0.5", ours: [0.85, 0.85, 90], ci: [[0.8, 0.9], [0.81, 0.89], null], n: [6, 6, 6], paper: [81.19, 80.63, "4.86 s"] },
  ],
};

async function makeRun(dir: string, records: RunRecord[], extra: Record<string, unknown> = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "samples.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  await writeFile(join(dir, "config.resolved.yaml"), `name: tx\ntitle: Table X\nplots:\n  - { kind: bars, column: Val, file: avg }\nresolvedDatasets:\n  val: { name: synthref, split: refcoco/val }\n`);
  const summary = {
    experiment: "tx",
    title: TABLE.title,
    simulated: true,
    profile: "embedded",
    seed: 0,
    limitPerDataset: 6,
    configHash: "0123456789abcdef",
    gitCommit: "deadbeefcafe",
    createdAt: "2026-01-01T00:00:00.000Z",
    datasets: DATASETS,
    records: records.length,
    cells: { "K=0": { components: { grounding: "simulated MLLM" } }, "K=4": { components: { grounding: "simulated MLLM" } } },
    mllmRequests: { queries: 30, cacheHits: 10, issuedToBackends: 20, lastInvocation: [{ description: "simulated", simulated: true, stats: { cacheHits: 10, cacheMisses: 20, brandNewCounter: 7 } }] },
    metrics: { "K=0": { val: { samples: 6, segmentation: { mIoU: 0.8 }, ci95: { mIoU: [0.75, 0.85] } } } },
    table: TABLE,
    ...extra,
  };
  await writeFile(join(dir, "summary.json"), JSON.stringify(summary));
  return dir;
}

function galleryOf(html: string): GalleryData {
  return JSON.parse(html.match(/<script id="gallery-data" type="application\/json">([\s\S]*?)<\/script>/)![1]!) as GalleryData;
}

describe("report.html", () => {
  it("has one card per record with overlays from the dataset, failure kinds against gold, and the run's numbers", async () => {
    const recs = [
      ...samples.slice(0, 3).map((s) => record(s, "K=0", "ok", 4)),
      record(samples[0]!, "K=4", "grounding"),
      record(samples[1]!, "K=4", "wrong"),
      record(samples[2]!, "K=4", "verifier"),
    ];
    const dir = await makeRun(join(tmp, "runs", "tx", "run-a"), recs);
    const out = await writeReport(dir);
    expect(out.records).toBe(6);
    expect(out.overlays).toBe(6);
    expect(out.missingImages).toBe(0);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    const g = galleryOf(html);
    expect(g.cards.map((c) => c.k)).toEqual(recs.map((r) => `${r.id}|${r.cell}`));
    expect(g.cards.map((c) => c.kinds)).toEqual([["none"], ["none"], ["none"], ["grounding-failure"], ["wrong-object"], ["verifier-error"]]);
    expect(g.cards[0]!.ds).toBe("val");
    expect(g.cards[3]!.fail).toBe("no JSON box in the answer");
    expect(g.pageSize).toBeGreaterThanOrEqual(6); // small runs: every card at load
    for (const c of g.cards) expect(existsSync(join(dir, c.img!))).toBe(true);
    // Self-contained: no http(s) reference anywhere.
    expect(html).not.toMatch(/(src|href)="https?:/);
    expect(html).toMatch(/id="simulated-label"/);
    expect(html).toMatch(/<title>\[SIMULATED\]/);
    // The table with intervals and n, the plots, the accounting (an unknown counter key included).
    expect(html).toMatch(/80\.0 <span class="pm">±5\.0<\/span>/);
    expect(html).toMatch(/\(n=6\)/);
    expect(html).toMatch(/No plots in this run/); // none were written here; the CLI test sees real ones
    expect(html).toMatch(/brandNewCounter/);
    expect(html).toMatch(/deadbeefcafe/);
    // Overlays: cropped JPEGs no larger than needed.
    const sizes = g.cards.map((c) => statSync(join(dir, c.img!)).size);
    expect(Math.max(...sizes)).toBeLessThan(60_000);
  });

  it("reuses cached overlays, removes stale ones, and survives a missing dataset with a note", async () => {
    const dir = await makeRun(join(tmp, "runs", "tx", "run-cache"), samples.slice(0, 2).map((s) => record(s, "K=0", "ok")));
    await writeReport(dir);
    const first = readdirSync(join(dir, ASSET_DIR)).sort();
    const mtimes = first.map((f) => statSync(join(dir, ASSET_DIR, f)).mtimeMs);
    await writeReport(dir);
    expect(readdirSync(join(dir, ASSET_DIR)).sort()).toEqual(first);
    expect(first.map((f) => statSync(join(dir, ASSET_DIR, f)).mtimeMs)).toEqual(mtimes);
    // One record changes: its overlay is redrawn under a new name, the old file goes.
    const changed = [record(samples[0]!, "K=0", "ok", 8), record(samples[1]!, "K=0", "ok")];
    await makeRun(dir, changed);
    await writeReport(dir);
    const now = readdirSync(join(dir, ASSET_DIR)).sort();
    expect(now).toHaveLength(2);
    expect(now.filter((f) => first.includes(f))).toHaveLength(1);
    // A record whose dataset is not in the run's config: drawn on grey from the record alone.
    const stray = { ...record(samples[2]!, "K=0", "ok"), dataset: "nowhere/val" };
    await makeRun(dir, [...changed, stray]);
    const out = await writeReport(dir);
    expect(out.missingImages).toBe(1);
    const g = galleryOf(readFileSync(join(dir, "report.html"), "utf8"));
    expect(g.cards[2]!.note).toMatch(/dataset nowhere\/val is not in the run's config/);
    expect(g.cards[2]!.img).toMatch(/^report-assets\/ov-/);
  });

  it("caps the overlays at whole samples round-robin over datasets; the rest say why, and --max-overlays 0 draws them", async () => {
    const recs = samples.slice(0, 3).flatMap((s) => [record(s, "K=0", "ok"), record(s, "K=4", "ok")]);
    const dir = await makeRun(join(tmp, "runs", "tx", "run-cap"), recs);
    const capped = await writeReport(dir, { maxOverlays: 3 });
    // Whole samples: the first two (4 records) reach the cap of 3; the third sample's two cards have none.
    expect(capped.overlays).toBe(4);
    expect(capped.missingImages).toBe(0);
    const g = galleryOf(readFileSync(join(dir, "report.html"), "utf8"));
    expect(g.cards.filter((c) => c.img === null).map((c) => c.id)).toEqual([samples[2]!.id, samples[2]!.id]);
    expect(g.cards[5]!.note).toMatch(/overlay not drawn: the run has 6 records .* --max-overlays 0 draws all/);
    const all = await writeReport(dir, { maxOverlays: 0 });
    expect(all.overlays).toBe(6);
    // Drawn once, kept: a capped report afterwards still shows them.
    expect((await writeReport(dir, { maxOverlays: 3 })).overlays).toBe(6);
  });

  it("picks samples round-robin over datasets", () => {
    const g = (d: string, n: number) => Array.from({ length: n }, (_, i) => [{ dataset: d, i }, { dataset: d, i }]);
    const { drawn, skipped } = pickSamples([...g("a", 5), ...g("b", 5)], 7);
    expect(drawn.map((x) => `${x[0]!.dataset}${x[0]!.i}`)).toEqual(["a0", "a1", "b0", "b1"]);
    expect(skipped).toHaveLength(6);
    expect(pickSamples(g("a", 5), 0).skipped).toHaveLength(0);
  });

  it("reads records with optional fields missing", async () => {
    const bare = { id: samples[0]!.id, cell: "K=0", dataset: samples[0]!.source, iou: 0.5, intersection: 5, union: 10 };
    const dir = await makeRun(join(tmp, "runs", "tx", "run-bare"), [bare as RunRecord]);
    const out = await writeReport(dir);
    expect(out.records).toBe(1);
    const g = galleryOf(readFileSync(join(dir, "report.html"), "utf8"));
    expect(g.cards[0]).toMatchObject({ q: 0, pos: 0, box: null, kinds: ["none"] });
  });
});

describe("table.tex", () => {
  it("is booktabs with the paper's rows, ours with ± and n, best per column in bold, special characters escaped", () => {
    const tex = tableLatex(TABLE, { simulated: true });
    expect(tex).toMatch(/\\toprule[\s\S]*\\midrule[\s\S]*\\bottomrule/);
    expect(tex).toMatch(/Reported in the paper/);
    expect(tex).toMatch(/Other method & 70\.1 & 71\.2 & \\textbf\{3\.1 s\} \\\\/); // lower time is better
    expect(tex).toMatch(/K=4 \| verifier\.tau=0\.5 & \\textbf\{81\.19\} & \\textbf\{80\.63\}/);
    expect(tex).toMatch(/K=0 & 80\.0\{\\scriptsize\$\\pm\$5\.0\} & 80\.0\{\\scriptsize\$\\pm\$4\.0\} & 120 \\\\/);
    expect(tex).toMatch(/K=4 \| verifier\.tau=0\.5 & \\textbf\{85\.0\}\{\\scriptsize\$\\pm\$5\.0\} & \\textbf\{85\.0\}.* & \\textbf\{90\.00\} \\\\/);
    expect(tex).toMatch(/SIMULATED: not comparable to the paper\), \$n=6\$ per entry/);
    expect(tex).toMatch(/Table X: test \\& check --- embedded/);
  });
});

describe("compare", () => {
  it("gives paired differences with intervals and flags those excluding 0", async () => {
    const a = await makeRun(join(tmp, "cmp", "a"), samples.map((s) => record(s, "K=0", "ok", 0)));
    const b = await makeRun(join(tmp, "cmp", "b"), samples.map((s) => record(s, "K=0", "ok", 6)));
    const c = compareRuns(a, b, { seed: 0 });
    expect(c.rows).toHaveLength(1);
    const [row] = c.rows;
    expect(row).toMatchObject({ cell: "K=0", dataset: "val", n: 6, a: 1 });
    expect(row!.diff).toBeGreaterThan(0);
    expect(row!.ci![0]).toBeGreaterThan(0);
    expect(row!.flagged).toBe(true);
    const text = comparisonText(c);
    expect(text).toMatch(/K=0\s+val\s+6\s+100\.0\s+\d+\.\d\s+\+\d+\.\d\d?\s+\[\+\d+\.\d+, \+\d+\.\d+\]\s+\*/);
    // A run against itself: difference 0, not flagged.
    const same = compareRuns(a, a);
    expect(same.rows[0]).toMatchObject({ diff: 0, ci: [0, 0], flagged: false });
  });

  it("refuses runs with no shared samples", async () => {
    const a = await makeRun(join(tmp, "cmp2", "a"), samples.slice(0, 3).map((s) => record(s, "K=0", "ok")));
    const b = await makeRun(join(tmp, "cmp2", "b"), samples.slice(3).map((s) => record(s, "K=0", "ok")));
    expect(() => compareRuns(a, b)).toThrow(InputError);
    expect(() => compareRuns(a, b)).toThrow(/no shared samples/);
    expect(() => compareRuns(a, b, { metric: "miou" })).toThrow(/unknown metric "miou"; did you mean "mIoU"/);
  });

  describe("cell against cell", () => {
    const TIGHT_PTS = "Tight | box + points";
    const TIGHT_BOX = "Tight | box only";
    /** A record of `cell` on sample `s` whose mask overlaps gold `hits` pixels out of a union of 10 (IoU hits/10). */
    const scored = (s: Sample, cell: string, hits: number): RunRecord => ({ ...record(s, cell, "ok"), iou: hits / 10, intersection: hits, union: 10 });
    const hitsPts = [9, 8, 7, 6, 5, 4];
    const hitsBox = [5, 5, 5, 5, 5, 5];
    // Hand-computed: mean over the six samples of (hitsPts − hitsBox) / 10 = (4 + 3 + 2 + 1 + 0 − 1) / 60 = 0.15.
    const EXPECTED = 0.15;
    let run = "";
    beforeAll(async () => {
      run = await makeRun(join(tmp, "cells", "run"), [
        ...samples.map((s, i) => scored(s, TIGHT_PTS, hitsPts[i]!)),
        ...samples.map((s, i) => scored(s, TIGHT_BOX, hitsBox[i]!)),
        // A third cell that must not leak into the pairs.
        ...samples.map((s) => scored(s, "Loose | box only", 0)),
      ]);
    });

    it("gives the paired difference of two cells of one run, with a deterministic interval", () => {
      const c = compareRuns(run, run, { seed: 0, cellA: TIGHT_PTS, cellB: TIGHT_BOX });
      expect(c.cells).toEqual({ a: TIGHT_PTS, b: TIGHT_BOX });
      expect(c.rows).toHaveLength(1);
      const [row] = c.rows;
      expect(row).toMatchObject({ cell: `${TIGHT_PTS} − ${TIGHT_BOX}`, dataset: "val", n: 6 });
      expect(row!.a).toBeCloseTo(0.65, 12);
      expect(row!.b).toBeCloseTo(0.5, 12);
      expect(row!.diff).toBeCloseTo(EXPECTED, 12);
      const [lo, hi] = row!.ci!;
      expect(lo).toBeLessThanOrEqual(EXPECTED);
      expect(hi).toBeGreaterThanOrEqual(EXPECTED);
      expect(hi).toBeGreaterThan(lo);
      // The flag follows the interval, whichever side of 0 six resampled differences land on.
      expect(row!.flagged).toBe(lo > 0 || hi < 0);
      // Same seed, same interval.
      expect(compareRuns(run, run, { seed: 0, cellA: TIGHT_PTS, cellB: TIGHT_BOX }).rows[0]!.ci).toEqual(row!.ci);
      const rev = compareRuns(run, run, { seed: 0, cellA: TIGHT_BOX, cellB: TIGHT_PTS }).rows[0]!;
      expect(rev.diff).toBeCloseTo(-EXPECTED, 12);
      expect(rev.ci![0]).toBeLessThanOrEqual(-EXPECTED);
      expect(rev.ci![1]).toBeGreaterThanOrEqual(-EXPECTED);
      // A cell against itself: exactly 0.
      expect(compareRuns(run, run, { cellA: TIGHT_BOX, cellB: TIGHT_BOX }).rows[0]).toMatchObject({ diff: 0, ci: [0, 0], flagged: false });
      const text = comparisonText(c);
      expect(text).toContain(`A: run (tx, embedded profile, seed 0, SIMULATED), cell "${TIGHT_PTS}"`);
      expect(text).toMatch(/Tight \| box \+ points − Tight \| box only\s+val\s+6\s+65\.0\s+50\.0\s+\+15\.00\s+\[/);
      expect(text).not.toMatch(/Only in/);
      const html = comparisonHtml(c);
      expect(html).toContain("<h1>Comparison: mIoU, cell “Tight | box + points” − cell “Tight | box only” on shared samples</h1>");
      expect(html).toContain("<td>Tight | box + points − Tight | box only</td><td>val</td><td>6</td><td>65.0</td><td>50.0</td><td>+15.00</td>");
    });

    it("names the run, lists its cells and suggests the nearest for an unknown cell", () => {
      let msg = "";
      try {
        compareRuns(run, run, { cellA: TIGHT_PTS, cellB: "Tight | box onyl" });
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        msg = (e as Error).message;
      }
      expect(msg).toContain(run);
      expect(msg).toContain("--cell-b");
      expect(msg).toContain('no cell "Tight | box onyl"');
      expect(msg).toContain(`did you mean "${TIGHT_BOX}"? (known: ${TIGHT_PTS}, ${TIGHT_BOX}, Loose | box only)`);
    });

    it("refuses one cell flag alone, and cells with no samples in common", async () => {
      expect(() => compareRuns(run, run, { cellA: TIGHT_PTS })).toThrow(InputError);
      expect(() => compareRuns(run, run, { cellA: TIGHT_PTS })).toThrow(/--cell-a needs --cell-b/);
      expect(() => compareRuns(run, run, { cellB: TIGHT_BOX })).toThrow(/--cell-b needs --cell-a/);
      const split = await makeRun(join(tmp, "cells", "split"), [...samples.slice(0, 3).map((s) => scored(s, TIGHT_PTS, 9)), ...samples.slice(3).map((s) => scored(s, TIGHT_BOX, 5))]);
      expect(() => compareRuns(split, split, { cellA: TIGHT_PTS, cellB: TIGHT_BOX })).toThrow(/no shared samples: cell "Tight \| box \+ points" of split and cell "Tight \| box only" of split/);
    });
  });
});

describe("runs index", () => {
  it("lists runs with their identity and completeness and points latest at the newest complete run", async () => {
    const root = join(tmp, "results");
    const recs = samples.slice(0, 2).map((s) => record(s, "K=0", "ok"));
    await makeRun(join(root, "tx", "old"), recs, { createdAt: "2026-01-01T00:00:00.000Z" });
    await makeRun(join(root, "tx", "new"), recs, { createdAt: "2026-02-01T00:00:00.000Z" });
    // newest of all, but its samples.jsonl grew after the summary: not complete
    await makeRun(join(root, "tx", "running"), recs, { createdAt: "2026-03-01T00:00:00.000Z", records: 1 });
    const runs = listRuns(root);
    expect(runs.map((r) => r.run)).toEqual(["running", "new", "old"]);
    expect(runs.map((r) => r.complete)).toEqual([false, true, true]);
    expect(runs[1]).toMatchObject({ experiment: "tx", profile: "embedded", seed: 0, limit: 6, records: 2, gitCommit: "deadbeefcafe", simulated: true });
    expect(runs[1]!.headline).toMatch(/^Val mIoU 85\.0 \(K=4 \| verifier\.tau=0\.5\)$/);
    const latest = await updateLatest(root, runs);
    expect(latest.get("tx")).toBe("new");
    expect(lstatSync(join(root, "tx", "latest")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, "tx", "latest"))).toBe("new");
    // The link is not listed as a run; a second update keeps it.
    expect(listRuns(root).map((r) => r.run)).toEqual(["running", "new", "old"]);
    await updateLatest(root, listRuns(root));
    expect(readlinkSync(join(root, "tx", "latest"))).toBe("new");
    // Where symlinks fail, latest is a text file naming the run.
    const other = join(tmp, "results-nolinks");
    await makeRun(join(other, "tx", "only"), recs);
    await updateLatest(other, listRuns(other), {
      symlink: () => {
        throw Object.assign(new Error("EPERM"), { code: "EPERM" });
      },
    });
    expect(lstatSync(join(other, "tx", "latest")).isFile()).toBe(true);
    expect(readFileSync(join(other, "tx", "latest"), "utf8")).toBe("only\n");
    const text = runsText(runs, root);
    expect(text).toMatch(/tx\s+new\s+embedded \(SIM\)\s+0\s+6\s+2\s+deadbeefca/);
    expect(text).toMatch(/running.*INCOMPLETE: samples\.jsonl has 2 records, summary\.json 1/);
    expect(readRunFolder(join(root, "tx", "new")).records).toHaveLength(2);
  });
});
