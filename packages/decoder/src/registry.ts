import { Registry } from "@resagent/core";
import { BoxDecoder } from "./box.js";
import { GRAPHCUT_DEFAULTS, GraphCutDecoder } from "./graphcut.js";
import { SAM2_DEFAULTS, Sam2OnnxDecoder } from "./sam2/decoder.js";
import type { Decoder } from "./types.js";

export const decoders = new Registry<Decoder>("decoder", "decoder")
  .register("box", { description: "the box as the mask (lower bound)", params: [], create: () => new BoxDecoder() })
  .register("graphcut", {
    description: "GrabCut-style graph cut: colour GMMs, point seeds, Boykov–Kolmogorov min-cut (embedded, no weights)",
    params: Object.keys(GRAPHCUT_DEFAULTS),
    create: (p) => new GraphCutDecoder(p),
  })
  .register("sam2-onnx", {
    description: "SAM2 / SAM2.1 exported to ONNX (samexporter or onnxruntime-tools layout), via onnxruntime-node",
    params: Object.keys(SAM2_DEFAULTS),
    create: (p) => new Sam2OnnxDecoder(p),
  });

export const decoderNames = (): string[] => decoders.names();
export const describeDecoders = () => decoders.describe();
export const createDecoder = (name: string, params: Record<string, unknown> = {}): Decoder => decoders.create(name, params);
