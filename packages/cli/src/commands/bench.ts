import { InputError, gitCommit, machine, suggest, userPath, writeFileAtomic } from "@resagent/core";
import type { CommandModule } from "yargs";
import { coreBench } from "../bench/core.js";
import { dataBench } from "../bench/data.js";
import { datagenBench } from "../bench/datagen.js";
import { decoderBench } from "../bench/decoder.js";
import { mllmBench } from "../bench/mllm.js";
import { opencvBench } from "../bench/opencv.js";
import { pipelineBench } from "../bench/pipeline.js";
import { referBench } from "../bench/refer.js";
import { samplerBench } from "../bench/sampler.js";
import { suiteBench } from "../bench/suite.js";
import { throughputBench } from "../bench/throughput.js";
import type { BenchRow, BenchSuite } from "../bench/index.js";
import { versions } from "@resagent/experiments";

export const BENCH_SUITES: BenchSuite[] = [coreBench, samplerBench, dataBench, referBench, decoderBench, opencvBench, mllmBench, pipelineBench, datagenBench, throughputBench, suiteBench];

interface Args {
  only?: string[];
  out: string;
}

export const benchCommand: CommandModule<object, Args> = {
  command: "bench",
  describe: "Run the benchmarks (speed targets live here, not in tests) and write results/bench/latest.json",
  builder: (y) =>
    y
      .option("only", { type: "string", array: true, describe: `suites to run (${BENCH_SUITES.map((s) => s.name).join(", ")}; ${BENCH_SUITES.filter((s) => s.onlyWhenNamed).map((s) => s.name).join(", ")} only when named)` })
      .option("out", { type: "string", default: "results/bench/latest.json", describe: "where to write the results JSON (machine, commit, versions, every timing)" }) as never,
  handler: async (args) => {
    // A misspelt suite would run nothing and still overwrite --out: refused before anything runs.
    const names = BENCH_SUITES.map((s) => s.name);
    for (const n of args.only ?? []) if (!names.includes(n)) throw new InputError(`unknown suite "${n}"; ${suggest(n, names)}`, { field: "--only" });
    // Suites that run the whole quick start (minutes) run only when named.
    const suites = args.only?.length ? BENCH_SUITES.filter((s) => args.only!.includes(s.name)) : BENCH_SUITES.filter((s) => !s.onlyWhenNamed);
    const rows: BenchRow[] = [];
    // The code measured is the code at the start: edits made while a long suite runs do not change it.
    const commit = gitCommit();
    console.log(`machine: ${machine()}; commit ${commit}`);
    for (const s of suites) {
      process.stderr.write(`running ${s.name}: ${s.description}\n`);
      const got = await s.run();
      for (const r of got) console.log(`  ${r.suite.padEnd(10)} ${r.name.padEnd(52)} ${r.value.toFixed(r.value >= 100 ? 0 : 2).padStart(10)} ${r.unit}${r.note ? `  (${r.note})` : ""}`);
      rows.push(...got);
    }
    const out = userPath(args.out, "--out");
    await writeFileAtomic(out, JSON.stringify({ date: new Date().toISOString(), commit, machine: machine(), versions: versions(), rows }, null, 2));
    console.log(`written ${out}`);
  },
};
