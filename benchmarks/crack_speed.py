"""Crack segmentation speed on this machine, beside the bare ONNX Runtime session call.

Figures: images/s at 544x384 (DeepCrack frame size) and seconds per 24-megapixel frame
(6000x4000), each for ``CrackSegmenter.segment`` (loading nothing from disk: pre-processing,
tiling, inference, blending, threshold, instances) and for the bare ``session.run`` calls on the
same, already-normalised input (the same tiles for 24 MP). The difference is our overhead.

    python benchmarks/crack_speed.py [--json] [--threads N] [--repeats N] [--model FILE]
        [--compare FILE] [--parallel-max-pixels N]

``--parallel-max-pixels N``: images up to N pixels run two tiles at a time (default: the
segmenter's, every size; 16000000 measures the 24-MP frame one 768-px tile at a time, as before
model 1.1.1).

``--compare FILE`` measures another model file the same way in the same process, after the
first (e.g. the previous release: ``training/cracks/start/crack-segmentation-1.0.0.onnx``), so
two models are compared under the same load.

Uses a generated image (no dataset needed): a textured surface with dark meandering cracks.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np

from infrasight.vision.cracks import CrackSegmenter
from infrasight.vision.tiling import axis_tiles


def synthetic_surface(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An RGB uint8 concrete-like texture with a few dark random-walk cracks."""
    rng = np.random.default_rng(seed)
    small = rng.normal(128, 18, (max(2, height // 8), max(2, width // 8))).astype(np.float32)
    base = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    base += rng.normal(0, 6, (height, width)).astype(np.float32)
    n = max(2, (height * width) // 200_000)
    for _ in range(n):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        ang = rng.uniform(0, 2 * np.pi)
        pts = []
        for _ in range(200):
            ang += rng.normal(0, 0.25)
            x += 4 * np.cos(ang)
            y += 4 * np.sin(ang)
            pts.append((x, y))
        cv2.polylines(base, [np.array(pts, np.int32)], False, 55.0, int(rng.integers(1, 4)))
    img = np.clip(base, 0, 255).astype(np.uint8)
    return np.repeat(img[:, :, None], 3, axis=2)


def _prepared(seg: CrackSegmenter, rgb: np.ndarray) -> np.ndarray:
    info = seg.info
    x = (rgb.astype(np.float32) - np.asarray(info.mean, np.float32)) / np.asarray(
        info.std, np.float32
    )
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def _best_of(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default all)")
    ap.add_argument("--repeats", type=int, default=20, help="544x384 runs (best-of timing)")
    ap.add_argument("--repeats-24mp", type=int, default=2)
    ap.add_argument(
        "--smoke", action="store_true", help="one run each, a 4-megapixel frame (seconds)"
    )
    ap.add_argument("--model", type=Path, default=None, help="ONNX file (default: packaged)")
    ap.add_argument("--compare", type=Path, default=None, help="a second ONNX file to measure")
    ap.add_argument("--parallel-max-pixels", type=int, default=None, help="see above")
    args = ap.parse_args()
    if args.smoke:
        args.repeats, args.repeats_24mp = 1, 1
    for model in (args.model, args.compare) if args.compare else (args.model,):
        if model is not None and not model.is_file():
            raise SystemExit(f"model file not found: {model}")
        _measure(args, model)


def _measure(args: argparse.Namespace, model: Path | None) -> None:
    big_h, big_w = (1600, 2400) if args.smoke else (4000, 6000)
    extra = (
        {}
        if args.parallel_max_pixels is None
        else {"parallel_max_pixels": args.parallel_max_pixels}
    )
    seg = CrackSegmenter(model, threads=args.threads, **extra)
    sess = seg.session()
    name = sess.get_inputs()[0].name

    small = synthetic_surface(384, 544)
    x_small = _prepared(seg, small)
    seg.segment(small)
    sess.run(None, {name: x_small})
    per_small = _best_of(lambda: seg.segment(small), args.repeats)
    per_small_bare = _best_of(lambda: sess.run(None, {name: x_small}), args.repeats)

    big = synthetic_surface(big_h, big_w, seed=1)
    m = seg.info.multiple_of
    # the tiles segment() uses: smaller ones above its large-image size (bounded memory)
    tile = seg.tile_side(big_h * big_w)
    ys = axis_tiles(big_h, max_tile=tile, overlap=seg.overlap, multiple=m)
    xs = axis_tiles(big_w, max_tile=tile, overlap=seg.overlap, multiple=m)
    tiles = [_prepared(seg, big[y : y + h, x : x + w]) for y, h in ys for x, w in xs]

    def bare_big() -> None:
        for t in tiles:
            sess.run(None, {name: t})

    per_big = _best_of(lambda: seg.segment(big), args.repeats_24mp)
    per_big_bare = _best_of(bare_big, args.repeats_24mp)

    fig = {
        "images_per_s_544x384": round(1.0 / per_small, 2),
        "bare_session_images_per_s_544x384": round(1.0 / per_small_bare, 2),
        "seconds_per_24mp": round(per_big, 3),
        "bare_session_seconds_per_24mp": round(per_big_bare, 3),
        "tiles_per_24mp": len(tiles),
        "tile_px": [int(ys[0][1]), int(xs[0][1])],
        "threads": args.threads or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "model_version": seg.model_version,
        "tiles_in_flight_24mp": seg.tiles_in_flight(big_h * big_w),
    }
    if args.json:
        print(json.dumps(fig))
        return
    print(f"crack segmentation speed (model {seg.model_version}, {fig['threads']} threads)")
    print(f"{'':28s}{'segment()':>12s}{'bare ORT run':>14s}")
    print(
        f"{'images/s at 544x384':28s}{fig['images_per_s_544x384']:>12.2f}"
        f"{fig['bare_session_images_per_s_544x384']:>14.2f}"
    )
    print(
        f"{'s per 24 MP (6000x4000)':28s}{fig['seconds_per_24mp']:>12.3f}"
        f"{fig['bare_session_seconds_per_24mp']:>14.3f}"
    )
    print(
        f"24 MP = {len(tiles)} tiles of {ys[0][1]}x{xs[0][1]} px, "
        f"{fig['tiles_in_flight_24mp']} in flight in segment() (bare: one at a time)"
    )


if __name__ == "__main__":
    main()
