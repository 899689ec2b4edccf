"""Export a trained checkpoint to ONNX plus the JSON that the inference library reads.

``python -m training.cracks.export --checkpoint runs/cracks/best.pt
--out src/infrasight/vision/models/crack-segmentation.onnx``

The graph takes ``image``: float32 ``(N, 3, H, W)`` RGB normalised as ``(x - mean) / std`` on
0-255 values, H and W multiples of 16, and returns ``probability``: float32 ``(N, 1, H, W)``
(sigmoid applied); the graph is rewritten for ONNX Runtime's CPU kernels (``graph_rewrite.py``:
same outputs, the weights unchanged). The JSON beside it (same stem, ``.json``) records the
decision threshold calibrated on validation data, the normalisation, the version and the
validation figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import warnings
from pathlib import Path

import onnx
import torch

from training.cracks.graph_rewrite import check_same_output, rewrite
from training.cracks.model import CrackModel, build_model, count_parameters

# Tile side at which two tiles in flight need about the working memory of one 768-px tile of
# CrackNet-Lite (what bounds the memory of a large image; ``CrackSegmenter`` reads it from the
# JSON). Measured on a 24-MP frame, peak resident memory: CrackNet-Lite 619 MB at 544 px and
# 894 MB at 768; CrackNet-Half 607 MB at 768 (no full-resolution layers), 619 MB in a later
# run, and CrackNet-Half-Refined 625 MB at 768 in that run.
LARGE_PARALLEL_TILE = {"CrackNet-Lite": 544, "CrackNet-Half": 768, "CrackNet-Half-Refined": 768}


class _WithSigmoid(torch.nn.Module):
    def __init__(self, net: CrackModel) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def _recipe(args: dict, teacher: str | None = None) -> dict:
    """What made the weights: the preset, the teacher (``distill.py``), the start
    (``--init-onnx``) and, for interpolated weights (``interpolate.py``), how far along the way
    from the start to its fine-tune."""
    recipe = {"preset": args.get("preset", "custom"), "seed": args.get("seed")}
    if teacher:
        recipe["teacher"] = teacher
    if args.get("init"):  # a run continued from an earlier one's weights (distill.py --init)
        recipe["init"] = str(args["init"])
    if args.get("init_onnx"):
        recipe["init_onnx"] = Path(str(args["init_onnx"])).name
    if "interpolation" in args:
        recipe["interpolation_alpha"] = args["interpolation"]["alpha"]
    return recipe


def _rewrite_for_cpu(path: Path) -> None:
    """Fixed 2x upsampling and no concatenation (``graph_rewrite.py``): same outputs within
    1e-5, checked, and ONNX Runtime keeps its fast CPU layout through the decoder."""
    before = onnx.load(str(path))
    after = onnx.load(str(path))
    rewrite(after)
    check_same_output(before, after)
    onnx.save(after, str(path))


def export(
    checkpoint: Path, out: Path, *, version: str | None = None, threshold: float | None = None
) -> dict:
    """Write ``out`` (ONNX) and ``out.with_suffix('.json')``; return the JSON content.

    Without ``version`` the weights get their own: ``1.0.0+<preset>.<first 8 hex digits of the
    ONNX file's SHA-256>``, so that the platform (which keys analyses by model version) never
    mistakes a retrained model for the shipped 1.0.0 or for another retrain.
    """
    ck = torch.load(checkpoint, map_location="cpu", weights_only=False)
    architecture = ck.get("architecture", "CrackNet-Lite")  # train.py's checkpoints have none
    net = build_model(architecture, tuple(ck["widths"]))
    net.load_state_dict(ck["model"])
    net.eval()
    model = _WithSigmoid(net).eval()
    x = torch.zeros(1, 3, 384, 544)
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter is chosen on purpose (dynamo=False): it handles the dynamic
        # image sizes without extra dependencies. Its own deprecation notices are noise here.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            model,
            (x,),
            str(out),
            input_names=["image"],
            output_names=["probability"],
            dynamic_axes={
                "image": {0: "n", 2: "h", 3: "w"},
                "probability": {0: "n", 2: "h", 3: "w"},
            },
            opset_version=17,
            dynamo=False,
        )
    _rewrite_for_cpu(out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    val = ck.get("val", {})
    if version is None:
        version = f"1.0.0+{ck.get('args', {}).get('preset', 'custom')}.{digest[:8]}"
    meta = {
        "name": "crack-segmentation",
        "version": version,
        "architecture": f"{architecture} widths {list(ck['widths'])}",
        "parameters": count_parameters(net),
        "input": {
            "layout": "NCHW",
            "channels": "RGB",
            "mean": [float(ck["mean"])] * 3,
            "std": [float(ck["std"])] * 3,
            "multiple_of": 16,
        },
        "tiling": {"large_parallel_tile": LARGE_PARALLEL_TILE[architecture]},
        "output": "probability",
        "threshold": float(threshold if threshold is not None else val.get("threshold", 0.5)),
        "threshold_rule": ck.get(
            "threshold_rule",
            "maximises pixel-exact F1 on the held-out DeepCrack validation stems subject to at "
            "most 0.1% crack pixels on the held-out crack-free walls",
        ),
        "trained_epochs": int(ck["epoch"]),
        "recipe": _recipe(ck.get("args", {}), ck.get("teacher")),
        "validation": val,
        "sha256": digest,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument(
        "--version",
        default=None,
        help="model version recorded in the JSON (default: 1.0.0+<preset>.<sha256 prefix>)",
    )
    ap.add_argument("--threshold", type=float, default=None, help="override the calibrated one")
    args = ap.parse_args(argv)
    meta = export(args.checkpoint, args.out, version=args.version, threshold=args.threshold)
    size = args.out.stat().st_size / 1e6
    print(
        f"wrote {args.out} ({size:.2f} MB), version {meta['version']}, "
        f"threshold {meta['threshold']}"
    )


if __name__ == "__main__":
    main()
