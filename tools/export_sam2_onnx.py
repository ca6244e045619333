#!/usr/bin/env python3
"""Export SAM2 or SAM2.1 to ONNX for resagent's `sam2-onnx` decoder, with ALL FOUR masks.

Why: the authors decode with SAM2.1 hiera b+ and `predict(multimask_output=False)`. SAM2's mask
decoder computes four masks (the single-mask token's and three multimask ones) with a predicted IoU
each; with `multimask_output=False` the predictor keeps mask 0 unless its stability score is below
0.98, then the best of masks 1-3 by predicted IoU (`MaskDecoder._dynamic_multimask_via_stability`,
thresholds set by `build_sam2(..., apply_postprocessing=True)`). samexporter's export keeps masks 1-3
only (it hard-codes `multimask_output=True`), so that choice cannot be made on its files; the
onnxruntime tools export makes it inside the graph but only knows SAM2, not SAM2.1. This script
exports every SAM2 / SAM2.1 config with all four low-resolution mask logits (unclamped) and their
predicted IoUs, so the harness applies SAM2's own rule (`decoder.params.multimask: stability`, the
default) and gets the mask `multimask_output=False` gives.

Needs torch, the `sam2` package (facebookresearch/sam2, installed with `pip install -e .`) and a
checkpoint. Run with `--check` (the default), it compares the ONNX files, through Python's
onnxruntime, with `SAM2ImagePredictor.predict(multimask_output=False)` on random prompts and fails
loudly if they disagree. tools/sam2_export_check.py runs this script unchanged on randomly
initialised SAM2.1 tiny and base-plus (Debian's torch 1.13, version gaps shimmed there) and
packages/decoder/src/sam2/export.test.ts compares the harness's decoder on the files with PyTorch.

Layout (the "resagent" export style of packages/decoder/src/sam2/styles.ts):
  <name>.encoder.onnx  image f32[1,3,1024,1024] (RGB/255, ImageNet mean/std, stretched to 1024x1024)
                       -> high_res_feats_0 f32[1,32,256,256], high_res_feats_1 f32[1,64,128,128],
                          image_embed f32[1,256,64,64]
  <name>.decoder.onnx  image_embed, high_res_feats_0, high_res_feats_1,
                       point_coords f32[L,N,2] (1024-space pixels; box corners first, labels 2, 3),
                       point_labels f32[L,N] (1 positive, 0 negative, 2/3 box corners; SAM2's
                       padding point is appended inside the graph), mask_input f32[L,1,256,256],
                       has_mask_input f32[L]
                       -> all_low_res_masks f32[L,4,256,256] (logits, unclamped),
                          all_iou_predictions f32[L,4]

Usage:
  python tools/export_sam2_onnx.py --model sam2.1_hiera_base_plus \
      --checkpoint checkpoints/sam2.1_hiera_base_plus.pt --out sam2.1-b+
  python tools/export_sam2_onnx.py --config configs/sam2.1/sam2.1_hiera_l.yaml \
      --checkpoint my-coco-adapted.pt --out sam2.1-l-adapted --name sam2.1-l-adapted
Then: RESAGENT_SAM2_DIR=sam2.1-b+ pnpm resagent validate table4 --profile real
"""

import argparse
import inspect
import os
import sys

# Config of each released checkpoint, as sam2/build_sam.py's HF_MODEL_ID_TO_FILENAMES names them.
MODELS = {
    "sam2_hiera_tiny": "configs/sam2/sam2_hiera_t.yaml",
    "sam2_hiera_small": "configs/sam2/sam2_hiera_s.yaml",
    "sam2_hiera_base_plus": "configs/sam2/sam2_hiera_b+.yaml",
    "sam2_hiera_large": "configs/sam2/sam2_hiera_l.yaml",
    "sam2.1_hiera_tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "sam2.1_hiera_small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "sam2.1_hiera_base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "sam2.1_hiera_large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}

ENCODER_OUTPUTS = ["high_res_feats_0", "high_res_feats_1", "image_embed"]
DECODER_INPUTS = ["image_embed", "high_res_feats_0", "high_res_feats_1", "point_coords", "point_labels", "mask_input", "has_mask_input"]
DECODER_OUTPUTS = ["all_low_res_masks", "all_iou_predictions"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", choices=sorted(MODELS), help="a released checkpoint's name (picks its config)")
    which.add_argument("--config", help="a sam2 config name, e.g. configs/sam2.1/sam2.1_hiera_b+.yaml (for fine-tuned checkpoints)")
    p.add_argument("--checkpoint", required=True, help="the .pt checkpoint")
    p.add_argument("--out", required=True, help="output folder (point RESAGENT_SAM2_DIR or decoder.params.dir at it)")
    p.add_argument("--name", help="file name stem (default: the model name or the config's stem)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-check", dest="check", action="store_false", help="skip the comparison with SAM2ImagePredictor")
    p.add_argument("--check-prompts", type=int, default=8, help="random prompts in the check")
    return p.parse_args()


def main():
    args = parse_args()
    try:
        import torch
        from torch import nn
        from sam2.build_sam import build_sam2
    except ImportError as err:  # say what is missing, not a traceback
        sys.exit(f"error: {err}. This script needs torch and the sam2 package (git clone https://github.com/facebookresearch/sam2 && pip install -e sam2).")

    config = args.config or MODELS[args.model]
    name = args.name or args.model or os.path.splitext(os.path.basename(config))[0]
    os.makedirs(args.out, exist_ok=True)
    enc_path = os.path.join(args.out, f"{name}.encoder.onnx")
    dec_path = os.path.join(args.out, f"{name}.decoder.onnx")

    # apply_postprocessing=True (build_sam2's default) sets the stability fallback the predictor uses.
    model = build_sam2(config, args.checkpoint, device="cpu", mode="eval", apply_postprocessing=True)
    if not model.use_high_res_features_in_sam:
        sys.exit("error: this config does not use high-resolution features in the SAM decoder; every released SAM2 / SAM2.1 config does, and the resagent layout expects them")
    md = model.sam_mask_decoder
    if md.num_mask_tokens != 4:
        sys.exit(f"error: the mask decoder has {md.num_mask_tokens} mask tokens, expected 4 (1 single-mask + 3 multimask)")
    delta, thresh = md.dynamic_multimask_stability_delta, md.dynamic_multimask_stability_thresh
    if not md.dynamic_multimask_via_stability or abs(delta - 0.05) > 1e-9 or abs(thresh - 0.98) > 1e-9:
        print(f"warning: this model's single-mask rule is dynamic_multimask_via_stability={md.dynamic_multimask_via_stability}, delta {delta}, threshold {thresh}; "
              f"set decoder.params.stabilityDelta / stabilityThreshold to match (the harness defaults are 0.05 / 0.98)")
    size = model.image_size
    feat_sizes = [(size // 4, size // 4), (size // 8, size // 8), (size // 16, size // 16)]

    class Encoder(nn.Module):
        """SAM2ImagePredictor.set_image after the transforms: backbone, conv_s0/conv_s1, no_mem_embed."""

        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, image):
            backbone_out = self.m.forward_image(image)  # applies conv_s0 / conv_s1 to the two high-res levels
            _, vision_feats, _, _ = self.m._prepare_backbone_features(backbone_out)
            if self.m.directly_add_no_mem_embed:
                vision_feats[-1] = vision_feats[-1] + self.m.no_mem_embed
            feats = [f.permute(1, 2, 0).reshape(1, -1, *s) for f, s in zip(vision_feats[::-1], feat_sizes[::-1])][::-1]
            return feats[0], feats[1], feats[2]

    class Decoder(nn.Module):
        """SAM2ImagePredictor._predict with the box folded into the points, every mask token kept."""

        def __init__(self, m):
            super().__init__()
            self.pe = m.sam_prompt_encoder
            self.md = m.sam_mask_decoder

        def embed_points(self, coords, labels):
            # PromptEncoder._embed_points(points, labels, pad=True): the predictor passes boxes=None
            # (the box is two points), so SAM2 appends one padding point labelled -1.
            coords = coords + 0.5
            coords = torch.cat([coords, torch.zeros_like(coords[:, :1, :])], dim=1)
            labels = torch.cat([labels, -torch.ones_like(labels[:, :1])], dim=1)
            h, w = self.pe.input_image_size
            # forward_with_coords without its in-place writes: x / W, y / H, then the random Fourier features.
            emb = self.pe.pe_layer._pe_encoding(torch.stack([coords[..., 0] / w, coords[..., 1] / h], dim=-1))
            lab = labels.unsqueeze(-1)
            emb = torch.where(lab == -1, torch.zeros_like(emb) + self.pe.not_a_point_embed.weight, emb)
            for i in range(self.pe.num_point_embeddings):
                emb = torch.where(lab == i, emb + self.pe.point_embeddings[i].weight, emb)
            return emb

        def embed_mask(self, mask_input, has_mask_input):
            # masks=None in the predictor means no_mask_embed; has_mask_input switches between the two.
            has = has_mask_input.reshape(-1, 1, 1, 1)
            return has * self.pe.mask_downscaling(mask_input) + (1 - has) * self.pe.no_mask_embed.weight.reshape(1, -1, 1, 1)

        def forward(self, image_embed, high_res_feats_0, high_res_feats_1, point_coords, point_labels, mask_input, has_mask_input):
            masks, iou, _, _ = self.md.predict_masks(
                image_embeddings=image_embed,
                image_pe=self.pe.get_dense_pe(),
                sparse_prompt_embeddings=self.embed_points(point_coords, point_labels),
                dense_prompt_embeddings=self.embed_mask(mask_input, has_mask_input),
                repeat_image=True,  # one image, L prompts (L = 1 in the harness)
                high_res_features=[high_res_feats_0, high_res_feats_1],
            )
            # All four tokens, unclamped: the predictor thresholds and upsamples the unclamped logits.
            return masks, iou

    encoder = Encoder(model).eval()
    decoder = Decoder(model).eval()
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}

    with torch.no_grad():
        image = torch.randn(1, 3, size, size)
        f0, f1, emb = encoder(image)
        torch.onnx.export(encoder, (image,), enc_path, input_names=["image"], output_names=ENCODER_OUTPUTS, opset_version=args.opset, do_constant_folding=True, **extra)
        print(f"wrote {enc_path}")
        coords = torch.randint(0, size, (1, 5, 2), dtype=torch.float)
        labels = torch.tensor([[2, 3, 1, 1, 0]], dtype=torch.float)
        dummy = (emb, f0, f1, coords, labels, torch.zeros(1, 1, size // 4, size // 4), torch.zeros(1))
        masks, iou = decoder(*dummy)
        torch.onnx.export(
            decoder,
            dummy,
            dec_path,
            input_names=DECODER_INPUTS,
            output_names=DECODER_OUTPUTS,
            dynamic_axes={
                "point_coords": {0: "num_labels", 1: "num_points"},
                "point_labels": {0: "num_labels", 1: "num_points"},
                "mask_input": {0: "num_labels"},
                "has_mask_input": {0: "num_labels"},
                "all_low_res_masks": {0: "num_labels"},
                "all_iou_predictions": {0: "num_labels"},
            },
            opset_version=args.opset,
            do_constant_folding=True,
            **extra,
        )
        print(f"wrote {dec_path}")
    try:
        import onnx

        # The exporter can leave the dims of reshaped outputs symbolic; declare the ones the graph
        # always computes, so a reader sees four masks before running it (the first dim stays free).
        shapes = {
            enc_path: {"high_res_feats_0": tuple(f0.shape), "high_res_feats_1": tuple(f1.shape), "image_embed": tuple(emb.shape)},
            dec_path: {"all_low_res_masks": (None, *masks.shape[1:]), "all_iou_predictions": (None, *iou.shape[1:])},
        }
        for path, kind in ((enc_path, "encoder"), (dec_path, "decoder")):
            m = onnx.load(path)
            for out in m.graph.output:
                for dim, n in zip(out.type.tensor_type.shape.dim, shapes[path].get(out.name, ())):
                    if n is not None:
                        dim.ClearField("dim_param")
                        dim.dim_value = int(n)
            for k, v in {"resagent_export": "resagent", "sam2_config": config, "component": kind, "stability_delta": str(delta), "stability_threshold": str(thresh)}.items():
                m.metadata_props.add(key=k, value=v)
            onnx.save(m, path)
    except ImportError:
        print("note: the onnx package is not installed; the files carry no metadata (they work without it)")

    if args.check:
        check(model, enc_path, dec_path, args.check_prompts, delta, thresh)


def check(model, enc_path, dec_path, prompts, delta, thresh):
    """Compare the ONNX files with SAM2ImagePredictor.predict(multimask_output=False), through onnxruntime."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    rng = np.random.default_rng(0)
    h, w = 480, 640
    # A smooth random image (pure noise gives SAM nothing to segment).
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(127 + 120 * np.sin(xx / (20 + 15 * c) + c) * np.cos(yy / (25 + 10 * c))) for c in range(3)], axis=-1).astype(np.uint8)
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(img)
    enc = ort.InferenceSession(enc_path, providers=["CPUExecutionProvider"])
    dec = ort.InferenceSession(dec_path, providers=["CPUExecutionProvider"])
    x = predictor._transforms(img)[None].numpy()
    feats = dict(zip(ENCODER_OUTPUTS, enc.run(ENCODER_OUTPUTS, {"image": x})))
    ref = {"high_res_feats_0": predictor._features["high_res_feats"][0], "high_res_feats_1": predictor._features["high_res_feats"][1], "image_embed": predictor._features["image_embed"]}
    for k in ENCODER_OUTPUTS:
        err = float(np.abs(feats[k] - ref[k].detach().cpu().numpy()).max())
        print(f"encoder {k}: max abs difference {err:.2e}")
        if err > 1e-2:
            sys.exit(f"check failed: encoder output {k} differs from SAM2 by {err}")
    size = model.image_size
    agree = 0
    for t in range(prompts):
        x1, x2 = sorted(rng.uniform(0, w, 2))
        y1, y2 = sorted(rng.uniform(0, h, 2))
        box = np.array([x1, y1, x2 + 8, y2 + 8], dtype=np.float32)
        n = int(rng.integers(0, 4))
        pts = np.stack([rng.uniform(x1, x2 + 8, n), rng.uniform(y1, y2 + 8, n)], axis=-1).astype(np.float32)
        lab = rng.integers(0, 2, n).astype(np.int32)
        with torch.no_grad():
            masks, scores, low = predictor.predict(point_coords=pts if n else None, point_labels=lab if n else None, box=box, multimask_output=False, return_logits=True)
        sx, sy = size / w, size / h
        coords = np.concatenate([np.array([[box[0] * sx, box[1] * sy], [box[2] * sx, box[3] * sy]], dtype=np.float32), pts * np.array([sx, sy], dtype=np.float32)])[None]
        labels = np.concatenate([np.array([2, 3], dtype=np.float32), lab.astype(np.float32)])[None]
        out = dec.run(DECODER_OUTPUTS, {**feats, "point_coords": coords, "point_labels": labels, "mask_input": np.zeros((1, 1, 256, 256), np.float32), "has_mask_input": np.zeros(1, np.float32)})
        logits, iou = out[0][0], out[1][0]
        # The harness's `multimask: stability` (packages/decoder/src/sam2/processing.ts selectMask).
        s0 = logits[0]
        inner, outer = (s0 > delta).sum(), (s0 > -delta).sum()
        stable = (inner / outer if outer > 0 else 1.0) >= thresh
        pick = 0 if stable else 1 + int(np.argmax(iou[1:]))
        err_logits = float(np.abs(np.clip(logits[pick], -32, 32) - low[0]).max())
        err_score = abs(float(iou[pick]) - float(scores[0]))
        same = err_logits < 1e-2 and err_score < 1e-3
        agree += same
        print(f"prompt {t}: {n} points, mask {pick} ({'stable' if stable else 'unstable'}), logits diff {err_logits:.2e}, score diff {err_score:.2e}{'' if same else '  MISMATCH'}")
    if agree != prompts:
        sys.exit(f"check failed: {prompts - agree} of {prompts} prompts differ from SAM2ImagePredictor.predict(multimask_output=False)")
    print(f"check passed: the export with multimask stability gives SAM2's multimask_output=False mask on {prompts} of {prompts} prompts")


if __name__ == "__main__":
    main()
