"""Render repeated captures of one cracked surface with known crack identities.

Each visit looks at the same concrete surface with the camera moved, rotated and zoomed, the
lighting changed, and the cracks grown (longer at both tips, wider), or sealed after a repair
(not drawn any more). The truth gives every crack's identity, image centreline, length and width
at each visit, for the tracking benchmark, tests and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from infrasight.synthetic.crack_geometry import (
    crack_coverage,
    polyline_length,
    random_centreline,
    random_width_profile,
)
from infrasight.synthetic.texture import concrete_texture, illumination_field

__all__ = ["CrackSeries", "SeriesCrack", "SeriesVisit", "render_crack_series"]

_TINT = np.array([1.02, 1.0, 0.95], np.float32)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SeriesCrack:
    """One crack as seen at one visit.

    Attributes
    ----------
    identity : int
        The physical crack (the same across visits).
    centreline_px : numpy.ndarray
        ``(N, 2)`` true centreline in the visit's image, px.
    length_mm, width_max_mm : float
        True length and largest width on the surface, mm.
    """

    identity: int
    centreline_px: NDArray[np.float64]
    length_mm: float
    width_max_mm: float


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SeriesVisit:
    """One capture of the series.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB.
    day : float
        Days since the first visit.
    mm_per_px : float
        Scale of this image, mm per px (the zoom changes it).
    surface_to_image : numpy.ndarray
        ``(3, 3)`` homography from surface px to image px.
    cracks : tuple of SeriesCrack
        Cracks drawn in this image (sealed ones are not).
    sealed : tuple of int
        Identities sealed (repaired) by this visit.
    """

    image: NDArray[np.uint8]
    day: float
    mm_per_px: float
    surface_to_image: NDArray[np.float64]
    cracks: tuple[SeriesCrack, ...]
    sealed: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CrackSeries:
    """Visits of one surface, oldest first, with the truth of each."""

    visits: tuple[SeriesVisit, ...]
    surface_mm_per_px: float


def _view(
    rng: np.random.Generator,
    surface_size: tuple[int, int],
    size: tuple[int, int],
    max_rotation_deg: float,
    max_shift: float,
    zoom_range: tuple[float, float],
    first: bool,
) -> tuple[NDArray[np.float64], float]:
    sw, sh = surface_size
    w, h = size
    angle = 0.0 if first else float(rng.uniform(-max_rotation_deg, max_rotation_deg))
    zoom = 1.0 if first else float(rng.uniform(*zoom_range))
    shift = np.zeros(2) if first else rng.uniform(-max_shift, max_shift, 2) * np.array([w, h])
    c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    to_centre = np.array([[1, 0, -(sw - 1) / 2 - shift[0]], [0, 1, -(sh - 1) / 2 - shift[1]]])
    to_centre = np.vstack([to_centre, [0, 0, 1]])
    rot = np.array([[zoom * c, -zoom * s, 0], [zoom * s, zoom * c, 0], [0, 0, 1]])
    to_image = np.array([[1, 0, (w - 1) / 2], [0, 1, (h - 1) / 2], [0, 0, 1]], np.float64)
    return np.asarray(to_image @ rot @ to_centre, np.float64), zoom


def _apply(h: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    out = cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), h)
    return np.asarray(out.reshape(-1, 2), np.float64)


def render_crack_series(
    *,
    seed: int,
    n_visits: int = 4,
    width: int = 768,
    height: int = 576,
    n_cracks: int = 2,
    surface_mm_per_px: float = 0.2,
    interval_days: float = 90.0,
    start_fraction: float = 0.6,
    length_growth: float = 0.1,
    width_growth: float = 0.1,
    width_range_px: tuple[float, float] = (1.5, 6.0),
    max_rotation_deg: float = 15.0,
    max_shift: float = 0.05,
    zoom_range: tuple[float, float] = (0.9, 1.1),
    lighting: float = 0.3,
    sealed_from_visit: int | None = None,
    noise_sigma: float = 2.0,
) -> CrackSeries:
    """Render ``n_visits`` captures of one cracked surface.

    Parameters
    ----------
    seed : int
        Seed of every random choice.
    n_visits : int
        Number of captures (>= 1), ``interval_days`` apart.
    width, height : int
        Image size, px.
    n_cracks : int
        Cracks on the surface (each keeps its identity).
    surface_mm_per_px : float
        Scale of the surface at zoom 1, mm per px.
    interval_days : float
        Days between visits.
    start_fraction, length_growth : float
        Visible fraction of each crack's full centreline at the first visit, and its growth per
        visit (the crack lengthens at both tips).
    width_growth : float
        Relative widening per visit.
    width_range_px : tuple of float
        Width range of the profiles at the first visit, surface px.
    max_rotation_deg, max_shift, zoom_range : float
        Camera moves between visits: rotation (degrees), shift (fraction of the image) and zoom.
    lighting : float
        Strength of the per-visit uneven illumination (exposure also changes by up to 25 %).
    sealed_from_visit : int, optional
        From this visit index on, the cracks are sealed (not drawn).
    noise_sigma : float
        Sensor noise, grey levels.

    Returns
    -------
    CrackSeries
    """
    if n_visits < 1 or n_cracks < 1:
        raise ValueError("n_visits and n_cracks must be >= 1")
    if not 0 < start_fraction <= 1:
        raise ValueError(f"start_fraction must be in (0, 1], got {start_fraction}")
    rng = np.random.default_rng(seed)
    sw, sh = int(width * 1.5), int(height * 1.5)
    surface = concrete_texture(sh, sw, rng, mean_grey=float(rng.uniform(120, 170)))
    floor_ratio = float(rng.uniform(0.15, 0.3))
    # cracks in the central part of the surface, which every view keeps in the image
    cx, cy = (sw - 1) / 2, (sh - 1) / 2
    bounds = (cx - 0.36 * width, cy - 0.36 * height, cx + 0.36 * width, cy + 0.36 * height)
    full: list[tuple[NDArray[np.float64], NDArray[np.float64]]] = []
    attempts = 0
    while len(full) < n_cracks and attempts < 200:
        attempts += 1
        start = (
            float(rng.uniform(bounds[0] + 40, bounds[2] - 40)),
            float(rng.uniform(bounds[1] + 40, bounds[3] - 40)),
        )
        line = random_centreline(
            rng,
            start=start,
            heading_rad=float(rng.uniform(0, 2 * np.pi)),
            length_px=float(rng.uniform(0.4, 0.7) * width),
            bounds=bounds,
            wander=0.8,
        )
        if polyline_length(line) < 0.3 * height:
            continue
        if any(_near(line, other, 40.0) for other, _ in full):
            continue
        full.append((line, random_width_profile(rng, len(line), width_range_px=width_range_px)))
    if len(full) < n_cracks:
        raise ValueError(f"could not place {n_cracks} separate cracks; use another seed")
    visits = []
    for k in range(n_visits):
        h_view, zoom = _view(
            rng, (sw, sh), (width, height), max_rotation_deg, max_shift, zoom_range, k == 0
        )
        sealed = sealed_from_visit is not None and k >= sealed_from_visit
        cov = np.zeros((sh, sw), np.float32)
        truth = []
        frac = min(1.0, start_fraction + length_growth * k)
        for identity, (line, widths) in enumerate(full):
            n = len(line)
            keep = max(4, round(frac * n))
            a = (n - keep) // 2
            part, w_part = line[a : a + keep], widths[a : a + keep] * (1 + width_growth * k)
            if not sealed:
                cov = np.maximum(cov, crack_coverage((sh, sw), part, w_part))
                truth.append(
                    SeriesCrack(
                        identity=identity,
                        centreline_px=_apply(h_view, part),
                        length_mm=polyline_length(part) * surface_mm_per_px,
                        width_max_mm=float(w_part.max()) * surface_mm_per_px,
                    )
                )
        local = cv2.GaussianBlur(surface, (0, 0), 4.0)
        lum = surface * (1.0 - cov) + floor_ratio * local * cov
        lum = np.asarray(
            cv2.warpPerspective(lum, h_view, (width, height), flags=cv2.INTER_LINEAR),
            np.float32,
        )
        gain = 1.0 if k == 0 else float(rng.uniform(0.75, 1.25))
        lum = lum * gain * illumination_field(height, width, rng, strength=lighting)
        lum = cv2.GaussianBlur(lum, (0, 0), 0.7)
        rgb = lum[:, :, None] * _TINT[None, None, :]
        rgb = rgb + noise_sigma * rng.standard_normal(rgb.shape).astype(np.float32)
        visits.append(
            SeriesVisit(
                image=np.clip(np.round(rgb), 0, 255).astype(np.uint8),
                day=k * interval_days,
                mm_per_px=surface_mm_per_px / zoom,
                surface_to_image=h_view,
                cracks=tuple(truth),
                sealed=tuple(range(len(full))) if sealed else (),
            )
        )
    return CrackSeries(visits=tuple(visits), surface_mm_per_px=surface_mm_per_px)


def _near(a: NDArray[np.float64], b: NDArray[np.float64], distance_px: float) -> bool:
    from scipy.spatial import cKDTree

    d, _ = cKDTree(b).query(a[::4], distance_upper_bound=distance_px)
    return bool(np.isfinite(d).any())
