import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import * as ort from "onnxruntime-node";
import { InputError, Lru, sha256, type RgbImage } from "@resagent/core";
import { validatePrompt } from "../prompt.js";
import type { DecodeResult, Decoder, DecoderImage, Prompt } from "../types.js";
import { encodePrompt, preprocessImage, selectMask, upsampleLogits, SAM_SIZE } from "./processing.js";
import { detectStyle, type ExportStyle } from "./styles.js";
import type { Sam2Params } from "../params.js";
import { checkProviderOffered, firstLine, libraryMissing, listOrtProviders, ortVersion, providerLibrary, providerLoadError, type ProviderLister, type Sam2Provider } from "./providers.js";

/** Resolve the encoder/decoder files, or say exactly what is missing. Does not load anything. */
export function locateSam2Files(params: Partial<Sam2Params>): { encoder: string; decoder: string } {
  const dir = params.dir || process.env.RESAGENT_SAM2_DIR || "";
  const find = (explicit: string | undefined, role: "encoder" | "decoder"): string => {
    if (explicit) {
      const path = dir ? resolve(dir, explicit) : resolve(explicit);
      if (!existsSync(path)) throw new InputError(`SAM2 ${role} file not found`, { file: path, field: `decoder.params.${role}` });
      return path;
    }
    if (!dir) {
      throw new InputError(`no SAM2 model folder: set decoder.params.dir or RESAGENT_SAM2_DIR to a folder with the exported encoder and decoder .onnx files (see README, "SAM2 via ONNX")`, { field: "decoder.params.dir" });
    }
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new InputError("SAM2 model folder does not exist", { file: resolve(dir), field: "decoder.params.dir" });
    const hits = readdirSync(dir).filter((f) => f.endsWith(".onnx") && f.toLowerCase().includes(role));
    if (hits.length !== 1) {
      throw new InputError(
        hits.length === 0 ? `no *${role}*.onnx file in the folder (found: ${readdirSync(dir).join(", ") || "nothing"})` : `several *${role}*.onnx files (${hits.join(", ")}); name one with decoder.params.${role}`,
        { file: resolve(dir), field: `decoder.params.${role}` },
      );
    }
    return join(resolve(dir), hits[0]!);
  };
  return { encoder: find(params.encoder, "encoder"), decoder: find(params.decoder, "decoder") };
}

type Features = Record<string, ort.Tensor>;

/** What the decoder asks of onnxruntime-node besides sessions; tests fake a machine's answers. */
export interface Sam2Runtime {
  providers: ProviderLister;
  libraryExists: (path: string) => boolean;
}

/**
 * SAM2 (and SAM2.1 / SAM-style exports with the same prompt interface) over onnxruntime-node.
 * Encodes each image once (LRU by content), decodes many prompts against the cached features.
 */
export class Sam2OnnxDecoder implements Decoder {
  readonly name = "sam2-onnx";
  readonly params: Sam2Params;
  private sessions?: Promise<{ encoder: ort.InferenceSession; decoder: ort.InferenceSession; style: ExportStyle; files: { encoder: string; decoder: string } }>;
  private readonly cache: Lru<Promise<Features>>;
  private readonly counters = { encoderCalls: 0, decoderCalls: 0, cacheHits: 0, preprocessMs: 0, postprocessMs: 0 };
  private readonly source?: { encoder: Uint8Array; decoder: Uint8Array };
  /** What the first decode showed about the export: its style and how many masks it returns. */
  private seen?: { style: ExportStyle["name"]; masks: number };
  /** The provider both sessions were opened on (set once they are). */
  private ranOn?: Sam2Provider;
  private readonly runtime: Sam2Runtime;

  /** `params` as parsed by Sam2ParamsSchema (parseSam2Params, or a loaded config's `decoder.params`); `models` lets tests pass ONNX bytes instead of files; `runtime` lets them fake the provider list. */
  constructor(params: Sam2Params, models?: { encoder: Uint8Array; decoder: Uint8Array }, runtime: Partial<Sam2Runtime> = {}) {
    this.params = params;
    if (models) this.source = models;
    this.runtime = { providers: listOrtProviders, libraryExists: existsSync, ...runtime };
    this.cache = new Lru(params.cacheSize);
  }

  describe(): string {
    const files = this.source ? "in-memory models" : (() => {
      try {
        const f = locateSam2Files(this.params);
        return `${f.encoder} + ${f.decoder}`;
      } catch {
        return "model files not located yet";
      }
    })();
    const seen = this.seen ? `; ${this.seen.style} export, ${maskRule(this.seen.masks, this.params.multimask)}` : "";
    // The provider the sessions run on, once they are open; until then only what was asked.
    const provider = this.ranOn ? `ran on onnxruntime-node ${ortVersion()} ${this.ranOn} provider` : `${this.params.provider} provider requested, sessions not opened yet`;
    return `sam2-onnx (${files}; ${provider}; multimask ${this.params.multimask}${seen})`;
  }

  check(): void {
    if (!this.source) locateSam2Files(this.params);
  }

  stats(): Record<string, number> {
    return { ...this.counters };
  }

  /**
   * One line on the files: the export style, its outputs and how many masks the decoder returns.
   * Starts a clause with "warning:" when the export cannot give SAM2's single-mask output
   * (`multimask_output=False`, what the authors ran): `validate` prints it as a warning.
   */
  async inspect(): Promise<string> {
    const { style, files, decoder } = await this.load();
    const meta = decoder.outputMetadata?.find((m) => m.name === style.lowResOutput);
    const dim = meta?.isTensor ? meta.shape[1] : undefined;
    const masks = typeof dim === "number" ? dim : undefined;
    return `${files.encoder} + ${files.decoder}: ${style.name} export (decoder outputs ${decoder.outputNames.join(", ")}); ${singleMaskNote(masks, this.params.multimask)}`;
  }

  private load() {
    this.sessions ??= (async () => {
      const files = this.source ? { encoder: "<memory>", decoder: "<memory>" } : locateSam2Files(this.params);
      const provider = this.params.provider;
      if (provider !== "cpu") {
        checkProviderOffered(provider, this.runtime.providers);
        // Said before onnxruntime tries (and logs its own multi-line error) when the library is plainly absent.
        const lib = providerLibrary(provider);
        if (lib && !this.runtime.libraryExists(lib)) throw providerLoadError(provider, "encoder", libraryMissing(lib));
      }
      // Only the provider asked for. onnxruntime still runs single nodes the GPU provider has no
      // kernel for on its CPU provider (its own partitioning), but never opens the session without it.
      const opts: ort.InferenceSession.SessionOptions = { executionProviders: [provider] };
      const open = async (what: "encoder" | "decoder") => {
        try {
          return this.source ? await ort.InferenceSession.create(this.source[what], opts) : await ort.InferenceSession.create(files[what], opts);
        } catch (err) {
          if (provider !== "cpu") throw providerLoadError(provider, what, firstLine(err));
          throw new InputError(`onnxruntime cannot load the SAM2 ${what}: ${(err as Error).message.split("\n")[0]}`, { file: files[what] });
        }
      };
      const encoder = await open("encoder");
      const decoder = await open("decoder");
      this.ranOn = provider;
      const style = detectStyle(encoder, decoder, this.params.style === "auto" ? undefined : this.params.style);
      if (typeof style === "string") throw new InputError(style, { file: `${files.encoder}, ${files.decoder}` });
      return { encoder, decoder, style, files };
    })();
    return this.sessions;
  }

  private resizeMode(style: ExportStyle): "stretch" | "letterbox" {
    return this.params.resize === "auto" ? style.resize : this.params.resize;
  }

  private features(input: DecoderImage): Promise<Features> {
    const key = input.key ?? `${input.image.width}x${input.image.height}:${sha256(input.image.data)}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.counters.cacheHits++;
      return hit;
    }
    const p = this.encode(input.image);
    this.cache.set(key, p);
    p.catch(() => this.cache.delete(key));
    return p;
  }

  private async encode(image: RgbImage): Promise<Features> {
    const { encoder, style } = await this.load();
    const t0 = performance.now();
    const pixels = preprocessImage(image, this.resizeMode(style));
    this.counters.preprocessMs += performance.now() - t0;
    this.counters.encoderCalls++;
    const out = await encoder.run({ [style.encoderInput]: new ort.Tensor("float32", pixels, [1, 3, SAM_SIZE, SAM_SIZE]) });
    return Object.fromEntries(style.features.map((f) => [f, out[f]!]));
  }

  async prepare(input: DecoderImage): Promise<void> {
    await this.features(input);
  }

  async segment(input: DecoderImage, prompt: Prompt): Promise<DecodeResult> {
    const { image } = input;
    const p = validatePrompt(image, prompt);
    const feats = await this.features(input);
    const { decoder, style } = await this.load();
    const resize = this.resizeMode(style);
    const t0 = performance.now();
    const pad = this.params.padPoint === "auto" ? style.padPoint : this.params.padPoint === "always";
    const { coords, labels } = encodePrompt(p, image.width, image.height, resize, pad);
    const n = labels.length;
    const d = style.decoderInputs;
    const feeds: Record<string, ort.Tensor> = {
      ...feats,
      [d.coords]: new ort.Tensor("float32", coords, [1, n, 2]),
      [d.labels]: d.labelDtype === "int32" ? new ort.Tensor("int32", Int32Array.from(labels), [1, n]) : new ort.Tensor("float32", Float32Array.from(labels), [1, n]),
      [d.maskInput]: new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]),
      [d.hasMaskInput]: new ort.Tensor("float32", Float32Array.from([0]), [1]),
    };
    if (d.originalSize) feeds[d.originalSize] = new ort.Tensor("int32", Int32Array.from([image.height, image.width]), [2]);
    let pre = performance.now() - t0;
    this.counters.decoderCalls++;
    // No fetch list: onnxruntime-node 1.23 keys fetched outputs by position, not by name.
    const out = await decoder.run(feeds);
    const t1 = performance.now();
    const low = out[style.lowResOutput]!;
    const iou = out[style.iouOutput]!;
    const [, m = 1, lh = 256, lw = 256] = low.dims;
    this.seen ??= { style: style.name, masks: m };
    const logits = low.data as Float32Array;
    const idx = selectMask(logits, iou.data as Float32Array, m, this.params.multimask, this.params.stabilityThreshold, this.params.stabilityDelta);
    const up = upsampleLogits(logits, idx * lw * lh, lw, lh, image.width, image.height, resize);
    const mask = new Uint8Array(up.length);
    for (let k = 0; k < up.length; k++) mask[k] = up[k]! > this.params.maskThreshold ? 1 : 0;
    pre += performance.now() - t1;
    this.counters.postprocessMs += pre;
    const score = Number((iou.data as Float32Array)[idx]);
    return { mask: { width: image.width, height: image.height, data: mask }, score: Math.min(1, Math.max(0, score)) };
  }

  async dispose(): Promise<void> {
    if (!this.sessions) return;
    const s = await this.sessions.catch(() => undefined);
    await s?.encoder.release();
    await s?.decoder.release();
    this.cache.clear();
  }
}

/** Whether an export with `masks` outputs gives SAM2's `multimask_output=False` mask under `mode`. */
export function singleMaskNote(masks: number | undefined, mode: Sam2Params["multimask"]): string {
  if (masks === undefined) return "mask outputs not declared in the file (the summary names them after the first decode)";
  if (masks === 1) return "1 mask output (the export chose inside the graph; ORT's default export is SAM2's multimask_output=False)";
  if (masks === 4) {
    return mode === "stability"
      ? "4 mask outputs (single-mask token + 3 multimask): multimask stability reproduces SAM2's multimask_output=False"
      : `4 mask outputs; warning: multimask ${mode} is not SAM2's multimask_output=False (set decoder.params.multimask: stability)`;
  }
  return `${masks} mask outputs; warning: no single-mask output, so SAM2's multimask_output=False (the authors' setting) cannot be reproduced and the ${mode === "single" ? "first multimask output" : "highest predicted IoU of the multimask outputs"} is used; export with tools/export_sam2_onnx.py for all four masks`;
}

/** How a mask is chosen among an export's M outputs (see selectMask), in words for summaries. */
function maskRule(m: number, mode: Sam2Params["multimask"]): string {
  if (m === 1) return "1 mask output (the export's own choice)";
  if (mode === "single") return `${m} mask outputs, the first taken`;
  if (m === 4 && mode === "stability") return "4 mask outputs, SAM2's stability rule";
  return `${m} mask outputs, the highest predicted IoU taken`;
}
