import { dirname, join } from "node:path";
import { writeFileAtomic, gitCommit, machine } from "@resagent/core";
import { ComponentPool, type Pipeline, type SampleRecord } from "@resagent/pipeline";
import { RECORD_VERSION, type RunSummary } from "@resagent/records";
import { writeReport } from "@resagent/report";
import type { LoadedExperiment } from "./config/load.js";
import { comparisonChart, confusionChart } from "./plots/charts.js";
import type { PlotSpec } from "./config/schema.js";
import { codeHash, configHash } from "./identity.js";
import { versions } from "./provenance.js";
import { readModelCalls } from "./accounting.js";
import { buildPipelines, readRecords, recordKey, type RunResult } from "./runner.js";
import { BOOTSTRAP_SETTINGS, SampleBootstrap, groupRecords, summarise, type CellMetrics } from "./summary.js";
import { buildTable, isUpperBound, tableCsv, tableMarkdown, type TableData } from "./table.js";

/** Whether any component of any cell is simulated (then every title says so). */
export function usesSimulation(exp: LoadedExperiment, pipelines: Map<string, Pipeline> = buildPipelines(exp, new ComponentPool())): boolean {
  return [...pipelines.values()].some((p) => p.groundingBackends.some((b) => b.simulated) || (p.config.k > 0 && p.verifierBackend.simulated)) || Object.values(exp.config.resolvedDatasets).some((d) => d.name === "synthref");
}

export function runTitle(exp: LoadedExperiment, simulated = usesSimulation(exp)): string {
  return `${exp.config.title} — ${exp.config.profile} profile${simulated ? " (SIMULATED: synthetic data and/or simulated MLLM; not comparable to the paper's numbers)" : ""}`;
}

export interface Written {
  table: TableData;
  metrics: Record<string, Record<string, CellMetrics>>;
  files: string[];
}

/** A plot per --sweep column group: the same columns, suffixed as the table suffixes them. */
function sweptPlots(exp: LoadedExperiment): PlotSpec[] {
  const groups = exp.config.columnSweeps;
  if (!groups.length) return exp.config.plots;
  return exp.config.plots.flatMap((p) =>
    p.kind === "confusion"
      ? [p]
      : groups.map((g) => ({
          ...p,
          ...(p.column ? { column: `${p.column} (${g})` } : {}),
          ...(p.columns ? { columns: p.columns.map((c) => `${c} (${g})`) } : {}),
          file: `${p.file}-${g.replace(/[^\w.+=-]+/g, "_")}`,
          title: `${p.title ?? exp.config.title} (${g})`,
        })),
  );
}

export interface WriteOptions {
  /** A merge of some shards only (--allow-partial): said in the provenance line and the summary. */
  partial?: { shards: number[]; of: number; problems?: string[] };
  /** The report's cap on overlay pictures (see ReportOptions.maxOverlays); default the report's. */
  maxOverlays?: number;
}

/**
 * Draw summary.json, table.md, table.csv and the plots from samples.jsonl files (one, or several
 * shards for `merge`). Nothing here is recomputed from memory.
 */
export async function writeResults(exp: LoadedExperiment, runDir: string, sampleFiles: string[], run?: RunResult, options: WriteOptions = {}): Promise<Written> {
  const seen = new Set<string>();
  const records: SampleRecord[] = [];
  for (const f of sampleFiles) {
    for (const r of readRecords(f)) {
      const key = recordKey(r.dataset, r.id, r.cell);
      if (seen.has(key)) continue; // shards never overlap; a merge of a run with itself must not double count
      seen.add(key);
      records.push(r);
    }
  }
  const boot = new SampleBootstrap(groupRecords(exp, records), exp.config.seed);
  const metrics = summarise(exp, records, boot);
  const pipelines = buildPipelines(exp, new ComponentPool());
  const simulated = usesSimulation(exp, pipelines);
  const title = runTitle(exp, simulated);
  const commit = gitCommit();
  const createdAt = new Date().toISOString();
  const shortCommit = `${commit.slice(0, 10)}${commit.endsWith("-dirty") ? "-dirty" : ""}`;
  // Plots may carry their own titles: the SIMULATED mark travels with the provenance line too.
  const mark = simulated ? "SIMULATED · " : "";
  const partial = options.partial ? `PARTIAL: ${options.partial.shards.length} of ${options.partial.of} shards · ` : "";
  const standIns = exp.cells.some((c) => c.standIns.length) ? "STAND-INS (see notes) · " : "";
  const upper = exp.cells.some((c) => isUpperBound(c.pipeline)) ? "UPPER-BOUND ROWS (oracle-best / oracle-value look at gold; not methods) · " : "";
  const provenance = `${mark}${partial}${standIns}${upper}${exp.config.name} · profile ${exp.config.profile} · seed ${exp.config.seed} · ≤${exp.config.limit} samples/dataset (${records.length} records) · commit ${shortCommit} · ${createdAt.slice(0, 16)}Z`;
  const table = buildTable(exp, metrics, title, provenance, boot);
  // Which candidate and selection rules made the numbers (issue 19: a table says which it used).
  const rules = new Set([...pipelines.values()].filter((p) => p.config.k > 0).map((p) => `${p.sampler.describe?.() ?? p.sampler.name}, ${p.verifier.params.select === "roles" ? "points by queue roles" : "points interleaved"}`));
  if (rules.size) table.notes = [...table.notes, `Candidates and point selection: ${[...rules].join(" | ")}.`];
  const rankings = new Set([...pipelines.values()].filter((p) => p.config.k > 0 && p.scorer).map((p) => p.describeRanking()));
  if (rankings.size) table.notes = [...table.notes, `Candidate ranking (sampler.rank): ${[...rankings].join(" | ")}.`];
  // Which confidence rule and decoding made them (issue 20: say which aggregation each table used).
  const verified = [...pipelines.values()].filter((p) => p.config.k > 0);
  const AGG = { absolute: "absolute (the decoded answer's summed top-k probability, the authors' rule)", pa: "absolute (the decoded answer's summed top-k probability, the authors' rule)", normalised: "normalised (P(yes) over yes + no of the top-k)", decoded: "decoded answer only" } as const;
  const aggs = new Set(verified.map((p) => AGG[p.verifier.params.aggregation]));
  const decodes = new Set(verified.map((p) => p.describe().decoding ?? ""));
  if (aggs.size) table.notes = [...table.notes, `Confidence: ${[...aggs].join(" | ")}. Decoding: ${[...decodes].join(" | ")}.`];
  // Which textual baseline (issue 29): coordinates of the whole image, or of a crop the model may not see.
  const textual = new Set(
    verified
      .filter((p) => p.verifier.params.format.startsWith("textual:"))
      .map((p) => {
        const v = p.verifier.params;
        return v.textualSpace === "crop" ? `in the point's context crop (${v.crop ? "the crop is sent" : "the whole image is sent, as the authors' textual script"})` : "in the whole image";
      }),
  );
  if (textual.size) table.notes = [...table.notes, `Textual coordinates: ${[...textual].join(" | ")}.`];
  // Which cells ground with an ensemble, of which experts, through which router (issue 17).
  const ensembles = exp.cells.filter((c) => pipelines.get(c.id)?.experts.length);
  if (ensembles.length) {
    const byExperts = new Map<string, string[]>();
    for (const c of ensembles) {
      const p = pipelines.get(c.id)!;
      const k = p.experts.map((e) => e.name).join(", ");
      byExperts.set(k, [...(byExperts.get(k) ?? []), `${c.row}: ${p.config.grounding!.router}${isUpperBound(c.pipeline) ? " (UPPER BOUND: uses gold)" : ""}`]);
    }
    for (const [experts, cells] of byExperts) table.notes = [...table.notes, `Ensemble grounding of ${experts} — ${cells.join("; ")}.`];
  }
  const totalQueries = records.reduce((a, r) => a + (r.timing.mllmQueries ?? 0), 0);
  const cacheHits = records.reduce((a, r) => a + (r.timing.cacheHits ?? 0), 0);
  const summary = {
    experiment: exp.config.name,
    version: exp.config.version,
    // The shape of this file, run.json and samples.jsonl (`version` above is the experiment config's).
    recordVersion: RECORD_VERSION,
    title,
    simulated,
    profile: exp.config.profile,
    seed: exp.config.seed,
    limitPerDataset: exp.config.limit,
    configHash: configHash(exp),
    codeHash: codeHash(),
    gitCommit: commit,
    ...(options.partial ? { partial: options.partial } : {}),
    versions: versions(),
    machine: machine(),
    createdAt,
    datasets: exp.config.resolvedDatasets,
    sampleCounts: Object.fromEntries(Object.entries(metrics).map(([cell, m]) => [cell, Object.fromEntries(Object.entries(m).map(([d, x]) => [d, x.samples]))])),
    records: records.length,
    /** Records copied from identical cells (same pipeline, seed, dataset, code) rather than computed for this run. */
    sharedRecords: records.filter((r) => r.timing.shared).length,
    cells: Object.fromEntries(exp.cells.map((c) => [c.id, { pipeline: c.pipeline, components: pipelines.get(c.id)!.describe(), ...(c.note ? { note: c.note } : {}), ...(c.standIns.length ? { standIns: c.standIns } : {}) }])),
    mllmRequests: {
      // From samples.jsonl: queries the pipeline made and how many the response cache answered.
      queries: totalQueries,
      cacheHits,
      issuedToBackends: totalQueries - cacheHits,
      // From the backends of the last invocation (a resumed run counts only its own requests).
      lastInvocation: run?.backendStats ?? [],
    },
    // Every invocation's model-call accounting (model-calls.jsonl) and their sum.
    modelCalls: readModelCalls([...new Set(sampleFiles.map((f) => dirname(f)))]),
    decoders: run?.decoderStats ?? [],
    ...(run?.rankingStats ? { rankings: run.rankingStats } : {}),
    skippedSamples: run?.skipped ?? [],
    intervals: { ...BOOTSTRAP_SETTINGS, seed: exp.config.seed, where: "metrics.<cell>.<dataset>.ci95.<metric> = [low, high], in the metric's units" },
    metrics,
    table,
  } satisfies RunSummary;
  const files: string[] = [];
  const put = async (name: string, data: string | Buffer) => {
    const f = join(runDir, name);
    await writeFileAtomic(f, data);
    files.push(f);
  };
  await put("summary.json", `${JSON.stringify(summary, null, 2)}\n`);
  await put("table.md", tableMarkdown(table));
  await put("table.csv", tableCsv(table));
  for (const spec of sweptPlots(exp)) {
    // Short enough to sit under the title.
    const plotProvenance = `${mark}${partial}${exp.config.profile} · seed ${exp.config.seed} · n≤${exp.config.limit} · ${shortCommit} · ${createdAt.slice(0, 10)}`;
    const plot =
      spec.kind === "confusion"
        ? confusionChart(
            [...new Set(exp.cells.map((c) => c.row))].map((row) => ({ label: row, metrics: metrics[row]?.all ?? emptyMetrics() })),
            spec.title ?? title,
            { provenance: plotProvenance },
          )
        : comparisonChart(table, spec, { provenance: plotProvenance });
    const saved = await plot.save(join(runDir, spec.file));
    files.push(saved.svg, saved.png);
  }
  // report.html (+ table.tex) is drawn from the files just written, as `resagent report` would.
  // It reads <runDir>/samples.jsonl; a merge writes its combined samples there first.
  if (sampleFiles.some((f) => f === join(runDir, "samples.jsonl"))) files.push(...(await writeReport(runDir, options.maxOverlays !== undefined ? { maxOverlays: options.maxOverlays } : {})).files);
  return { table, metrics, files };
}

function emptyMetrics(): CellMetrics {
  return {
    samples: 0,
    segmentation: { n: 0, mIoU: Number.NaN, gIoU: Number.NaN, cIoU: Number.NaN, sumI: 0, sumU: 0 },
    box: { n: 0, failures: 0, meanIoU: Number.NaN, acc50: Number.NaN, acc75: Number.NaN, acc90: Number.NaN },
    points: { tp: 0, fp: 0, tn: 0, fn: 0, abstained: 0, n: 0, accuracy: Number.NaN, precision: 0, recall: 0, f1: 0 },
    meanConfidence: Number.NaN,
    available: 0,
    queriesPerSample: 0,
    groundingFailures: 0,
    timing: {},
  };
}
