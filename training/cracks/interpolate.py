"""Weight-space interpolation between the shipped weights and a fine-tune of them (WiSE-FT).

A fine-tune that starts from exported weights (``train.py --init-onnx``) stays in the same
parameter space as its start: every convolution has the same shape and the frozen batch norms
are the same identity-plus-bias in both. The weights ``(1 - a) * start + a * fine_tuned`` then
form a path from the start (``a = 0``) to the fine-tune (``a = 1``). Wortsman et al., "Robust
fine-tuning of zero-shot models" (CVPR 2022) found points on such paths that keep most of what
the start did well while gaining most of what the fine-tune learnt; here the start is strong on
DeepCrack-like images and the fine-tune on drone images of bridges.

Every ``a`` of ``--alphas`` is validated exactly as training validates (DeepCrack validation
F1, UAV75 validation centreline IoU, the wall false-positive limit, the threshold calibrated on
validation data only). With ``--min-f1`` the threshold is calibrated under one more
condition, a DeepCrack validation F1 of at least that (the level the start keeps), and the kept
``a`` is the one of highest selection score among those that meet it. The kept weights are
written as a checkpoint that ``export.py`` reads.

Usage::

    python -m training.cracks.interpolate --checkpoint runs/cracks-ft/best.pt \
        --out runs/cracks-wise/best.pt
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from training.cracks.data import load_splits
from training.cracks.model import DEFAULT_WIDTHS, CrackNetLite
from training.cracks.train import MEAN, STD, save_atomically, validate
from training.cracks.warm_start import load_folded_onnx

# The weights 1.1.0 was fine-tuned from (1.0.0, the `shipped` GPU preset), kept for reproduction.
START = Path("training/cracks/start/crack-segmentation-1.0.0.onnx")


def interpolate(
    start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """``(1 - alpha) * start + alpha * tuned`` for floating-point tensors.

    Integer buffers (batch-norm step counters) and tensors the start does not have are taken
    from ``tuned``. Shapes must match.

    Raises
    ------
    ValueError
        If a tensor's shape differs between the two, naming it.
    """
    out: dict[str, torch.Tensor] = {}
    for name, value in tuned.items():
        base = start.get(name)
        if base is None or not value.is_floating_point():
            out[name] = value.clone()
            continue
        if base.shape != value.shape:
            raise ValueError(f"{name}: shape {tuple(base.shape)} vs {tuple(value.shape)}")
        out[name] = torch.lerp(base.to(value.dtype), value, alpha)
    return out


def pick(rows: list[dict[str, Any]], min_f1: float | None) -> dict[str, Any]:
    """The row of highest selection score (among rows whose calibrated threshold reaches
    ``f1 >= min_f1``, when given and any does)."""
    pool = [r for r in rows if min_f1 is None or r["f1"] >= min_f1] or rows
    return max(pool, key=lambda r: r["score"])


def main(argv: list[str] | None = None) -> None:
    """Validate each interpolation and write the kept one; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--start-onnx", type=Path, default=START, help="the fine-tune's start")
    ap.add_argument("--checkpoint", type=Path, required=True, help="the fine-tune (best.pt)")
    ap.add_argument("--alphas", default="0,0.3,0.4,0.5,0.6,0.7,0.8,1")
    ap.add_argument("--min-f1", type=float, default=None)
    ap.add_argument("--out", type=Path, required=True, help="checkpoint of the kept weights")
    args = ap.parse_args(argv)
    if not args.datasets.is_dir():
        raise SystemExit(f"datasets folder not found: {args.datasets}")
    alphas = [float(a) for a in args.alphas.split(",")]
    if any(not 0.0 <= a <= 1.0 for a in alphas):
        raise SystemExit(f"--alphas must lie in [0, 1]: {args.alphas}")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    device = torch.device("cpu")
    splits = load_splits(args.datasets)
    if not splits.get("val_uav75"):
        print("note: no UAV75 validation images; the score is DeepCrack F1 alone", flush=True)
    start_net = CrackNetLite(DEFAULT_WIDTHS)
    load_folded_onnx(start_net, args.start_onnx)
    start = start_net.state_dict()
    ck = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    tuned = ck["model"]
    rows: list[dict[str, Any]] = []
    kept: dict[float, dict[str, torch.Tensor]] = {}
    for alpha in alphas:
        t0 = time.time()
        weights = interpolate(start, tuned, alpha)
        net = CrackNetLite(DEFAULT_WIDTHS)
        net.load_state_dict(weights)
        row = {"alpha": alpha, **validate(net, splits, device, min_f1=args.min_f1)}
        row["seconds"] = round(time.time() - t0, 1)
        rows.append(row)
        kept[alpha] = weights
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
    best = pick(rows, args.min_f1)
    print(f"kept alpha {best['alpha']}: {json.dumps(best)}", flush=True)
    preset = f"{ck.get('args', {}).get('preset', 'custom')}-wise{best['alpha']:g}"
    save_atomically(
        {
            "model": kept[best["alpha"]],
            "widths": list(DEFAULT_WIDTHS),
            "epoch": int(ck.get("epoch", 0)),
            "val": {k: v for k, v in best.items() if k not in {"alpha", "seconds"}},
            "mean": MEAN,
            "std": STD,
            "threshold_rule": (
                "maximises the mean of pixel-exact F1 on the held-out DeepCrack validation stems "
                "and the centreline IoU (4 px) on the UAV75 validation images, subject to at most "
                "0.1% crack pixels on the held-out crack-free walls"
                + ("" if args.min_f1 is None else f" and a DeepCrack F1 of at least {args.min_f1}")
                + f"; weights {best['alpha']:g} of the way from the start to its fine-tune"
            ),
            "args": {
                **ck.get("args", {}),
                "preset": preset,
                "interpolation": {
                    "start_onnx": str(args.start_onnx),
                    "fine_tune": str(args.checkpoint),
                    "alpha": best["alpha"],
                    "rows": rows,
                },
            },
        },
        args.out,
    )


if __name__ == "__main__":
    main()
