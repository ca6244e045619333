/**
 * A crafted run folder, checked in a real browser: markup in every field of samples.jsonl,
 * summary.json and config.resolved.yaml (numbers as strings included, and the folder's own name)
 * shows as text on the report, compare and runs pages and runs nothing; and the pages' Content-
 * Security-Policy stops script that slips past escaping, while their own script still runs. The
 * browser part needs Debian's chromium (`apt-get install -y chromium`); without it that part is
 * skipped and says so.
 */
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parse, stringify } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { captureCli, waitInPage } from "./testing.js";

const CHROMIUM = process.env.RESAGENT_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`hostile report browser test skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set RESAGENT_CHROMIUM)`);

async function cli(...argv: string[]): Promise<number> {
  const run = await captureCli(argv, { stdout: true });
  if (run.code !== 0) console.error(run.err.join("\n"));
  return run.code;
}

/** Markup that records `tag` in window.__xss if it ever runs, in three shapes (element, attribute break-out, script). */
const P = (tag: string) => `<img src=x onerror="window.__xss.push('${tag}')">"'><svg onload="window.__xss.push('${tag}-svg')"><script>window.__xss.push('${tag}-script')</script>`;
const FOLDER = `run<img src=x onerror=window.__xss.push(1)>`;

let root: string;
let hostile: string;
let records: number;

beforeAll(async () => {
  const tmp = await mkdtemp(join(tmpdir(), "resagent-hostile-report-"));
  process.env.RESAGENT_CACHE_DIR = join(tmp, "cache");
  root = join(tmp, "results");
  expect(await cli("exp", "table4", "--limit", "1", "--out", root, "--run-id", "real")).toBe(0);
  const real = join(root, "table4", "real");
  hostile = join(root, "table4", FOLDER);
  cpSync(real, hostile, { recursive: true });
  for (const f of readdirSync(hostile)) if (f === "report.html" || f === "table.tex") writeFileSync(join(hostile, f), "");

  // samples.jsonl: the real records, then copies with markup in every field, of every type.
  const lines = readFileSync(join(real, "samples.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const base = lines[lines.length - 1]!;
  const q = (base.queries as Record<string, unknown>[])[0] ?? { point: { x: 1, y: 1 } };
  const evil = [
    { ...base, expression: P("expression") },
    { ...base, id: P("id"), cell: P("cell"), dataset: P("dataset") },
    { ...base, id: `${String(base.id)}-q`, queries: [{ ...q, queue: P("queue"), rank: P("rank"), decision: P("decision"), pYes: P("pYes") }] },
    { ...base, id: `${String(base.id)}-g`, groundingFailure: P("groundingFailure"), box: P("box"), boxIoU: P("boxIoU"), positives: P("positives"), negatives: [[P("neg"), 1]] },
    { ...base, id: `${String(base.id)}-t`, expression: 12345, queries: P("queries"), mask: P("mask") },
    { ...base, id: `${String(base.id)}-i`, iou: P("iou") },
  ];
  writeFileSync(join(hostile, "samples.jsonl"), [...lines, ...evil].map((r) => `${JSON.stringify(r)}\n`).join(""));
  records = lines.length + evil.length - 1; // the record whose iou is no number is not one

  const s = JSON.parse(readFileSync(join(real, "summary.json"), "utf8")) as Record<string, unknown> & { table: Record<string, unknown> };
  const t = s.table as { headers: string[]; rows: Record<string, unknown>[]; notes?: string[] };
  const summary = {
    ...s,
    title: `${P("title")}\n\\input{/etc/passwd}`,
    machine: P("machine"),
    seed: P("seed"),
    versions: { [P("versionKey")]: P("versionValue") },
    cells: { [P("cellKey")]: { components: { [P("componentKey")]: P("componentValue") }, note: P("cellNote") } },
    metrics: { [P("metricCell")]: { [P("metricDataset")]: { samples: P("samples"), segmentation: { mIoU: P("mIoU") }, ci95: { mIoU: P("ci") } } } },
    skippedSamples: [{ id: P("skippedId"), error: P("skippedError") }],
    [P("extraKey")]: P("extraValue"),
    table: {
      ...t,
      title: P("tableTitle"),
      provenance: `${P("provenance")}\n\\input{/etc/passwd}`,
      headers: [P("header"), ...t.headers.slice(1)],
      rows: [{ ...t.rows[0], label: P("label"), paper: [P("paper")], n: [P("n")], note: P("rowNote") }, ...t.rows.slice(1)],
      notes: [P("note")],
      intervals: { replicates: "\\input{/etc/passwd}", level: P("level"), seed: P("ivSeed"), method: P("method") },
    },
  };
  writeFileSync(join(hostile, "summary.json"), JSON.stringify(summary));
  const config = parse(readFileSync(join(real, "config.resolved.yaml"), "utf8")) as Record<string, unknown>;
  writeFileSync(join(hostile, "config.resolved.yaml"), stringify({ ...config, title: P("configTitle"), plots: [{ kind: "line", file: P("plotFile") }] }));
  // A plot whose file name is markup, beside the real ones.
  const png = readdirSync(real).find((f) => f.endsWith(".png"))!;
  cpSync(join(real, png), join(hostile, `${P("png")}.png`.replace(/\//g, "_")));

  expect(await cli("report", hostile)).toBe(0);
  expect(await cli("compare", hostile, hostile, "--html", join(root, "compare.html"))).toBe(0);
  expect(await cli("runs", "--out", root)).toBe(0);
}, 600_000);

describe("a crafted run folder", () => {
  it("reaches LaTeX only escaped: no line break out of a comment, no command from a number field", () => {
    const tex = readFileSync(join(hostile, "table.tex"), "utf8");
    expect(tex).not.toMatch(/\n\\input/);
    expect(tex).not.toMatch(/(?<!textbackslash\{\})\\input\{/);
    expect(tex).toMatch(/^% .*\\textbackslash\{\}input\\\{\/etc\/passwd\\\}$/m);
    // An interval whose replicates are no number is left out rather than printed.
    expect(tex).not.toContain("resamples");
  });

  it("every page carries a Content-Security-Policy: its own script and style by hash, images from beside it or data:", () => {
    for (const f of [join(hostile, "report.html"), join(root, "compare.html"), join(root, "index.html")]) {
      const html = readFileSync(f, "utf8");
      const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
      expect(csp, f).toBeDefined();
      expect(csp).toMatch(/^default-src &#39;none&#39;; style-src &#39;sha256-[A-Za-z0-9+/]+=*&#39;; script-src (&#39;sha256-[A-Za-z0-9+/]+=*&#39;|&#39;none&#39;); img-src &#39;self&#39; data:; base-uri &#39;none&#39;; form-action &#39;none&#39;$/);
      // No markup from the run got through as markup.
      expect(html).not.toMatch(/<img src=x onerror="window/);
      expect(html).not.toMatch(/<script>window\.__xss/);
    }
  });

  it.skipIf(!HAVE_CHROMIUM)("shows every value as text and runs none of it in Chromium; a missed escape is stopped by the CSP", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const open = async (file: string) => {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const problems: string[] = [];
        page.on("dialog", (d) => void (problems.push(`dialog: ${d.message()}`), d.dismiss()));
        page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
        // Runs before the page's own scripts, outside its policy: where run-file script would report.
        await page.addInitScript("window.__xss = []");
        await page.goto(pathToFileURL(file).href);
        return { page, problems, ran: () => page.evaluate("window.__xss") };
      };

      // The report: its own script runs (the gallery renders every record), the run's values do not.
      const report = await open(join(hostile, "report.html"));
      await report.page.waitForSelector("body[data-ready='1']");
      expect(await report.page.locator(".card").count()).toBe(records);
      await report.page.locator("details").evaluateAll((ds) => ds.forEach((d) => ((d as unknown as { open: boolean }).open = true)));
      const text = await report.page.locator("body").innerText();
      for (const tag of ["expression", "id", "cell", "queue", "decision", "groundingFailure", "title", "label", "header", "note", "machine", "extraKey", "componentValue"]) {
        expect(text, tag).toContain(`<img src=x onerror="window.__xss.push('${tag}')">`);
      }
      // The all-cells view builds cards from the same data.
      await report.page.locator(".card button.all-cells").last().click();
      await report.page.waitForSelector("dialog#compare[open]");
      // Images still load from beside the page under the policy.
      await waitInPage(report.page, "[...document.querySelectorAll('#gallery img')].some((i) => i.complete && i.naturalWidth > 0)");
      expect(await report.ran()).toEqual([]);
      expect(report.problems).toEqual([]);

      for (const page of [join(root, "compare.html"), join(root, "index.html")]) {
        const p = await open(page);
        await p.page.waitForLoadState("load");
        expect(await p.page.locator("body").innerText(), page).toContain("<img src=x onerror=");
        expect(await p.ran(), page).toEqual([]);
        expect(p.problems, page).toEqual([]);
      }

      // A missed escape, simulated: markup put into the written page by hand. The policy stops it
      // (inline script and handlers are not the page's own), and the page's own script still runs.
      const injected = join(hostile, "injected.html");
      writeFileSync(injected, readFileSync(join(hostile, "report.html"), "utf8").replace("<body>", `<body><img src=x onerror="window.__xss.push('missed')"><script>window.__xss.push('missed-script')</script><a id="js" href="javascript:window.__xss.push('href')">x</a>`));
      const missed = await open(injected);
      await missed.page.waitForSelector("body[data-ready='1']");
      await missed.page.click("#js");
      expect(await missed.ran()).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 180_000);
});
