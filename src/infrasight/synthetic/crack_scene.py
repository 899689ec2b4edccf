"""Render a photo-like concrete surface with cracks of known geometry (ground truth included)."""

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
from infrasight.synthetic.markers import paste_marker
from infrasight.synthetic.texture import concrete_texture, illumination_field

__all__ = ["CrackTruth", "RenderedCrackScene", "render_crack_scene"]

#: Colour gains (R, G, B) that give concrete its slightly warm grey.
_TINT = np.array([1.02, 1.0, 0.95], np.float32)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class CrackTruth:
    """Ground truth of one crack (a main crack or a branch), in image px.

    Attributes
    ----------
    centreline : numpy.ndarray
        ``(N, 2)`` float64 ``(x, y)`` samples 0.5 px apart, px.
    widths_px : numpy.ndarray
        ``(N,)`` true width at each sample, px.
    parent : int or None
        Index of the crack this one branches from, ``None`` for a main crack.
    """

    centreline: NDArray[np.float64]
    widths_px: NDArray[np.float64]
    parent: int | None = None

    def __post_init__(self) -> None:
        if self.centreline.ndim != 2 or self.centreline.shape[1] != 2:
            raise ValueError(f"centreline must be (N, 2), got {self.centreline.shape}")
        if self.widths_px.shape != (len(self.centreline),):
            raise ValueError("widths_px must have one value per centreline sample")
        if len(self.centreline) < 2:
            raise ValueError("a crack needs at least two centreline samples")

    @property
    def length_px(self) -> float:
        """True centreline length, px."""
        return polyline_length(self.centreline)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RenderedCrackScene:
    """A rendered capture of a cracked concrete surface with its ground truth.

    Attributes
    ----------
    image : numpy.ndarray
        ``(H, W, 3)`` uint8 RGB image.
    mask : numpy.ndarray
        ``(H, W)`` bool crack mask (coverage >= 0.5 plus the centreline pixels, so that cracks
        narrower than a pixel stay connected, as a human annotator draws them).
    coverage : numpy.ndarray
        ``(H, W)`` float32 exact crack area fraction of each pixel.
    cracks : tuple of CrackTruth
        Main cracks and branches.
    mm_per_px : float
        Scale of the (fronto-parallel) surface, mm per px.
    crack_floor_ratio : float
        Luminance inside the crack relative to the surrounding surface.
    blur_sigma_px, noise_sigma : float
        Optical blur (Gaussian sigma, px) and sensor noise (grey levels) applied.
    marker_corners_px : numpy.ndarray or None
        ``(4, 2)`` image corners (clockwise from top-left) of the ArUco marker, if one was drawn.
    plane_to_image : numpy.ndarray or None
        ``(3, 3)`` homography from surface px (where ``cracks`` are given) to image px for a
        tilted view; ``None`` when the camera looks straight at the surface.
    marker_mm : float or None
        Side length of that marker, mm.
    """

    image: NDArray[np.uint8]
    mask: NDArray[np.bool_]
    coverage: NDArray[np.float32]
    cracks: tuple[CrackTruth, ...]
    mm_per_px: float
    crack_floor_ratio: float
    blur_sigma_px: float
    noise_sigma: float
    marker_corners_px: NDArray[np.float64] | None = None
    marker_mm: float | None = None
    marker_id: int | None = None
    plane_to_image: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        h, w = self.mask.shape
        if self.image.shape != (h, w, 3) or self.image.dtype != np.uint8:
            raise ValueError("image must be (H, W, 3) uint8 matching the mask")
        if self.coverage.shape != (h, w):
            raise ValueError("coverage must match the mask")
        if self.mm_per_px <= 0:
            raise ValueError(f"mm_per_px must be positive, got {self.mm_per_px}")

    @property
    def true_length_px(self) -> float:
        """Total true centreline length of all cracks and branches, px."""
        return float(sum(c.length_px for c in self.cracks))

    @property
    def true_length_mm(self) -> float:
        """Total true centreline length, mm."""
        return self.true_length_px * self.mm_per_px

    @property
    def true_max_width_px(self) -> float:
        """Largest true width of any crack, px."""
        return float(max(c.widths_px.max() for c in self.cracks))

    def grey(self) -> NDArray[np.uint8]:
        """The image as ``(H, W)`` uint8 luminance."""
        return np.asarray(cv2.cvtColor(self.image, cv2.COLOR_RGB2GRAY), np.uint8)


def _make_cracks(
    rng: np.random.Generator,
    height: int,
    width: int,
    n_cracks: int,
    width_range_px: tuple[float, float],
    branch_probability: float,
    margin: float,
    wander: float,
) -> list[CrackTruth]:
    bounds = (margin, margin, width - 1 - margin, height - 1 - margin)
    diag = float(np.hypot(width, height))
    cracks: list[CrackTruth] = []
    attempts = 0
    while len([c for c in cracks if c.parent is None]) < n_cracks and attempts < 50 * n_cracks:
        attempts += 1
        # start near one border region and head across the image
        x = rng.uniform(bounds[0] + 0.05 * width, bounds[2] - 0.05 * width)
        y = rng.uniform(bounds[1] + 0.05 * height, bounds[3] - 0.05 * height)
        heading = rng.uniform(0, 2 * np.pi)
        line = random_centreline(
            rng,
            start=(x, y),
            heading_rad=heading,
            length_px=rng.uniform(0.5, 0.9) * diag,
            bounds=bounds,
            wander=wander,
        )
        if polyline_length(line) < 0.2 * min(width, height):
            continue
        widths = random_width_profile(rng, len(line), width_range_px=width_range_px)
        cracks.append(CrackTruth(centreline=line, widths_px=widths))
        parent_idx = len(cracks) - 1
        if rng.uniform() < branch_probability and len(line) > 200:
            k = int(rng.uniform(0.3, 0.7) * len(line))
            tangent = line[min(k + 4, len(line) - 1)] - line[max(k - 4, 0)]
            base = float(np.arctan2(tangent[1], tangent[0]))
            branch_heading = base + rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0)
            b_len = rng.uniform(0.3, 0.6) * polyline_length(line)
            b_line = random_centreline(
                rng,
                start=(float(line[k, 0]), float(line[k, 1])),
                heading_rad=branch_heading,
                length_px=b_len,
                bounds=bounds,
                wander=wander,
            )
            if polyline_length(b_line) > 30:
                w0 = float(widths[k])
                b_w = random_width_profile(
                    rng, len(b_line), width_range_px=(width_range_px[0], max(w0, width_range_px[0]))
                )
                # a branch leaves its parent no wider than the parent and closes at its tip
                s = np.linspace(0.0, 1.0, len(b_line))
                b_w = np.minimum(b_w, w0 * (1 - s) + width_range_px[0] * s)
                b_w = np.maximum(b_w, width_range_px[0])
                cracks.append(CrackTruth(centreline=b_line, widths_px=b_w, parent=parent_idx))
    if not cracks:
        raise ValueError(f"could not place a crack in a {width}x{height} image; make it larger")
    return cracks


def _apply(h: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    out = cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), h)
    return np.asarray(out.reshape(-1, 2), np.float64)


def _tilted_view(
    width: int, height: int, mm_per_px: float, tilt_deg: float, axis_deg: float
) -> NDArray[np.float64]:
    """Homography surface px -> image px of a camera tilted by ``tilt_deg``, surface in view."""
    focal = 1.2 * width
    t = np.deg2rad(tilt_deg)
    axis = np.array([np.cos(np.deg2rad(axis_deg)), np.sin(np.deg2rad(axis_deg)), 0.0])
    R, _ = cv2.Rodrigues(axis * t)
    K = np.array([[focal, 0, (width - 1) / 2], [0, focal, (height - 1) / 2], [0, 0, 1]])
    T = np.array([0.0, 0.0, focal * mm_per_px])
    to_mm = np.array(
        [
            [mm_per_px, 0, -mm_per_px * (width - 1) / 2],
            [0, mm_per_px, -mm_per_px * (height - 1) / 2],
            [0, 0, 1],
        ]
    )
    H = K @ np.column_stack([R[:, 0], R[:, 1], T]) @ to_mm
    corners = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], float)
    proj = _apply(H, corners)
    lo, hi = proj.min(axis=0), proj.max(axis=0)
    k = 0.92 * min((width - 1) / (hi[0] - lo[0]), (height - 1) / (hi[1] - lo[1]))
    centre = (lo + hi) / 2
    S = np.array(
        [
            [k, 0, (width - 1) / 2 - k * centre[0]],
            [0, k, (height - 1) / 2 - k * centre[1]],
            [0, 0, 1],
        ]
    )
    out = S @ H
    return np.asarray(out / out[2, 2], np.float64)


def render_crack_scene(
    *,
    width: int,
    height: int,
    seed: int,
    n_cracks: int | None = None,
    width_range_px: tuple[float, float] = (0.8, 6.0),
    branch_probability: float = 0.4,
    mm_per_px: float = 0.2,
    blur_sigma_px: float = 0.7,
    noise_sigma: float = 2.0,
    illumination: float = 0.25,
    crack_floor_ratio: float | None = None,
    wander: float = 1.0,
    marker_mm: float | None = None,
    marker_id: int = 0,
    tilt_deg: float = 0.0,
    tilt_axis_deg: float = 0.0,
) -> RenderedCrackScene:
    """Render a photo-like concrete surface with 1-3 (optionally branching) cracks.

    Parameters
    ----------
    width, height : int
        Image size, px (at least 64 x 64).
    seed : int
        Seed of every random choice; the same seed renders the same scene.
    n_cracks : int, optional
        Number of main cracks; default: 1-3 at random.
    width_range_px : tuple of float
        ``(min, max)`` true crack width in px; each crack's smooth profile spans this range and
        tapers towards its tips. The renderer supports 0.3-20 px.
    branch_probability : float
        Chance that a main crack has a branch.
    mm_per_px : float
        Surface scale, mm per px (the camera looks straight at the surface).
    blur_sigma_px : float
        Gaussian optical blur, px.
    noise_sigma : float
        Gaussian sensor noise, grey levels.
    illumination : float
        Peak-to-peak relative unevenness of the lighting (0 = flat).
    crack_floor_ratio : float, optional
        Crack interior luminance relative to the surface; default: random in [0.12, 0.35].
    wander : float
        How much the cracks meander (0 = straight).
    marker_mm : float, optional
        Draw a DICT_4X4_50 ArUco marker of this side length (mm) in a free corner.
    marker_id : int
        Id of that marker.
    tilt_deg : float
        View the surface at this angle (0-70 degrees between optical axis and surface normal):
        the surface becomes a perspective trapezoid; the truth stays in surface px
        (``plane_to_image`` maps it into the image).
    tilt_axis_deg : float
        Direction of the tilt axis on the surface, degrees.

    Returns
    -------
    RenderedCrackScene
        Image, mask, exact coverage and the true geometry.
    """
    if width < 64 or height < 64:
        raise ValueError(f"image must be at least 64x64 px, got {width}x{height}")
    if not 0.0 <= tilt_deg <= 70.0:
        raise ValueError(f"tilt_deg must be within 0-70, got {tilt_deg}")
    lo, hi = width_range_px
    if not 0.3 <= lo <= hi <= 20.0:
        raise ValueError(f"width_range_px must lie within 0.3-20 px, got {width_range_px}")
    if blur_sigma_px < 0 or noise_sigma < 0:
        raise ValueError("blur_sigma_px and noise_sigma must be >= 0")
    rng = np.random.default_rng(seed)
    n_main = int(rng.integers(1, 4)) if n_cracks is None else n_cracks
    if n_main < 1:
        raise ValueError(f"n_cracks must be >= 1, got {n_main}")
    floor_ratio = float(rng.uniform(0.12, 0.35)) if crack_floor_ratio is None else crack_floor_ratio
    if not 0.0 <= floor_ratio < 1.0:
        raise ValueError(f"crack_floor_ratio must be in [0, 1), got {floor_ratio}")

    surface = concrete_texture(height, width, rng, mean_grey=float(rng.uniform(120, 170)))
    marker_corners: NDArray[np.float64] | None = None
    marker_box: tuple[int, int, int, int] | None = None
    if marker_mm is not None:
        side = marker_mm / mm_per_px
        pad = 0.25 * side
        edge = 0.3 * side + 8  # ArUco's adaptive threshold needs surface around the quiet zone
        if side < 12 or side + 2 * (pad + edge) > min(width, height) / 2:
            raise ValueError(f"a {marker_mm} mm marker is {side:.1f} px: does not fit this image")
        x0 = float(width - edge - pad - side)
        y0 = float(edge + pad)
        surface, marker_corners = paste_marker(
            surface, top_left=(x0, y0), side_px=side, marker_id=marker_id
        )
        marker_box = (
            int(x0 - pad),
            int(y0 - pad),
            int(x0 + side + pad) + 1,
            int(y0 + side + pad) + 1,
        )

    margin = max(8.0, hi)
    cracks = _make_cracks(
        rng, height, width, n_main, width_range_px, branch_probability, margin, wander
    )
    if marker_box is not None:
        bx0, by0, bx1, by1 = marker_box
        kept: list[CrackTruth] = []
        for c in cracks:
            pts = c.centreline
            reach = float(c.widths_px.max()) / 2 + 3
            hit = (
                (pts[:, 0] > bx0 - reach)
                & (pts[:, 0] < bx1 + reach)
                & (pts[:, 1] > by0 - reach)
                & (pts[:, 1] < by1 + reach)
            )
            if hit.any():
                first = int(np.argmax(hit))
                if first < 60:
                    continue
                c = CrackTruth(
                    centreline=pts[:first], widths_px=c.widths_px[:first], parent=c.parent
                )
            kept.append(c)
        cracks = kept or cracks[:0]
        if not cracks:
            raise ValueError("every crack ran into the marker; use another seed")

    cov = np.zeros((height, width), np.float32)
    centre_px = np.zeros((height, width), bool)
    for c in cracks:
        cov = np.maximum(cov, crack_coverage((height, width), c.centreline, c.widths_px))
        ij = np.round(c.centreline).astype(int)
        centre_px[ij[:, 1], ij[:, 0]] = True

    local_surface = cv2.GaussianBlur(surface, (0, 0), 4.0)
    floor = (
        floor_ratio
        * local_surface
        * (1.0 + 0.08 * rng.standard_normal(surface.shape)).astype(np.float32)
    )
    lum = surface * (1.0 - cov) + floor * cov
    lum = lum * illumination_field(height, width, rng, strength=illumination)
    mask = (cov >= 0.5) | (centre_px & (cov > 0))
    plane_to_image: NDArray[np.float64] | None = None
    if tilt_deg > 0:
        plane_to_image = _tilted_view(width, height, mm_per_px, tilt_deg, tilt_axis_deg)
        size = (width, height)
        # outside the surface: a dark background
        lum = np.asarray(
            cv2.warpPerspective(
                lum, plane_to_image, size, flags=cv2.INTER_LINEAR, borderValue=35.0
            ),
            np.float32,
        )
        cov = np.asarray(
            cv2.warpPerspective(cov, plane_to_image, size, flags=cv2.INTER_LINEAR), np.float32
        )
        centre_img = np.zeros((height, width), bool)
        for c in cracks:
            ij = np.round(_apply(plane_to_image, c.centreline)).astype(int)
            ok = (ij[:, 0] >= 0) & (ij[:, 0] < width) & (ij[:, 1] >= 0) & (ij[:, 1] < height)
            centre_img[ij[ok, 1], ij[ok, 0]] = True
        mask = (cov >= 0.5) | (centre_img & (cov > 0))
        if marker_corners is not None:
            marker_corners = _apply(plane_to_image, marker_corners)
    if blur_sigma_px > 0:
        lum = cv2.GaussianBlur(lum, (0, 0), blur_sigma_px)
    rgb = lum[:, :, None] * _TINT[None, None, :]
    if noise_sigma > 0:
        rgb = rgb + noise_sigma * rng.standard_normal(rgb.shape).astype(np.float32)
    image = np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return RenderedCrackScene(
        image=image,
        mask=mask,
        coverage=cov,
        cracks=tuple(cracks),
        mm_per_px=mm_per_px,
        crack_floor_ratio=floor_ratio,
        blur_sigma_px=blur_sigma_px,
        noise_sigma=noise_sigma,
        marker_corners_px=marker_corners,
        marker_mm=marker_mm,
        marker_id=marker_id if marker_mm is not None else None,
        plane_to_image=plane_to_image,
    )
