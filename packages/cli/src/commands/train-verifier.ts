import { join } from "node:path";
import { claimFolder, userPath } from "@resagent/core";
import { DEFAULT_MODEL_DIR, MODEL_DEFAULTS, TRAIN_DEFAULTS, setAutoTrain, trainVerifier, type TrainReport } from "@resagent/learned";
import type { CommandModule } from "yargs";
import { Progress } from "../progress.js";

interface TrainArgs {
  data?: string;
  out: string;
  epochs: number;
  max?: number;
  seed: number;
  "held-out": number;
  phrase: boolean;
}

/** One progress bar per training stage, each started where its first report says it starts (a resumed generation: what was already done). */
export function stageProgress(): { update: (stage: string, done: number, total: number) => void; finish: () => void } {
  const bars = new Map<string, { bar: Progress; done: number }>();
  let last = "";
  return {
    update: (stage, done, total) => {
      let b = bars.get(stage);
      if (!b) {
        bars.get(last)?.bar.finish();
        bars.set(stage, (b = { bar: new Progress(stage, total, { start: done }), done }));
        last = stage;
      }
      b.bar.tick(done - b.done);
      b.done = done;
    },
    finish: () => bars.get(last)?.bar.finish(),
  };
}

/** Train with progress bars per stage (generation, encoding, training) on stderr. */
export async function trainWithProgress(options: { data?: string; out: string; epochs?: number; max?: number; seed?: number; heldOut?: number; phrase?: boolean }): Promise<TrainReport> {
  const progress = stageProgress();
  const report = await trainVerifier({
    data: options.data,
    out: options.out,
    seed: options.seed ?? 0,
    max: options.max,
    heldOut: options.heldOut ?? 0.2,
    model: options.phrase === false ? { ...MODEL_DEFAULTS, features: { ...MODEL_DEFAULTS.features, phraseBins: 0 } } : MODEL_DEFAULTS,
    train: { ...TRAIN_DEFAULTS, epochs: options.epochs ?? TRAIN_DEFAULTS.epochs },
    progress: progress.update,
  });
  progress.finish();
  return report;
}

function summary(r: TrainReport): string {
  const h = r.heldOut;
  const pct = (v: number) => (100 * v).toFixed(1);
  return [
    `held-out: acc ${pct(h.accuracy)}% [Wilson 95% ${pct(h.accuracyWilson95[0])}–${pct(h.accuracyWilson95[1])}; bootstrap over images ${pct(h.accuracyBootstrap95ByImage[0])}–${pct(h.accuracyBootstrap95ByImage[1])}] P ${pct(h.precision)} R ${pct(h.recall)} F1 ${pct(h.f1)} ECE ${h.ece.toFixed(3)} (n=${h.n})`,
    `train: acc ${pct(r.train.accuracy)}% (n=${r.train.n})`,
    `backend ${r.backend.package}@${r.backend.version} (${r.backend.backend}); ${r.seconds.wall.toFixed(0)} s wall, ${r.seconds.cpu.toFixed(0)} s CPU (data ${r.seconds.data.toFixed(0)} s, training ${r.seconds.training.toFixed(0)} s)`,
    `written ${r.files.map((f) => join(r.dir, f)).join(", ")}`,
  ].join("\n");
}

export const trainVerifierCommand: CommandModule<object, TrainArgs> = {
  command: "train-verifier",
  describe: "Train the learned (tfjs) VBR verifier on gen-vbr data: model, metrics.json (held-out accuracy with intervals, ECE), plots, provenance",
  builder: (y) =>
    y
      .option("data", { type: "string", describe: "a gen-vbr output folder (records.jsonl + images/); default: generate the embedded synthref set first" })
      .option("out", { type: "string", default: DEFAULT_MODEL_DIR, describe: "where the model and reports go (the `learned` backend reads this folder by default)" })
      .option("epochs", { type: "number", default: TRAIN_DEFAULTS.epochs, describe: "passes over the training images" })
      .option("max", { type: "number", describe: "use the first N records only" })
      .option("seed", { type: "number", default: 0, describe: "split, initialisation, batch order and mirroring" })
      .option("held-out", { type: "number", default: 0.2, describe: "share of source images held out" })
      .option("phrase", { type: "boolean", default: true, describe: "read the phrase's words (--no-phrase: the picture, box and marker only, e.g. for gen-vbr folders written before records carried the expression)" }) as never,
  handler: async (args) => {
    const out = userPath(args.out, "--out");
    // A model folder is retrained in place; a run, a gen-vbr set or other files are refused.
    claimFolder(out, { origin: "--out", kind: "verifier-model" });
    const r = await trainWithProgress({ data: args.data === undefined ? undefined : userPath(args.data, "--data"), out, epochs: args.epochs, max: args.max, seed: args.seed, heldOut: args["held-out"], phrase: args.phrase });
    console.log(summary(r));
  },
};

/** The `learned` backend trains the default model on first use, with these progress bars. */
setAutoTrain(async (dir) => {
  process.stderr.write(`learned verifier: no model in ${dir}; training the default one first (what \`pnpm train-verifier\` does; about 15 min of CPU on 2 cores)\n`);
  const r = await trainWithProgress({ out: dir });
  process.stderr.write(`${summary(r)}\n`);
});
