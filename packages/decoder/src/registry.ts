import { ComponentRegistry } from "@resagent/core";
import { BoxDecoder } from "./box.js";
import { GraphCutDecoder } from "./graphcut.js";
import { BoxParamsSchema, GraphcutParamsSchema, Sam2ParamsSchema, type DecoderConfig } from "./params.js";
import { Sam2OnnxDecoder } from "./sam2/decoder.js";
import type { Decoder } from "./types.js";

export const decoders = new ComponentRegistry<Decoder>("decoder")
  .add("box", { description: "the box as the mask (lower bound)", params: BoxParamsSchema, create: () => new BoxDecoder() })
  .add("graphcut", {
    description: "GrabCut-style graph cut: colour GMMs, point seeds, Boykov–Kolmogorov min-cut (embedded, no weights)",
    params: GraphcutParamsSchema,
    create: (p) => new GraphCutDecoder(p),
  })
  .add("sam2-onnx", {
    description: "SAM2 / SAM2.1 exported to ONNX (samexporter or onnxruntime-tools layout), via onnxruntime-node",
    params: Sam2ParamsSchema,
    create: (p) => new Sam2OnnxDecoder(p),
  });

export const decoderNames = (): string[] => decoders.names();
export const describeDecoders = () => decoders.describe();
/** A decoder by registry name, its parameters checked and completed by its schema; unknown names and parameters fail with the known ones. */
export const createDecoder = (name: string, params: unknown = {}): Decoder => decoders.create(name, params);
/** A decoder from a parsed config (a loaded pipeline's `decoder`). */
export const buildDecoder = (cfg: DecoderConfig): Decoder => decoders.build(cfg.name, cfg.params);
