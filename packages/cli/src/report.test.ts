/**
 * The researcher's report end to end, as issue 15 states it: `exp table4 --limit 4` twice (two
 * seeds), then `compare`, `runs`, and report.html opened from file:// in headless Chromium:
 * one card per record, filters, sort, the all-cells view, a screenshot. The browser part needs
 * Debian's chromium (`.ci/run` installs it); without one it is skipped and says so.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { linkTestScenes } from "@resagent/data/testing";
import { checkPlotSvg } from "@resagent/experiments";
import { captureCli, waitInPage } from "./testing.js";

const CHROMIUM = process.env.RESAGENT_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`report browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set RESAGENT_CHROMIUM)`);

let out: string[] = [];
let err: string[] = [];
async function cli(...argv: string[]): Promise<number> {
  const run = await captureCli(argv, { stdout: true });
  ({ out, err } = run);
  return run.code;
}

let root: string;
const runDirs: string[] = [];
/** The report is under test, not the decoder (graphcut has its own tests): masks are the boxes. */
const BOX = ["--set", 'decoder={"name":"box"}'];

beforeAll(async () => {
  const tmp = await mkdtemp(join(tmpdir(), "resagent-report-cli-"));
  process.env.RESAGENT_CACHE_DIR = await linkTestScenes(join(tmp, "cache"));
  root = join(tmp, "results");
  for (const seed of ["0", "1"]) {
    expect(await cli("exp", "table4", "--limit", "4", "--seed", seed, "--out", root, ...BOX)).toBe(0);
  }
  for (const d of (await readdir(join(root, "table4"))).sort()) if (d !== "latest") runDirs.push(join(root, "table4", d));
}, 600_000);

describe("after `pnpm exp table4 --limit 4`", () => {
  it("the run folder has report.html, table.tex, tables with n and intervals, and plots that pass the checks", async () => {
    expect(runDirs).toHaveLength(2);
    const dir = runDirs[0]!;
    for (const f of ["report.html", "table.tex", "table.md", "table.csv", "summary.json", "k-sweep.svg"]) expect(existsSync(join(dir, f))).toBe(true);
    const md = readFileSync(join(dir, "table.md"), "utf8");
    expect(md).toMatch(/\| \| Val \(n=4\) \| TestA \(n=4\) \| TestB \(n=4\) \| Avg\. \(n=12\) \|/);
    expect(md).toMatch(/\| K=4 \| \d+\.\d ±\d+\.\d ‹81\.19, [+−]\d+\.\d› \|/);
    const csv = readFileSync(join(dir, "table.csv"), "utf8").split("\n");
    expect(csv[0]).toMatch(/^row,Val,Val ci95 low,Val ci95 high,Val n,Val \(paper\),Val \(ours - paper\),/);
    const summary = JSON.parse(readFileSync(join(dir, "summary.json"), "utf8")) as { metrics: Record<string, Record<string, { samples: number; ci95?: Record<string, [number, number]> }>>; intervals: { replicates: number } };
    expect(summary.intervals.replicates).toBe(1000);
    const k4 = summary.metrics["K=4"]!.val!;
    expect(k4.samples).toBe(4);
    expect(k4.ci95!.mIoU![0]).toBeLessThanOrEqual(k4.ci95!.mIoU![1]);
    expect(readFileSync(join(dir, "table.tex"), "utf8")).toMatch(/\\begin\{tabular\}[\s\S]*\\toprule/);
    expect(await checkPlotSvg(readFileSync(join(dir, "k-sweep.svg"), "utf8"))).toEqual([]);
  });

  it("`resagent compare` prints paired differences with intervals; unrelated runs are refused with status 2", async () => {
    expect(await cli("compare", runDirs[0]!, runDirs[1]!, "--html", join(root, "cmp.html"))).toBe(0);
    const text = out.join("\n");
    expect(text).toMatch(/A − B\s+95% CI/);
    expect(text).toMatch(/K=4\s+val\s+4\s+\d+\.\d\s+\d+\.\d\s+[+-]\d+\.\d+\s+\[[+-]\d+\.\d+, [+-]\d+\.\d+\]/);
    expect(text).toMatch(/K=0\s+all\s+12\s/);
    expect(readFileSync(join(root, "cmp.html"), "utf8")).toMatch(/paired bootstrap/i);
    const other = await mkdtemp(join(tmpdir(), "resagent-report-cli-other-"));
    expect(await cli("exp", "table5", "--limit", "1", "--out", other, ...BOX)).toBe(0);
    const [t5] = await readdir(join(other, "table5"));
    expect(await cli("compare", runDirs[0]!, join(other, "table5", t5!))).toBe(2);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^error: .*no shared samples/);
  }, 300_000);

  it("`resagent runs` lists both runs and points latest at the newest", async () => {
    expect(await cli("runs", "--out", root)).toBe(0);
    const text = out.join("");
    for (const d of runDirs) expect(text).toContain(d.split("/").at(-1)!);
    expect(text).toMatch(/table4\s+embedded-seed1-n4-\w+\s+embedded \(SIM\)\s+1\s+4\s+60\s/);
    expect(text.match(/complete/g)!.length).toBeGreaterThanOrEqual(2);
    const latest = join(root, "table4", "latest");
    expect(lstatSync(latest).isSymbolicLink()).toBe(true);
    expect(readlinkSync(latest)).toBe(runDirs[1]!.split("/").at(-1)); // seed 1 ran last
    expect(existsSync(join(root, "index.html"))).toBe(true);
  });

  it.skipIf(!HAVE_CHROMIUM)("report.html renders in headless Chromium from file://: a card per record, filters, sort, all cells side by side", async () => {
    const { chromium } = await import("playwright-core");
    // launch() gives the browser a fresh temporary --user-data-dir of its own (passing one is refused).
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const dir = runDirs[0]!;
      const records = readFileSync(join(dir, "samples.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { id: string; cell: string; iou: number });
      expect(records).toHaveLength(60);
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      page.on("console", (m) => void (m.type() === "error" && problems.push(`console: ${m.text()}`)));
      page.on("request", (r) => void (!r.url().startsWith("file://") && !r.url().startsWith("data:") && problems.push(`network request: ${r.url()}`)));
      await page.goto(pathToFileURL(join(dir, "report.html")).href);
      await page.waitForSelector("body[data-ready='1']");
      // One card per record, each named "<id>|<cell>".
      const ids = await page.locator(".card").evaluateAll((els) => els.map((e) => e.getAttribute("data-sample-id")));
      expect(ids).toEqual(records.map((r) => `${r.id}|${r.cell}`));
      await expect(page.locator("#simulated-label").isVisible()).resolves.toBe(true);
      // Filter by cell, then by IoU range, then by failure kind.
      await page.selectOption("#f-cell", "K=4");
      expect(await page.locator(".card").count()).toBe(records.filter((r) => r.cell === "K=4").length);
      // A bound that keeps some of the cell's cards and drops others: the median IoU, in percent.
      const ious = records.filter((r) => r.cell === "K=4").map((r) => r.iou).sort((a, b) => a - b);
      const bound = Math.floor(100 * ious[Math.floor(ious.length / 2)]!);
      await page.fill("#f-iou-min", String(bound));
      const want = records.filter((r) => r.cell === "K=4" && r.iou >= bound / 100).length;
      expect(want).toBeGreaterThan(0);
      expect(await page.locator(".card").count()).toBe(want);
      await page.fill("#f-iou-min", "");
      await page.selectOption("#f-cell", "");
      await page.selectOption("#f-dataset", "testB");
      expect(await page.locator(".card").count()).toBe(records.filter((r) => r.id.includes("/testB:")).length);
      await page.selectOption("#f-dataset", "");
      // Sort by IoU, lowest first.
      await page.selectOption("#f-sort", "iou-asc");
      const shown = await page.locator(".card").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-iou"))));
      expect(shown).toEqual([...records.map((r) => r.iou)].sort((a, b) => a - b));
      // One sample across all cells.
      await page.locator(".card button.all-cells").first().click();
      await page.waitForSelector("dialog#compare[open]");
      expect(await page.locator("#compare-body .card").count()).toBe(5);
      await page.click("#compare-close");
      await page.selectOption("#f-sort", "");
      // Images load from beside the report once scrolled to.
      await page.locator("#controls").scrollIntoViewIfNeeded();
      await waitInPage(page, "[...document.querySelectorAll('#gallery img')].slice(0, 3).every((i) => i.complete && i.naturalWidth > 0)");
      const shot = join(dir, "report-screenshot.png");
      await page.screenshot({ path: shot });
      expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
      expect(problems).toEqual([]);

      // A run past 500 records pages: the same records under 10 copies of each cell (600 records;
      // identical overlays are drawn once).
      const big = join(root, "big", "run");
      await mkdir(big, { recursive: true });
      const lines = readFileSync(join(dir, "samples.jsonl"), "utf8").split("\n").filter(Boolean);
      await writeFile(join(big, "samples.jsonl"), Array.from({ length: 10 }, (_, k) => lines.map((l) => JSON.stringify({ ...JSON.parse(l), cell: `${JSON.parse(l).cell}#${k}` })).join("\n")).join("\n") + "\n");
      await copyFile(join(dir, "config.resolved.yaml"), join(big, "config.resolved.yaml"));
      expect(await cli("report", big)).toBe(0);
      expect(out.join("\n")).toMatch(/^600 records, 600 overlays/);
      await page.goto(pathToFileURL(join(big, "report.html")).href);
      await page.waitForSelector("body[data-ready='1']");
      expect(await page.locator(".card").count()).toBe(200);
      expect(await page.textContent("#f-count")).toBe("600 of 600 records · page 1 of 3");
      await page.click("#f-next");
      expect(await page.locator(".card").first().getAttribute("data-sample-id")).toBe(`${records[20]!.id}|${records[20]!.cell}#3`);
      await page.selectOption("#f-cell", "K=4#0");
      expect(await page.locator(".card").count()).toBe(12);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
