"""Follow defects across captures: overlap of registered geometries, one-to-one assignment,
growth rates.

An earlier capture's defect polylines are mapped into a new capture with the registration's
homography, then each (earlier, new) pair of the same kind is scored by how much of one lies
along the other; the Hungarian algorithm picks the one-to-one matching with the largest total
overlap. An earlier defect that maps inside the new image but matches nothing is "not
detected"; a new defect that matches nothing is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from infrasight.measure.errors import MeasurementInputError

__all__ = [
    "DefectMatching",
    "DefectShape",
    "Growth",
    "densify",
    "fit_growth",
    "match_defects",
    "overlap_score",
]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DefectShape:
    """A defect's kind and centreline polyline in its capture, px."""

    kind: str
    polyline_px: NDArray[np.float64]

    def __post_init__(self) -> None:
        p = np.asarray(self.polyline_px)
        if p.ndim != 2 or p.shape[1] != 2 or len(p) < 1:
            raise MeasurementInputError(
                f"polyline must be (N >= 1, 2), got {p.shape}", field="polyline_px"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class DefectMatching:
    """The outcome of matching earlier defects to new ones.

    Attributes
    ----------
    pairs : tuple of (int, int, float)
        ``(earlier index, new index, overlap)`` matched one to one.
    not_detected : tuple of int
        Earlier defects inside the new view that match nothing.
    out_of_view : tuple of int
        Earlier defects that map (mostly) outside the new image.
    new : tuple of int
        New defects that match nothing.
    """

    pairs: tuple[tuple[int, int, float], ...]
    not_detected: tuple[int, ...]
    out_of_view: tuple[int, ...]
    new: tuple[int, ...]


def densify(polyline: NDArray[np.float64], step_px: float = 1.0) -> NDArray[np.float64]:
    """Resample an ``(N, 2)`` polyline every ``step_px`` along its length (a point stays one)."""
    p = np.asarray(polyline, np.float64).reshape(-1, 2)
    if len(p) < 2:
        return p
    seg = np.hypot(*np.diff(p, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return p[:1]
    t = np.arange(0.0, s[-1] + 1e-9, step_px)
    return np.column_stack([np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])])


def overlap_score(a: NDArray[np.float64], b: NDArray[np.float64], tolerance_px: float) -> float:
    """How much two densified polylines lie along each other, 0-1.

    The larger of the fraction of ``a``'s points within ``tolerance_px`` of ``b`` and the fraction
    of ``b``'s points within it of ``a``: a crack that grew (or was detected shorter) still
    overlaps its earlier self fully.
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    da, _ = cKDTree(b).query(a, distance_upper_bound=tolerance_px)
    db, _ = cKDTree(a).query(b, distance_upper_bound=tolerance_px)
    return float(max(np.mean(np.isfinite(da)), np.mean(np.isfinite(db))))


def match_defects(
    earlier: Sequence[DefectShape],
    new: Sequence[DefectShape],
    *,
    homography: NDArray[np.float64] | None,
    new_size: tuple[int, int],
    tolerance_px: float = 10.0,
    min_overlap: float = 0.5,
    min_in_view: float = 0.5,
) -> DefectMatching:
    """Match defects of an earlier capture to those of a new capture of the same element.

    Parameters
    ----------
    earlier, new : sequence of DefectShape
        Polylines in their own capture's px.
    homography : numpy.ndarray or None
        ``(3, 3)`` earlier px -> new px (:func:`~infrasight.measure.register_images`); None
        compares raw image coordinates (a fixed camera).
    new_size : tuple of int
        ``(width, height)`` of the new capture, px.
    tolerance_px : float
        Distance within which two centrelines count as the same place, px (registration error
        plus centreline jitter).
    min_overlap : float
        Smallest overlap score of a match, 0-1.
    min_in_view : float
        Fraction of a mapped earlier polyline that must fall inside the new image for a missing
        match to mean "not detected" rather than "out of view".

    Returns
    -------
    DefectMatching
    """
    if tolerance_px <= 0 or not 0 < min_overlap <= 1:
        raise MeasurementInputError("tolerance_px must be > 0 and min_overlap in (0, 1]")
    h = None if homography is None else np.asarray(homography, np.float64)
    mapped = []
    for d in earlier:
        pts = densify(d.polyline_px)
        if h is not None and len(pts):
            q = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
            pts = q[:, :2] / q[:, 2:3]
        mapped.append(pts)
    current = [densify(d.polyline_px) for d in new]
    score = np.zeros((len(earlier), len(new)))
    for i, (e, pts) in enumerate(zip(earlier, mapped, strict=True)):
        for j, (n, cur) in enumerate(zip(new, current, strict=True)):
            if e.kind == n.kind:
                score[i, j] = overlap_score(pts, cur, tolerance_px)
    pairs: list[tuple[int, int, float]] = []
    if score.size:
        rows, cols = linear_sum_assignment(-score)
        pairs = [
            (int(i), int(j), float(score[i, j]))
            for i, j in zip(rows, cols, strict=True)
            if score[i, j] >= min_overlap
        ]
    matched_e = {i for i, _, _ in pairs}
    matched_n = {j for _, j, _ in pairs}
    w, hgt = new_size
    not_detected: list[int] = []
    out_of_view: list[int] = []
    for i, pts in enumerate(mapped):
        if i in matched_e:
            continue
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < hgt)
        (not_detected if len(pts) and inside.mean() >= min_in_view else out_of_view).append(i)
    return DefectMatching(
        pairs=tuple(pairs),
        not_detected=tuple(not_detected),
        out_of_view=tuple(out_of_view),
        new=tuple(j for j in range(len(new)) if j not in matched_n),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Growth:
    """A straight-line growth rate fitted to a quantity over time.

    Attributes
    ----------
    rate_per_day, rate_std_per_day : float
        Slope and its standard uncertainty, unit per day.
    change, change_std : float
        Fitted change from the first to the last observation, unit.
    n : int
        Observations used.
    """

    rate_per_day: float
    rate_std_per_day: float
    change: float
    change_std: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """JSON-ready."""
        return {
            "rate_per_day": self.rate_per_day,
            "rate_std_per_day": self.rate_std_per_day,
            "change": self.change,
            "change_std": self.change_std,
            "n": self.n,
        }


def fit_growth(
    times_days: NDArray[np.float64], values: NDArray[np.float64], stds: NDArray[np.float64]
) -> Growth | None:
    """Weighted least-squares slope of ``values`` over ``times_days``.

    Parameters
    ----------
    times_days : numpy.ndarray
        ``(N,)`` observation times, days.
    values, stds : numpy.ndarray
        ``(N,)`` measured values and their standard uncertainties (same unit, > 0).

    Returns
    -------
    Growth or None
        None with fewer than two distinct times.
    """
    t = np.asarray(times_days, np.float64)
    v = np.asarray(values, np.float64)
    s = np.maximum(np.asarray(stds, np.float64), 1e-9)
    ok = np.isfinite(t) & np.isfinite(v) & np.isfinite(s)
    t, v, s = t[ok], v[ok], s[ok]
    if len(t) < 2 or np.ptp(t) <= 0:
        return None
    w = 1.0 / s**2
    tm = np.sum(w * t) / np.sum(w)
    sxx = np.sum(w * (t - tm) ** 2)
    slope = float(np.sum(w * (t - tm) * v) / sxx)
    slope_std = float(np.sqrt(1.0 / sxx))
    span = float(np.ptp(t))
    return Growth(
        rate_per_day=slope,
        rate_std_per_day=slope_std,
        change=slope * span,
        change_std=slope_std * span,
        n=len(t),
    )
