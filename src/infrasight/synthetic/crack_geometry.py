"""Random crack centrelines with width profiles, and their exact anti-aliased coverage.

A crack is a band of local width ``w(s)`` around a smooth centreline. The coverage of a pixel is
the band convolved with a unit pixel box along the normal, so the integral of the coverage across
the crack equals the true width exactly (the property the photometric width estimator relies on).
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree

__all__ = ["crack_coverage", "polyline_length", "random_centreline", "random_width_profile"]

_STEP_PX = 0.5


def polyline_length(points: NDArray[np.float64]) -> float:
    """Length in px of an ``(N, 2)`` polyline."""
    if len(points) < 2:
        return 0.0
    return float(np.hypot(*np.diff(points, axis=0).T).sum())


def random_centreline(
    rng: np.random.Generator,
    *,
    start: tuple[float, float],
    heading_rad: float,
    length_px: float,
    bounds: tuple[float, float, float, float],
    wander: float = 1.0,
) -> NDArray[np.float64]:
    """A smooth meandering centreline sampled every 0.5 px, cut where it leaves ``bounds``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    start : tuple of float
        ``(x, y)`` start point in px.
    heading_rad : float
        Initial direction in radians (0 = +x, pi/2 = +y, image coordinates).
    length_px : float
        Length before clipping, px.
    bounds : tuple of float
        ``(x_min, y_min, x_max, y_max)`` the centreline must stay inside, px.
    wander : float
        Scale of the direction changes (0 gives a straight line).

    Returns
    -------
    numpy.ndarray
        ``(N, 2)`` float64 ``(x, y)`` samples.
    """
    n = max(int(length_px / _STEP_PX), 2)
    slow = gaussian_filter1d(rng.standard_normal(n), 60.0 / _STEP_PX, mode="nearest")
    fast = gaussian_filter1d(rng.standard_normal(n), 6.0 / _STEP_PX, mode="nearest")
    slow_std = float(slow.std()) or 1.0
    fast_std = float(fast.std()) or 1.0
    heading = heading_rad + wander * (0.35 * slow / slow_std + 0.12 * fast / fast_std)
    steps = _STEP_PX * np.stack([np.cos(heading), np.sin(heading)], axis=1)
    pts = np.vstack([np.zeros((1, 2)), np.cumsum(steps, axis=0)]) + np.asarray(start, np.float64)
    x0, y0, x1, y1 = bounds
    inside = (pts[:, 0] >= x0) & (pts[:, 0] <= x1) & (pts[:, 1] >= y0) & (pts[:, 1] <= y1)
    if not inside[0]:
        raise ValueError(f"crack start {start} lies outside the bounds {bounds}")
    out = np.flatnonzero(~inside)
    end = int(out[0]) if len(out) else len(pts)
    return pts[:end]


def random_width_profile(
    rng: np.random.Generator,
    n: int,
    *,
    width_range_px: tuple[float, float],
    taper: bool = True,
) -> NDArray[np.float64]:
    """A smooth random width profile in px, log-uniformly spread over ``width_range_px``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n : int
        Number of centreline samples (0.5 px apart).
    width_range_px : tuple of float
        ``(min, max)`` width in px; the profile visits most of the range.
    taper : bool
        Narrow the crack towards both tips (real cracks close at their ends).

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 widths in px, all inside ``width_range_px``.
    """
    lo, hi = width_range_px
    if not 0 < lo <= hi:
        raise ValueError(f"width range must satisfy 0 < min <= max, got {width_range_px}")
    smooth = gaussian_filter1d(rng.standard_normal(n), max(n / 8.0, 4.0), mode="nearest")
    span = float(smooth.max() - smooth.min())
    u = (smooth - smooth.min()) / span if span > 0 else np.full(n, 0.5)
    if taper and n > 20:
        s = np.linspace(0.0, 1.0, n)
        u = u * np.clip(np.minimum(s, 1.0 - s) / 0.15, 0.0, 1.0) ** 0.7
    log_w = np.log(lo) + u * (np.log(hi) - np.log(lo))
    return np.asarray(np.exp(log_w), np.float64)


def crack_coverage(
    shape: tuple[int, int],
    centreline: NDArray[np.float64],
    widths_px: NDArray[np.float64],
) -> NDArray[np.float32]:
    """Exact area coverage (0-1) of a band of local width ``widths_px`` around ``centreline``.

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the image, px.
    centreline : numpy.ndarray
        ``(N, 2)`` ``(x, y)`` samples, px.
    widths_px : numpy.ndarray
        ``(N,)`` band width at each sample, px.

    Returns
    -------
    numpy.ndarray
        ``(height, width)`` float32 coverage; its integral across the band equals the width.
    """
    h, w = shape
    cov = np.zeros((h, w), np.float32)
    if len(centreline) < 2:
        return cov
    reach = float(widths_px.max()) / 2.0 + 1.5
    cand = np.zeros((h, w), np.uint8)
    pts = np.round(centreline * 4).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(cand, [pts], False, 1, thickness=int(np.ceil(2 * reach)) + 2, shift=2)
    ys, xs = np.nonzero(cand)
    if len(xs) == 0:
        return cov
    pix = np.stack([xs, ys], axis=1).astype(np.float64)
    _, idx = cKDTree(centreline).query(pix)
    best_d = np.full(len(pix), np.inf)
    best_w = np.zeros(len(pix))
    seg_start = centreline[:-1]
    seg_vec = np.diff(centreline, axis=0)
    seg_len2 = np.maximum((seg_vec**2).sum(axis=1), 1e-12)
    n_seg = len(seg_vec)
    for offset in (-1, 0):
        seg = np.clip(idx + offset, 0, n_seg - 1)
        rel = pix - seg_start[seg]
        t = np.clip((rel * seg_vec[seg]).sum(axis=1) / seg_len2[seg], 0.0, 1.0)
        foot = seg_start[seg] + t[:, None] * seg_vec[seg]
        d = np.hypot(*(pix - foot).T)
        wl = widths_px[seg] * (1 - t) + widths_px[seg + 1] * t
        better = d < best_d
        best_d[better] = d[better]
        best_w[better] = wl[better]
    half = best_w / 2.0
    c = np.minimum(best_d + 0.5, half) - np.maximum(best_d - 0.5, -half)
    cov[ys, xs] = np.clip(c, 0.0, 1.0).astype(np.float32)
    return cov
