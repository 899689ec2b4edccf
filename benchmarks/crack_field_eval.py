"""Crack model on bridge drone images (UAV75 validation) and under field corruptions.

    python benchmarks/crack_field_eval.py [--datasets ../shared/datasets] [--model FILE] [--smoke]

Figures:
- UAV75 validation (10 official validation images, drone photos of concrete bridges with formwork
  planking): centreline IoU with a 4 px tolerance, pooled over the set (the metric defined in the
  set's SOURCE.txt), at the model's calibrated threshold; planking pixels (label 204) are not
  cracks. Also the share of planking pixels marked as crack (the formwork-joint confusion).
- Corruption suite: the DeepCrack held-out stems (training/cracks/splits/deepcrack_val.txt)
  re-scored (pixel-exact F1) under blur, noise, JPEG, low light, rain and haze at three
  severities (``infrasight.vision.corruptions``), and UAV75 validation at the middle severity;
  printed as the drop against the clean images.
Baseline in the same run: the black-hat darkness detector of benchmarks/crack_eval.py.
``--smoke`` scores 3 images per set at the middle severity only (seconds).
Datasets: --datasets, else $INFRASIGHT_DATASETS, else ../shared/datasets beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crack_eval import blackhat_probability

from infrasight.vision.corruptions import CORRUPTIONS, SEVERITIES, corrupt
from infrasight.vision.cracks import CrackSegmenter
from infrasight.vision.imageio import load_image, load_mask, to_rgb8
from infrasight.vision.metrics import (
    CentrelineCounts,
    PixelCounts,
    centreline_counts,
    pixel_counts,
)

REPO = Path(__file__).resolve().parents[1]
SPLITS = REPO / "training" / "cracks" / "splits"

Predict = Callable[[NDArray[np.uint8]], NDArray[np.bool_]]


def _uav75(
    root: Path, stems: list[str]
) -> list[tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.bool_]]]:
    """(image, crack centrelines, planking) of each stem; masks use channel 0 (255 / 204)."""
    out = []
    for stem in stems:
        img = to_rgb8(load_image(root / "images" / f"{stem}.jpg"))
        raw = cv2.imread(str(root / "masks" / f"{stem}.png"), cv2.IMREAD_UNCHANGED)
        if raw is None:
            raise FileNotFoundError(root / "masks" / f"{stem}.png")
        # OpenCV reads BGRA: the file's channel 0 (red) is index 2.
        ch0 = raw[..., 2] if raw.ndim == 3 else raw
        out.append((img, ch0 == 255, ch0 == 204))
    return out


def _stems(name: str) -> list[str]:
    lines = (SPLITS / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _deepcrack(root: Path, n: int | None) -> list[tuple[NDArray[np.uint8], NDArray[np.bool_]]]:
    stems = _stems("deepcrack_val.txt")[:n]
    folder = root / "DeepCrack-train"
    out = []
    for stem in stems:
        ip = next(p for p in (folder / "images").iterdir() if p.stem == stem)
        mp = next(p for p in (folder / "masks").iterdir() if p.stem == stem)
        out.append((to_rgb8(load_image(ip)), load_mask(mp)))
    return out


def _uav_scores(
    predict: Predict,
    data: list[tuple[NDArray[np.uint8], NDArray[np.bool_], NDArray[np.bool_]]],
    transform: Callable[[NDArray[np.uint8], int], NDArray[np.uint8]] | None = None,
) -> tuple[float, float]:
    counts = CentrelineCounts(tp=0, fp=0, fn=0)
    plank_hit = plank_all = 0
    for i, (img, crack, plank) in enumerate(data):
        pred = predict(transform(img, i) if transform else img)
        counts = counts + centreline_counts(pred, crack, tolerance=4.0)
        plank_hit += int(np.count_nonzero(pred & plank))
        plank_all += int(np.count_nonzero(plank))
    return counts.iou, plank_hit / max(plank_all, 1)


def _f1(
    predict: Predict,
    data: list[tuple[NDArray[np.uint8], NDArray[np.bool_]]],
    transform: Callable[[NDArray[np.uint8], int], NDArray[np.uint8]] | None = None,
) -> float:
    c = PixelCounts(tp=0, fp=0, fn=0)
    for i, (img, gt) in enumerate(data):
        c = c + pixel_counts(predict(transform(img, i) if transform else img), gt)
    return c.scores().f1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default = os.environ.get("INFRASIGHT_DATASETS", str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--datasets", type=Path, default=Path(default))
    ap.add_argument("--model", type=Path, default=None, help="ONNX file (default: packaged)")
    ap.add_argument("--smoke", action="store_true", help="3 images per set, middle severity")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = args.datasets / "cracks"
    if not (root / "UAV75-trainval").is_dir() or not (root / "DeepCrack-train").is_dir():
        print(
            f"crack datasets (UAV75-trainval, DeepCrack-train) not found under {root}: "
            "pass --datasets or set INFRASIGHT_DATASETS"
        )
        return 2

    seg = CrackSegmenter(args.model)
    n = 3 if args.smoke else None
    uav = _uav75(root / "UAV75-trainval", _stems("uav75_val.txt")[:n])
    dc = _deepcrack(root, n)
    severities = (2,) if args.smoke else SEVERITIES

    def model(img: NDArray[np.uint8]) -> NDArray[np.bool_]:
        return seg.segment(img).mask

    def baseline(img: NDArray[np.uint8]) -> NDArray[np.bool_]:
        return np.asarray(blackhat_probability(img) >= 0.5)

    t0 = time.perf_counter()
    res: dict[str, object] = {"model_version": seg.model_version}
    for name, fn in (("model", model), ("blackhat_baseline", baseline)):
        iou, plank = _uav_scores(fn, uav)
        res[f"{name}_uav75_centreline_iou"] = iou
        res[f"{name}_uav75_planking_marked"] = plank
    clean = _f1(model, dc)
    res["model_deepcrack_f1_clean"] = clean
    uav_clean = float(res["model_uav75_centreline_iou"])  # type: ignore[arg-type]
    table: dict[str, dict[int, tuple[float, float | None]]] = {}
    for cname in CORRUPTIONS:
        table[cname] = {}
        for sev in severities:

            def tf(
                img: NDArray[np.uint8], i: int, c: str = cname, s: int = sev
            ) -> NDArray[np.uint8]:
                return corrupt(img, c, s, seed=i)

            f1 = _f1(model, dc, tf)
            uav_iou = _uav_scores(model, uav, tf)[0] if sev == 2 else None
            table[cname][sev] = (f1, uav_iou)
    elapsed = time.perf_counter() - t0

    if args.json:
        res["corruptions"] = {
            c: {str(s): {"deepcrack_f1": v[0], "uav75_iou": v[1]} for s, v in d.items()}
            for c, d in table.items()
        }
        res["seconds"] = elapsed
        print(json.dumps(res, indent=2))
        return 0
    print(f"UAV75 validation ({len(uav)} images), centreline IoU (4 px), pooled:")
    print(
        f"  model     {res['model_uav75_centreline_iou']:.3f}   planking marked as crack "
        f"{100 * float(res['model_uav75_planking_marked']):.2f} % of planking px"
    )  # type: ignore[arg-type]
    print(
        f"  black-hat {res['blackhat_baseline_uav75_centreline_iou']:.3f}   planking marked "
        f"{100 * float(res['blackhat_baseline_uav75_planking_marked']):.2f} %"
    )  # type: ignore[arg-type]
    print(f"\nCorruptions: DeepCrack held-out ({len(dc)} images) pixel-exact F1, clean {clean:.3f}")
    header = "  corruption   " + "".join(f"  sev {s}: F1 (drop)   " for s in severities)
    print(header + "  UAV75 IoU sev 2 (drop)")
    drops_mid = []
    for cname, d in table.items():
        cells = "".join(f"  {d[s][0]:.3f} ({100 * (clean - d[s][0]):+5.1f})   " for s in severities)
        f1_mid, iou_mid = d[2]
        drops_mid.append(clean - f1_mid)
        iou_txt = (
            f"{iou_mid:.3f} ({100 * (uav_clean - iou_mid):+5.1f})" if iou_mid is not None else "-"
        )
        print(f"  {cname:<12}{cells}  {iou_txt}")
    print(f"  mean F1 drop at the middle severity: {100 * float(np.mean(drops_mid)):.1f} points")
    print(f"\n{elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
