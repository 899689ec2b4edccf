"""Seconds per crack-training step on this machine, by precision and memory layout.

    python benchmarks/train_step.py [--json] [--steps N]

One step is what ``training/cracks/train.py`` does per batch: forward through CrackNet-Lite,
BCE + Dice on the full-resolution and auxiliary heads, backward, AdamW. Configurations: fp32
NCHW (the PyTorch default, the baseline), fp32 channels-last, and bf16 autocast channels-last
(what training uses on CPUs with native bf16), on batches of 12 crops of 256x256, plus the
per-pixel cost of other batch shapes in the fastest setting. Needs the ``[train]`` extra.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per configuration")
    ap.add_argument("--smoke", action="store_true", help="one step, small batch (seconds)")
    args = ap.parse_args()
    if args.smoke:
        args.steps = 1
    try:
        import torch
    except ImportError:
        print("skipped: PyTorch is not installed (make train-cracks installs the [train] extra)")
        return 0 if args.smoke else 2
    from training.cracks.losses import aux_target, bce_dice
    from training.cracks.model import CrackNetLite

    native_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())

    def seconds_per_step(batch: int, crop: int, *, bf16: bool, channels_last: bool) -> float:
        torch.manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        net = CrackNetLite().to(memory_format=fmt).train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        x = torch.randn(batch, 3, crop, crop).contiguous(memory_format=fmt)
        y = (torch.rand(batch, crop, crop) > 0.97).to(torch.uint8)
        times = []
        for _ in range(args.steps + 1):  # the first step (allocation, kernel choice) is dropped
            t0 = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits, aux = net.forward_train(x)
            loss = bce_dice(logits, y) + 0.4 * bce_dice(aux, aux_target(y, 4))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        return sum(times[1:]) / args.steps

    rows = []
    configs = [("fp32 NCHW (baseline)", False, False), ("fp32 channels-last", False, True)]
    if native_bf16:
        configs.append(("bf16 channels-last", True, True))
    for name, bf16, cl in configs:
        batch, crop = (2, 128) if args.smoke else (12, 256)
        s = seconds_per_step(batch, crop, bf16=bf16, channels_last=cl)
        rows.append({"config": name, "batch": batch, "crop": crop, "s_per_step": round(s, 3)})
    best_bf16, best_cl = configs[-1][1], configs[-1][2]
    for batch, crop in () if args.smoke else ((8, 256), (24, 320)):
        s = seconds_per_step(batch, crop, bf16=best_bf16, channels_last=best_cl)
        rows.append(
            {"config": configs[-1][0], "batch": batch, "crop": crop, "s_per_step": round(s, 3)}
        )
    for r in rows:
        r["us_per_pixel"] = round(r["s_per_step"] / (r["batch"] * r["crop"] ** 2) * 1e6, 3)
    result = {"threads": torch.get_num_threads(), "native_bf16": native_bf16, "steps": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"torch threads {result['threads']}, native bf16: {native_bf16}")
    for r in rows:
        print(
            f"{r['config']:<22} {r['batch']:>3} x {r['crop']}²: {r['s_per_step']:.3f} s/step,"
            f" {r['us_per_pixel']:.2f} µs/pixel"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
