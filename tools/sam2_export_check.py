#!/usr/bin/env python3
"""Run tools/export_sam2_onnx.py for real on randomly initialised SAM2.1 models and write what
PyTorch's SAM2ImagePredictor answers, so the harness's ONNX decoder can be compared with it
(packages/decoder/src/sam2/export.test.ts reads the folder this writes).

For each model: build it from its yaml config with random weights (seeded), save them as a
checkpoint, run the export script unchanged on that checkpoint (`--no-check`: its own check needs
Python onnxruntime, and the comparison that matters is with the TypeScript decoder), then run
`SAM2ImagePredictor.predict(multimask_output=False)` on one image and random prompts and write the
full-resolution logits, masks and scores.

Version gaps are shimmed here, not in the export script: Debian's torch 1.13 has no
`F.scaled_dot_product_attention` (added in torch 2.0; the math form below is what it computes) and
its ONNX exporter no symbolic for `aten::tile`; hydra and iopath are not packaged for Debian, so
minimal stand-ins load the yaml configs and instantiate their `_target_` classes the way hydra does
for these files (no interpolations, no `_partial_`: checked, and refused otherwise), with
omegaconf's float rule and no tqdm bars (the real packages are used where installed).

Needs: python3 with torch, torchvision, numpy, PIL, yaml and onnx (Debian: apt-get install -y
python3-torch python3-torchvision python3-onnx) and a checkout of facebookresearch/sam2.

Usage:
  python3 tools/sam2_export_check.py --sam2 <sam2 checkout> --out <folder> [--models tiny,base_plus] [--prompts 8]
Writes <out>/<model>/{<model>.encoder.onnx, <model>.decoder.onnx, reference.json, logits.f32, image.png}.
"""

import argparse
import hashlib
import importlib
import json
import math
import os
import runpy
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
EXPORT_SCRIPT = os.path.join(HERE, "export_sam2_onnx.py")

# Name, config, and a factor on the single-mask token's hypernetwork output. Randomly initialised,
# that token's logits are small (a stability score near 0.5), so SAM2 always falls back to masks
# 1-3; scaling them in one model makes its mask 0 stable, so the comparison covers both branches
# of the single-mask rule.
MODELS = {
    "tiny": ("sam2.1_hiera_tiny", "configs/sam2.1/sam2.1_hiera_t.yaml", 100.0),
    "small": ("sam2.1_hiera_small", "configs/sam2.1/sam2.1_hiera_s.yaml", 1.0),
    "base_plus": ("sam2.1_hiera_base_plus", "configs/sam2.1/sam2.1_hiera_b+.yaml", 1.0),
    "large": ("sam2.1_hiera_large", "configs/sam2.1/sam2.1_hiera_l.yaml", 1.0),
}

# Bump when what this file writes changes meaning (the test refuses a folder of another version).
FORMAT_VERSION = 1


def fail(msg):
    sys.exit(f"error: {msg}")


# --- shims ---------------------------------------------------------------------------------------


class _Config(dict):
    """A yaml mapping with attribute access (what build_sam reads from hydra's DictConfig)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError as err:
            raise AttributeError(key) from err


def _wrap(v):
    if isinstance(v, dict):
        return _Config({k: _wrap(x) for k, x in v.items()})
    if isinstance(v, list):
        return [_wrap(x) for x in v]
    return v


def _check_plain(v, where):
    """Refuse what the stand-in does not implement, rather than building a different model."""
    if isinstance(v, str) and "${" in v:
        fail(f"{where}: interpolation {v!r}; the hydra stand-in does not resolve interpolations")
    if isinstance(v, dict):
        if "_partial_" in v or "_args_" in v:
            fail(f"{where}: _partial_/_args_ are not supported by the hydra stand-in")
        for k, x in v.items():
            _check_plain(x, f"{where}.{k}")
    if isinstance(v, list):
        for i, x in enumerate(v):
            _check_plain(x, f"{where}[{i}]")


def _yaml_load(text):
    """PyYAML with OmegaConf's float rule: YAML 1.1 reads `1e-6` as a string, OmegaConf as a float."""
    import re

    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        re.compile(
            r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            |\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
            re.X,
        ),
        list("-+0123456789."),
    )
    return yaml.load(text, Loader=Loader)


def _apply_override(cfg, text):
    """hydra's `++a.b.c=value` (add or replace), the only form build_sam2 passes."""
    if not text.startswith("++") or "=" not in text:
        fail(f"override {text!r}: the hydra stand-in supports ++key.path=value only")
    key, value = text[2:].split("=", 1)
    parts = key.split(".")
    node = cfg
    for p in parts[:-1]:
        node = node.setdefault(p, _Config())
    node[parts[-1]] = _wrap(_yaml_load(value))


def _instantiate(cfg, _recursive_=True, **kwargs):
    if isinstance(cfg, list):
        return [_instantiate(x) for x in cfg]
    if not isinstance(cfg, dict):
        return cfg
    if "_target_" not in cfg:
        return _Config({k: _instantiate(v) for k, v in cfg.items()})
    module, _, name = cfg["_target_"].rpartition(".")
    target = getattr(importlib.import_module(module), name)
    args = {k: _instantiate(v) for k, v in cfg.items() if k != "_target_"}
    args.update(kwargs)
    return target(**args)


def install_shims(sam2_root):
    import torch
    import torch.nn.functional as F

    if not hasattr(F, "scaled_dot_product_attention"):

        def scaled_dot_product_attention(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
            # torch 2's math kernel; SAM2 passes no mask and dropout only while training.
            if attn_mask is not None or is_causal:
                raise NotImplementedError("the scaled_dot_product_attention stand-in has no masks")
            attn = torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1)), dim=-1)
            if dropout_p > 0:
                attn = F.dropout(attn, p=dropout_p)
            return attn @ v

        F.scaled_dot_product_attention = scaled_dot_product_attention

    if torch.__version__ < "2":
        # torch 1.13's ONNX exporter has no symbolic for aten::tile (Hiera tiles its window
        # position embedding); torch 2 exports it as ONNX Tile with the repeats padded to the rank.
        from torch.onnx import symbolic_helper

        def tile(g, self, dims):
            reps = symbolic_helper._maybe_get_const(dims, "is")
            if isinstance(reps, (list, tuple)):
                reps = g.op("Constant", value_t=torch.tensor(list(reps), dtype=torch.int64))
                n = len(symbolic_helper._maybe_get_const(dims, "is"))
            else:  # traced shapes: a list of scalar tensors
                items = symbolic_helper._unpack_list(dims)
                n = len(items)
                reps = g.op("Concat", *[symbolic_helper._unsqueeze_helper(g, g.op("Cast", v, to_i=7), [0]) for v in items], axis_i=0)
            rank = symbolic_helper._get_tensor_rank(self)
            if rank is not None and rank != n:
                raise NotImplementedError(f"the aten::tile stand-in needs as many repeats as dimensions ({n} for rank {rank})")
            return g.op("Tile", self, reps)

        torch.onnx.register_custom_op_symbolic("aten::tile", tile, 9)

    config_root = {"dir": None}

    def initialize_config_module(module, version_base=None):
        config_root["dir"] = os.path.dirname(importlib.import_module(module).__file__) if module != "sam2" else os.path.join(sam2_root, "sam2")

    def compose(config_name, overrides=()):
        path = os.path.join(config_root["dir"] or os.path.join(sam2_root, "sam2"), config_name)
        if not os.path.exists(path):
            fail(f"no config {config_name} under {config_root['dir']}")
        with open(path) as f:
            data = _yaml_load(f.read())
        _check_plain(data, config_name)
        cfg = _wrap(data)
        for o in overrides:
            _apply_override(cfg, o)
        return cfg

    class GlobalHydra:
        _inst = None

        @classmethod
        def instance(cls):
            cls._inst = cls._inst or cls()
            return cls._inst

        def is_initialized(self):
            return config_root["dir"] is not None

    hydra = types.ModuleType("hydra")
    hydra.initialize_config_module = initialize_config_module
    hydra.compose = compose
    hydra_utils = types.ModuleType("hydra.utils")
    hydra_utils.instantiate = _instantiate
    hydra_core = types.ModuleType("hydra.core")
    hydra_global = types.ModuleType("hydra.core.global_hydra")
    hydra_global.GlobalHydra = GlobalHydra
    hydra.utils, hydra.core, hydra_core.global_hydra = hydra_utils, hydra_core, hydra_global

    omegaconf = types.ModuleType("omegaconf")

    class OmegaConf:
        @staticmethod
        def resolve(cfg):
            _check_plain(cfg, "config")  # nothing to resolve

    omegaconf.OmegaConf = OmegaConf

    # iopath's path manager only opens pretrained backbone weights (none here); tqdm only draws bars.
    iopath = types.ModuleType("iopath")
    iopath_common = types.ModuleType("iopath.common")
    iopath_file_io = types.ModuleType("iopath.common.file_io")
    iopath_file_io.g_pathmgr = types.SimpleNamespace(open=open)
    tqdm = types.ModuleType("tqdm")
    tqdm.tqdm = lambda it=None, *a, **k: it

    for name, mod in {
        "hydra": hydra,
        "hydra.utils": hydra_utils,
        "hydra.core": hydra_core,
        "hydra.core.global_hydra": hydra_global,
        "omegaconf": omegaconf,
        "iopath": iopath,
        "iopath.common": iopath_common,
        "iopath.common.file_io": iopath_file_io,
        "tqdm": tqdm,
    }.items():
        try:
            importlib.import_module(name)  # the real package wins where it is installed
        except ImportError:
            sys.modules[name] = mod
    sys.path.insert(0, sam2_root)


# --- reference ------------------------------------------------------------------------------------


def test_image(h, w):
    """A smooth deterministic RGB image (pure noise gives SAM nothing to segment)."""
    import numpy as np

    yy, xx = np.mgrid[0:h, 0:w]
    chans = [127 + 120 * np.sin(xx / (20 + 15 * c) + c) * np.cos(yy / (25 + 10 * c)) for c in range(3)]
    return np.clip(np.stack(chans, axis=-1), 0, 255).astype(np.uint8)


def random_prompts(rng, n, h, w):
    """Boxes of at least 16 px, 0-3 points inside them, positives before negatives (the harness's order)."""
    out = []
    for _ in range(n):
        x1, x2 = sorted(rng.uniform(0, w - 17, 2))
        y1, y2 = sorted(rng.uniform(0, h - 17, 2))
        box = [float(x1), float(y1), float(x2 + 16), float(y2 + 16)]
        k = int(rng.integers(0, 4))
        pts = [[float(rng.uniform(box[0], box[2])), float(rng.uniform(box[1], box[3]))] for _ in range(k)]
        labels = sorted((int(v) for v in rng.integers(0, 2, k)), reverse=True)
        out.append({"box": box, "points": pts, "labels": labels})
    return out


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_model(key, args):
    import numpy as np
    import torch
    from PIL import Image

    name, config, token0_scale = MODELS[key]
    out = os.path.join(args.out, key)
    os.makedirs(out, exist_ok=True)
    from sam2.build_sam import build_sam2
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    t0 = time.time()
    torch.manual_seed(args.seed)
    model = build_sam2(config, None, device="cpu", mode="eval", apply_postprocessing=True)
    if token0_scale != 1.0:
        last = model.sam_mask_decoder.output_hypernetworks_mlps[0].layers[-1]
        with torch.no_grad():
            last.weight.mul_(token0_scale)
            last.bias.mul_(token0_scale)
    ckpt = os.path.join(out, "random-weights.pt")
    torch.save({"model": model.state_dict()}, ckpt)
    t_build = time.time() - t0

    # The export script, unchanged, as a user runs it (argv and __main__).
    t0 = time.time()
    argv = sys.argv
    sys.argv = [EXPORT_SCRIPT, "--config", config, "--checkpoint", ckpt, "--out", out, "--name", name, "--no-check"]
    try:
        runpy.run_path(EXPORT_SCRIPT, run_name="__main__")
    finally:
        sys.argv = argv
    t_export = time.time() - t0
    os.remove(ckpt)  # the weights are reproducible from the seed; the ONNX files carry them

    t0 = time.time()
    h, w = args.height, args.width
    img = test_image(h, w)
    Image.fromarray(img).save(os.path.join(out, "image.png"))
    predictor = SAM2ImagePredictor(model)
    predictor.set_image(img)
    md = model.sam_mask_decoder
    # Which branch of SAM2's single-mask rule each prompt took (for the report, not the comparison).
    seen = {}
    original = md._get_stability_scores

    def recording(logits):
        s = original(logits)
        seen["stability"] = float(s.flatten()[0])
        return s

    md._get_stability_scores = recording
    rng = np.random.default_rng(args.seed)
    prompts = random_prompts(rng, args.prompts, h, w)
    logits_all = np.zeros((len(prompts), h, w), dtype=np.float32)
    records = []
    for i, p in enumerate(prompts):
        pts = np.array(p["points"], dtype=np.float32).reshape(-1, 2)
        lab = np.array(p["labels"], dtype=np.int32)
        with torch.no_grad():
            logits, scores, _ = predictor.predict(
                point_coords=pts if len(lab) else None,
                point_labels=lab if len(lab) else None,
                box=np.array(p["box"], dtype=np.float32),
                multimask_output=False,
                return_logits=True,
            )
        logits_all[i] = logits[0]
        stable = seen["stability"] >= md.dynamic_multimask_stability_thresh
        records.append({**p, "score": float(scores[0]), "stability": seen["stability"], "stable": bool(stable), "foreground": int((logits[0] > 0).sum())})
    logits_all.tofile(os.path.join(out, "logits.f32"))
    t_ref = time.time() - t0

    files = {f: sha_file(os.path.join(out, f)) for f in (f"{name}.encoder.onnx", f"{name}.decoder.onnx")}
    ref = {
        "format": FORMAT_VERSION,
        "model": name,
        "config": config,
        "seed": args.seed,
        "token0Scale": token0_scale,
        "harness": args.harness_hash,
        "sam2": args.sam2_revision,
        "torch": torch.__version__,
        "image": "image.png",
        "width": w,
        "height": h,
        "maskThreshold": 0.0,
        "stabilityDelta": md.dynamic_multimask_stability_delta,
        "stabilityThreshold": md.dynamic_multimask_stability_thresh,
        "onnx": files,
        "seconds": {"build": round(t_build, 1), "export": round(t_export, 1), "reference": round(t_ref, 1)},
        "prompts": records,
    }
    with open(os.path.join(out, "reference.json.tmp"), "w") as f:
        json.dump(ref, f, indent=1)
    os.replace(os.path.join(out, "reference.json.tmp"), os.path.join(out, "reference.json"))
    print(f"{key}: build {t_build:.1f}s, export {t_export:.1f}s, reference {t_ref:.1f}s; {sum(r['stable'] for r in records)} of {len(records)} prompts kept mask 0 (stable)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sam2", required=True, help="a checkout of facebookresearch/sam2 (the folder holding the sam2 package)")
    p.add_argument("--sam2-revision", default="unknown", help="the checkout's commit, recorded in reference.json")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="tiny,base_plus", help=f"comma-separated, of {', '.join(MODELS)}")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--harness-hash", default=None, help="recorded in reference.json (the test's key for reusing a folder)")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=480)
    args = p.parse_args()
    if not os.path.isfile(os.path.join(args.sam2, "sam2", "build_sam.py")):
        fail(f"--sam2 {args.sam2}: no sam2/build_sam.py there (expected a facebookresearch/sam2 checkout)")
    keys = [k.strip() for k in args.models.split(",") if k.strip()]
    for k in keys:
        if k not in MODELS:
            fail(f"--models: unknown model {k!r} (known: {', '.join(MODELS)})")
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
        import PIL  # noqa: F401
        import torch  # noqa: F401
        import torchvision  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as err:
        fail(f"{err}; on Debian: apt-get install -y python3-torch python3-torchvision python3-onnx")
    install_shims(os.path.abspath(args.sam2))
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))
    for k in keys:
        run_model(k, args)


if __name__ == "__main__":
    main()
