"""Accuracy of the shipped crack model on the validation data, beside a classical baseline.

    python benchmarks/crack_eval.py [--datasets ../shared/datasets] [--json]

Figures (all on data kept out of training, except where marked):
- DeepCrack held-out stems (training/cracks/splits/deepcrack_val.txt): pixel-exact precision,
  recall, F1 and crack IoU summed over the set, at the shipped (calibrated) threshold.
- CFD test split 073-118: ODS/OIS F1 with a 2-px tolerance (thinned both sides), and pixel-exact
  F1 at the shipped threshold.
- Khanh-subset crack-free walls: share of pixels marked as crack, on the 13 held-out walls and on
  all 36 (23 of them were training negatives).
Baseline (same process, same metrics): morphological black-hat darkness of thin structures.
Datasets: --datasets, else $INFRASIGHT_DATASETS, else ../shared/datasets beside the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from infrasight.vision.cracks import CrackSegmenter
from infrasight.vision.imageio import load_image, load_mask, to_rgb8
from infrasight.vision.metrics import PixelCounts, pixel_counts, sweep

REPO = Path(__file__).resolve().parents[1]
SPLITS = REPO / "training" / "cracks" / "splits"


def _stems(name: str) -> list[str]:
    lines = (SPLITS / name).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def blackhat_probability(image: np.ndarray) -> np.ndarray:
    """Classical baseline: black-hat (closing minus image) of the grey image, scaled to [0, 1]."""
    grey = cv2.cvtColor(to_rgb8(image), cv2.COLOR_RGB2GRAY)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))
    bh = cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, k).astype(np.float32)
    return np.clip(bh / 60.0, 0.0, 0.999)


def _pair(folder: Path, stem: str) -> tuple[Path, Path]:
    img = next(p for p in (folder / "images").iterdir() if p.stem == stem)
    mask = next(p for p in (folder / "masks").iterdir() if p.stem == stem)
    return img, mask


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default = os.environ.get("INFRASIGHT_DATASETS", str(REPO.parent / "shared" / "datasets"))
    ap.add_argument("--datasets", type=Path, default=Path(default))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="two images per set (seconds; no figures)")
    ap.add_argument(
        "--model", type=Path, default=None, help="ONNX file (default: the packaged one)"
    )
    args = ap.parse_args()
    root = args.datasets / "cracks"
    if not root.is_dir():
        print(
            f"skipped: crack datasets not found at {root} "
            "(pass --datasets or set INFRASIGHT_DATASETS)"
        )
        return 0
    take = 2 if args.smoke else None

    seg = CrackSegmenter(args.model)
    t0 = time.perf_counter()
    res: dict[str, dict[str, float]] = {"model": {}, "blackhat_baseline": {}}

    # DeepCrack held-out: pixel-exact at the calibrated threshold (baseline: its best threshold).
    dc = [_pair(root / "DeepCrack-train", s) for s in _stems("deepcrack_val.txt")][:take]
    model_c = PixelCounts(tp=0, fp=0, fn=0)
    base_probs = []
    for ip, mp in dc:
        img, gt = load_image(ip), load_mask(mp)
        model_c = model_c + pixel_counts(seg.segment(img).mask, gt)
        base_probs.append((blackhat_probability(img), gt))
    s = model_c.scores()
    res["model"].update(
        deepcrack_precision=s.precision,
        deepcrack_recall=s.recall,
        deepcrack_f1=s.f1,
        deepcrack_iou=s.iou,
    )
    best_base = max(
        (
            sum(
                (pixel_counts(p >= t, g) for p, g in base_probs), PixelCounts(tp=0, fp=0, fn=0)
            ).scores()
            for t in np.arange(0.05, 1.0, 0.05)
        ),
        key=lambda x: x.f1,
    )
    res["blackhat_baseline"].update(
        deepcrack_precision=best_base.precision,
        deepcrack_recall=best_base.recall,
        deepcrack_f1=best_base.f1,
        deepcrack_iou=best_base.iou,
    )

    # CFD test split 073-118: ODS/OIS with 2-px tolerance.
    cfd_stems = [f"{n:03d}" for n in range(73, 119)][:take]
    m_pairs, b_pairs = [], []
    cfd_c = PixelCounts(tp=0, fp=0, fn=0)
    for st in cfd_stems:
        ip, mp = _pair(root / "CFD", st)
        img, gt = load_image(ip), load_mask(mp)
        r = seg.segment(img)
        cfd_c = cfd_c + pixel_counts(r.mask, gt)
        m_pairs.append((r.probability, gt))
        b_pairs.append((blackhat_probability(img), gt))
    for key, pairs in (("model", m_pairs), ("blackhat_baseline", b_pairs)):
        sw = sweep(pairs, tolerance=2.0)
        res[key].update(
            cfd_ods_f1=sw.ods_f1, cfd_ois_f1=sw.ois_f1, cfd_ods_threshold=sw.ods_threshold
        )
    res["model"]["cfd_pixel_f1_at_threshold"] = cfd_c.scores().f1

    # Crack-free walls: false-positive pixel rate.
    held = set(_stems("khanh_val_walls.txt"))
    k_root = root / "Khanh-subset"
    walls = sorted(p for p in (k_root / "images").iterdir() if p.name.startswith("noncrack_"))
    walls = walls[:take] if take is None else [w for w in walls if w.stem in held][:take]
    fp_all = fp_held = n_all = n_held = 0
    fp_base = 0
    for ip in walls:
        img = load_image(ip)
        r = seg.segment(img)
        fp = int(r.mask.sum())
        fp_all += fp
        n_all += r.mask.size
        fp_base += int(
            (blackhat_probability(img) >= res["blackhat_baseline"]["cfd_ods_threshold"]).sum()
        )
        if ip.stem in held:
            fp_held += fp
            n_held += r.mask.size
    res["model"].update(
        walls_fp_rate_all36=fp_all / n_all,
        walls_fp_rate_heldout13=fp_held / max(n_held, 1),
    )
    res["blackhat_baseline"]["walls_fp_rate_all36"] = fp_base / n_all
    out = {
        "model_version": seg.model_version,
        "threshold": seg.threshold,
        "counts": {"deepcrack_val": len(dc), "cfd_test": len(cfd_stems), "walls": len(walls)},
        "seconds": round(time.perf_counter() - t0, 1),
        "smoke": args.smoke,
        **{k: {kk: round(vv, 5) for kk, vv in v.items()} for k, v in res.items()},
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"crack model {seg.model_version}, threshold {seg.threshold}; {out['counts']}")
    keys = sorted(set(res["model"]) | set(res["blackhat_baseline"]))
    print(f"{'figure':32s}{'model':>10s}{'black-hat':>12s}")
    for k in keys:
        m = res["model"].get(k)
        b = res["blackhat_baseline"].get(k)
        fm = f"{m:10.4f}" if m is not None else f"{'-':>10s}"
        fb = f"{b:12.4f}" if b is not None else f"{'-':>12s}"
        print(f"{k:32s}{fm}{fb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
