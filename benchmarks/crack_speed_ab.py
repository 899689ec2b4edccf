"""Crack segmentation speed of two set-ups measured alternately in one process (ABBA).

On a shared machine the load changes from one minute to the next, so ``crack_speed.py
--compare`` (one model after the other) can be off by a factor of two. Here each round runs
every set-up once, in alternating order, and the best time of each is kept: the ratios hold
under load even when the absolute figures do not.

    python benchmarks/crack_speed_ab.py --baseline OLD.onnx [--baseline-parallel-max-pixels N]
        [--size 544x384|24mp] [--rounds N] [--json]

Set-ups: ``baseline`` (``--baseline`` model, by default with the previous release's settings:
one tile at a time above 16 MP) and ``current`` (the packaged model, default settings); with
``--size 24mp`` also ``current-one-at-a-time`` (packaged model, one tile at a time above 16 MP).
Uses the generated images of ``crack_speed.py`` (no dataset needed).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from crack_speed import synthetic_surface

from infrasight.vision.cracks import CrackSegmenter

SIZES = {"544x384": (384, 544), "24mp": (4000, 6000)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--baseline", type=Path, default=None, help="ONNX file (default: packaged)")
    ap.add_argument("--baseline-parallel-max-pixels", type=int, default=16_000_000)
    ap.add_argument("--size", choices=sorted(SIZES), default="544x384")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="two rounds on a small frame (seconds)")
    args = ap.parse_args()
    if args.baseline is not None and not args.baseline.is_file():
        raise SystemExit(f"model file not found: {args.baseline}")
    height, width = SIZES[args.size]
    if args.smoke:
        args.rounds, (height, width) = 2, (1200, 1600)
    large = height * width > 16_000_000 or args.smoke
    setups = {
        "baseline": CrackSegmenter(
            args.baseline, parallel_max_pixels=args.baseline_parallel_max_pixels
        ),
        "current": CrackSegmenter(),
    }
    if large:
        setups["current-one-at-a-time"] = CrackSegmenter(parallel_max_pixels=16_000_000)
    image = synthetic_surface(height, width, seed=1 if large else 0)
    repeats = 1 if large else 10
    names = list(setups)
    for seg in setups.values():
        seg.segment(image)
    wall = dict.fromkeys(names, float("inf"))
    cpu = dict.fromkeys(names, float("inf"))
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            for _ in range(repeats):
                t, c = time.perf_counter(), time.process_time()
                setups[name].segment(image)
                wall[name] = min(wall[name], time.perf_counter() - t)
                cpu[name] = min(cpu[name], time.process_time() - c)
    fig = {
        "size": f"{width}x{height}",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "seconds": {n: round(v, 4) for n, v in wall.items()},
        "cpu_seconds": {n: round(v, 4) for n, v in cpu.items()},
        "ratio_to_baseline": {n: round(v / wall["baseline"], 3) for n, v in wall.items()},
        "model_versions": {n: s.model_version for n, s in setups.items()},
    }
    if args.json:
        print(json.dumps(fig))
        return
    print(f"{fig['size']}, {args.rounds} rounds alternating, load average {fig['load_average']}")
    for n in names:
        print(
            f"{n:24s} {fig['model_versions'][n]:>8s}  best {wall[n]:8.3f} s  "
            f"({1.0 / wall[n]:6.2f}/s)  CPU {cpu[n]:7.2f} s  ratio {fig['ratio_to_baseline'][n]}"
        )


if __name__ == "__main__":
    main()
