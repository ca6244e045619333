import { resolve } from "node:path";
import { InputError, type Point } from "@resagent/core";
import { registerValueScorer, type PointValueScorer, type ValueContext } from "@resagent/sampler";
import type * as tfjs from "@tensorflow/tfjs";
import { encodeSymmetric, readModelFolder } from "./backend.js";
import { allocEncoded } from "./features.js";
import { inputTensors, loadModel } from "./model.js";
import { POINT_VALUE_MODEL_VERSION, type RankerModelMeta } from "./ranker.js";
import { loadTf, type Tf, type TfInfo } from "./tf.js";

/** Where `pnpm train-point-value` writes by default, and where `sampler.rank: learned-value` looks by default. */
export const DEFAULT_RANKER_DIR = "results/train-point-value";

export function defaultRankerDir(): string {
  return resolve(process.env.RESAGENT_POINT_VALUE_MODEL ?? DEFAULT_RANKER_DIR);
}

/** A ranker folder's metadata and a hash of its files (its identity), or undefined when it has no model. */
export function readRankerMeta(dir: string): { meta: RankerModelMeta; hash: string } | undefined {
  const folder = readModelFolder(dir);
  if (!folder) return undefined;
  const meta = folder.userDefinedMetadata?.resagent as RankerModelMeta | undefined;
  if (meta?.kind !== "point-value") throw new InputError("not a point-value ranker (userDefinedMetadata.resagent.kind is not point-value); train one with `pnpm train-point-value`", { file: folder.file });
  if (meta.version !== POINT_VALUE_MODEL_VERSION) throw new InputError(`ranker version ${meta.version}, this harness reads ${POINT_VALUE_MODEL_VERSION}; retrain with \`pnpm train-point-value --out ${dir}\``, { file: folder.file });
  return { meta, hash: folder.hash };
}

/** Trains the default ranker when its folder has none (set by the CLI: it owns the progress bars). */
export type RankerAutoTrain = (dir: string) => Promise<void>;
let autoTrain: RankerAutoTrain | undefined;
export function setRankerAutoTrain(f: RankerAutoTrain | undefined): void {
  autoTrain = f;
}

/**
 * `sampler.rank: learned-value`: the point-value ranker of `pnpm train-point-value` scores each
 * pool point from what the pipeline has before asking (the image around the box and the point,
 * the point's place in the box, the phrase's words, the decoder's box-only mask), averaged over
 * the symmetries of the square as its held-out metrics were measured. No gold is read.
 */
export class LearnedValueScorer implements PointValueScorer {
  readonly name = "learned-value";
  readonly upperBound = false;
  private known: { meta: RankerModelMeta; hash: string } | undefined;
  private model?: Promise<{ tf: Tf; info: TfInfo; model: tfjs.LayersModel; meta: RankerModelMeta }>;
  private loadedInfo?: TfInfo;
  private points = 0;

  constructor(readonly modelDir: string) {
    this.known = readRankerMeta(modelDir);
  }

  describe(): string {
    const m = this.known?.meta;
    const trained = m
      ? `trained on ${m.trainedOn} with ${m.decoder.split(" (")[0]} values, held-out gap closed at k=${m.heldOutGapClosed.k} ${fmt(m.heldOutGapClosed.spiral)} (spiral pool) / ${fmt(m.heldOutGapClosed.random)} (random pool) on ${m.heldOutImages} images, seed ${m.seed}, model ${this.known!.hash}`
      : "not trained yet";
    const backend = this.loadedInfo ? `; ${this.loadedInfo.package}@${this.loadedInfo.version} (${this.loadedInfo.backend})` : "";
    return `learned-value (tfjs point-value ranker, ${trained}; sees the image around the box and the point, its place in the box, the phrase's words${m?.features.baseMask ? ", the decoder's box-only mask" : ""}; ${this.modelDir}${backend})`;
  }

  stats(): Record<string, number> {
    return { learnedValuePoints: this.points };
  }

  private load() {
    this.model ??= (async () => {
      if (!this.known) {
        const isDefault = this.modelDir === defaultRankerDir();
        if (!isDefault || !autoTrain) throw new InputError(`no trained point-value ranker here; train it with \`pnpm train-point-value${isDefault ? "" : ` --out ${this.modelDir}`}\``, { file: this.modelDir });
        await autoTrain(this.modelDir);
        this.known = readRankerMeta(this.modelDir);
        if (!this.known) throw new InputError("training finished but wrote no model", { file: this.modelDir });
      }
      const { tf, info } = await loadTf();
      this.loadedInfo = info;
      return { tf, info, model: await loadModel(tf, this.modelDir), meta: this.known.meta };
    })();
    return this.model;
  }

  async score(points: readonly Point[], ctx: ValueContext): Promise<number[]> {
    if (points.length === 0) return [];
    const { tf, model, meta } = await this.load();
    const spec = meta.features;
    const T = Math.max(1, Math.min(8, meta.symmetries));
    const mask = spec.baseMask ? await ctx.boxOnlyMask() : undefined;
    const buf = allocEncoded(spec, points.length * T);
    points.forEach((point, i) =>
      encodeSymmetric({ picture: ctx.image, origin: { x: 0, y: 0 }, width: ctx.image.width, height: ctx.image.height, box: ctx.box, point, expression: ctx.expression, ...(mask ? { mask } : {}) }, spec, T, buf, i * T),
    );
    const p = tf.tidy(() => (model.predict(inputTensors(tf, buf, spec, points.length * T)) as tfjs.Tensor).dataSync());
    this.points += points.length;
    return points.map((_, i) => {
      let s = 0;
      for (let t = 0; t < T; t++) s += p[i * T + t]!;
      return s / T;
    });
  }
}

const fmt = (v: number | null) => (v === null ? "n/a" : v.toFixed(2));

/** Register `learned-value` with the sampler's point rankings (done when this package is imported). */
export function registerLearnedValueScorer(): void {
  registerValueScorer("learned-value", {
    description: "tfjs point-value ranker trained by `pnpm train-point-value` on gen-point-value teacher data (modelDir: its folder)",
    create: ({ modelDir }) => new LearnedValueScorer(resolve(modelDir ?? defaultRankerDir())),
  });
}
