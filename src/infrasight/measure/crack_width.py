"""Sub-pixel crack width from image intensity profiles taken perpendicular to the centreline.

Model: across a crack the surface luminance ``B`` drops to ``r * B`` inside the crack (``r`` is
the crack floor ratio, the shadow depth). Blur and pixel integration move light around but keep
its integral, so the width equals the integral of the normalised darkness deficit
``(B - I) / (B (1 - r))`` across the crack: this measures cracks far narrower than a pixel.
For wide cracks the two half-depth edge crossings are used instead (less texture noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import map_coordinates
from scipy.optimize import least_squares
from scipy.special import erf

__all__ = [
    "StationWidths",
    "estimate_floor_ratio",
    "fit_floor_ratio_from_shape",
    "measure_station_widths",
]

_T_STEP = 0.25
_STRIP = np.arange(-4.0, 4.01, 1.0)
_EDGE_MIN_WIDTH_PX = 5.0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StationWidths:
    """Widths measured at stations along one centreline branch (all in image px).

    Attributes
    ----------
    centres : numpy.ndarray
        ``(K, 2)`` measured crack centre ``(x, y)`` at each station.
    normals : numpy.ndarray
        ``(K, 2)`` unit normals (the direction the width is measured along).
    widths : numpy.ndarray
        ``(K,)`` width, px (``nan`` where not measurable).
    stds : numpy.ndarray
        ``(K,)`` 1-sigma width uncertainty, px.
    arc_px : numpy.ndarray
        ``(K,)`` station position along the branch, px.
    """

    centres: NDArray[np.float64]
    normals: NDArray[np.float64]
    widths: NDArray[np.float64]
    stds: NDArray[np.float64]
    arc_px: NDArray[np.float64]

    def __post_init__(self) -> None:
        k = len(self.widths)
        if self.centres.shape != (k, 2) or self.normals.shape != (k, 2):
            raise ValueError("centres and normals must be (K, 2)")
        if self.stds.shape != (k,) or self.arc_px.shape != (k,):
            raise ValueError("stds and arc_px must be (K,)")

    @property
    def valid(self) -> NDArray[np.bool_]:
        """Stations with a finite width."""
        return np.asarray(np.isfinite(self.widths), np.bool_)


def _tangents(pts: NDArray[np.float64], half: int = 3) -> NDArray[np.float64]:
    n = len(pts)
    idx = np.arange(n)
    a = pts[np.clip(idx + half, 0, n - 1)] - pts[np.clip(idx - half, 0, n - 1)]
    norm = np.hypot(*a.T)
    norm[norm == 0] = 1.0
    return np.asarray(a / norm[:, None], np.float64)


def _sample_profiles(
    grey: NDArray[np.float32],
    centre: NDArray[np.float64],
    tangent: NDArray[np.float64],
    normal: NDArray[np.float64],
    t: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Strip-averaged profile along ``normal`` at offsets ``t`` (px)."""
    pts = (
        centre[None, None, :]
        + _STRIP[:, None, None] * tangent[None, None, :]
        + t[None, :, None] * normal[None, None, :]
    )
    vals = map_coordinates(
        grey, [pts[..., 1].ravel(), pts[..., 0].ravel()], order=1, mode="nearest"
    )
    return np.asarray(vals.reshape(len(_STRIP), len(t)).mean(axis=0), np.float64)


def _profile_geometry(
    half_width_mask: float, psf_margin_px: float
) -> tuple[NDArray[np.float64], float, float]:
    r_in = half_width_mask + 1.0 + psf_margin_px
    r_out = r_in + 4.0
    t = np.arange(-r_out, r_out + 1e-9, _T_STEP)
    return t, r_in, r_out


def estimate_floor_ratio(
    grey: NDArray[np.float32],
    polylines: list[NDArray[np.float64]],
    dist: NDArray[np.float32],
    *,
    min_half_width_px: float = 3.0,
    psf_margin_px: float = 2.0,
) -> tuple[float, float, int] | None:
    """Crack floor ratio ``r`` from the cores of wide crack stretches.

    Returns ``(r, std_r, n_stations)`` or ``None`` when no stretch is wide enough.
    """
    ratios: list[float] = []
    h, w = grey.shape
    for pts in polylines:
        if len(pts) < 7:
            continue
        tang = _tangents(pts)
        for i in range(3, len(pts) - 3, 3):
            x, y = round(pts[i, 0]), round(pts[i, 1])
            if not (0 <= x < w and 0 <= y < h):
                continue
            hw = float(dist[y, x])
            if hw < min_half_width_px:
                continue
            normal = np.array([-tang[i, 1], tang[i, 0]])
            t, r_in, _ = _profile_geometry(hw, psf_margin_px)
            prof = _sample_profiles(grey, pts[i], tang[i], normal, t)
            outer = np.abs(t) >= r_in
            bg = float(np.median(prof[outer]))
            if bg <= 1.0:
                continue
            # the core lies between the half-depth crossings, inset past the blur (its sigma
            # measured from the 25-75 % rise of the edges): found from the profile itself, so
            # a mask drawn too wide does not matter
            inner = ~outer
            low = float(np.percentile(prof[inner], 10))
            depth = bg - low
            idx = np.flatnonzero(inner & (prof < bg - 0.5 * depth))
            if len(idx) < 2 or depth <= 0:
                continue
            q25 = np.flatnonzero(inner & (prof < bg - 0.25 * depth))
            q75 = np.flatnonzero(inner & (prof < bg - 0.75 * depth))
            if len(q75) < 2:
                continue
            rise = 0.5 * ((t[q75[0]] - t[q25[0]]) + (t[q25[-1]] - t[q75[-1]]))
            sigma = max(rise / 1.349, 0.3)
            inset = 0.5 + 2.5 * sigma
            left, right = t[idx[0]] + inset, t[idx[-1]] - inset
            core = (t >= left) & (t <= right)
            if right - left < 1.0 or core.sum() < 4:
                continue
            ratios.append(float(np.median(prof[core])) / bg)
    if len(ratios) < 3:
        return None
    arr = np.clip(np.asarray(ratios), 0.0, 0.95)
    med = float(np.median(arr))
    std = float(1.4826 * np.median(np.abs(arr - med)) / np.sqrt(len(arr)))
    return med, std, len(arr)


def measure_station_widths(
    grey: NDArray[np.float32],
    pts: NDArray[np.float64],
    dist: NDArray[np.float32],
    occupied: NDArray[np.bool_],
    *,
    floor_ratio: float,
    floor_ratio_std: float,
    spacing_px: float,
    skip_start_px: float,
    skip_end_px: float,
    psf_margin_px: float = 2.0,
) -> StationWidths:
    """Measure the width at stations every ``spacing_px`` along a smoothed branch.

    Parameters
    ----------
    grey : numpy.ndarray
        ``(H, W)`` float32 luminance.
    pts : numpy.ndarray
        ``(N, 2)`` smoothed centreline, about 1 px apart.
    dist : numpy.ndarray
        Distance transform of the crack mask (half-width guess), px.
    occupied : numpy.ndarray
        Pixels that belong to any crack (dilated); excluded from background estimates.
    floor_ratio, floor_ratio_std : float
        Crack floor luminance ratio ``r`` and its uncertainty.
    spacing_px : float
        Distance between stations along the branch, px.
    skip_start_px, skip_end_px : float
        Leave these lengths at the branch ends unmeasured (junctions), px.
    psf_margin_px : float
        Extra half-window for the blur spread, px.

    Returns
    -------
    StationWidths
    """
    h, w = grey.shape
    seg = np.hypot(*np.diff(pts, axis=0).T) if len(pts) > 1 else np.zeros(0)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    total = float(arc[-1]) if len(arc) else 0.0
    tang = _tangents(pts)
    stations = np.arange(skip_start_px, total - skip_end_px + 1e-9, spacing_px)
    k = len(stations)
    centres = np.zeros((k, 2))
    normals = np.zeros((k, 2))
    widths = np.full(k, np.nan)
    stds = np.full(k, np.nan)
    depth_frac = 1.0 - floor_ratio
    for j, s in enumerate(stations):
        i = int(np.clip(np.searchsorted(arc, s), 0, len(pts) - 1))
        c = pts[i]
        tg = tang[i]
        nrm = np.array([-tg[1], tg[0]])
        centres[j] = c
        normals[j] = nrm
        xi, yi = round(c[0]), round(c[1])
        if not (0 <= xi < w and 0 <= yi < h):
            continue
        hw = max(float(dist[yi, xi]), 0.5)
        t, r_in, r_out = _profile_geometry(hw, psf_margin_px)
        ends = np.array([c + r_out * nrm, c - r_out * nrm])
        if ends.min() < 0 or np.any(ends[:, 0] > w - 1) or np.any(ends[:, 1] > h - 1):
            continue
        prof = _sample_profiles(grey, c, tg, nrm, t)
        pos = c[None, :] + t[:, None] * nrm[None, :]
        px = np.clip(np.round(pos).astype(int), 0, [w - 1, h - 1])
        free = ~occupied[px[:, 1], px[:, 0]]
        left = (t <= -r_in) & free
        right = (t >= r_in) & free
        if left.sum() < 3 and right.sum() < 3:
            continue
        if left.sum() >= 3 and right.sum() >= 3:
            bl, br = float(np.median(prof[left])), float(np.median(prof[right]))
            tl, tr = float(t[left].mean()), float(t[right].mean())
            bg = bl + (br - bl) * (t - tl) / (tr - tl)
            resid = np.concatenate([prof[left] - bl, prof[right] - br])
        else:
            side = left if left.sum() >= 3 else right
            bg = np.full_like(t, float(np.median(prof[side])))
            resid = prof[side] - bg[side]
        if np.min(bg) <= 1.0:
            continue
        inner = np.abs(t) <= r_in
        deficit = (bg - prof) / (bg * depth_frac)
        width_phot = float(np.trapezoid(deficit[inner], t[inner]))
        weights = np.clip(deficit[inner], 0.0, None)
        offset = float((weights * t[inner]).sum() / weights.sum()) if weights.sum() > 0 else 0.0
        sigma_i = float(1.4826 * np.median(np.abs(resid - np.median(resid)))) + 1e-6
        bg_c = float(np.interp(0.0, t, bg))
        unit = sigma_i / (bg_c * depth_frac)
        # second pass: a window fitted to the measured crack, not to the (maybe too wide) mask
        half2 = max(width_phot, 0.5) / 2.0 + 1.0 + psf_margin_px
        inner2 = np.abs(t - offset) <= half2
        if half2 < r_in - 0.5 and inner2.sum() >= 4:
            width_phot = float(np.trapezoid(deficit[inner2], t[inner2]))
            window = 2.0 * half2
        else:
            window = 2.0 * r_in
        width = width_phot
        std = unit * np.sqrt(window) / np.sqrt(len(_STRIP))
        if width_phot >= _EDGE_MIN_WIDTH_PX:
            edge = _edge_width(t, deficit, offset)
            if edge is not None:
                width, offset = edge
                std = unit * 2.0 / np.sqrt(len(_STRIP))
        std = float(np.hypot(std, width * floor_ratio_std / depth_frac))
        if not np.isfinite(width) or width <= 0:
            continue
        if width > 2.0 * hw + 2.0 * psf_margin_px + 2.0:
            # far wider than the mask: a shadow or stain beside the crack, not its width
            continue
        widths[j] = width
        stds[j] = std
        centres[j] = c + offset * nrm
    return StationWidths(
        centres=centres, normals=normals, widths=widths, stds=stds, arc_px=stations
    )


def _edge_width(
    t: NDArray[np.float64], deficit: NDArray[np.float64], centre: float
) -> tuple[float, float] | None:
    """Distance between the half-depth crossings on both sides of ``centre``."""
    ic = int(np.clip(np.searchsorted(t, centre), 1, len(t) - 2))
    if deficit[ic] < 0.5:
        return None
    right = np.flatnonzero(deficit[ic:] < 0.5)
    left = np.flatnonzero(deficit[: ic + 1][::-1] < 0.5)
    if len(right) == 0 or len(left) == 0:
        return None
    jr = ic + int(right[0])
    jl = ic - int(left[0])
    # linear interpolation of the 0.5 crossing
    fr = (deficit[jr - 1] - 0.5) / (deficit[jr - 1] - deficit[jr])
    xr = t[jr - 1] + fr * (t[jr] - t[jr - 1])
    fl = (deficit[jl + 1] - 0.5) / (deficit[jl + 1] - deficit[jl])
    xl = t[jl + 1] - fl * (t[jl + 1] - t[jl])
    return float(xr - xl), float(0.5 * (xr + xl))


def _profile_model(params: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """Relative luminance across a blurred dark band: ``1 - (1 - r) * coverage(t)``."""
    r, w, c, s = params
    k = 1.0 / (np.sqrt(2.0) * s)
    cov = 0.5 * (erf((t - c + w / 2) * k) - erf((t - c - w / 2) * k))
    return np.asarray(1.0 - (1.0 - r) * cov, np.float64)


def fit_floor_ratio_from_shape(
    grey: NDArray[np.float32],
    polylines: list[NDArray[np.float64]],
    dist: NDArray[np.float32],
    *,
    max_stations: int = 30,
    min_fit_width_px: float = 2.2,
) -> tuple[float, float, int] | None:
    """Crack floor ratio from the shape of the widest profiles (cracks 2-6 px wide).

    Each profile is fitted with a dark band of width ``w`` and floor ratio ``r`` blurred by a
    Gaussian of unknown sigma; above about 2 px the flat bottom and the edge slopes separate
    ``r`` from ``w``. Returns ``(r, std_r, n_fits)`` or ``None`` when too few profiles qualify.
    """
    h, w_img = grey.shape
    cands: list[tuple[float, NDArray[np.float64], NDArray[np.float64]]] = []
    for pts in polylines:
        if len(pts) < 9:
            continue
        tang = _tangents(pts)
        for i in range(4, len(pts) - 4, 2):
            c = pts[i]
            x, y = round(c[0]), round(c[1])
            if not (0 <= x < w_img and 0 <= y < h):
                continue
            nrm = np.array([-tang[i, 1], tang[i, 0]])
            hw = max(float(dist[y, x]), 0.5)
            t, r_in, r_out = _profile_geometry(hw, 2.0)
            ends = np.array([c + r_out * nrm, c - r_out * nrm])
            if ends.min() < 0 or np.any(ends[:, 0] > w_img - 1) or np.any(ends[:, 1] > h - 1):
                continue
            prof = _sample_profiles(grey, c, tang[i], nrm, t)
            outer = np.abs(t) >= r_in
            bl = float(np.median(prof[(t <= -r_in)]))
            br = float(np.median(prof[(t >= r_in)]))
            if min(bl, br) <= 1.0 or outer.sum() < 6:
                continue
            bg = bl + (br - bl) * (t - t[0]) / (t[-1] - t[0])
            rel = prof / bg
            dark = float(np.trapezoid(1.0 - rel[~outer], t[~outer]))
            cands.append((dark, t, rel))
    if len(cands) < 5:
        return None
    cands.sort(key=lambda item: -item[0])
    ratios = []
    widths = []
    # select by the fit-independent darkness integral (selecting by fitted width would bias r)
    for dark, t, rel in cands[:max_stations]:
        if dark < 1.0:
            break
        fit = least_squares(
            lambda p, t=t, rel=rel: _profile_model(p, t) - rel,
            x0=np.array([0.3, dark / 0.7, 0.0, 1.0]),
            bounds=([0.0, 0.3, -2.0, 0.3], [0.9, 30.0, 2.0, 3.0]),
        )
        if fit.success:
            ratios.append(float(fit.x[0]))
            widths.append(float(fit.x[1]))
    if len(ratios) < 8 or float(np.median(widths)) < min_fit_width_px:
        return None
    arr = np.asarray(ratios)
    med = float(np.median(arr))
    std = float(1.4826 * np.median(np.abs(arr - med)) / np.sqrt(len(arr)))
    return med, std, len(arr)
