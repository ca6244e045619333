import { join } from "node:path";
import { claimFolder, userPath } from "@resagent/core";
import { POINT_VALUE_DEFAULTS } from "@resagent/datagen";
import { DEFAULT_RANKER_DIR, RANKER_MODEL_DEFAULTS, RANKER_TARGET_SCALE, RANKER_TRAIN_DEFAULTS, setRankerAutoTrain, trainPointValue, type RankerReport } from "@resagent/learned";
import type { CommandModule } from "yargs";
import { stageProgress } from "./train-verifier.js";

interface TrainArgs {
  data?: string;
  out: string;
  epochs: number;
  samples: number;
  seed: number;
  "held-out": number;
  "target-scale": number;
  "base-mask": boolean;
}

/** Train with progress bars per stage (teacher data, encoding, training) on stderr. */
export async function trainRankerWithProgress(options: { data?: string; out: string; epochs?: number; samples?: number; seed?: number; heldOut?: number; targetScale?: number; baseMask?: boolean }): Promise<RankerReport> {
  const progress = stageProgress();
  const report = await trainPointValue({
    data: options.data,
    out: options.out,
    seed: options.seed ?? 0,
    heldOut: options.heldOut ?? 0.2,
    samples: options.samples ?? POINT_VALUE_DEFAULTS.samples,
    model: options.baseMask === false ? { ...RANKER_MODEL_DEFAULTS, features: { ...RANKER_MODEL_DEFAULTS.features, baseMask: false } } : RANKER_MODEL_DEFAULTS,
    train: { ...RANKER_TRAIN_DEFAULTS, epochs: options.epochs ?? RANKER_TRAIN_DEFAULTS.epochs },
    targetScale: options.targetScale ?? RANKER_TARGET_SCALE,
    progress: progress.update,
  });
  progress.finish();
  return report;
}

function summary(r: RankerReport): string {
  const f = (v: number) => v.toFixed(4);
  const lines: string[] = [];
  for (const [pool, rows] of Object.entries(r.heldOut)) {
    for (const x of rows) {
      const ci = x.gapClosedBootstrap95ByImage ? ` [${x.gapClosedBootstrap95ByImage.map((v) => v.toFixed(2)).join(", ")}]` : "";
      lines.push(`held-out ${pool} pool, k=${x.k} (${x.lists} lists): learned ${f(x.learned)} · spiral ${f(x.spiral)} · oracle (UPPER BOUND) ${f(x.oracle)} · random ${f(x.random)}; gap closed ${x.gapClosed === null ? "n/a" : x.gapClosed.toFixed(2)}${ci}; NDCG learned ${x.ndcgLearned.toFixed(3)}${pool === "spiral" ? `, spiral ${x.ndcgSpiral.toFixed(3)}` : ""}`);
    }
  }
  lines.push(`backend ${r.backend.package}@${r.backend.version} (${r.backend.backend}); ${r.seconds.wall.toFixed(0)} s wall, ${r.seconds.cpu.toFixed(0)} s CPU (data ${r.seconds.data.toFixed(0)} s, training ${r.seconds.training.toFixed(0)} s)`);
  lines.push(`written ${r.files.map((f) => join(r.dir, f)).join(", ")}`);
  return lines.join("\n");
}

export const trainPointValueCommand: CommandModule<object, TrainArgs> = {
  command: "train-point-value",
  describe: "Train the learned point-value ranker (tfjs) on gen-point-value data: model, metrics.json (held-out top-k teacher value vs the spiral and the oracle, gap closed, NDCG), plots, provenance",
  builder: (y) =>
    y
      .option("data", { type: "string", describe: "a gen-point-value folder; default: generate the embedded synthref teacher set first (scene seed 1)" })
      .option("out", { type: "string", default: DEFAULT_RANKER_DIR, describe: "where the model and reports go (sampler.rank learned-value reads this folder by default)" })
      .option("samples", { type: "number", default: POINT_VALUE_DEFAULTS.samples, describe: "objects in the embedded teacher set (without --data)" })
      .option("epochs", { type: "number", default: RANKER_TRAIN_DEFAULTS.epochs, describe: "passes over the training candidates" })
      .option("seed", { type: "number", default: 0, describe: "split, initialisation, batch order and symmetries" })
      .option("held-out", { type: "number", default: 0.2, describe: "share of source images held out" })
      .option("target-scale", { type: "number", default: RANKER_TARGET_SCALE, describe: "the model fits min(1, value / scale)" })
      .option("base-mask", { type: "boolean", default: true, describe: "read the decoder's box-only mask (--no-base-mask: the image, box, point and phrase only)" }) as never,
  handler: async (args) => {
    const out = userPath(args.out, "--out");
    // Retraining replaces a ranker; anything else there is refused.
    claimFolder(out, { origin: "--out", kind: "ranker-model" });
    const r = await trainRankerWithProgress({ data: args.data === undefined ? undefined : userPath(args.data, "--data"), out, epochs: args.epochs, samples: args.samples, seed: args.seed, heldOut: args["held-out"], targetScale: args["target-scale"], baseMask: args["base-mask"] });
    console.log(summary(r));
  },
};

/** `sampler.rank: learned-value` trains the default ranker on first use, with these progress bars. */
setRankerAutoTrain(async (dir) => {
  process.stderr.write(`learned-value: no point-value ranker in ${dir}; training the default one first (what \`pnpm train-point-value\` does)\n`);
  const r = await trainRankerWithProgress({ out: dir });
  process.stderr.write(`${summary(r)}\n`);
});
