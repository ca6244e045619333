import { existsSync } from "node:fs";
import { getDatasetFactory } from "@resagent/data";
import { locateSam2Files } from "@resagent/decoder";
import { buildPipelines } from "@resagent/experiments";
import type { CommandModule } from "yargs";
import { ExitStatus } from "../cli.js";
import { loadFromArgs, type ExpArgs } from "./exp.js";

export const validateCommand: CommandModule<object, ExpArgs> = {
  command: "validate <name>",
  describe: "Resolve an experiment on a profile without running it: every component, dataset, model file and endpoint it will need",
  builder: (y) =>
    y
      .positional("name", { type: "string", demandOption: true })
      .option("profile", { type: "string" })
      .option("set", { type: "string", array: true, default: [] })
      .option("sweep", { type: "string", array: true, default: [] }) as never,
  handler: (args) => {
    const exp = loadFromArgs(args);
    const pipelines = buildPipelines(exp);
    const needs: { what: string; ok: boolean; detail: string }[] = [];
    for (const [col, ref] of Object.entries(exp.config.resolvedDatasets)) {
      let ok = true;
      let detail = `${ref.name} split ${ref.split}`;
      try {
        const f = getDatasetFactory(ref.name);
        if (!f.splits.includes(ref.split)) {
          ok = false;
          detail += ` (no such split; known: ${f.splits.join(", ")})`;
        }
      } catch (err) {
        ok = false;
        detail += ` (${(err as Error).message.replace(/^dataset.name: /, "")}; this build has no loader for it yet)`;
      }
      if (typeof ref.root === "string") {
        const exists = ref.root !== "" && existsSync(ref.root);
        ok &&= exists;
        detail += `, root ${ref.root || "(unset)"}${exists ? "" : " (missing: set RESAGENT_DATA_ROOT)"}`;
      }
      needs.push({ what: `dataset ${col}`, ok, detail });
    }
    const seen = new Set<string>();
    for (const cell of exp.cells) {
      const p = pipelines.get(cell.id)!;
      for (const [stage, desc] of Object.entries(p.describe())) {
        const key = `${stage}: ${desc}`;
        if (seen.has(key)) continue;
        seen.add(key);
        needs.push({ what: stage, ok: true, detail: desc });
      }
      const dec = cell.pipeline.decoder;
      if (dec.name === "sam2-onnx") {
        const k = JSON.stringify(dec);
        if (!seen.has(k)) {
          seen.add(k);
          try {
            const f = locateSam2Files(dec.params ?? {});
            needs.push({ what: "SAM2 files", ok: true, detail: `${f.encoder}, ${f.decoder}` });
          } catch (err) {
            needs.push({ what: "SAM2 files", ok: false, detail: (err as Error).message });
          }
        }
      }
      for (const b of [cell.pipeline.mllm, cell.pipeline.verifierMllm]) {
        if (b?.backend !== "openai") continue;
        const k = `endpoint ${JSON.stringify(b.http)}`;
        if (seen.has(k)) continue;
        seen.add(k);
        needs.push({ what: "MLLM endpoint", ok: true, detail: `${(b.http?.baseUrls ?? []).join(", ")} model ${b.http?.model} (reachability is checked when the run starts)` });
      }
    }
    console.log(`${exp.config.title}\nprofile ${exp.config.profile}: ${exp.cells.length} cells, ${Object.keys(exp.config.resolvedDatasets).length} datasets, up to ${exp.config.limit} samples each\n`);
    for (const n of needs) console.log(`${n.ok ? "ok " : "MISSING"} ${n.what.padEnd(14)} ${n.detail}`);
    const missing = needs.filter((n) => !n.ok).length;
    console.log(missing ? `\n${missing} thing(s) missing: the config resolves, but the run would stop at them.` : "\nall set.");
    if (missing) throw new ExitStatus(1);
  },
};
