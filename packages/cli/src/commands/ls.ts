import { datasetNames, getDatasetFactory } from "@resagent/data";
import { describeDecoders } from "@resagent/decoder";
import { experimentNames, findRoot, loadExperiment, profileNames } from "@resagent/experiments";
import { SIMULATED_PRESETS, backendNames } from "@resagent/mllm";
import { describeSamplers, describeValueScorers } from "@resagent/sampler";
import type { ParamDoc } from "@resagent/core";
import type { CommandModule } from "yargs";

/** A component's parameters, one a line: name = default, and what it does (from its schema). */
function params(list: readonly ParamDoc[]): string {
  if (!list.length) return "      params: none";
  const width = Math.max(...list.map((p) => `${p.name} = ${JSON.stringify(p.default)}`.length));
  return ["      params:", ...list.map((p) => `        ${`${p.name} = ${JSON.stringify(p.default)}`.padEnd(width)}${p.description ? `  ${p.description}` : ""}`)].join("\n");
}

const WHAT = ["experiments", "profiles", "datasets", "samplers", "decoders", "mllm"] as const;

export const lsCommand: CommandModule<object, { what?: string }> = {
  command: "ls [what]",
  describe: `List what can be named in configs: ${WHAT.join(", ")} (all when omitted)`,
  builder: (y) => y.positional("what", { type: "string", choices: WHAT as unknown as string[], describe: "what to list (all when omitted)" }) as never,
  handler: (args) => {
    const show = (w: string) => !args.what || args.what === w;
    const root = findRoot();
    if (show("experiments")) {
      console.log("experiments (pnpm exp <name>):");
      for (const n of experimentNames(root)) console.log(`  ${n.padEnd(10)} ${loadExperiment(n, { root }).config.title}`);
      console.log(`  ${"fig4".padEnd(10)} Fig. 4: spiral trajectories (pnpm fig4)`);
    }
    if (show("profiles")) console.log(`profiles (--profile): ${profileNames(root).join(", ")}`);
    if (show("datasets")) {
      console.log("datasets:");
      for (const n of datasetNames()) {
        const f = getDatasetFactory(n);
        console.log(`  ${n.padEnd(10)} ${f.description}\n             splits: ${f.splits.join(", ")}`);
      }
    }
    if (show("samplers")) {
      console.log("samplers (pipeline.sampler.name):");
      for (const s of describeSamplers()) console.log(`  ${s.name.padEnd(11)} ${s.description}\n${params(s.params)}`);
      console.log("point rankings (pipeline.sampler.rank, with sampler.pool and sampler.modelDir):");
      for (const r of describeValueScorers()) console.log(`  ${r.name.padEnd(13)} ${r.description}`);
    }
    if (show("decoders")) {
      console.log("decoders (pipeline.decoder.name):");
      for (const d of describeDecoders()) console.log(`  ${d.name.padEnd(10)} ${d.description}\n${params(d.params)}`);
    }
    if (show("mllm")) {
      console.log(`mllm backends (pipeline.mllm.backend): ${backendNames().join(", ")}`);
      console.log("simulated presets (pipeline.mllm.preset):");
      for (const [k, p] of Object.entries(SIMULATED_PRESETS)) console.log(`  ${k.padEnd(12)} ${p.description}`);
    }
  },
};
