import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError, decodeImage, sha256 } from "@resagent/core";
import { registerBackend, type BackendConfig, type ChatBackend, type ChatCompletion, type ChatRequest, type QueryContext } from "@resagent/mllm";
import type * as tfjs from "@tensorflow/tfjs";
import type { Box, Point, RgbImage } from "@resagent/core";
import { allocEncoded, encodeView, encodedSizes, pictureOrigin, transformEncoded, type EncodedBuffers, type FeatureSpec, type VbrView } from "./features.js";
import { inputTensors, loadModel } from "./model.js";
import { loadTf, type Tf, type TfInfo } from "./tf.js";
import { LEARNED_MODEL_VERSION } from "./train.js";

/** Where `pnpm train-verifier` writes by default, and where the `learned` backend looks by default. */
export const DEFAULT_MODEL_DIR = "results/train-verifier";

export function defaultModelDir(): string {
  return resolve(process.env.RESAGENT_LEARNED_MODEL ?? DEFAULT_MODEL_DIR);
}

/** What model.json's userDefinedMetadata.resagent carries (written by trainVerifier). */
export interface LearnedModelMeta {
  version: number;
  features: FeatureSpec;
  /** Symmetries of the square averaged over (1: none). */
  symmetries?: number;
  trainedOn: string;
  heldOutAccuracy: number;
  heldOutN: number;
  seed: number;
  backend: string;
  gitCommit: string;
}

/** A model folder's model.json (parsed) and a hash of its files (a model's identity), or undefined when it has none. */
export function readModelFolder(dir: string): { file: string; userDefinedMetadata: Record<string, unknown> | undefined; hash: string } | undefined {
  const file = join(dir, "model.json");
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  let json: { userDefinedMetadata?: Record<string, unknown> };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (err) {
    throw new InputError(`not JSON: ${(err as Error).message}`, { file });
  }
  const weights = existsSync(join(dir, "weights.bin")) ? readFileSync(join(dir, "weights.bin")) : Buffer.alloc(0);
  return { file, userDefinedMetadata: json.userDefinedMetadata, hash: sha256(Buffer.concat([Buffer.from(text), weights])).slice(0, 16) };
}

/** Read a model folder's metadata and a hash of its files (the backend's identity), or undefined when absent. */
export function readModelMeta(dir: string): { meta: LearnedModelMeta; hash: string } | undefined {
  const folder = readModelFolder(dir);
  if (!folder) return undefined;
  const { file } = folder;
  const meta = folder.userDefinedMetadata?.resagent as (LearnedModelMeta & { kind?: string }) | undefined;
  if (meta?.kind === "point-value") throw new InputError("this is a point-value ranker (sampler.rank learned-value), not a verifier; train a verifier with `pnpm train-verifier`", { file });
  if (!meta || typeof meta.features?.size !== "number") throw new InputError("not a learned verifier model (no userDefinedMetadata.resagent); train one with `pnpm train-verifier`", { file });
  if (meta.version !== LEARNED_MODEL_VERSION) throw new InputError(`model version ${meta.version}, this harness reads ${LEARNED_MODEL_VERSION}; retrain with \`pnpm train-verifier --out ${dir}\``, { file });
  return { meta, hash: folder.hash };
}

/** Trains the default model when the default folder has none (set by the CLI: it owns the progress bar). */
export type AutoTrain = (dir: string) => Promise<void>;
let autoTrain: AutoTrain | undefined;
export function setAutoTrain(f: AutoTrain | undefined): void {
  autoTrain = f;
}

/**
 * The learned verifier as an MLLM backend: it answers single-marker VBR questions ("is the
 * marker on the referred object") from the trained tfjs model, as a first token with yes/no
 * top-logprobs, so Eq. 6 aggregation and τ work unchanged. It looks at the picture the verifier
 * renders, the box the candidates came from, the marker position and the phrase's words (a bag of
 * hashed words, not their order). It is a
 * learned model, not a simulation (`simulated: false`), but trained on whatever data its
 * metadata names (by default synthref's simulated scenes), and its description says so.
 */
export class LearnedVerifierBackend implements ChatBackend {
  readonly name = "learned";
  readonly simulated = false;
  readonly needsImages = true;
  private model?: Promise<{ tf: Tf; info: TfInfo; model: tfjs.LayersModel; meta: LearnedModelMeta }>;
  private loadedInfo?: TfInfo;
  private queries = 0;
  private known: { meta: LearnedModelMeta; hash: string } | undefined;

  constructor(readonly modelDir: string) {
    this.known = readModelMeta(modelDir);
  }

  get identity(): string {
    return `learned:${this.known?.hash ?? `untrained:${this.modelDir}`}`;
  }

  describe(): string {
    const m = this.known?.meta;
    const trained = m ? `trained on ${m.trainedOn}, held-out acc ${(100 * m.heldOutAccuracy).toFixed(1)}% (n=${m.heldOutN}), seed ${m.seed}` : "not trained yet";
    const backend = this.loadedInfo ? `; ${this.loadedInfo.package}@${this.loadedInfo.version} (${this.loadedInfo.backend})` : "";
    return `learned (tfjs) VBR verifier, ${trained}; sees the marker picture, the box, the marker position${m && m.features.phraseBins > 0 ? " and the phrase's words" : ", not the phrase"}; ${this.modelDir}${backend}`;
  }

  stats(): Record<string, number> {
    return { learnedQueries: this.queries };
  }

  private load() {
    this.model ??= (async () => {
      if (!this.known) {
        const isDefault = this.modelDir === defaultModelDir();
        if (!isDefault || !autoTrain) {
          throw new InputError(`no trained verifier here; train it with \`pnpm train-verifier${isDefault ? "" : ` --out ${this.modelDir}`}\` (about 15 min of CPU on 2 cores)`, { file: this.modelDir });
        }
        await autoTrain(this.modelDir);
        this.known = readModelMeta(this.modelDir);
        if (!this.known) throw new InputError("training finished but wrote no model", { file: this.modelDir });
      }
      const { tf, info } = await loadTf();
      this.loadedInfo = info;
      return { tf, info, model: await loadModel(tf, this.modelDir), meta: this.known.meta };
    })();
    return this.model;
  }

  async complete(request: ChatRequest, context: QueryContext): Promise<ChatCompletion> {
    const t0 = performance.now();
    if (context.kind !== "verify") throw new InputError("the learned backend is a point verifier; ground boxes with another backend (pipeline.mllm)", { field: "pipeline.mllm.backend" });
    if (context.format !== "vbr") throw new InputError(`the learned verifier answers single-marker VBR questions only, not "${context.format ?? "?"}"`, { field: "pipeline.verifier.format" });
    const point = context.points?.[0];
    const box = context.box;
    if (!point || context.points!.length !== 1 || !box) throw new InputError("a VBR query needs one marker position and the box (QueryContext.points, .box)", { field: `sample ${context.sampleId}` });
    const part = request.content.find((p) => p.type === "image");
    if (!part) throw new InputError("a VBR query needs the marker picture", { field: `sample ${context.sampleId}` });
    const { tf, model, meta } = await this.load();
    const picture = await decodeImage(await part.render(), `marker picture of ${context.sampleId}`);
    const T = Math.max(1, Math.min(8, meta.symmetries ?? 1));
    if (meta.features.phraseBins > 0 && context.expression === undefined) throw new InputError("this learned verifier reads the phrase, but the query carries none (QueryContext.expression)", { field: `sample ${context.sampleId}` });
    const buf = encodeQuery({ picture, width: context.imageWidth, height: context.imageHeight, box, point, expression: context.expression }, meta.features, T);
    // The same view under T symmetries of the square, averaged, as the held-out metrics were measured.
    const p = tf.tidy(() => {
      const out = (model.predict(inputTensors(tf, buf, meta.features, T)) as tfjs.Tensor).dataSync();
      return Array.from(out).reduce((a, b) => a + b, 0) / T;
    });
    this.queries++;
    const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
    const yes = { token: "yes", logprob: Math.log(q) };
    const no = { token: "no", logprob: Math.log(1 - q) };
    return { text: q >= 0.5 ? "yes" : "no", firstTokenTopLogprobs: q >= 0.5 ? [yes, no] : [no, yes], cached: false, latencyMs: performance.now() - t0 };
  }
}

/**
 * Encode a VBR query as the backend does: the picture's place in the image recovered from its
 * size (see pictureOrigin), then example t of the result is the view under symmetry t (t < T).
 * Training encodes gen-vbr records with encodeExamples; both must give the same numbers (tested).
 */
export function encodeQuery(q: { picture: RgbImage; width: number; height: number; box: Box; point: Point; expression?: string }, spec: FeatureSpec, symmetries = 1): EncodedBuffers {
  const origin = pictureOrigin(q.picture.width, q.picture.height, q.width, q.height, q.box, q.point);
  const buf = allocEncoded(spec, symmetries);
  encodeSymmetric({ ...q, origin }, spec, symmetries, buf, 0);
  return buf;
}

/**
 * Encode a view as examples `index` .. `index + symmetries - 1` of `buf`: the view itself, then
 * the view under symmetries 1 .. symmetries - 1 of the square (what a model averages over).
 */
export function encodeSymmetric(view: VbrView, spec: FeatureSpec, symmetries: number, buf: EncodedBuffers, index: number): void {
  encodeView(view, spec, buf, index);
  const z = encodedSizes(spec);
  for (let t = 1; t < symmetries; t++) {
    buf.grid.copyWithin((index + t) * z.grid, index * z.grid, (index + 1) * z.grid);
    buf.patch.copyWithin((index + t) * z.patch, index * z.patch, (index + 1) * z.patch);
    buf.scalars.copyWithin((index + t) * z.scalars, index * z.scalars, (index + 1) * z.scalars);
    buf.phrase.copyWithin((index + t) * z.phrase, index * z.phrase, (index + 1) * z.phrase);
    transformEncoded(buf, spec, t, index + t);
  }
}

/** Register `learned` with the MLLM backend registry (done when this package is imported). */
export function registerLearnedBackend(): void {
  registerBackend({
    name: "learned",
    description: "learned (tfjs) VBR verifier trained by `pnpm train-verifier` (modelDir: its folder)",
    create: (cfg) => new LearnedVerifierBackend(resolve((cfg.backend === "learned" ? (cfg as Extract<BackendConfig, { backend: "learned" }>).modelDir : undefined) ?? defaultModelDir())),
    uncached: true,
  });
}
