"""Crack segmentation metrics: pixel-exact P/R/F1/IoU and ODS/OIS F1 with a matching tolerance.

Tolerance matching follows Zou et al. (TIP 2019, DeepCrack): both the prediction and the ground
truth are thinned to 1-px skeletons; a predicted skeleton pixel is a true positive when a
ground-truth skeleton pixel lies within ``tolerance`` px (Euclidean), and a ground-truth skeleton
pixel is recalled when a predicted one lies within ``tolerance`` px. (Zou et al. match with a
one-to-one bipartite assignment; this distance test is the common, slightly more lenient
approximation.) ODS: the best F1 over thresholds with counts summed over the data set; OIS: the
mean over images of each image's best F1.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import distance_transform_edt

from infrasight.vision.morphology import thin

__all__ = [
    "DEFAULT_THRESHOLDS",
    "CentrelineCounts",
    "PixelCounts",
    "PixelScores",
    "ThresholdSweep",
    "centreline_counts",
    "pixel_counts",
    "sweep",
    "tolerance_counts",
]

DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))


def _f1(p: float, r: float) -> float:
    return 2.0 * p * r / (p + r) if p + r > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class PixelScores:
    """Precision, recall, F1 and crack-class IoU, each in [0, 1]."""

    precision: float
    recall: float
    f1: float
    iou: float

    def __post_init__(self) -> None:
        for name in ("precision", "recall", "f1", "iou"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PixelCounts:
    """Summed pixel counts: true positives, false positives, false negatives (pixel-exact)."""

    tp: int
    fp: int
    fn: int

    def __post_init__(self) -> None:
        if min(self.tp, self.fp, self.fn) < 0:
            raise ValueError("counts must be >= 0")

    def __add__(self, other: PixelCounts) -> PixelCounts:
        return PixelCounts(tp=self.tp + other.tp, fp=self.fp + other.fp, fn=self.fn + other.fn)

    def scores(self) -> PixelScores:
        """P = TP/(TP+FP), R = TP/(TP+FN), F1, IoU = TP/(TP+FP+FN); 0 where undefined."""
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        union = self.tp + self.fp + self.fn
        return PixelScores(
            precision=p, recall=r, f1=_f1(p, r), iou=self.tp / union if union else 0.0
        )


def _check_pair(pred: NDArray[np.generic], truth: NDArray[np.generic]) -> None:
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} differ in shape")
    if pred.ndim != 2:
        raise ValueError(f"masks must be 2-D, got {pred.ndim}-D")


def pixel_counts(pred: NDArray[np.bool_], truth: NDArray[np.bool_]) -> PixelCounts:
    """Pixel-exact TP/FP/FN of one boolean prediction against one boolean ground truth."""
    _check_pair(pred, truth)
    p, t = pred.astype(bool), truth.astype(bool)
    tp = int(np.count_nonzero(p & t))
    return PixelCounts(tp=tp, fp=int(np.count_nonzero(p)) - tp, fn=int(np.count_nonzero(t)) - tp)


def _skeleton(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    return thin(mask)


def _near(skel: NDArray[np.bool_], tolerance: float) -> NDArray[np.bool_]:
    """Pixels within ``tolerance`` px of a True pixel of ``skel``."""
    if not skel.any():
        return np.zeros_like(skel)
    return np.asarray(distance_transform_edt(~skel) <= tolerance)


def tolerance_counts(
    pred: NDArray[np.bool_],
    truth: NDArray[np.bool_],
    *,
    tolerance: float = 2.0,
    truth_skeleton: NDArray[np.bool_] | None = None,
) -> tuple[int, int, int, int]:
    """Tolerance matching of thinned masks.

    Returns
    -------
    (matched_pred, n_pred, matched_truth, n_truth) : skeleton pixel counts; precision is
    ``matched_pred / n_pred`` and recall ``matched_truth / n_truth``.
    """
    _check_pair(pred, truth)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    ps = _skeleton(pred)
    ts = _skeleton(truth) if truth_skeleton is None else truth_skeleton
    n_pred, n_truth = int(ps.sum()), int(ts.sum())
    matched_pred = int(np.count_nonzero(ps & _near(ts, tolerance)))
    matched_truth = int(np.count_nonzero(ts & _near(ps, tolerance)))
    return matched_pred, n_pred, matched_truth, n_truth


@dataclass(frozen=True, slots=True, kw_only=True)
class ThresholdSweep:
    """ODS/OIS F1 over a set of images and thresholds (tolerance matching)."""

    ods_f1: float
    ods_threshold: float
    ods_precision: float
    ods_recall: float
    ois_f1: float
    tolerance: float

    def __post_init__(self) -> None:
        for name in ("ods_f1", "ods_precision", "ods_recall", "ois_f1"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {v}")


def sweep(
    pairs: Iterable[tuple[NDArray[np.floating], NDArray[np.bool_]]],
    *,
    tolerance: float = 2.0,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
) -> ThresholdSweep:
    """ODS and OIS F1 of ``(probability, truth)`` pairs over ``thresholds``.

    An image with neither predicted nor true crack pixels at a threshold scores F1 = 1 there.
    """
    th = np.asarray(thresholds, dtype=np.float64)
    if th.size == 0 or th.min() <= 0 or th.max() >= 1:
        raise ValueError("thresholds must be a non-empty sequence in (0, 1)")
    total = np.zeros((th.size, 4), np.int64)
    ois: list[float] = []
    for prob, truth in pairs:
        _check_pair(prob, truth)
        ts = _skeleton(truth)
        per = np.array(
            [tolerance_counts(prob >= t, truth, tolerance=tolerance, truth_skeleton=ts) for t in th]
        )
        total += per
        f = [
            1.0
            if n_p == 0 and n_t == 0
            else _f1(mp / n_p if n_p else 0.0, mt / n_t if n_t else 0.0)
            for mp, n_p, mt, n_t in per
        ]
        ois.append(max(f))
    if not ois:
        raise ValueError("no images to evaluate")
    prec = np.where(total[:, 1] > 0, total[:, 0] / np.maximum(total[:, 1], 1), 0.0)
    rec = np.where(total[:, 3] > 0, total[:, 2] / np.maximum(total[:, 3], 1), 0.0)
    f1 = np.array([_f1(p, r) for p, r in zip(prec, rec, strict=True)])
    k = int(np.argmax(f1))
    return ThresholdSweep(
        ods_f1=float(f1[k]),
        ods_threshold=float(th[k]),
        ods_precision=float(prec[k]),
        ods_recall=float(rec[k]),
        ois_f1=float(np.mean(ois)),
        tolerance=tolerance,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CentrelineCounts:
    """Skeleton pixel counts of the centreline metric (Benz & Rodehorst, OmniCrack30k 2024).

    ``tp`` counts true skeleton pixels near a predicted one, ``fp`` predicted skeleton pixels far
    from every true one, ``fn`` true skeleton pixels far from every predicted one.
    """

    tp: int
    fp: int
    fn: int

    def __post_init__(self) -> None:
        if min(self.tp, self.fp, self.fn) < 0:
            raise ValueError("counts must be >= 0")

    def __add__(self, other: CentrelineCounts) -> CentrelineCounts:
        return CentrelineCounts(tp=self.tp + other.tp, fp=self.fp + other.fp, fn=self.fn + other.fn)

    @property
    def iou(self) -> float:
        """TP / (TP + FP + FN); 1 when both prediction and truth are empty."""
        union = self.tp + self.fp + self.fn
        return self.tp / union if union else 1.0


def _disk_near(skel: NDArray[np.bool_], radius: float) -> NDArray[np.bool_]:
    """Dilation of ``skel`` with a disk of ``radius`` px (pixels within the Euclidean radius)."""
    return _near(skel, radius)


def centreline_counts(
    pred: NDArray[np.bool_], truth: NDArray[np.bool_], *, tolerance: float = 4.0
) -> CentrelineCounts:
    """Centreline IoU counts with a tolerance, as defined for UAV75 / OmniCrack30k.

    Both masks are skeletonised and each skeleton is dilated with a disk of ``tolerance`` px:
    TP = truth & dilate(pred), FP = pred & ~dilate(truth), FN = truth & ~TP (skeleton pixels).
    Pool the counts over a data set with ``+`` and read ``iou``.

    Parameters
    ----------
    pred, truth : (H, W) boolean masks; ``truth`` may already be a 1-3 px centreline drawing.
    tolerance : dilation radius in px (4 for UAV75).
    """
    _check_pair(pred, truth)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    ps, ts = _skeleton(pred), _skeleton(truth)
    tp = int(np.count_nonzero(ts & _disk_near(ps, tolerance)))
    fp = int(np.count_nonzero(ps & ~_disk_near(ts, tolerance)))
    return CentrelineCounts(tp=tp, fp=fp, fn=int(ts.sum()) - tp)
