/**
 * Tiny SAM2-shaped ONNX graphs, built in code, with the real input/output names, dtypes and
 * shapes of the supported export styles. They let tests (and the bench) run the whole
 * onnxruntime path without weights. What they compute is chosen so tests can check our
 * pre/post-processing:
 * - the encoder average-pools the normalised image; feature channel 0 is the normalised red channel;
 * - decoder mask m = s_m · (red feature at 256²) with s = (+1, −1, +1), so mask 0 and 2 are "red
 *   is above its mean" and mask 1 is the inverse;
 * - iou_predictions = x-coordinates (model space) of the first three prompt points / 1024, so the
 *   multimask choice can be steered through the prompt.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type Dim = number | string;

function valueInfo(name: string, elemType: number, dims: Dim[]) {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function tensor(name: string, dims: number[], values: number[] | Float32Array) {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: Array.from(values) };
}

function int64(name: string, values: number[]) {
  return { name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, int64Data: values };
}

function node(opType: string, inputs: string[], outputs: string[], attrs: Record<string, number | number[]> = {}) {
  return {
    opType,
    input: inputs,
    output: outputs,
    attribute: Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v) ? { name, ints: v, type: onnx.AttributeProto.AttributeType.INTS } : { name, i: v, type: onnx.AttributeProto.AttributeType.INT },
    ),
  };
}

function model(graph: object): Uint8Array {
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: "", version: 17 }], producerName: "resagent-tests", graph }).finish();
}

/** 1x1 conv weights [out, 3, 1, 1] that copy input channel 0 into every output channel. */
function copyRed(out: number): Float32Array {
  const w = new Float32Array(out * 3);
  for (let o = 0; o < out; o++) w[o * 3] = 1;
  return w;
}

export type TinyStyle = "samexporter" | "ort" | "resagent";

const NAMES = {
  samexporter: { image: "image", f0: "high_res_feats_0", f1: "high_res_feats_1", emb: "image_embed" },
  ort: { image: "image", f0: "image_features_0", f1: "image_features_1", emb: "image_embeddings" },
  // tools/export_sam2_onnx.py: samexporter's encoder and decoder inputs, its own decoder outputs.
  resagent: { image: "image", f0: "high_res_feats_0", f1: "high_res_feats_1", emb: "image_embed" },
} as const;

export function tinyEncoder(style: TinyStyle): Uint8Array {
  const n = NAMES[style];
  const F = onnx.TensorProto.DataType.FLOAT;
  return model({
    name: `tiny-sam2-encoder-${style}`,
    input: [valueInfo(n.image, F, [1, 3, 1024, 1024])],
    output: [valueInfo(n.f0, F, [1, 32, 256, 256]), valueInfo(n.f1, F, [1, 64, 128, 128]), valueInfo(n.emb, F, [1, 256, 64, 64])],
    initializer: [tensor("w32", [32, 3, 1, 1], copyRed(32)), tensor("w64", [64, 3, 1, 1], copyRed(64)), tensor("w256", [256, 3, 1, 1], copyRed(256))],
    node: [
      node("AveragePool", [n.image], ["p4"], { kernel_shape: [4, 4], strides: [4, 4] }),
      node("AveragePool", [n.image], ["p8"], { kernel_shape: [8, 8], strides: [8, 8] }),
      node("AveragePool", [n.image], ["p16"], { kernel_shape: [16, 16], strides: [16, 16] }),
      node("Conv", ["p4", "w32"], [n.f0]),
      node("Conv", ["p8", "w64"], [n.f1]),
      node("Conv", ["p16", "w256"], [n.emb]),
    ],
  });
}

/**
 * `masks` outputs: 3 (multimask tokens), 4 (single + multimask) or 1. The resagent style (our
 * export) always has 4, named all_low_res_masks / all_iou_predictions.
 */
export function tinyDecoder(style: TinyStyle, masks: 1 | 3 | 4 = style === "resagent" ? 4 : 3): Uint8Array {
  const n = NAMES[style];
  const F = onnx.TensorProto.DataType.FLOAT;
  const I32 = onnx.TensorProto.DataType.INT32;
  const signs = [1, -1, 1, -1].slice(0, masks);
  const w = new Float32Array(masks * 32);
  signs.forEach((s, m) => (w[m * 32] = s));
  const common = [
    tensor("wm", [masks, 32, 1, 1], w),
    int64("starts", [0, 0, 0]),
    int64("ends", [1_000_000, masks === 4 ? 3 : masks, 1]),
    int64("axis2", [2]),
    tensor("scale", [], [1 / 1024]),
  ];
  const body = [
    // masks from the image: [1, M, 256, 256], broadcast over prompts by Expand to [L, M, 256, 256]
    node("Conv", [n.f0, "wm"], ["m1"]),
    node("Shape", ["point_coords"], ["pc_shape"]),
    node("Slice", ["pc_shape", "zero1", "one1"], ["L"]),
    node("Concat", ["L", "mshape_tail"], ["mshape"], { axis: 0 }),
    node("Expand", ["m1", "mshape"], ["low"]),
    // iou: x of the first points, scaled to [0, 1]; three (0, 0) points appended first so a
    // box-only prompt (2 points) still yields one value per mask, as a real decoder does
    node("Concat", ["L", "zpts_tail"], ["zshape"], { axis: 0 }),
    node("Expand", ["zpts", "zshape"], ["zp"]),
    node("Concat", ["point_coords", "zp"], ["pc_padded"], { axis: 1 }),
    node("Slice", ["pc_padded", "starts", "ends"], ["xs3"]),
    node("Squeeze", ["xs3", "axis2"], ["xs"]),
    node("Mul", ["xs", "scale"], ["iou_raw"]),
  ];
  const shapeInit = [int64("zero1", [0]), int64("one1", [1]), int64("mshape_tail", [masks, 256, 256]), int64("zpts_tail", [3, 2]), tensor("zpts", [1, 3, 2], new Float32Array(6))];
  if (masks === 4) {
    // 4 outputs need 4 iou values: prepend 0.5 for the single-mask token
    body.push(node("Shape", ["iou_raw"], ["iou_shape"]), node("Slice", ["iou_shape", "zero1", "one1"], ["L2"]), node("Concat", ["L2", "one1"], ["pad_shape"], { axis: 0 }), node("Expand", ["half", "pad_shape"], ["pad"]), node("Concat", ["pad", "iou_raw"], ["iou_out"], { axis: 1 }));
    common.push(tensor("half", [], [0.5]));
  } else body.push(node("Identity", ["iou_raw"], ["iou_out"]));
  if (style === "samexporter" || style === "resagent") {
    const [lowName, iouName] = style === "resagent" ? ["all_low_res_masks", "all_iou_predictions"] : ["masks", "iou_predictions"];
    return model({
      name: `tiny-sam2-decoder-${style}`,
      input: [
        valueInfo(n.emb, F, [1, 256, 64, 64]),
        valueInfo(n.f0, F, [1, 32, 256, 256]),
        valueInfo(n.f1, F, [1, 64, 128, 128]),
        valueInfo("point_coords", F, ["num_labels", "num_points", 2]),
        valueInfo("point_labels", F, ["num_labels", "num_points"]),
        valueInfo("mask_input", F, ["num_labels", 1, 256, 256]),
        valueInfo("has_mask_input", F, ["num_labels"]),
      ],
      output: [valueInfo(lowName, F, ["num_labels", masks, 256, 256]), valueInfo(iouName, F, ["num_labels", masks])],
      initializer: [...common, ...shapeInit],
      node: [...body, node("Identity", ["low"], [lowName]), node("Identity", ["iou_out"], [iouName])],
    });
  }
  const B = onnx.TensorProto.DataType.BOOL;
  return model({
    name: "tiny-sam2-decoder-ort",
    input: [
      valueInfo(n.f0, F, [1, 32, 256, 256]),
      valueInfo(n.f1, F, [1, 64, 128, 128]),
      valueInfo(n.emb, F, [1, 256, 64, 64]),
      valueInfo("point_coords", F, ["num_labels", "num_points", 2]),
      valueInfo("point_labels", I32, ["num_labels", "num_points"]),
      valueInfo("input_masks", F, ["num_labels", 1, 256, 256]),
      valueInfo("has_input_masks", F, ["num_labels"]),
      valueInfo("original_image_size", I32, [2]),
    ],
    output: [valueInfo("masks", B, ["num_labels", masks, 256, 256]), valueInfo("iou_predictions", F, ["num_labels", masks]), valueInfo("low_res_masks", F, ["num_labels", masks, 256, 256])],
    initializer: [...common, ...shapeInit, tensor("zero", [], [0])],
    node: [...body, node("Greater", ["low", "zero"], ["masks"]), node("Identity", ["iou_out"], ["iou_predictions"]), node("Identity", ["low"], ["low_res_masks"])],
  });
}
