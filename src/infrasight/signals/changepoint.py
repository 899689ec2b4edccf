"""Offline change-point detection (PELT) on the mean or on mean and variance.

Pruned Exact Linear Time search (Killick, Fearnhead & Eckley 2012) with Gaussian segment costs
computed from cumulative sums. The series is standardised by a robust noise scale (median
absolute one-step difference, or the long-run scale when the noise wanders), so the default
penalty ``3 * log(n)`` (a modified BIC) works without tuning across units.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from infrasight.signals.errors import InputDataError, NotEnoughDataError
from infrasight.signals.series import as_float_vector, validate_series

__all__ = ["ChangePoints", "block_means", "detect_change_points"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangePoints:
    """Result of :func:`detect_change_points`.

    Attributes
    ----------
    indices : ndarray of int
        First index of each new segment (sorted, excludes 0).
    times : ndarray of float
        Times of those indices (s), or the indices as floats without times.
    segment_means, segment_stds : ndarray
        Per segment, in the series unit (``len(indices) + 1`` entries).
    shifts : ndarray
        Mean of each segment minus the previous one (series unit).
    penalty : float
        Penalty used (in standardised cost units).
    noise_scale : float
        Robust noise scale used to standardise (series unit).
    """

    indices: NDArray[np.intp]
    times: FloatArray
    segment_means: FloatArray
    segment_stds: FloatArray
    shifts: FloatArray
    penalty: float
    noise_scale: float

    def __post_init__(self) -> None:
        if self.segment_means.size != self.indices.size + 1:
            raise ValueError("one segment more than change points is expected")


def block_means(times: ArrayLike, values: ArrayLike, block: int) -> tuple[FloatArray, FloatArray]:
    """Average consecutive blocks of ``block`` readings (e.g. 100 Hz -> 1 Hz with ``block=100``).

    Returns the block mid-times and the block means (NaN readings ignored); a trailing partial
    block is dropped.
    """
    t, v = validate_series(times, values, name="series", min_points=1)
    if block < 1:
        raise InputDataError("block must be >= 1")
    nb = t.size // block
    if nb == 0:
        raise NotEnoughDataError(f"{t.size} readings, fewer than one block of {block}")
    tb = t[: nb * block].reshape(nb, block).mean(axis=1)
    vb = v[: nb * block].reshape(nb, block)
    ok = np.isfinite(vb)
    cnt = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mb = np.where(ok, vb, 0.0).sum(axis=1) / cnt
    return tb, np.where(cnt > 0, mb, np.nan)


def _mad_diff_scale(y: FloatArray) -> float:
    d = np.diff(y)
    if d.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


def _noise_scale(y: FloatArray) -> float:
    """Robust noise scale; the larger of the one-step estimate and a long-run one.

    The one-step estimate (median absolute difference) is exact for white noise; for slowly
    wandering (autocorrelated) noise it is too small and PELT would cut the wander into pieces,
    so the long-run scale ``sqrt(B) x`` the one-step scale of block means of ``B = 10`` readings
    is used when larger.
    """
    s = _mad_diff_scale(y)
    b = 10
    nb = y.size // b
    if nb >= 10:
        s_lr = np.sqrt(b) * _mad_diff_scale(y[: nb * b].reshape(nb, b).mean(axis=1))
        s = max(s, s_lr)
    if s <= 0:
        s = float(np.std(np.diff(y))) / np.sqrt(2.0) if y.size > 1 else 0.0
    return float(s)


def detect_change_points(
    values: ArrayLike,
    *,
    times: ArrayLike | None = None,
    model: Literal["mean", "meanvar"] = "mean",
    penalty: float | None = None,
    min_size: int = 5,
    max_points: int = 4000,
) -> ChangePoints:
    """Find the change points of a series with PELT.

    Parameters
    ----------
    values : array_like, shape (n,)
        Series (any unit); NaN readings are dropped.
    times : array_like, shape (n,), optional
        Strictly increasing times (s) used to report the change times.
    model : {"mean", "meanvar"}
        Piecewise-constant mean (Gaussian, common variance) or piecewise mean and variance.
    penalty : float, optional
        Cost of one extra change point in standardised units; default ``3 log n`` for ``mean``,
        ``4 log n`` for ``meanvar``.
    min_size : int
        Minimum segment length in readings (in blocks when the series is aggregated).
    max_points : int
        Longer series are first averaged over blocks of ``ceil(n / max_points)`` readings (PELT is
        quadratic when there are few changes); indices are mapped back to the first reading of the
        block, so they are exact to one block.

    Returns
    -------
    ChangePoints

    Raises
    ------
    NotEnoughDataError
        Fewer than ``2 * min_size`` finite readings or a constant series with ``meanvar``.
    """
    v = as_float_vector(values, name="values")
    if times is not None:
        t, v = validate_series(times, v, name="series")
    else:
        t = np.arange(v.size, dtype=np.float64)
    ok = np.isfinite(v)
    t, y = t[ok], v[ok]
    n = y.size
    if min_size < 1:
        raise InputDataError("min_size must be >= 1")
    if n < 2 * min_size:
        raise NotEnoughDataError(f"{n} finite readings, at least {2 * min_size} needed")
    if model not in ("mean", "meanvar"):
        raise InputDataError(f"model must be 'mean' or 'meanvar', got {model!r}")
    if n and np.max(np.abs(y)) > 1e150:
        raise InputDataError("values beyond +-1e150 cannot be segmented (rescale the series)")
    ok_idx = np.flatnonzero(ok)
    y_full = y
    block = 1
    if n > max_points:
        block = int(np.ceil(n / max_points))
        nb = n // block
        y = y[: nb * block].reshape(nb, block).mean(axis=1)
        t = t[: nb * block : block]
        ok_idx = ok_idx[: nb * block : block]
        n = nb
        if n < 2 * min_size:
            raise NotEnoughDataError(f"{n} blocks, at least {2 * min_size} needed")
    scale = _noise_scale(y)
    if scale <= 0:
        if model == "meanvar":
            raise NotEnoughDataError("constant series: no variance to segment")
        scale = 1.0
    z = (y - np.median(y)) / scale
    pen = penalty if penalty is not None else (3.0 if model == "mean" else 4.0) * np.log(n)
    if pen <= 0:
        raise InputDataError("penalty must be > 0")
    s1 = np.concatenate([[0.0], np.cumsum(z)])
    s2 = np.concatenate([[0.0], np.cumsum(z * z)])

    def cost(a: NDArray[np.intp], b: int) -> FloatArray:
        m = (b - a).astype(np.float64)
        ss = s2[b] - s2[a] - (s1[b] - s1[a]) ** 2 / m
        if model == "mean":
            out: FloatArray = ss
            return out
        var = np.maximum(ss / m, 1e-8)
        res: FloatArray = m * (np.log(2 * np.pi * var) + 1.0)
        return res

    F = np.full(n + 1, np.inf)
    F[0] = -pen
    last = np.zeros(n + 1, dtype=np.intp)
    cand = np.array([0], dtype=np.intp)
    for b in range(min_size, n + 1):
        # candidates become admissible once their segment reaches min_size
        if b >= 2 * min_size:
            cand = np.append(cand, b - min_size)
        a = cand[b - cand >= min_size]
        if a.size == 0:
            continue
        tot = F[a] + cost(a, b) + pen
        k = int(np.argmin(tot))
        F[b] = tot[k]
        last[b] = a[k]
        keep = F[a] + cost(a, b) <= F[b]
        cand = np.concatenate([a[keep], cand[b - cand < min_size]])
    cps = []
    b = n
    while b > 0:
        a_ = int(last[b])
        if a_ > 0:
            cps.append(a_)
        b = a_
    idx = np.array(sorted(cps), dtype=np.intp)
    bounds = np.concatenate([[0], idx * block, [y_full.size]])
    means = np.array([y_full[i:j].mean() for i, j in itertools.pairwise(bounds)])
    stds = np.array([y_full[i:j].std() for i, j in itertools.pairwise(bounds)])
    return ChangePoints(
        indices=ok_idx[idx] if idx.size else idx,
        times=t[idx],
        segment_means=means,
        segment_stds=stds,
        shifts=np.diff(means),
        penalty=float(pen),
        noise_scale=scale,
    )
