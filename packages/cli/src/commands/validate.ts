import { existsSync } from "node:fs";
import { getDatasetFactory } from "@resagent/data";
import { ComponentPool } from "@resagent/pipeline";
import { buildPipelines, describeCells } from "@resagent/experiments";
import { probeEndpoint } from "@resagent/mllm";
import type { CommandModule } from "yargs";
import { ExitStatus } from "../exit-status.js";
import { configOptions, loadFromArgs, type LoadArgs } from "./exp.js";

type ValidateArgs = LoadArgs & { probe: boolean };

export const validateCommand: CommandModule<object, ValidateArgs> = {
  command: "validate <name>",
  describe: "Resolve an experiment on a profile without running it: every cell's config, dataset, model file (opened and matched to a known export) and endpoint it will need; exit 1 when something is missing",
  builder: (y) =>
    configOptions(y).option("probe", {
      type: "boolean",
      default: false,
      describe: "also contact each MLLM endpoint: list its models, check the configured names exist, and send one tiny request to check top logprobs come back",
    }) as never,
  handler: async (args) => {
    const exp = loadFromArgs(args);
    const pool = new ComponentPool();
    const pipelines = buildPipelines(exp, pool);
    const needs: { what: string; ok: boolean; detail: string; warn?: boolean }[] = [];
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
    // One line per preset, naming the cells that need it.
    const presetLines = new Map<string, { ok: boolean; text: string; cells: string[] }>();
    for (const cell of exp.cells) {
      for (const m of cell.missing) {
        const key = `missing ${m.preset}`;
        const entry = presetLines.get(key) ?? { ok: false, text: `@${m.preset} needs ${m.unset.join(", ")} (unset)${m.note ? `; --allow-stand-ins would run: ${m.note}` : ""}`, cells: [] };
        entry.cells.push(cell.id);
        presetLines.set(key, entry);
      }
      for (const x of cell.standIns) {
        const key = `standin ${x.preset}`;
        const entry = presetLines.get(key) ?? { ok: true, text: `@${x.use} runs in place of @${x.preset} (${x.unset.join(", ")} unset)`, cells: [] };
        entry.cells.push(cell.id);
        presetLines.set(key, entry);
      }
    }
    for (const e of presetLines.values()) needs.push({ what: e.ok ? "stand-in" : "preset", ok: e.ok, detail: `${e.text}; cells ${e.cells.join(", ")}` });
    const seen = new Set<string>();
    for (const cell of exp.cells) {
      for (const [stage, desc] of Object.entries(pipelines.get(cell.id)!.describe())) {
        const key = `${stage}: ${desc}`;
        if (seen.has(key)) continue;
        seen.add(key);
        needs.push({ what: stage, ok: true, detail: desc });
      }
    }
    // Model files are opened, not just found: a zero-byte or foreign ONNX file fails here.
    const decoderConfigs = new Map(exp.cells.map((c) => [JSON.stringify(c.pipeline.decoder), c.pipeline.decoder]));
    for (const [text, cfg] of decoderConfigs) {
      const d = pool.decoder(cfg);
      // A folder still written as ${VAR} is an unset preset, reported above.
      if (!d.inspect || text.includes("${")) continue;
      try {
        const detail = await d.inspect();
        // e.g. a SAM2 export without the single-mask output: it runs, but not as the authors ran.
        needs.push({ what: "model files", ok: true, detail, warn: /\bwarning:/.test(detail) });
      } catch (err) {
        needs.push({ what: "model files", ok: false, detail: (err as Error).message });
      }
    }
    const endpoints = new Map<string, { baseUrls: string[]; model: string; apiKeyEnv?: string; timeoutMs?: number }>();
    for (const cell of exp.cells) {
      for (const b of [cell.pipeline.mllm, cell.pipeline.verifierMllm]) {
        if (b?.backend !== "openai" || !b.http?.baseUrls || !b.http.model) continue;
        endpoints.set(JSON.stringify([b.http.baseUrls, b.http.model]), { ...b.http, baseUrls: b.http.baseUrls, model: b.http.model });
      }
    }
    for (const e of endpoints.values()) {
      if (!args.probe) {
        needs.push({ what: "MLLM endpoint", ok: true, detail: `${e.baseUrls.join(", ")} model ${e.model} (not contacted; --probe checks the model and its logprobs)` });
        continue;
      }
      const r = await probeEndpoint(e);
      for (const l of r.lines) needs.push({ what: "MLLM endpoint", ok: r.ok, detail: `${e.model}: ${l}` });
    }
    await pool.dispose();
    console.log(`${exp.config.title}\nprofile ${exp.config.profile}: ${exp.cells.length} cells, ${Object.keys(exp.config.resolvedDatasets).length} datasets, up to ${exp.config.limit} samples each\n`);
    console.log(`${describeCells(exp)}\n`);
    for (const w of exp.warnings) console.log(`note: ${w}`);
    for (const n of needs) console.log(`${n.ok ? (n.warn ? "WARNING" : "ok     ") : "MISSING"} ${n.what.padEnd(14)} ${n.detail}`);
    const missing = needs.filter((n) => !n.ok).length;
    console.log(missing ? `\n${missing} thing(s) missing: the config resolves, but the run would stop at them.` : "\nall set.");
    if (missing) throw new ExitStatus(1);
  },
};
