import { join } from "node:path";
import { sha256, stableStringify, writeFileAtomic } from "@resagent/core";
import { ComponentPool, type Pipeline, type SampleRecord } from "@resagent/pipeline";
import type { LoadedExperiment } from "./config/load.js";
import { comparisonChart, confusionChart } from "./plots/charts.js";
import { gitCommit, machine, versions } from "./provenance.js";
import { buildPipelines, readRecords, type RunResult } from "./runner.js";
import { summarise, type CellMetrics } from "./summary.js";
import { buildTable, tableCsv, tableMarkdown, type TableData } from "./table.js";

/** Whether any component of any cell is simulated (then every title says so). */
export function usesSimulation(exp: LoadedExperiment, pipelines: Map<string, Pipeline> = buildPipelines(exp, new ComponentPool())): boolean {
  return [...pipelines.values()].some((p) => p.grounder.simulated || (p.config.k > 0 && p.verifierBackend.simulated)) || Object.values(exp.config.resolvedDatasets).some((d) => d.name === "synthref");
}

export function runTitle(exp: LoadedExperiment, simulated = usesSimulation(exp)): string {
  return `${exp.config.title} — ${exp.config.profile} profile${simulated ? " (SIMULATED: synthetic data and/or simulated MLLM; not comparable to the paper's numbers)" : ""}`;
}

export interface Written {
  table: TableData;
  metrics: Record<string, Record<string, CellMetrics>>;
  files: string[];
}

/**
 * Draw summary.json, table.md, table.csv and the plots from samples.jsonl files (one, or several
 * shards for `merge`). Nothing here is recomputed from memory.
 */
export async function writeResults(exp: LoadedExperiment, runDir: string, sampleFiles: string[], run?: RunResult): Promise<Written> {
  const seen = new Set<string>();
  const records: SampleRecord[] = [];
  for (const f of sampleFiles) {
    for (const r of readRecords(f)) {
      const key = `${r.id}\u0000${r.cell}`;
      if (seen.has(key)) continue; // shards never overlap; a merge of a run with itself must not double count
      seen.add(key);
      records.push(r);
    }
  }
  const metrics = summarise(exp, records);
  const pipelines = buildPipelines(exp, new ComponentPool());
  const simulated = usesSimulation(exp, pipelines);
  const title = runTitle(exp, simulated);
  const commit = gitCommit();
  const createdAt = new Date().toISOString();
  const shortCommit = `${commit.slice(0, 10)}${commit.endsWith("-dirty") ? "-dirty" : ""}`;
  // Plots may carry their own titles: the SIMULATED mark travels with the provenance line too.
  const mark = simulated ? "SIMULATED · " : "";
  const provenance = `${mark}${exp.config.name} · profile ${exp.config.profile} · seed ${exp.config.seed} · ≤${exp.config.limit} samples/dataset (${records.length} records) · commit ${shortCommit} · ${createdAt.slice(0, 16)}Z`;
  const table = buildTable(exp, metrics, title, provenance);
  const totalQueries = records.reduce((a, r) => a + (r.timing.mllmQueries ?? 0), 0);
  const cacheHits = records.reduce((a, r) => a + (r.timing.cacheHits ?? 0), 0);
  const summary = {
    experiment: exp.config.name,
    version: exp.config.version,
    title,
    simulated,
    profile: exp.config.profile,
    seed: exp.config.seed,
    limitPerDataset: exp.config.limit,
    configHash: sha256(stableStringify({ cells: exp.cells, datasets: exp.config.resolvedDatasets, seed: exp.config.seed })).slice(0, 16),
    gitCommit: commit,
    versions: versions(),
    machine: machine(),
    createdAt,
    datasets: exp.config.resolvedDatasets,
    sampleCounts: Object.fromEntries(Object.entries(metrics).map(([cell, m]) => [cell, Object.fromEntries(Object.entries(m).map(([d, x]) => [d, x.samples]))])),
    records: records.length,
    cells: Object.fromEntries(exp.cells.map((c) => [c.id, { pipeline: c.pipeline, components: pipelines.get(c.id)!.describe(), ...(c.note ? { note: c.note } : {}) }])),
    mllmRequests: {
      // From samples.jsonl: queries the pipeline made and how many the response cache answered.
      queries: totalQueries,
      cacheHits,
      issuedToBackends: totalQueries - cacheHits,
      // From the backends of the last invocation (a resumed run counts only its own requests).
      lastInvocation: run?.backendStats ?? [],
    },
    decoders: run?.decoderStats ?? [],
    skippedSamples: run?.skipped ?? [],
    metrics,
    table,
  };
  const files: string[] = [];
  const put = async (name: string, data: string | Buffer) => {
    const f = join(runDir, name);
    await writeFileAtomic(f, data);
    files.push(f);
  };
  await put("summary.json", `${JSON.stringify(summary, null, 2)}\n`);
  await put("table.md", tableMarkdown(table));
  await put("table.csv", tableCsv(table));
  for (const spec of exp.config.plots) {
    const plot =
      spec.kind === "confusion"
        ? confusionChart(
            [...new Set(exp.cells.map((c) => c.row))].map((row) => ({ label: row, metrics: metrics[row]?.all ?? emptyMetrics() })),
            spec.title ?? title,
          )
        : comparisonChart(table, spec);
    // Short enough to sit under the title, left of the legend.
    plot.provenance(`${mark}${exp.config.profile} · seed ${exp.config.seed} · n≤${exp.config.limit} · ${shortCommit} · ${createdAt.slice(0, 10)}`, spec.kind === "confusion" ? 20 : 60);
    const saved = await plot.save(join(runDir, spec.file));
    files.push(saved.svg, saved.png);
  }
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
