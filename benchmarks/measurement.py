"""Measurement benchmark: crack width and length, marker scale, DIC accuracy, tracking speed.

Prints (or with --json emits) each figure beside a simple baseline run in the same process:

* ``width_median_abs_error_px`` by true width band (0.5-1, 1-3, 3-10, 10-20 px) on rendered
  scenes of two cracks whose widths wander over 0.4-20 px (textured concrete, blur 0.7 px,
  noise, uneven light, crack floor shade unknown to the measurement and random per scene);
  baseline: width from the mask's distance transform (2 d - 1 at the centreline);
* ``length_error_pct`` (mean absolute, per scene); baseline: skeleton pixel count;
* ``length_error_pct_45deg_marker``: crack length in mm on a surface seen at 45 degrees,
  measured through a 25 mm marker's homography; baseline: one mm/px from the marker's side;
* ``scale_error_pct_{0,30,45,60}deg``: length error of a 300 mm segment through the marker
  on a tilted plane measured with the marker homography; baseline: mm/px from the marker's
  mean side length;
* ``dic_sample5_bias_px`` / ``dic_sample5_std_px`` on DIC Challenge 1.0 sample 5 (frames 000
  and 001, grid step 10 px, subset 31 px; bias = largest |mean - truth| of u and v over both
  frames, std = largest standard deviation); baseline: integer-pixel template matching;
* ``track_roi_frames_per_s``: 64x64 regions tracked through a 1024x768 speckle sequence of a
  vibrating surface (one process, one thread); baseline: integer-pixel template matching
  (cv2.matchTemplate) of the same regions.

Usage: python benchmarks/measurement.py [--json] [--datasets PATH] [--quick] [--blur SIGMA]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.spatial import cKDTree
from skimage.morphology import skeletonize

from infrasight.measure import calibrate_scale, quantify_cracks
from infrasight.measure.frames import read_image
from infrasight.measure.tracking import Region, track_displacement
from infrasight.synthetic import (
    render_crack_scene,
    render_marker_scene,
    speckle_field,
    speckle_image,
)

ROOT = Path(__file__).resolve().parents[1]
BANDS = {"0.5-1": (0.5, 1.0), "1-3": (1.0, 3.0), "3-10": (3.0, 10.0), "10-20": (10.0, 20.0)}
TARGETS = {
    "width_median_abs_error_px": {"0.5-1": 0.2, "1-3": 0.1, "3-10": 0.1, "10-20": 0.1},
    "length_error_pct": 1.0,
    "scale_error_pct_45deg": 0.3,
    "dic_sample5_bias_px": 0.005,
    "dic_sample5_std_px": 0.01,
    "track_roi_frames_per_s": 1000.0,
}
SAMPLE5 = "vision/dic-challenge-1-sample5"


def bench_cracks(
    n_scenes: int,
    width_range: tuple[float, float] = (0.4, 20.0),
    seed_base: int = 1000,
    blur: float = 0.7,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Width errors per band and length errors, ours and the mask-only baseline."""
    ours: dict[str, list[float]] = {b: [] for b in BANDS}
    base: dict[str, list[float]] = {b: [] for b in BANDS}
    len_ours: list[float] = []
    len_base: list[float] = []
    for seed in range(n_scenes):
        s = render_crack_scene(
            width=800,
            height=600,
            seed=seed_base + seed,
            n_cracks=2,
            branch_probability=0.0,
            width_range_px=width_range,
            blur_sigma_px=blur,
        )
        results = quantify_cracks(s.mask, s.image)
        truth_pts = np.vstack([c.centreline for c in s.cracks])
        truth_w = np.concatenate([c.widths_px for c in s.cracks])
        tree = cKDTree(truth_pts)
        dist = cv2.distanceTransform(s.mask.astype(np.uint8), cv2.DIST_L2, 5)
        skel = skeletonize(s.mask)
        sk_pts = np.column_stack(np.nonzero(skel)[::-1]).astype(float)
        sk_tree = cKDTree(sk_pts)
        for q in results:
            d, idx = tree.query(q.stations.centres_px)
            tw = truth_w[idx]
            _, sk_idx = sk_tree.query(q.stations.centres_px)
            sx, sy = sk_pts[sk_idx].astype(int).T
            w_dt = 2.0 * dist[sy, sx] - 1.0
            for band, (lo, hi) in BANDS.items():
                sel = (tw >= lo) & (tw < hi) & (d < 2.0)
                ours[band].extend(np.abs(q.stations.widths_px[sel] - tw[sel]))
                base[band].extend(np.abs(w_dt[sel] - tw[sel]))
        total = sum(q.length.value for q in results)
        len_ours.append(abs(total / s.true_length_px - 1) * 100)
        len_base.append(abs(skel.sum() / s.true_length_px - 1) * 100)
    width_ours = {b: float(np.median(v)) if v else None for b, v in ours.items()}
    width_base = {b: float(np.median(v)) if v else None for b, v in base.items()}
    counts = {b: len(v) for b, v in ours.items()}
    return (
        {"width_median_abs_error_px": width_ours, "length_error_pct": float(np.mean(len_ours))},
        {"width_median_abs_error_px": width_base, "length_error_pct": float(np.mean(len_base))},
        {"width_stations_per_band": counts, "crack_scenes": n_scenes},
    )


def bench_scale(seeds: int) -> tuple[dict[str, float], dict[str, float]]:
    ours: dict[str, float] = {}
    base: dict[str, float] = {}
    for tilt in (0, 30, 45, 60):
        e_ours, e_base = [], []
        for seed in range(seeds):
            scene = render_marker_scene(
                tilt_deg=float(tilt), marker_mm=100.0, seed=seed, yaw_deg=17.0 * seed
            )
            cal = calibrate_scale(scene.image, marker_mm=100.0)
            a_mm = np.array([[-150.0, 0.0], [0.0, -150.0]])
            a_px, b_px = scene.project(a_mm), scene.project(-a_mm)
            measured = cal.scale.distance_mm(a_px, b_px)
            naive = np.hypot(*(a_px - b_px).T) * 100.0 / cal.marker.side_px
            e_ours.append(float(np.abs(measured / 300.0 - 1).max() * 100))
            e_base.append(float(np.abs(naive / 300.0 - 1).max() * 100))
        ours[f"scale_error_pct_{tilt}deg"] = float(np.mean(e_ours))
        base[f"scale_error_pct_{tilt}deg"] = float(np.mean(e_base))
    return ours, base


def bench_tilted_length(n_scenes: int) -> tuple[dict[str, float], dict[str, float]]:
    """Crack length in mm on a surface seen at 45 degrees, through a 25 mm marker."""
    ours, base = [], []
    for seed in range(n_scenes):
        s = render_crack_scene(
            width=1024,
            height=768,
            seed=3000 + seed,
            marker_mm=25.0,
            mm_per_px=0.2,
            tilt_deg=45.0,
            tilt_axis_deg=37.0 * seed,
        )
        cal = calibrate_scale(s.image, marker_mm=25.0)
        measured = sum(q.length.value for q in quantify_cracks(s.mask, s.image, scale=cal.scale))
        length_px = sum(q.length.value for q in quantify_cracks(s.mask, s.image))
        naive = length_px * 25.0 / cal.marker.side_px
        ours.append(abs(measured / s.true_length_mm - 1) * 100)
        base.append(abs(naive / s.true_length_mm - 1) * 100)
    key = "length_error_pct_45deg_marker"
    return {key: float(np.mean(ours))}, {key: float(np.mean(base))}


def bench_dic(datasets: Path) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    folder = datasets / SAMPLE5
    if not folder.is_dir():
        return (
            {"dic_sample5_bias_px": None, "dic_sample5_std_px": None},
            {"dic_sample5_bias_px": None, "dic_sample5_std_px": None},
            f"DIC Challenge sample 5 not found at {folder}: DIC figures skipped",
        )
    ref = read_image(folder / "Sample5 Reference.tif")
    truth = {}
    for line in (folder / "truth.csv").read_text().splitlines()[1:]:
        name, u, v = line.rsplit(",", 2)
        truth[name] = (float(u), float(v))
    names = [n for n in truth if n != "Sample5 Reference.tif"]
    frames = [read_image(folder / n) for n in names]
    out = []
    for integer_only in (False, True):
        r = track_displacement(
            ref, frames, grid=10, subset=31, integer_only=integer_only, min_score=0.0
        )
        bias, std = 0.0, 0.0
        for k, name in enumerate(names):
            u, v = truth[name]
            ok = np.isfinite(r.dx[k])
            bias = max(
                bias, abs(float(np.mean(r.dx[k, ok])) - u), abs(float(np.mean(r.dy[k, ok])) - v)
            )
            std = max(std, float(np.std(r.dx[k, ok])), float(np.std(r.dy[k, ok])))
        out.append({"dic_sample5_bias_px": bias, "dic_sample5_std_px": std})
    return out[0], out[1], None


def bench_speed(n_frames: int) -> tuple[dict[str, float], dict[str, float]]:
    spec = speckle_field(768, 1024, seed=5, speckle_px=3.0)
    ref = speckle_image(spec)
    # a vibrating structure: smooth sub-pixel to few-pixel motion from frame to frame
    phase = 2 * np.pi * np.arange(1, n_frames + 1) / 12.0
    frames = [
        speckle_image(spec, shift=(2.5 * np.sin(a), 1.2 * np.sin(2 * a)), noise_sigma=1.0, seed=k)
        for k, a in enumerate(phase)
    ]
    rois = [Region(x=x, y=y, w=64, h=64) for y in range(40, 700, 96) for x in range(40, 950, 96)]
    rates = []
    for integer_only in (False, True):
        t0 = time.perf_counter()
        track_displacement(ref, frames, rois=rois, integer_only=integer_only)
        dt = time.perf_counter() - t0
        rates.append(len(rois) * n_frames / dt)
    return {"track_roi_frames_per_s": rates[0]}, {"track_roi_frames_per_s": rates[1]}


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="emit JSON")
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("INFRASIGHT_DATASETS", ROOT.parent / "shared" / "datasets")),
    )
    parser.add_argument("--quick", action="store_true", help="fewer scenes and frames")
    parser.add_argument("--smoke", action="store_true", help="the fewest scenes (seconds)")
    parser.add_argument(
        "--blur", type=float, default=0.7, help="optical blur sigma of the crack scenes, px"
    )
    args = parser.parse_args()
    n_scenes, n_seeds, n_frames = (6, 1, 3) if args.quick else (20, 3, 10)
    if args.smoke:
        n_scenes, n_seeds, n_frames = 1, 1, 1
    ours: dict[str, Any] = {}
    base: dict[str, Any] = {}
    a, b, meta = bench_cracks(n_scenes, blur=args.blur)
    meta["blur_sigma_px"] = args.blur
    ours.update(a)
    base.update(b)
    # thin cracks only (< 2.5 px): no wide stretch shows the crack floor, which is then assumed
    thin, thin_base, thin_meta = bench_cracks(n_scenes, (0.4, 2.5), seed_base=2000, blur=args.blur)
    meta["thin_only"] = {
        "width_median_abs_error_px": thin["width_median_abs_error_px"],
        "baseline_width_median_abs_error_px": thin_base["width_median_abs_error_px"],
        "stations_per_band": thin_meta["width_stations_per_band"],
    }
    a1, b1 = bench_tilted_length(max(n_seeds * 2, 2))
    ours.update(a1)
    base.update(b1)
    a2, b2 = bench_scale(n_seeds)
    ours.update(a2)
    base.update(b2)
    a3, b3, note = bench_dic(args.datasets)
    ours.update(a3)
    base.update(b3)
    a4, b4 = bench_speed(n_frames)
    ours.update(a4)
    base.update(b4)
    meta["notes"] = [note] if note else []
    meta["datasets"] = str(args.datasets)
    if args.json:
        print(json.dumps({**ours, "baseline": base, "targets": TARGETS, "meta": meta}, indent=2))
        return
    if note:
        print(f"NOTE: {note}")
    print(f"{'figure':34s} {'ours':>10s} {'baseline':>10s} {'target':>10s}")
    for key, val in ours.items():
        if isinstance(val, dict):
            for band, v in val.items():
                tgt = TARGETS.get(key, {})
                t = tgt.get(band) if isinstance(tgt, dict) else None
                name = f"{key}[{band}]"
                print(f"{name:34s} {_fmt(v):>10s} {_fmt(base[key][band]):>10s} {_fmt(t):>10s}")
        else:
            tv = TARGETS.get(key)
            t = None if isinstance(tv, dict) else tv
            print(f"{key:34s} {_fmt(val):>10s} {_fmt(base[key]):>10s} {_fmt(t):>10s}")
    print(f"stations per band: {meta['width_stations_per_band']}")
    thin_only = meta["thin_only"]
    print("thin-only scenes (0.4-2.5 px, crack floor shade assumed): width median abs error px")
    for band, v in thin_only["width_median_abs_error_px"].items():
        b = thin_only["baseline_width_median_abs_error_px"][band]
        print(f"  {band:8s} ours {_fmt(v):>8s}  baseline {_fmt(b):>8s}")


if __name__ == "__main__":
    main()
