import { InputError, suggest } from "@resagent/core";
import { BoxDecoder } from "./box.js";
import { GRAPHCUT_DEFAULTS, GraphCutDecoder } from "./graphcut.js";
import { SAM2_DEFAULTS, Sam2OnnxDecoder } from "./sam2/decoder.js";
import type { Decoder } from "./types.js";

interface DecoderEntry {
  description: string;
  params: readonly string[];
  create(params: Record<string, unknown>): Decoder;
}

const DECODERS: Record<string, DecoderEntry> = {
  box: { description: "the box as the mask (lower bound)", params: [], create: () => new BoxDecoder() },
  graphcut: {
    description: "GrabCut-style graph cut: colour GMMs, point seeds, Boykov–Kolmogorov min-cut (embedded, no weights)",
    params: Object.keys(GRAPHCUT_DEFAULTS),
    create: (p) => new GraphCutDecoder(p),
  },
  "sam2-onnx": {
    description: "SAM2 / SAM2.1 exported to ONNX (samexporter or onnxruntime-tools layout), via onnxruntime-node",
    params: Object.keys(SAM2_DEFAULTS),
    create: (p) => new Sam2OnnxDecoder(p),
  },
};

/** Add a decoder to the registry (the SAM2 module registers itself this way). */
export function registerDecoder(name: string, entry: DecoderEntry): void {
  DECODERS[name] = entry;
}

export function decoderNames(): string[] {
  return Object.keys(DECODERS);
}

export function describeDecoders(): { name: string; description: string; params: readonly string[] }[] {
  return Object.entries(DECODERS).map(([name, e]) => ({ name, description: e.description, params: e.params }));
}

export function createDecoder(name: string, params: Record<string, unknown> = {}): Decoder {
  const entry = DECODERS[name];
  if (!entry) throw new InputError(`unknown decoder "${name}"; ${suggest(name, decoderNames())}`, { field: "decoder.name" });
  for (const key of Object.keys(params)) {
    if (!entry.params.includes(key)) throw new InputError(`decoder "${name}" has no parameter "${key}"; ${suggest(key, entry.params)}`, { field: `decoder.params.${key}` });
  }
  return entry.create(params);
}
