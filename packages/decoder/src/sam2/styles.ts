/**
 * The SAM2 ONNX export layouts we know (REFERENCE §5). Names and dtypes are read from the
 * session and matched against these; nothing is assumed about a file we have not inspected.
 */
export type LabelDtype = "float32" | "int32";

export interface ExportStyle {
  name: "samexporter" | "ort" | "resagent";
  description: string;
  encoderInput: string;
  /** Encoder outputs, fed to the decoder under the same names. */
  features: readonly string[];
  decoderInputs: {
    coords: string;
    labels: string;
    labelDtype: LabelDtype;
    maskInput: string;
    hasMaskInput: string;
    /** int32 [2] original (h, w), when the export wants it. */
    originalSize?: string;
  };
  /** Output holding low-resolution (256²) logits, and the IoU predictions. */
  lowResOutput: string;
  iouOutput: string;
  /** Whether the client appends a padding point (label −1) after the clicks. */
  padPoint: boolean;
  resize: "stretch" | "letterbox";
}

export const STYLES: readonly ExportStyle[] = [
  {
    name: "samexporter",
    description: "samexporter-style export (image -> high_res_feats_0/1, image_embed; float labels; low-res masks out)",
    encoderInput: "image",
    features: ["high_res_feats_0", "high_res_feats_1", "image_embed"],
    decoderInputs: { coords: "point_coords", labels: "point_labels", labelDtype: "float32", maskInput: "mask_input", hasMaskInput: "has_mask_input" },
    lowResOutput: "masks",
    iouOutput: "iou_predictions",
    // SAM2's predictor folds the box into the points and its prompt encoder then appends one
    // padding point; both exports do that append inside the graph (`_embed_points` concatenates
    // a (0, 0) / −1 point), so the client must not add another.
    padPoint: false,
    resize: "stretch",
  },
  {
    name: "ort",
    description: "onnxruntime transformers-tools export (image -> image_features_0/1, image_embeddings; int32 labels; original_image_size; low_res_masks out)",
    encoderInput: "image",
    features: ["image_features_0", "image_features_1", "image_embeddings"],
    decoderInputs: {
      coords: "point_coords",
      labels: "point_labels",
      labelDtype: "int32",
      maskInput: "input_masks",
      hasMaskInput: "has_input_masks",
      originalSize: "original_image_size",
    },
    lowResOutput: "low_res_masks",
    iouOutput: "iou_predictions",
    padPoint: false,
    resize: "stretch",
  },
  {
    // tools/export_sam2_onnx.py: samexporter's inputs, but every mask SAM2's decoder computes (the
    // single-mask token's and the three multimask ones) with their predicted IoUs, unclamped, so
    // the client applies SAM2's own choice: `multimask: stability` is `multimask_output=False`.
    name: "resagent",
    description: "tools/export_sam2_onnx.py export (image -> high_res_feats_0/1, image_embed; float labels; all four low-res masks and IoUs out)",
    encoderInput: "image",
    features: ["high_res_feats_0", "high_res_feats_1", "image_embed"],
    decoderInputs: { coords: "point_coords", labels: "point_labels", labelDtype: "float32", maskInput: "mask_input", hasMaskInput: "has_mask_input" },
    lowResOutput: "all_low_res_masks",
    iouOutput: "all_iou_predictions",
    padPoint: false,
    resize: "stretch",
  },
];

export function decoderInputNames(s: ExportStyle): string[] {
  const d = s.decoderInputs;
  return [...s.features, d.coords, d.labels, d.maskInput, d.hasMaskInput, ...(d.originalSize ? [d.originalSize] : [])];
}

/** The style whose names a session pair has, or a message listing what each file has and each style wants. */
export function detectStyle(
  encoder: { inputNames: readonly string[]; outputNames: readonly string[] },
  decoder: { inputNames: readonly string[]; outputNames: readonly string[] },
  wanted?: ExportStyle["name"],
): ExportStyle | string {
  const candidates = wanted ? STYLES.filter((s) => s.name === wanted) : STYLES;
  for (const s of candidates) {
    const ok =
      encoder.inputNames.includes(s.encoderInput) &&
      s.features.every((f) => encoder.outputNames.includes(f)) &&
      decoderInputNames(s).every((n) => decoder.inputNames.includes(n)) &&
      decoder.outputNames.includes(s.lowResOutput) &&
      decoder.outputNames.includes(s.iouOutput);
    if (ok) return s;
  }
  const lines = [
    `encoder has inputs [${encoder.inputNames.join(", ")}], outputs [${encoder.outputNames.join(", ")}]`,
    `decoder has inputs [${decoder.inputNames.join(", ")}], outputs [${decoder.outputNames.join(", ")}]`,
    ...candidates.map((s) => {
      const missing = [
        ...(encoder.inputNames.includes(s.encoderInput) ? [] : [`encoder input ${s.encoderInput}`]),
        ...s.features.filter((f) => !encoder.outputNames.includes(f)).map((f) => `encoder output ${f}`),
        ...decoderInputNames(s).filter((n) => !decoder.inputNames.includes(n)).map((n) => `decoder input ${n}`),
        ...[s.lowResOutput, s.iouOutput].filter((n) => !decoder.outputNames.includes(n)).map((n) => `decoder output ${n}`),
      ];
      return `  ${s.name}: missing ${missing.join(", ")}`;
    }),
  ];
  return `the ONNX files match no known SAM2 export:\n${lines.join("\n")}`;
}
