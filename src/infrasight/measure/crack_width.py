"""Sub-pixel crack width from image intensity profiles taken perpendicular to the centreline.

Model: across a crack the surface luminance ``B`` (a line through both flanks: uneven light)
drops to the crack floor ``F`` (``r * B``, ``r`` the crack floor ratio, the shadow depth). Blur
and pixel integration move light around but keep its integral, so the width equals the integral
of the normalised darkness deficit ``(B - I) / (B - F)`` across the crack (over the stretch
darker than the surface texture's noise): this measures cracks far narrower than a pixel
(:func:`profile_width`). For wide cracks the two half-depth edge crossings are combined with it
by their uncertainties.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import map_coordinates
from scipy.optimize import least_squares
from scipy.special import erf

__all__ = [
    "ProfileWidth",
    "StationWidths",
    "estimate_floor_ratio",
    "fit_floor_ratio_from_shape",
    "measure_station_widths",
    "model_std_px",
    "profile_width",
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
    floor_known: bool = True,
    skip_zones: NDArray[np.float64] | None = None,
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
    floor_known : bool
        False when ``floor_ratio`` is an assumption: a profile darker than it then sets the floor.
    skip_zones : numpy.ndarray, optional
        ``(J, 3)`` ``(x, y, radius)`` discs (junctions a branch runs through) left unmeasured.

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
        if skip_zones is not None and np.any(
            np.hypot(*(skip_zones[:, :2] - c).T) < skip_zones[:, 2]
        ):
            continue
        hw = max(float(dist[yi, xi]), 0.5)
        t, _r_in, r_out = _profile_geometry(hw, psf_margin_px)
        ends = np.array([c + r_out * nrm, c - r_out * nrm])
        if ends.min() < 0 or np.any(ends[:, 0] > w - 1) or np.any(ends[:, 1] > h - 1):
            continue
        prof = _sample_profiles(grey, c, tg, nrm, t)
        pos = c[None, :] + t[:, None] * nrm[None, :]
        px = np.clip(np.round(pos).astype(int), 0, [w - 1, h - 1])
        free = ~occupied[px[:, 1], px[:, 0]]
        res = profile_width(
            t,
            prof,
            floor_ratio=floor_ratio,
            floor_ratio_std=floor_ratio_std,
            floor_known=floor_known,
            centre_px=0.0,
            inner_half_px=hw,
            background_ok=free,
            psf_margin_px=psf_margin_px,
            # texture is correlated over a few px along the crack: the 9 lines of the strip
            # average out about as much noise as 3 independent ones
            n_lines=len(_STRIP) // 3,
        )
        if res is None:
            continue
        width, std, offset = res.width_px, res.std_px, res.centre_px
        if width >= _EDGE_MIN_WIDTH_PX:
            deficit = (res.background - prof) / (res.background - res.floor)
            edge = _edge_width(t, deficit, offset)
            if edge is not None:
                # both estimates by their uncertainties: the noise parts weighted by inverse
                # variance, the model error (shared: one background, one floor) added once
                i_var = max(std**2 - model_std_px(width) ** 2, 1e-6)
                e_var = (2.0 * res.noise / (res.background - res.floor) / np.sqrt(3.0)) ** 2
                wi, we = 1.0 / i_var, 1.0 / max(e_var, 1e-6)
                width = (wi * width + we * edge[0]) / (wi + we)
                offset = edge[1]
                std = float(np.hypot(np.sqrt(1.0 / (wi + we)), model_std_px(width)))
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


#: Darkness below the local background counts as crack only where it exceeds this many standard
#: deviations of the surface texture next to the crack (a noise guard, not a tuning knob: 1-2
#: sigma all give the same widths within 0.02 px on the real profiles).
NOISE_GUARD_SIGMA = 1.5
#: Relative 1-sigma error of the integral width model itself on real cracks (blur tails lost
#: under the noise guard, JPEG ringing, floors of uneven shade); found by leave-one-structure-out
#: cross-validation on the real profiles, see benchmarks/measurement.py.
MODEL_REL_STD = 0.07
#: Absolute 1-sigma model error floor, px (pixel-integration and centring limits).
MODEL_ABS_STD_PX = 0.1


def model_std_px(width_px: float, model_rel_std: float = MODEL_REL_STD) -> float:
    """1-sigma model error of a width measured from the darkness integral, px."""
    return float(np.hypot(model_rel_std * width_px, MODEL_ABS_STD_PX))


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileWidth:
    """Width of a crack from one grey-value profile taken across it.

    Attributes
    ----------
    width_px : float
        Crack width, px of the profile axis.
    std_px : float
        1-sigma uncertainty: texture noise, crack-floor shade and model error, px.
    centre_px : float
        Darkness-weighted crack centre on the profile axis, px.
    background : float
        Surface grey level at the crack (local linear fit to both flanks).
    floor : float
        Crack-floor grey level used (``min(floor_ratio * background, darkest sample)``).
    noise : float
        Surface texture noise next to the crack (robust standard deviation, grey levels).
    support_px : float
        Length of the profile counted as crack (the darkness below the noise guard), px.
    """

    width_px: float
    std_px: float
    centre_px: float
    background: float
    floor: float
    noise: float
    support_px: float


def _flank_background(
    t: NDArray[np.float64], prof: NDArray[np.float64], flank: NDArray[np.bool_], centre: float
) -> tuple[NDArray[np.float64], float] | None:
    """Linear background through the medians of both flanks and the flanks' robust noise."""
    left, right = flank & (t < centre), flank & (t > centre)
    if left.sum() < 3 and right.sum() < 3:
        return None
    if left.sum() < 3:
        left = right
    if right.sum() < 3:
        right = left
    bl, br = float(np.median(prof[left])), float(np.median(prof[right]))
    tl, tr = float(t[left].mean()), float(t[right].mean())
    bg = bl + (br - bl) * (t - tl) / (tr - tl) if tr - tl > 1e-9 else np.full_like(t, bl)
    resid = np.concatenate([prof[left] - bl, prof[right] - br])
    noise = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
    return np.asarray(bg, np.float64), noise


def profile_width(
    t: NDArray[np.float64],
    prof: NDArray[np.float64],
    *,
    floor_ratio: float,
    floor_ratio_std: float,
    centre_px: float | None = None,
    inner_half_px: float | None = None,
    background_ok: NDArray[np.bool_] | None = None,
    psf_margin_px: float = 2.0,
    n_lines: int = 1,
    noise_guard: float = NOISE_GUARD_SIGMA,
    floor_known: bool = False,
    model_rel_std: float = MODEL_REL_STD,
) -> ProfileWidth | None:
    """Crack width from a grey-value profile across it (the integral of the darkness).

    Model: the surface grey level ``B(t)`` (a line through both flanks: uneven light) drops to the
    crack floor ``F`` over the width ``w``; blur and pixel integration spread the darkness but keep
    its integral, so ``w = integral (B - I) dt / (B - F)``. The integral runs over the connected
    stretch around the crack that is darker than ``B`` by more than ``noise_guard`` standard
    deviations of the surface texture next to the crack. The floor is ``floor_ratio * B`` unless
    the profile itself is darker (then the darkest sample is the floor: a shade is never brighter
    than what is seen).

    Parameters
    ----------
    t : numpy.ndarray
        ``(N,)`` increasing positions along the profile, px.
    prof : numpy.ndarray
        ``(N,)`` grey values (any linear scale; 8-bit levels or 0-1).
    floor_ratio, floor_ratio_std : float
        Crack floor luminance relative to the surface and its 1-sigma uncertainty.
    centre_px : float, optional
        Crack position on ``t``; default: the darkest sample of the middle half.
    inner_half_px : float, optional
        Half-width of the stretch that may belong to the crack, px; the flanks (background)
        lie beyond it plus ``psf_margin_px``. Default: from the half-depth crossings.
    background_ok : numpy.ndarray, optional
        ``(N,)`` bool, False where a sample must not serve as background (another crack).
    psf_margin_px : float
        How far blur spreads the darkness beyond the crack's edges, px.
    n_lines : int
        Number of independent image lines averaged into each sample (noise averaging).
    noise_guard : float
        Noise guard in standard deviations of the texture.
    floor_known : bool
        True when ``floor_ratio`` was measured on this image (wide stretches): it is then used as
        is; False (an assumed shade) lets a darker profile set the floor.
    model_rel_std : float
        Relative 1-sigma error of the width model (see :data:`MODEL_REL_STD`).

    Returns
    -------
    ProfileWidth or None
        None when the profile has no usable background or no darkness at the crack.
    """
    t = np.asarray(t, np.float64)
    prof = np.asarray(prof, np.float64)
    n = len(t)
    if n < 7 or prof.shape != (n,):
        raise ValueError("t and prof must be equal-length 1-D arrays of at least 7 samples")
    if centre_px is None:
        mid = np.abs(t - 0.5 * (t[0] + t[-1])) <= 0.25 * (t[-1] - t[0])
        idx = np.flatnonzero(mid)
        centre_px = float(t[idx[int(np.argmin(prof[idx]))]])
    ic = int(np.clip(np.searchsorted(t, centre_px), 0, n - 1))
    darkest = float(prof[max(ic - 1, 0) : ic + 2].min())
    if inner_half_px is None:
        # half-depth crossings against the profile's median: a mask-free first guess
        half = darkest + 0.5 * (float(np.median(prof)) - darkest)
        below = prof < half
        lo, hi = ic, ic
        while lo > 0 and below[lo - 1]:
            lo -= 1
        while hi < n - 1 and below[hi + 1]:
            hi += 1
        inner_half_px = 0.5 * float(t[hi] - t[lo]) + 0.5
    r_in = inner_half_px + 1.0 + psf_margin_px
    flank = np.abs(t - centre_px) >= r_in
    if background_ok is not None:
        flank &= background_ok
    fit = _flank_background(t, prof, flank, centre_px)
    if fit is None:
        return None
    bg, noise = fit
    b_c = float(np.interp(centre_px, t, bg))
    if b_c <= 0:
        return None
    floor_model = floor_ratio * b_c
    floor = floor_model if floor_known else min(floor_model, darkest)
    depth = b_c - floor
    if depth <= max(noise, 1e-9 * b_c):
        return None
    # integrate on a fine grid so the stretch ends where the profile crosses the guard
    step = min(0.1, float(np.min(np.diff(t))))
    x = np.arange(t[0], t[-1] + 1e-9, step)
    g = np.interp(x, t, prof)
    bx = np.interp(x, t, bg)
    inside = g < bx - noise_guard * noise
    k = int(np.clip(round((centre_px - t[0]) / step), 0, len(x) - 1))
    if not inside[k]:
        return None
    lo, hi = k, k
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    while hi < len(x) - 1 and inside[hi + 1]:
        hi += 1
    # the stretch may not run into the flanks (another crack, a stain)
    limit = np.abs(x - centre_px) <= r_in
    lo = max(lo, int(np.flatnonzero(limit)[0]))
    hi = min(hi, int(np.flatnonzero(limit)[-1]))
    deficit = bx[lo : hi + 1] - g[lo : hi + 1]
    xs = x[lo : hi + 1]
    area = float(np.trapezoid(deficit, xs)) if len(xs) > 1 else 0.0
    width = area / depth
    if width <= 0:
        return None
    centre = float((deficit * xs).sum() / deficit.sum()) if deficit.sum() > 0 else centre_px
    support = float(xs[-1] - xs[0]) if len(xs) > 1 else step
    noise_std = noise * np.sqrt(max(support, 1.0)) / np.sqrt(max(n_lines, 1)) / depth
    # the floor's uncertainty matters only where the profile does not show the floor itself
    floor_std = floor_ratio_std * b_c if floor == floor_model else 0.0
    shade_std = width * floor_std / depth
    model_std = model_std_px(width, model_rel_std)
    std = float(np.sqrt(noise_std**2 + shade_std**2 + model_std**2))
    return ProfileWidth(
        width_px=float(width),
        std_px=std,
        centre_px=centre,
        background=b_c,
        floor=float(floor),
        noise=noise,
        support_px=support,
    )
